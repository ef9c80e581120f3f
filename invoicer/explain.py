"""`invoicer explain`: whether and why a line would be billed on a date, in plain words.

The verdict comes from the run itself (a Process step computed and rolled back), so the
explanation cannot drift from what `run-once` does; the rest is context around it."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from invoicer import billing, clock, engine, schedules
from invoicer.model import FIXED_PRICE, Invoice, Line, Milestone, Skip
from invoicer.money import format_amount, from_minor
from invoicer.store import Store, schedule_from_row

REASONS = {
    "no-schedule": "it has no date-based invoice schedule, which a time-and-material line needs",
    "no-milestones": "it has no milestones, which a fixed-price line needs",
    "no-transactions": "there is no unbilled transaction dated before the run date",
    "milestone-not-ready": "a milestone that has come due is not ready to invoice",
    "over-not-to-exceed": "what is left of its not-to-exceed limit does not cover the transaction",
    "schedule-ended": "its schedule has no invoice run date left for its unbilled transactions",
}


@dataclass(frozen=True)
class Explanation:
    line: Line
    date: date
    billed: tuple[tuple[Invoice, Decimal, int], ...]  # (invoice it would go on, amount, items)
    skipped: tuple[Skip, ...]
    sentences: tuple[str, ...]
    facts: dict = field(default_factory=dict)


def explain(store: Store, line_id: int, on: date | None = None) -> Explanation:
    on = on or clock.today()
    with store.writing(rollback=True, linked_by_joins=True):  # the run's statements, as run-once's
        line = store.line(line_id)
        facts: dict = {}
        sentences = [_schedule_sentence(store, line, on, facts)]
        result = billing.forecast(store, on, line.id)
    billed = tuple((invoice, l.amount, l.items) for invoice in result.invoices for l in invoice.lines
                   if l.line_id == line.id)
    skipped = tuple(result.skipped)
    noun = "milestone(s)" if line.billing_method == FIXED_PRICE else "transaction(s)"
    for invoice, amount, items in billed:
        sentences.append(f"A run for {on} would bill {items} {noun}, {format_amount(amount, line.currency)} "
                         f"{line.currency}, on the invoice of run date {invoice.run_date} for {invoice.contract}"
                         f" to {invoice.customer}.")
    by_run_date: dict[date, list] = {}
    for invoice, amount, _ in billed:
        by_run_date.setdefault(invoice.run_date, []).append((invoice.customer, amount))
    for run_date, parts in by_run_date.items():
        if len(parts) > 1:  # a billing split (section 10): each customer's share, and the whole
            whole = sum((amount for _, amount in parts), Decimal(0))
            sentences.append(f"Its billing split shares {format_amount(whole, line.currency)} {line.currency} of "
                             f"run date {run_date} between " + ", ".join(
                                 f"{who} ({format_amount(amount, line.currency)})" for who, amount in parts) + ".")
    for skip in skipped:
        when = f" (run date {skip.run_date})" if skip.run_date else ""
        if skip.count > 1:
            when = f" ({skip.count} run dates from {skip.run_date} to {skip.last_run_date})"
        sentences.append(f"Not billed{when}: {REASONS.get(skip.reason, skip.reason)}"
                         f"{f' - {skip.detail}' if skip.detail else ''}.")
    if not billed and not skipped:
        sentences.append(f"A run for {on} would bill nothing on this line: no invoice run date or milestone "
                         "of it is due by then.")
    return Explanation(line, on, billed, skipped, tuple(sentences), facts)


def _schedule_sentence(store: Store, line: Line, on: date, facts: dict) -> str:
    head = f"Line {line.id} ({line.contract} / {line.name}) is {line.billing_method}"
    if line.closed:
        head = (f"Line {line.id} ({line.contract} / {line.name}) is closed: runs pass it over, and its run dates "
                f"wait until `invoicer contract reopen-line {line.id}`. It is {line.billing_method}")
    if line.billing_method == FIXED_PRICE:
        milestones = store.milestones(line)
        facts["milestones"] = milestones
        if not milestones:
            return f"{head} and has no milestones."
        parts = [f"{m.name} {m.date} {format_amount(m.amount, line.currency)} ({_milestone_state(m, on)})"
                 for m in milestones]
        return f"{head}, billed by milestones: " + "; ".join(parts) + "."
    rows = store.date_schedules(line.id)
    text = f"{head}"
    if not rows:
        text += " and has no date-based invoice schedule."
    else:
        schedule = schedule_from_row(rows[0])
        processed = store.processed_through(line.id)
        first = schedules.next_run_date(schedule, processed)
        upcoming = first if first is not None and first <= on else schedules.next_after(schedule, on, processed)
        cutoff = engine.cutoff(upcoming) if upcoming else None
        facts.update(schedule=schedules.describe(schedule), processed_through=processed,
                     next_run_date=upcoming, cutoff=cutoff)
        text += f", billed by its schedule: {schedules.describe(schedule)}."
        if processed:
            text += f" Run dates are processed through {processed}."
        if upcoming:
            text += f" Its next run date is {upcoming}, with the cut-off {cutoff} (transactions dated up to then)."
        else:
            text += " It has no run date left."
    count, total, due_count, due_total = store.unbilled_minor(line.id, facts.get("cutoff"))
    facts.update(unbilled=count, unbilled_amount=from_minor(total, line.currency),
                 unbilled_by_cutoff=due_count, unbilled_by_cutoff_amount=from_minor(due_total, line.currency))
    text += f" Unbilled: {count} transaction(s), {format_amount(from_minor(total, line.currency), line.currency)} {line.currency}"
    if facts.get("cutoff"):
        text += f" ({due_count} dated up to the cut-off)"
    text += "."
    shares, shared = store.billable_shares_minor(line.id)
    if shares:  # a customer's share whose invoice was cancelled (section 10)
        text += (f" Also billable again: {shares} customer share(s) of transactions billed to the others, "
                 f"{format_amount(from_minor(shared, line.currency), line.currency)} {line.currency}.")
    if line.not_to_exceed is not None:
        billed = from_minor(store.billed_minor(line.id), line.currency)
        headroom = line.not_to_exceed - billed
        facts.update(billed=billed, headroom=headroom)
        text += (f" Not-to-exceed {format_amount(line.not_to_exceed, line.currency)}: billed "
                 f"{format_amount(billed, line.currency)}, headroom {format_amount(max(headroom, Decimal(0)), line.currency)}.")
    return text


def _milestone_state(m: Milestone, on: date) -> str:
    if m.invoice:
        return f"invoiced on {m.invoice}"
    if not m.ready:
        return "not ready to invoice"
    return "ready, due" if m.date <= on else "ready, not due yet"
