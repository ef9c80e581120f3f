"""Output for two readers: rich tables for people (plain text when piped), one JSON
document for scripts. Money in JSON is a string with the currency's minor-unit decimals."""

import json
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from itertools import islice

from invoicer import clock, schedules
from invoicer.model import (
    CREDIT_NOTE,
    FIXED_PRICE,
    Customer,
    Invoice,
    JobStatus,
    Line,
    Milestone,
    Run,
    RunResult,
    ScheduleEntry,
    Seller,
    Skip,
    TaxGroup,
    Transaction,
)
from invoicer.money import format_amount
from invoicer.tax import format_rate


# Beyond this many rows, a table for people shows the first ones and says how many more.
SHOWN_ROWS = 25


def emit(document: dict) -> None:
    # No indent: the C encoder is ten times faster on a month-end of 100,000 invoices.
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


def emit_list(key: str, documents: Iterable[dict]) -> None:
    """`{key: [...]}`, written one object at a time: memory stays flat over 100,000."""
    out = sys.stdout
    out.write("{" + json.dumps(key) + ": [")
    for count, document in enumerate(documents):
        out.write((", " if count else "") + json.dumps(document, ensure_ascii=False))
    out.write("]}\n")


# What an error message may quote of a value (a file's header, a cell, a name), and its
# whole length: a binary file given to an import must not print a screenful.
QUOTED_CHARS = 60
MESSAGE_CHARS = 2_000
# A quoted value as repr() writes it; a quote after a letter is an apostrophe (the job's).
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")(?!\w)""")


def capped(message: str) -> str:
    """The message with each quoted value cut to QUOTED_CHARS, and the whole to MESSAGE_CHARS."""
    if len(message) > QUOTED_CHARS:
        message = _QUOTED.sub(lambda found: found.group() if len(found.group()) <= QUOTED_CHARS + 2
                              else found.group()[:QUOTED_CHARS] + "..." + found.group()[0], message)
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS - 3] + "..."


def error(message: str, code: str, as_json: bool) -> None:
    message = capped(message)
    if as_json:
        sys.stderr.write(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False) + "\n")
    else:
        sys.stderr.write(f"invoicer: error: {message.replace(chr(13), ' ').replace(chr(10), ' ')}\n")


def console():
    """A terminal gets rich's colours and its width; a pipe gets plain, unwrapped text."""
    from rich.console import Console

    # No emoji codes: a name like "Go :rocket:" is the user's text (and their table costs 2 ms to load).
    out = Console(highlight=False, emoji=False)
    return out if out.is_terminal else Console(highlight=False, emoji=False, width=100_000, no_color=True)


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable], money: Iterable[str] = (),
          wrap: Iterable[str] = ()) -> None:
    """A rich table; money columns right-justified. No box when piped, so that it greps.
    Codes, ids, dates and amounts never wrap: only the free text of the `wrap` columns
    does, between words. A terminal too narrow for that gets each row as one record of
    "column: value" pairs instead."""
    from rich.text import Text

    out = console()
    columns, money, wrap = list(columns), set(money), set(wrap)
    rows = [list(row) for row in rows]
    if not out.is_terminal:
        text = _plain_grid(title, columns, [[v.plain if isinstance(v, Text) else "" if v is None else str(v)
                                              for v in row] for row in rows], money)
        if text is not None:
            out.file.write(text)
            return
    # Text, not str: a name like "[red]" is the user's text, never rich markup.
    cells = [[v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in row] for row in rows]
    if out.is_terminal and _needed_width(columns, cells, wrap) > out.width:
        _records(out, title, columns, cells)
        return
    _rich_grid(out, title, columns, cells, money, wrap)


def _rich_grid(out, title: str | None, columns: list[str], cells: list[list], money: set[str], wrap: set[str]) -> None:
    from rich import box
    from rich.table import Table

    grid = Table(title=title, box=box.SIMPLE_HEAD if out.is_terminal else None, title_justify="left",
                 show_edge=False, pad_edge=False)
    for name in columns:
        grid.add_column(name, justify="right" if name in money else "left", no_wrap=name not in wrap,
                        overflow="fold")
    for row in cells:
        grid.add_row(*row)
    out.print(grid)


