"""Handing invoices over (`invoice export`): csv and json on stdout, one PDF, UBL or
Factur-X file a document into a folder, and `--new`, which hands each document over once
per format and records it only when every file (or the whole stdout document) is written.

The rules of what an e-invoice needs live here; how a document looks lives in
invoicer.documents, which this module feeds."""

import os
import shlex
from collections.abc import Callable
from typing import NamedTuple

from invoicer import clock
from invoicer.errors import InputError, InvoicerError
from invoicer.model import Customer, Invoice, Seller
from invoicer.money import MINOR_DIGITS
from invoicer.invoices import STATUSES, _known_contract
from invoicer.store import Store
from invoicer.values import choice

FORMATS = ("csv", "json", "pdf", "ubl", "facturx")
FILES = ("pdf", "ubl", "facturx")
E_INVOICES = ("ubl", "facturx")


class Export(NamedTuple):
    fmt: str
    invoices: tuple[Invoice, ...] = ()  # csv and json: what stdout gets
    files: tuple[str, ...] = ()  # pdf, ubl and facturx: the paths written


def export(store: Store, numbers: list[str] | None, status: str | None, contract: str | None, fmt: str,
           out: str | None, new: bool, write: Callable[[list[Invoice]], None] | None = None) -> Export:
    """Select the documents (`numbers`; None: all that `status` and `contract` select),
    leave out those handed over before (with `new`), write them (`write` prints a csv or
    json document), and record the hand-over. One transaction: with `new`, a writing one,
    so that two exports at once never hand a document over twice."""
    fmt = choice(fmt, FORMATS, "format")
    if out is not None and fmt not in FILES:
        raise InputError(f"--out is for the pdf, ubl and facturx formats; {fmt} goes to stdout")
    status = choice(status, STATUSES, "status") if status else None
    with (store.writing() if new else store.reading()):
        selected = _select(store, numbers, status, contract, fmt)
        if new:
            handed = store.handed_over([i.number for i in selected], fmt)
            selected = [i for i in selected if i.number not in handed]
        if fmt in FILES:
            paths = _write_files(store, selected, fmt, out or ".")
            result = Export(fmt, files=tuple(paths))
        else:
            write(selected)
            result = Export(fmt, invoices=tuple(selected))
        if new and selected:
            store.record_hand_over([i.number for i in selected], fmt, clock.stamp())
        return result


def _select(store: Store, numbers: list[str] | None, status: str | None, contract: str | None, fmt: str) -> list[Invoice]:
    details = fmt != "csv"
    if numbers is None:
        _known_contract(store, contract)
        if fmt in E_INVOICES:
            # An e-invoice is for a confirmed document only: --all selects only those.
            if status not in (None, "confirmed"):
                return []
            status = "confirmed"
        return store.invoices(status=status, contract=contract, details=details)
    wanted = [number.strip() for number in numbers]
    seen = set()
    for number in wanted:
        if number in seen:
            raise InputError(f"number: {number} is given twice")
        seen.add(number)
        store.invoice_row(number)  # NotFound names it
    found = {i.number: i for i in store.invoices(numbers=wanted, details=details)}
    selected = [found[number] for number in wanted]
    if fmt in E_INVOICES:
        for invoice in selected:
            if invoice.status != "confirmed":
                raise InvoicerError(f"number: {invoice.number} is {invoice.status}; an e-invoice ({fmt}) is made "
                                    "of a confirmed document only (invoice confirm first)")
    return selected


def _write_files(store: Store, selected: list[Invoice], fmt: str, out: str) -> list[str]:
    from invoicer import documents

    numbers = [invoice.number for invoice in selected]
    parties = store.parties_of_invoices(numbers)
    if fmt in E_INVOICES:
        gaps = [gap for invoice in selected for gap in e_invoice_gaps(invoice, *parties[invoice.number])]
        if gaps:
            raise InvoicerError(f"cannot make an e-invoice ({fmt}) of it: missing " + "; ".join(dict.fromkeys(gaps))
                                + ". A confirmed invoice keeps the records and the tax it was confirmed with: what "
                                "is set now serves invoices confirmed from now on (credit this one and bill it "
                                "again to correct it)")
    credited = store.issue_dates(sorted({invoice.credits for invoice in selected if invoice.credits}))
    render, extension = documents.renderer(fmt)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as problem:
        raise InputError(f"out: cannot create the folder {out!r} ({problem.strerror})") from None
    paths = []
    path = out
    try:
        with documents.Files() as files:
            for invoice in selected:
                record = documents.document(invoice, *parties[invoice.number], credited.get(invoice.credits))
                path = os.path.join(out, f"{record.number}.{extension}")
                files.write(path, render(record))
                paths.append(path)
    except OSError as problem:
        raise InvoicerError(f"out: cannot write {problem.filename or path} ({problem.strerror}); nothing was "
                            "recorded as handed over") from None
    return paths


def e_invoice_gaps(invoice: Invoice, seller: Seller, customer: Customer | None) -> list[str]:
    """What an invoice lacks to be an EN 16931 e-invoice, each by party and option."""
    gaps = []
    if MINOR_DIGITS[invoice.currency] > 2:  # BR-DEC-*: two decimals at most
        gaps.append(f"a currency of two decimals at most ({invoice.number} is in {invoice.currency}, which has "
                    f"{MINOR_DIGITS[invoice.currency]}; EN 16931 allows 2)")
    for option, value in (("--name", seller.name), ("--country", seller.country), ("--street", seller.street),
                          ("--city", seller.city), ("--postcode", seller.postcode)):
        if not value:
            gaps.append(f"seller {option}")
    outside = [line for line in invoice.lines if line.tax_category == "O"]
    if outside and len(outside) < len(invoice.lines):
        gaps.append(f"only O lines beside O lines ({invoice.number}'s lines outside the scope of VAT: "
                    + ", ".join(f"line {line.line_id} {line.name!r}" for line in outside)
                    + "; an O invoice may hold no other)")
    if outside:
        if not seller.legal_id:
            gaps.append("seller --legal-id (an invoice outside the scope of VAT needs it)")
    elif not (seller.vat_id or seller.tax_registration):
        gaps.append("seller --vat-id or --tax-registration")
    if customer is None:
        gaps.append(f"customer {invoice.customer} (it had no record when confirmed: invoicer customer set "
                    f"{shlex.quote(invoice.customer)} --country CC ...)")
    else:
        if not customer.country:
            gaps.append(f"customer {customer.name} --country")
        for category in ("AE", "K"):
            if not customer.vat_id and any(line.tax_category == category for line in invoice.lines):
                gaps.append(f"customer {customer.name} --vat-id (for its {category} lines)")
    for line in invoice.lines:
        if line.tax_category is None:
            gaps.append(f"line {line.line_id} --tax-category ({line.name!r} had no tax when invoiced, nor had the "
                        "seller)")
    return gaps
