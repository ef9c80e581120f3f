"""Invoices after the run: list, show, confirm (final) and cancel (drafts only: what they
billed becomes billable again); and the record of every Process step."""

from decimal import Decimal
from typing import NamedTuple

from invoicer.errors import InputError, InvoicerError, NotFound
from invoicer.model import Invoice, Run
from invoicer.store import Store
from invoicer.values import choice, parse_optional_date

STATUSES = ("draft", "confirmed", "cancelled")


def list_invoices(store: Store, status: str | None = None, contract: str | None = None,
                  customer: str | None = None, run_from=None, run_to=None) -> list[Invoice]:
    """Invoices in creation order, of a status, contract, customer and run dates (run_from
    to run_to, both included) if given."""
    status = choice(status, STATUSES, "status") if status else None
    run_from = parse_optional_date(run_from, "from")
    run_to = parse_optional_date(run_to, "to")
    if run_from and run_to and run_from > run_to:
        raise InputError(f"to: {run_to} is before --from {run_from}")
    with store.reading():
        _known_contract(store, contract)
        if customer is not None and not store.has_customer(customer):
            raise NotFound(f"customer: no contract is for a customer named {customer!r} (see `invoicer contract list`)")
        return store.invoices(status=status, contract=contract, customer=customer, run_from=run_from, run_to=run_to)


class Totals(NamedTuple):
    currency: str
    invoices: int
    total: Decimal
    tax_total: Decimal
    total_with_tax: Decimal


def totals(found: list[Invoice]) -> list[Totals]:
    """The invoices' count and sums for each currency among `found`, by currency code."""
    sums: dict[str, list] = {}
    for invoice in found:
        entry = sums.setdefault(invoice.currency, [0, Decimal(0), Decimal(0), Decimal(0)])
        entry[0] += 1
        entry[1] += invoice.total
        entry[2] += invoice.tax_total
        entry[3] += invoice.total_with_tax
    return [Totals(currency, *entry) for currency, entry in sorted(sums.items())]


def _known_contract(store: Store, contract: str | None) -> None:
    """A contract to filter by must exist: a typo is no empty list."""
    if contract is not None and store.contract(contract) is None:
        raise NotFound(f"contract: no contract named {contract!r} (see `invoicer contract list`)")


def show(store: Store, number: str) -> Invoice:
    with store.reading():
        return _one(store, number)


def confirm(store: Store, number: str) -> Invoice:
    with store.writing():
        row = store.invoice_row(number.strip())
        if row["status"] == "cancelled":
            raise InvoicerError(f"number: {number} is cancelled; a cancelled invoice cannot be confirmed")
        if row["status"] == "draft":
            store.set_invoice_status(row["id"], "confirmed")
        return _one(store, number)


def cancel(store: Store, number: str) -> Invoice:
    with store.writing():
        row = store.invoice_row(number.strip())
        if row["status"] != "draft":
            raise InvoicerError(f"number: {number} is {row['status']}; only a draft invoice can be cancelled")
        store.release_invoice_items(row["id"])
        store.set_invoice_status(row["id"], "cancelled")
        return _one(store, number)


def _one(store: Store, number: str) -> Invoice:
    row = store.invoice_row(number.strip())
    return store.invoices(number=row["number"], details=True)[0]


def export(store: Store, number: str | None, every: bool, status: str | None, contract: str | None,
           fmt: str) -> list[Invoice]:
    choice(fmt, ("csv", "json"), "format")
    if (number is None) == (not every):
        raise InputError("give an invoice NUMBER or --all")
    if number is not None:
        return [show(store, number)]
    status = choice(status, STATUSES, "status") if status else None
    with store.reading():
        _known_contract(store, contract)
        return store.invoices(status=status, contract=contract, details=fmt == "json")


def list_runs(store: Store, limit: int | None = None) -> list[Run]:
    with store.reading():
        return store.runs(limit)


def show_run(store: Store, run_id: int) -> tuple[Run, list[Invoice]]:
    """One run, and the invoices it made."""
    with store.reading():
        run = store.run(run_id)
        return run, store.invoices(run_id=run_id)