def _plain_grid(title: str | None, columns: list[str], texts: list[list[str]], money: set[str]) -> str | None:
    """The table as rich prints it piped (no box, no colour, nothing wrapped: each cell
    padded to its column's width, two spaces between columns, the title above), made
    here: rich lays out a listing of 20,000 transactions in 13 s, this in a tenth of one.
    None where rich would lay it out otherwise (a control character, a line break, spaces
    other than ASCII's, a title wider than the table): rich does it then. tests/test_render.py
    holds it to rich's."""
    from rich.cells import cell_len

    rows = [columns, *texts]
    # Python's printable: no control characters, and no spaces but the ASCII one.
    if not "".join([title or "", *(text for row in rows for text in row)]).isprintable():
        return None
    widths = [max(map(cell_len, column)) for column in zip(*rows)]
    right = [name in money for name in columns]
    lines = []
    if title:  # rich prints no empty title
        whole = sum(widths) + 2 * (len(widths) - 1)
        if cell_len(title) > whole:
            return None
        lines.append(title + " " * (whole - cell_len(title)))
    for row in rows:
        # Right-justified, a cell's trailing spaces go (rich's justify), its width stays.
        lines.append("  ".join(
            " " * (width - cell_len(text.rstrip(" "))) + text.rstrip(" ") if justified
            else text + " " * (width - cell_len(text))
            for text, width, justified in zip(row, widths, right)))
    return "\n".join(lines) + "\n"


def _needed_width(columns: list[str], cells: list[list], wrap: set[str]) -> int:
    """The narrowest the table can be with every code whole: a free-text column as wide as
    its longest word, any other as its longest value (or header)."""
    from rich.cells import cell_len

    width = 3 * (len(columns) - 1)  # the padding either side of the box's gap between columns
    for index, name in enumerate(columns):
        texts = [name, *(row[index].plain for row in cells)]
        pieces = (word for text in texts for word in text.split()) if name in wrap else \
            (line for text in texts for line in text.splitlines())
        width += max(map(cell_len, pieces), default=0)
    return width


def _records(out, title: str | None, columns: list[str], cells: list[list]) -> None:
    from rich.text import Text

    if title:
        out.print(Text(title, style="italic"))
    for row in cells:
        pairs = [Text.assemble((f"{name}: ", "bold"), value) for name, value in zip(columns, row) if value.plain]
        out.print(Text("  ").join(pairs))


def say(text: str, style: str | None = None) -> None:
    console().print(text, markup=False, style=style)


def _status(word: str) -> "Text":
    """A status in its colour (on a terminal, unless NO_COLOR is set)."""
    from rich.text import Text

    return Text(word, style=_STATUS_STYLES.get(word, ""))


_STATUS_STYLES = {"draft": "yellow", "confirmed": "green", "cancelled": "red", "dry-run": "cyan", "written-off": "red",
                  "invoiced": "green", "not-ready": "yellow", "STOPPED RUNNING": "bold red"}


# JSON shapes ------------------------------------------------------------------------------

def iso(value) -> str | None:
    if value is None:
        return None
    return clock.to_iso(value) if isinstance(value, datetime) else value.isoformat()


def line_json(line: Line) -> dict:
    return {
        "id": line.id, "contract": line.contract, "name": line.name, "customer": line.customer,
        "billing_method": line.billing_method, "amount": format_amount(line.amount, line.currency),
        "not_to_exceed": format_amount(line.not_to_exceed, line.currency), "currency": line.currency,
        "project": line.project, "tax_category": line.tax_category, "tax_rate": format_rate(line.tax_rate),
        "tax_exemption_reason": line.tax_exemption_reason, "closed": line.closed,
    }


def transaction_json(t: Transaction) -> dict:
    return {
        "id": t.id, "line_id": t.line.id, "contract": t.line.contract, "line": t.line.name,
        "date": t.date.isoformat(), "amount": format_amount(t.amount, t.line.currency),
        "currency": t.line.currency, "type": t.type,
        "quantity": None if t.quantity is None else str(t.quantity), "description": t.description,
        "invoice": t.invoice, "billed": t.invoice is not None, "returned_from": t.returned_from,
        "credit_notes": list(t.credit_notes), "ref": t.ref,
        "item_amount": format_amount(t.item_amount if t.item_amount is not None else t.amount, t.line.currency),
        "invoices": list(t.invoices), "customer": t.customer,
    }


