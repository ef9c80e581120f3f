"""Invoices after the run: list, show, confirm (final) and cancel (drafts only: what they
billed becomes billable again); and the record of every Process step."""

from invoicer.errors import InputError, InvoicerError, NotFound
from invoicer.model import Invoice, Run
from invoicer.store import Store
from invoicer.values import choice

STATUSES = ("draft", "confirmed", "cancelled")


def list_invoices(store: Store, status: str | None = None, contract: str | None = None) -> list[Invoice]:
    status = choice(status, STATUSES, "status") if status else None
    with store.reading():
        _known_contract(store, contract)
        return store.invoices(status=status, contract=contract)


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
