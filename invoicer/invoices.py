"""Invoices after the run: list, show, confirm (final, in bulk too) and cancel (drafts
only: what they billed becomes billable again); credit notes, which correct a confirmed
invoice; and the record of every Process step, the latest of which can be undone."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from invoicer import clock, engine, schedules
from invoicer.errors import InputError, InvoicerError, NotFound
from invoicer.model import CREDIT_NOTE, INVOICE, INVOICE_TYPES, Invoice, Run
from invoicer.money import format_minor, parse_minor
from invoicer.store import Store, schedule_from_row
from invoicer.values import choice, parse_date, parse_id, parse_optional_date, parse_text

STATUSES = ("draft", "confirmed", "cancelled")


def list_invoices(store: Store, status: str | None = None, contract: str | None = None,
                  customer: str | None = None, run_from=None, run_to=None, type_: str | None = None) -> list[Invoice]:
    """Invoices and credit notes in creation order, of a status, contract, customer, type
    and run dates (run_from to run_to, both included) if given."""
    status = choice(status, STATUSES, "status") if status else None
    type_ = choice(type_, INVOICE_TYPES, "type") if type_ else None
    run_from = parse_optional_date(run_from, "from")
    run_to = parse_optional_date(run_to, "to")
    if run_from and run_to and run_from > run_to:
        raise InputError(f"to: {run_to} is before --from {run_from}")
    with store.reading():
        _known_contract(store, contract)
        if customer is not None and not store.has_customer(customer):
            raise NotFound(f"customer: no contract is for a customer named {customer!r} (see `invoicer contract list`)")
        return store.invoices(status=status, contract=contract, customer=customer, run_from=run_from, run_to=run_to,
                              type_=type_)


class Totals(NamedTuple):
    currency: str
    invoices: int
    total: Decimal
    tax_total: Decimal
    total_with_tax: Decimal
    left_out: int = 0  # cancelled documents listed and not counted


def totals(found: list[Invoice], by_status: bool = False) -> list[Totals]:
    """The count and sums for each currency, by currency code, of the documents among
    `found` that stand: a cancelled one bills nothing, and its items are billed again on
    another, so it is left out, unless `found` is of one status (`by_status`): then a
    cancelled one is there only because the cancelled were asked for."""
    sums: dict[str, list] = {}
    for invoice in found:
        entry = sums.setdefault(invoice.currency, [0, Decimal(0), Decimal(0), Decimal(0), 0])
        if invoice.status == "cancelled" and not by_status:
            entry[4] += 1
            continue
        entry[0] += 1
        entry[1] += invoice.total
        entry[2] += invoice.tax_total
        entry[3] += invoice.total_with_tax
    return [Totals(currency, *entry) for currency, entry in sorted(sums.items())]


def _known_contract(store: Store, contract: str | None) -> int | None:
    """A contract to filter by must exist: a typo is no empty list. Returns its id."""
    if contract is None:
        return None
    row = store.contract(contract)
    if row is None:
        raise NotFound(f"contract: no contract named {contract!r} (see `invoicer contract list`)")
    return row["id"]


def show(store: Store, number: str) -> Invoice:
    with store.reading():
        return _one(store, number)


def confirm(store: Store, numbers: list[str], every: bool = False, contract: str | None = None,
            run_id=None, run_date=None, type_: str | None = None, issue_date=None,
            shown: int | None = None) -> tuple[Iterable[Invoice], int]:
    """Confirm drafts, those named or `every` one the filters select, in one transaction,
    all or nothing; each is issued on `issue_date` (default today) and due after its
    payment terms. A confirmed credit note returns what it credits to the backlog.
    Returns the invoices confirmed (only the first `shown`, if given), read one at a time
    once the confirmation is committed (a month-end confirms 100,000), and their count."""
    today = clock.today()
    issued = parse_date(issue_date, "issue_date") if issue_date is not None else today
    if issued > today:
        raise InputError(f"issue_date: {issued} is after today ({today})")
    run_id = parse_id(run_id, "run") if run_id is not None else None
    run_date = parse_date(run_date, "run_date") if run_date is not None else None
    type_ = choice(type_, INVOICE_TYPES, "type") if type_ is not None else None
    with store.writing():
        if every:
            contract_id = _known_contract(store, contract)
            if run_id is not None:
                store.run_row(run_id)
            store.choose_drafts(contract_id, run_id, run_date, type_)
        else:
            seen = set()
            for found in store.choose_numbers([n.strip() for n in numbers]):
                number = found["number"]
                if found["id"] is None:
                    raise NotFound(f"number: no invoice {number!r} (see `invoicer invoice list`); nothing was confirmed")
                if number in seen:
                    raise InputError(f"number: {number} is given twice; nothing was confirmed")
                if found["status"] != "draft":
                    raise InvoicerError(f"number: {number} is {found['status']}, not a draft; "
                                        "nothing was confirmed (a confirmed invoice never changes)")
                seen.add(number)
        early = store.chosen_issued_too_early(issued)
        if early and early["type"] == CREDIT_NOTE:
            raise InvoicerError(f"issue_date: {issued} is before the issue date of {early['credits']} "
                                f"({early['credits_issued']}), which {early['number']} corrects")
        if early:
            raise InvoicerError(f"issue_date: {issued} is before the run date of {early['number']} ({early['run_date']})")
        store.confirm_chosen(issued)
        returned = [
            (row["line_id"], row["date"], row["credited"], row["type"],
             engine.returned_quantity(row["quantity"], row["credited"], row["billed"]), row["description"],
             row["credit_note"], row["customer"])
            for row in store.chosen_credited_transactions()
        ]
        store.add_returned_transactions(returned)
        store.return_chosen_milestones()
        if not every and len(numbers) == 1:
            return [_one(store, numbers[0])], 1
        return store.iter_invoices(chosen=True, first=shown), store.count_chosen()


def cancel(store: Store, number: str) -> Invoice:
    with store.writing():
        row = store.invoice_row(number.strip())
        if row["status"] != "draft":
            raise InvoicerError(f"number: {number} is {row['status']}; only a draft invoice can be cancelled")
        if row["type"] == INVOICE:  # a draft credit note has changed nothing: nothing to release
            store.release_invoice_items(row["id"])
        store.set_invoice_status(row["id"], "cancelled")
        return _one(store, number)


def credit(store: Store, number: str, transactions: list[str] = (), milestones: list[str] = (),
           write_off: bool = False, reason: str | None = None) -> Invoice:
    """A draft credit note for a confirmed invoice: of each item named (or of everything,
    if none is), what it still has billed on the invoice, or (`ID=AMOUNT`) all but AMOUNT."""
    reason = parse_text(reason, "reason", required=False) if reason is not None else None
    wanted = [_credit_spec("transaction", text) for text in transactions]
    for text in milestones:
        item_id, keep = _credit_spec("milestone", text)
        if keep is not None:
            raise InputError(f"milestone {item_id}: a milestone is credited in full only (no =AMOUNT)")
        wanted.append((item_id, None))
    kinds = ["t"] * len(transactions) + ["m"] * len(milestones)
    with store.writing():
        row = store.invoice_row(number.strip())
        if row["type"] == CREDIT_NOTE:
            raise InvoicerError(f"number: {row['number']} is a credit note; only an invoice can be credited")
        if row["status"] != "confirmed":
            raise InvoicerError(f"number: {row['number']} is {row['status']}; only a confirmed invoice can be "
                                "credited" + (" (a draft can be cancelled)" if row["status"] == "draft" else ""))
        items = {(i["kind"], i["item_id"]): i for i in store.invoice_items(row["id"])}
        chosen: list[tuple] = []
        if not wanted:
            chosen = [(i, i["billed"] - i["credited"]) for i in items.values() if i["billed"] > i["credited"]]
            if not chosen:
                raise InvoicerError(f"number: {row['number']} has nothing left billed to credit")
        seen = set()
        for kind, (item_id, keep) in zip(kinds, wanted):
            name = f"{'transaction' if kind == 't' else 'milestone'} {item_id}"
            if (kind, item_id) in seen:
                raise InputError(f"{name}: given twice")
            seen.add((kind, item_id))
            item = items.get((kind, item_id))
            if item is None:
                raise InvoicerError(f"{name}: not on {row['number']}")
            still = item["billed"] - item["credited"]
            if still <= 0:
                raise InvoicerError(f"{name}: has nothing left billed on {row['number']} "
                                    "(credit notes not cancelled credit all of it)")
            kept = 0 if keep is None else parse_minor(keep, row["currency"], f"{name}", allow_zero=True)
            if kept >= still:
                raise InvoicerError(f"{name}: ={format_minor(kept, row['currency'])} keeps all it still has billed "
                                    f"({format_minor(still, row['currency'])}); AMOUNT is what stays billed, "
                                    "less than that")
            chosen.append((item, still - kept))
        note = store.add_credit_note(
            row, [(i["kind"], i["item_id"], i["line_id"], i["source_line_id"], amount, i["date"], i["name"], i["percent"])
                  for i, amount in chosen], write_off, reason)
        return _one(store, note)


def _credit_spec(kind: str, text: str) -> tuple[int, str | None]:
    """`ID` or `ID=AMOUNT`: (the id, the amount's text or None)."""
    item, sep, amount = str(text).partition("=")
    item_id = parse_id(item, kind)
    if sep and not amount.strip():
        raise InputError(f"{kind} {item_id}: =AMOUNT is empty (give ID, or ID=AMOUNT to keep AMOUNT billed)")
    return item_id, amount if sep else None


def undo_run(store: Store, run_id) -> Run:
    """Take back the latest Process step while none of its invoices is confirmed."""
    run_id = parse_id(run_id, "run_id")
    with store.writing():
        run = store.run_row(run_id)
        if run["undone_at"] is not None:
            raise InvoicerError(f"run_id: run {run_id} is already undone")
        latest = store.latest_run_id()
        if latest != run_id:
            raise InvoicerError(f"run_id: run {run_id} is not the latest run; only the latest not undone "
                                f"(run {latest}) can be undone")
        confirmed = store.first_confirmed_of_run(run_id)
        if confirmed:
            raise InvoicerError(f"run_id: run {run_id} made {confirmed}, which is confirmed; "
                                "a run is undone only while its invoices are drafts (credit it instead)")
        for row in store.undo_run(run_id):
            processed = date.fromisoformat(row["processed_through"]) if row["processed_through"] else None
            store.set_next_run_date(row["id"], schedules.next_run_date(schedule_from_row(row), processed))
        return store.runs(run_id=run_id)[0]


def _one(store: Store, number: str) -> Invoice:
    row = store.invoice_row(number.strip())
    invoice = store.invoices(number=row["number"], details=True)[0]
    return invoice._replace(exported=store.hand_overs(row["number"]))


def list_runs(store: Store, limit: int | None = None) -> list[Run]:
    with store.reading():
        return store.runs(limit)


def show_run(store: Store, run_id: int) -> tuple[Run, list[Invoice]]:
    """One run, and the invoices it made."""
    with store.reading():
        run = store.run(run_id)
        return run, store.invoices(run_id=run_id)