def milestone_json(m: Milestone) -> dict:
    return {
        "id": m.id, "kind": "milestone", "line_id": m.line.id, "contract": m.line.contract, "line": m.line.name,
        "name": m.name, "date": m.date.isoformat(), "amount": format_amount(m.amount, m.line.currency),
        "currency": m.line.currency, "percent": None if m.percent is None else str(m.percent),
        "ready": m.ready, "status": milestone_status(m), "invoice": m.invoice,
        "credit_notes": list(m.credit_notes), "line_closed": m.line.closed,
        "item_amount": format_amount(m.item_amount if m.item_amount is not None else m.amount, m.line.currency),
        "invoices": list(m.invoices),
    }


def milestone_status(m: Milestone) -> str:
    if m.written_off:
        return "written-off"
    if m.invoice:
        return "invoiced"
    return "not-run-yet" if m.ready else "not-ready"


def schedule_json(entry: ScheduleEntry) -> dict:
    s = entry.schedule
    return {
        "id": entry.id, "kind": "date", "line_id": entry.line.id, "contract": entry.line.contract,
        "line": entry.line.name, "frequency": s.frequency, "rrule": s.rrule,
        "dates": [d.isoformat() for d in s.dates] or None, "start": iso(s.start), "end": iso(s.end),
        "next_run_date": iso(entry.next_run_date), "processed_through": iso(entry.processed_through),
        "line_closed": entry.line.closed,
        "run_dates": [{"run_date": r.run_date.isoformat(), "status": r.status, "invoice": r.invoice,
                       "invoices": list(r.invoices)} for r in entry.run_dates],
        "earlier_run_dates": entry.earlier,
    }


def invoice_json(invoice: Invoice, details: bool = False) -> dict:
    cur = invoice.currency
    lines = []
    for line in invoice.lines:
        count_key = "milestones" if line.billing_method == FIXED_PRICE else "transactions"
        item = {"line_id": line.line_id, "name": line.name, "billing_method": line.billing_method,
                "amount": format_amount(line.amount, cur), count_key: line.items,
                "tax_category": line.tax_category, "tax_rate": format_rate(line.tax_rate),
                "tax_exemption_reason": line.tax_exemption_reason}
        if details:
            item["details"] = [milestone_json(d) if isinstance(d, Milestone) else transaction_json(d)
                               for d in line.details]
        lines.append(item)
    document = {
        "number": invoice.number, "type": invoice.type, "credits": invoice.credits, "contract": invoice.contract,
        "customer": invoice.customer, "run_date": invoice.run_date.isoformat(), "currency": cur,
        "total": format_amount(invoice.total, cur), "status": invoice.status,
        "issue_date": iso(invoice.issue_date), "due_date": iso(invoice.due_date), "lines": lines,
        "tax": [tax_group_json(g, cur) for g in invoice.tax],
        "tax_total": format_amount(invoice.tax_total, cur), "total_with_tax": format_amount(invoice.total_with_tax, cur),
        **({} if invoice.exported is None else {"exported": {f: iso(at) for f, at in invoice.exported.items()}}),
    }
    if invoice.type == CREDIT_NOTE:
        document.update(write_off=invoice.write_off, reason=invoice.reason)
    return document


def tax_group_json(group: TaxGroup, currency: str) -> dict:
    return {"category": group.category, "rate": format_rate(group.rate),
            "taxable": format_amount(group.taxable, currency), "amount": format_amount(group.amount, currency)}


def seller_json(seller: Seller) -> dict:
    """`seller show --json`: every field, null where unset."""
    return {**seller._asdict(), "tax_rate": format_rate(seller.tax_rate)}


def customer_json(customer: Customer) -> dict:
    return customer._asdict()


def invoice_csv(invoices: Iterable[Invoice]) -> None:
    """One row per invoice line, the invoice's header repeated: what accounting imports.
    A null is an empty field."""
    import csv

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["number", "type", "credits", "status", "contract", "customer", "run_date", "issue_date", "due_date",
                  "currency", "invoice_total", "tax_total", "total_with_tax",
                  "line_id", "line", "billing_method", "line_amount", "items"])
    for i in invoices:
        cur = i.currency
        head = [i.number, i.type, i.credits, i.status, i.contract, i.customer, i.run_date.isoformat(), iso(i.issue_date),
                iso(i.due_date), cur, format_amount(i.total, cur), format_amount(i.tax_total, cur),
                format_amount(i.total_with_tax, cur)]
        for line in i.lines:
            out.writerow(head + [line.line_id, line.name, line.billing_method, format_amount(line.amount, cur),
                                 line.items])


def schedule_listing_json(listing) -> dict:
    """`schedule list --json`: date-based schedules and milestones, and the lines whose
    milestones add up to less than their value."""
    return {
        "schedules": [schedule_json(e) for e in listing.schedules] + [milestone_json(m) for m in listing.milestones],
        "shortfalls": [{"line_id": line.id, "contract": line.contract, "line": line.name,
                        "value": format_amount(value, line.currency),
                        "milestones": format_amount(planned, line.currency),
                        "shortfall": format_amount(value - planned, line.currency)}
                       for line, value, planned in listing.shortfalls],
    }


def contract_json(lines: list[Line], splits: dict | None = None) -> dict:
    """`contract show --json`: with its split (section 10), and each line its own (`[]`
    when it follows the contract's)."""
    first, splits = lines[0], splits or {}
    return {"contract": first.contract, "customer": first.customer, "currency": first.currency,
            "split": split_json(splits.get(None, ())),
            "lines": [{**line_json(line), "split": split_json(splits.get(line.id, ()))} for line in lines]}


def split_json(parts) -> list[dict]:
    return [{"customer": p.customer, "percent": f"{p.percent:.2f}", "rounding": p.rounding} for p in parts]


def split_text(parts) -> str:
    return ", ".join(f"{p.customer} {p.percent:.2f}%" + (" (rounding)" if p.rounding else "") for p in parts)


def show_splits(lines: list[Line], splits: dict) -> None:
    """A contract's split and its lines' own, in words under its lines."""
    if splits.get(None):
        say(f"Billing split: {split_text(splits[None])}")
    for line in lines:
        if splits.get(line.id):
            say(f"Line {line.id} ({line.name}) has its own split: {split_text(splits[line.id])}")


def explanation_json(found) -> dict:
    cur, facts = found.line.currency, found.facts
    return {
        "line": line_json(found.line),
        "date": found.date.isoformat(),
        "billed": bool(found.billed),
        "invoices": [{"contract": invoice.contract, "customer": invoice.customer, "run_date": invoice.run_date.isoformat(),
                      "amount": format_amount(amount, cur), "items": items} for invoice, amount, items in found.billed],
        "skipped": [skip_json(s) for s in found.skipped],
        "schedule": facts.get("schedule"),
        "processed_through": iso(facts.get("processed_through")),
        "next_run_date": iso(facts.get("next_run_date")),
        "cutoff": iso(facts.get("cutoff")),
        "unbilled": {"transactions": facts.get("unbilled"), "amount": format_amount(facts.get("unbilled_amount"), cur),
                     "by_cutoff": facts.get("unbilled_by_cutoff"),
                     "by_cutoff_amount": format_amount(facts.get("unbilled_by_cutoff_amount"), cur)},
        "not_to_exceed": format_amount(found.line.not_to_exceed, cur),
        "billed_so_far": format_amount(facts.get("billed"), cur),
        "headroom": format_amount(facts.get("headroom"), cur),
        "milestones": [milestone_json(m) for m in facts.get("milestones", [])],
        "explanation": list(found.sentences),
    }


def skip_json(skip: Skip) -> dict:
    return {"line_id": skip.line_id, "contract": skip.contract, "name": skip.name, "reason": skip.reason,
            "run_date": iso(skip.run_date), "detail": skip.detail,
            "last_run_date": iso(skip.last_run_date), "count": skip.count}


def emit_run_result(result: RunResult) -> None:
    """`run-once --json` as it is read: each invoice's JSON text as the store built it
    (result.documents), then the skipped lines, written one at a time, so that memory
    stays flat over a month-end of 100,000 invoices. The same document as
    run_result_json's, compact."""
    out = sys.stdout
    head = {"status": result.status, "run_date": result.run_date.isoformat()}
    if result.status == "sleeping":
        head["next_due"] = iso(result.next_due)
    out.write(_compact(head)[:-1] + ',"invoices":[')
    documents = iter(result.documents)
    # A few hundred at a write: one write a text is a fifth of the time at 100,000.
    for count, chunk in enumerate(iter(lambda: list(islice(documents, 500)), [])):
        out.write(("," if count else "") + ",".join(chunk))
    out.write('],"skipped":[')
    for count, skip in enumerate(result.skipped):
        out.write(("," if count else "") + _compact(skip_json(skip)))
    out.write("]}\n")


def _compact(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def run_result_json(result: RunResult) -> dict:
    document = {"status": result.status, "run_date": result.run_date.isoformat()}
    if result.status == "sleeping":
        document["next_due"] = iso(result.next_due)
    document["invoices"] = [invoice_json(i) for i in result.invoices]
    document["skipped"] = [skip_json(s) for s in result.skipped]
    return document


def run_json(run: Run) -> dict:
    return {"id": run.id, "run_date": run.run_date.isoformat(), "started_at": iso(run.started_at),
            "ended_at": iso(run.ended_at), "forced": run.forced, "workflow": run.workflow, "undone": run.undone,
            "invoices": list(run.invoices), "skipped": [skip_json(s) for s in run.skipped]}


def job_json(status: JobStatus) -> dict:
    job, instance = status.job, status.instance
    return {
        "id": job.id, "name": job.name, "job_type": job.job_type, "frequency": job.frequency,
        "active": job.active, "workflow": instance.workflow if instance else None, "step": status.step,
        "started_at": iso(instance.started_at) if instance else None,
        "last_end": iso(instance.last_end) if instance else None,
        "next_due": iso(status.next_due), "stalled": status.stalled,
    }


# human output -----------------------------------------------------------------------------

def show_lines(lines: list[Line]) -> None:
    table(None, ["id", "contract", "line", "customer", "billing method", "amount", "not to exceed", "currency", "project",
                 "tax", "closed"],
          [[l.id, l.contract, l.name, l.customer, l.billing_method, format_amount(l.amount, l.currency),
            format_amount(l.not_to_exceed, l.currency), l.currency, l.project,
            _tax_label(l.tax_category, l.tax_rate) if l.tax_category else "seller's", "closed" if l.closed else ""]
           for l in lines],
          money=["amount", "not to exceed"], wrap=["contract", "line", "customer", "project"])


def show_transactions(items: list[Transaction]) -> None:
    table(None, ["id", "line", "contract", "date", "type", "quantity", "amount", "currency", "invoice", "description",
                 "ref"],
          [[t.id, t.line.id, t.line.contract, t.date, t.type, t.quantity, format_amount(t.amount, t.line.currency),
            t.line.currency, (t.invoice or "unbilled") + (f" (returned by {t.returned_from})" if t.returned_from else "")
            + (f", credited on {', '.join(t.credit_notes)}" if t.credit_notes else ""), t.description, t.ref] for t in items],
          money=["amount"], wrap=["contract", "description"])


def show_jobs(statuses: list[JobStatus]) -> None:
    table(None, ["job", "type", "frequency", "active", "workflow", "step", "last Process end", "next due", "stalled"],
          [[s.job.name, s.job.job_type, s.job.frequency, "Yes" if s.job.active else "No",
            s.instance.workflow if s.instance else "-", s.step or "-",
            iso(s.instance.last_end) if s.instance and s.instance.last_end else "-",
            iso(s.next_due) or "-", _status("STOPPED RUNNING") if s.stalled else "no"] for s in statuses],
          wrap=["job"])
    for s in statuses:
        if s.stalled:
            say(f"{s.job.name!r} has stopped running: its Process step due {iso(s.next_due)} did not run. "
                f"Catch up with `invoicer run-once`, or restart it: invoicer job restart {s.job.name!r}", "red")


def show_invoices(invoices: list[Invoice], totals=()) -> None:
    """Invoices, and a totals row a currency when `totals` (from invoices.totals) are given."""
    rows = [[i.number or "(dry run)", i.credits or "", i.contract, i.customer, i.run_date, len(i.lines),
             format_amount(i.total, i.currency), format_amount(i.tax_total, i.currency),
             format_amount(i.total_with_tax, i.currency), i.currency, _status(i.status), i.issue_date or "",
             i.due_date or ""] for i in invoices]
    rows += [["Total", "", f"{t.invoices} invoice(s)" + (f", {t.left_out} cancelled left out" if t.left_out else ""),
              "", "", "", format_amount(t.total, t.currency),
              format_amount(t.tax_total, t.currency), format_amount(t.total_with_tax, t.currency), t.currency, "",
              "", ""]
             for t in totals]
    table(None, ["number", "credits", "contract", "customer", "run date", "lines", "total", "tax", "total with tax",
                 "currency", "status", "issued", "due"], rows,
          money=["total", "tax", "total with tax"], wrap=["contract", "customer"])


def totals_json(totals) -> list[dict]:
    return [{"currency": t.currency, "invoices": t.invoices, "total": format_amount(t.total, t.currency),
             "tax_total": format_amount(t.tax_total, t.currency),
             "total_with_tax": format_amount(t.total_with_tax, t.currency)} for t in totals]


def show_invoice(invoice: Invoice) -> None:
    cur = invoice.currency
    if invoice.type == CREDIT_NOTE:
        say(f"Credit note {invoice.number}  ({invoice.status}), correcting {invoice.credits}"
            + ("  written off" if invoice.write_off else ""), "bold")
        if invoice.reason:
            say(f"Reason: {invoice.reason}")
    else:
        say(f"Invoice {invoice.number}  ({invoice.status})", "bold")
    say(f"Customer: {invoice.customer}    Contract: {invoice.contract}    Invoice run date: {invoice.run_date}")
    if invoice.issue_date:
        say(f"Issued: {invoice.issue_date}    Due: {invoice.due_date}")
    rows = []
    for line in invoice.lines:
        rows.append([line.name, line.billing_method, "", "", format_amount(line.amount, cur)])
        for d in line.details:
            if isinstance(d, Milestone):
                rows.append(["", f"  milestone {d.name} #{d.id}", d.date,
                             " ".join(filter(None, (_share_of(d, cur), _now_on(invoice, d)))), format_amount(d.amount, cur)])
            else:
                rows.append(["", f"  {d.type} #{d.id}", d.date,
                             " ".join(filter(None, (d.description, _share_of(d, cur), _now_on(invoice, d)))),
                             format_amount(d.amount, cur)])
    rows.append(["Total", "", "", "", format_amount(invoice.total, cur)])
    for g in invoice.tax:
        rows.append(["", f"  tax {_tax_label(g.category, g.rate)} on {format_amount(g.taxable, cur)}", "", "",
                     format_amount(g.amount, cur)])
    if invoice.tax:
        rows.append(["Tax", "", "", "", format_amount(invoice.tax_total, cur)])
    rows.append(["Total with tax", "", "", "", format_amount(invoice.total_with_tax, cur)])
    table(None, ["line", "item", "date", "description", f"amount ({cur})"], rows, money=[f"amount ({cur})"],
          wrap=["line", "item", "description"])
    untaxed = [line.name for line in invoice.lines if line.tax_category is None]
    if untaxed:
        say(f"No tax on: {', '.join(untaxed)} (neither the line nor the seller had a tax category when it was invoiced)")


def _tax_label(category: str | None, rate) -> str:
    if category is None:
        return "none"
    return category if rate is None else f"{category} {format_rate(rate)}%"


def show_party(party) -> None:
    """`seller show` or `customer show`: one value a row, "-" where unset."""
    table(None, ["field", "value"],
          [[field.replace("_", " "), "-" if value is None else format_rate(value) if field == "tax_rate" else value]
           for field, value in party._asdict().items()], wrap=["value"])


def show_customers(customers: list[Customer]) -> None:
    table(None, ["customer", "country", "city", "vat id", "email", "electronic address", "terms (days)", "reference"],
          [[c.name, c.country, c.city, c.vat_id, c.email, c.electronic_address, c.payment_terms_days, c.reference]
           for c in customers], wrap=["customer", "city", "reference"])


def _share_of(item, currency: str) -> str:
    """An item split between customers: the share's whole (section 10)."""
    if item.item_amount is None or item.item_amount == item.amount:
        return ""
    return f"(share of {format_amount(item.item_amount, currency)})"


def _now_on(invoice: Invoice, item) -> str:
    """Where a cancelled invoice's item is now."""
    if invoice.status != "cancelled" or invoice.type == CREDIT_NOTE:
        return ""
    return f"(now on {item.invoice})" if item.invoice else "(now unbilled)"


def show_skips(skips: Iterable[Skip], title: str = "Skipped lines", where: str = "`invoicer run list --json`") -> None:
    skips = list(skips)
    if skips:
        table(title, ["line", "contract", "name", "reason", "run dates", "detail"],
              [[s.line_id, s.contract, s.name, s.reason, _run_dates(s), s.detail] for s in skips[:SHOWN_ROWS]],
              wrap=["contract", "name", "run dates", "detail"])
        _more(len(skips), where)


def _run_dates(skip: Skip) -> str | None:
    """The run dates a skip record stands for: one, or a span and how many."""
    if skip.run_date is None or skip.count == 1:
        return iso(skip.run_date)
    return f"{iso(skip.run_date)} to {iso(skip.last_run_date)} ({skip.count})"


# Lines that bill nothing because nothing was there to bill: counted in a run's summary,
# not listed (the others need an operator).
IDLE_REASONS = ("no-transactions",)


def more(count: int, where: str) -> None:
    """Say how many rows a table for people left out."""
    _more(count, where)


def _more(count: int, where: str) -> None:
    if count > SHOWN_ROWS:
        say(f"... and {count - SHOWN_ROWS} more (see {where})")


def show_run_result(result: RunResult) -> None:
    if result.status == "sleeping":
        say(f"sleeping: a Process step already ran for {result.run_date} (or the workflow started "
            f"sleeping on it); the next is due {result.next_due}. Use --force to run it anyway.")
        return
    word = "would create" if result.status == "dry-run" else "created"
    say(f"Invoice run for {result.run_date}: {word} {result.invoice_count} invoice(s)")
    if result.invoices:
        show_invoices(list(result.invoices[:SHOWN_ROWS]))
        _more(result.invoice_count, "`invoicer invoice list`")
    show_skips([s for s in result.skipped if s.reason not in IDLE_REASONS], "Needs action")
    idle = [s for s in result.skipped if s.reason in IDLE_REASONS]
    if idle:
        where = f": `invoicer run show {result.run_id}` lists them" if result.run_id else ""
        say(f"{len({s.line_id for s in idle})} line(s) had nothing to bill (no-transactions) at "
            f"{sum(s.count for s in idle)} run date(s){where}")


def show_runs(runs: list[Run]) -> None:
    table(None, ["run", "run date", "ended", "workflow", "forced", "invoices", "lines skipped", "undone"],
          [[r.id, r.run_date, iso(r.ended_at), r.workflow, "yes" if r.forced else "",
            _span(r.invoices), len({s.line_id for s in r.skipped}), "undone" if r.undone else ""] for r in runs],
          wrap=["invoices"])


def show_run(run: Run, made: list[Invoice]) -> None:
    say(f"Run {run.id} for {run.run_date}: ended {iso(run.ended_at)}, {run.workflow or 'no workflow'}"
        f"{', forced' if run.forced else ''}{', undone' if run.undone else ''}; {len(made)} invoice(s)")
    if made:
        show_invoices(made)
    show_skips(run.skipped, where=f"`invoicer run show {run.id} --json`")


def _span(numbers: tuple[str, ...]) -> str:
    if not numbers:
        return "none"
    return numbers[0] if len(numbers) == 1 else f"{numbers[0]}..{numbers[-1]} ({len(numbers)})"


def show_schedules(entries: list[ScheduleEntry], milestones: list[Milestone], shortfalls) -> None:
    rows = []
    for e in entries:
        rows.append([e.id, e.line.id, e.line.contract, e.line.name + (" (closed)" if e.line.closed else ""),
                     schedules.describe(e.schedule), "", "", ""])
        if e.earlier:
            rows.append(["", "", "", "", f"  ... {e.earlier} earlier run date(s)", "", "", ""])
        for r in e.run_dates:
            rows.append(["", "", "", "", f"  run date {r.run_date}", "", r.status, ", ".join(r.invoices) or ""])
    for m in milestones:
        rows.append([m.id, m.line.id, m.line.contract, m.line.name + (" (closed)" if m.line.closed else ""),
                     f"milestone {m.name} {m.date}",
                     format_amount(m.amount, m.line.currency), milestone_status(m), m.invoice or ""])
    table(None, ["id", "line", "contract", "line name", "schedule", "amount", "status", "invoice"], rows,
          money=["amount"], wrap=["contract", "line name", "schedule"])
    for line, value, planned in shortfalls:
        say(f"line {line.id} ({line.contract} / {line.name}): milestones add up to "
            f"{format_amount(planned, line.currency)} of its value {format_amount(value, line.currency)} "
            f"(shortfall {format_amount(value - planned, line.currency)})")
