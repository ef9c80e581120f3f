"""Invoice documents: the room at the edge where invoices become files a customer, a tax
office and an accounting system accept (PDF, UBL 2.1, Factur-X). It is fed the same
records as the JSON, turned into a `Document` by `document()`; the billing core knows no
output format, and nothing here reads the database.

A `Document` holds what a document shows, already in its own terms: amounts are
magnitudes (a credit note's are positive, its type says that it credits), parties are
as they were when the invoice was confirmed, the invoicing period is worked out."""

import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

INVOICE, CREDIT_NOTE = "380", "381"  # UNTDID 1001 document types
# EN 16931 (BR-DEC-*) allows two decimals at most.
MAX_DECIMALS = 2


class Party(NamedTuple):
    """The seller or the customer, as a document names them."""

    name: str
    country: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    vat_id: str | None = None
    tax_registration: str | None = None
    legal_id: str | None = None
    email: str | None = None
    electronic_address: str | None = None  # SCHEME:ID, SCHEME of the Peppol EAS list
    iban: str | None = None
    bic: str | None = None
    reference: str | None = None  # the buyer's reference (a customer's)


class Item(NamedTuple):
    """One thing an invoice line bills (or a credit note line credits): a transaction or a
    milestone, with what the line shows of it."""

    date: date
    text: str
    amount: Decimal


class DocumentLine(NamedTuple):
    id: int
    name: str
    amount: Decimal
    tax_category: str | None
    tax_rate: Decimal | None
    exemption_reason: str | None
    items: tuple[Item, ...] = ()


class TaxGroup(NamedTuple):
    category: str
    rate: Decimal | None
    taxable: Decimal
    amount: Decimal
    exemption_reason: str | None = None  # reasons of its lines, joined with "; "


class Document(NamedTuple):
    number: str
    type_code: str  # INVOICE | CREDIT_NOTE
    status: str  # draft | confirmed | cancelled
    contract: str
    currency: str
    digits: int  # the currency's minor unit
    run_date: date
    issue_date: date | None
    due_date: date | None
    payment_terms_days: int | None
    seller: Party
    customer: Party
    lines: tuple[DocumentLine, ...]
    tax: tuple[TaxGroup, ...]
    total: Decimal
    tax_total: Decimal
    total_with_tax: Decimal
    credits: str | None = None  # the invoice a credit note corrects
    credits_issue_date: date | None = None
    reason: str | None = None

    @property
    def credit_note(self) -> bool:
        return self.type_code == CREDIT_NOTE

    @property
    def period(self) -> tuple[date, date]:
        """The invoicing period: from the earliest date of the items to the latest of the
        run date minus one and those dates (a credit note: its invoice's run date)."""
        days = [item.date for line in self.lines for item in line.items]
        end = max([self.run_date - timedelta(days=1), *days])
        return min(days or [end]), end

    @property
    def payment_terms(self) -> str | None:
        if self.payment_terms_days is None:
            return None
        due = f", due {self.due_date.isoformat()}" if self.due_date else ""
        return f"Payment within {self.payment_terms_days} days of the issue date{due}"

    def money(self, amount: Decimal) -> str:
        """An amount as the document writes it: the currency's decimals, no sign."""
        return f"{abs(amount):.{self.digits}f}"


def exemption_reasons(lines: Iterable[DocumentLine], category: str, rate: Decimal | None) -> str | None:
    """The exemption reasons of a tax group's lines, each once, in line order, joined with '; '."""
    reasons = []
    for line in lines:
        if (line.tax_category, line.tax_rate) == (category, rate) and line.exemption_reason \
                and line.exemption_reason not in reasons:
            reasons.append(line.exemption_reason)
    return "; ".join(reasons) or None


def write_whole(path: str, content: bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, renamed into place."""
    with Files() as files:
        files.write(path, content)


class Files:
    """Files written whole or not at all, many at a time: each is written to a temporary
    file beside it, made durable (fsync) and renamed into place, so that its name never
    shows a part of it. The fsync and the rename run on a few threads, while the caller
    makes the next file: the file system commits the fsyncs of several files together,
    and one fsync a file in turn would cost more than making it. Leaving the block waits
    for every file and makes the folders' new names durable too; an error is raised then
    (or at the next write), and leaves no temporary file behind."""

    THREADS = 4
    AHEAD = 64  # files written and not yet in place, at most

    def __init__(self):
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(self.THREADS, thread_name_prefix="invoicer-fsync")
        self.room = threading.BoundedSemaphore(self.AHEAD)
        self.lock = threading.Lock()
        self.temporaries: set[str] = set()  # written, not yet in place
        self.failure: BaseException | None = None
        self.folders: set[str] = set()
        self.made = 0  # temporary files made

    def __enter__(self) -> "Files":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is not None:
            with self.lock:
                self.failure = self.failure or error  # the threads put no more files in place
        self.pool.shutdown(wait=True)
        for temporary in self.temporaries:
            _remove(temporary)
        if error is None:
            self._raise()
            for folder in self.folders:
                _fsync_folder(folder)

    def write(self, path: str, content: bytes) -> None:
        self._raise()
        folder = os.path.dirname(path) or "."
        self.folders.add(folder)
        self.room.acquire()
        try:
            handle, temporary = self._temporary(folder)
        except OSError as error:
            self.room.release()
            raise OSError(error.errno, error.strerror, path) from None
        except BaseException:
            self.room.release()
            raise
        try:
            with self.lock:
                self.temporaries.add(temporary)
            with os.fdopen(handle, "wb") as out:
                out.write(content)
        except BaseException as error:
            with self.lock:
                self.temporaries.discard(temporary)
            _remove(temporary)
            self.room.release()
            if isinstance(error, OSError):
                raise OSError(error.errno, error.strerror, path) from None
            raise
        self.pool.submit(self._settle, temporary, path)

    def _temporary(self, folder: str) -> tuple[int, str]:
        """A new file of our own beside the files: by this process's id and a count (a
        name that is taken, left by a process of that id before, is never reused), as
        private as tempfile.mkstemp makes it, for less than mkstemp's random names cost."""
        self.made += 1
        temporary = os.path.join(folder, f".invoicer-{os.getpid()}-{self.made}.part")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), \
                temporary
        except FileExistsError:
            return tempfile.mkstemp(dir=folder, prefix=".invoicer-", suffix=".part")

    def _settle(self, temporary: str, path: str) -> None:
        try:
            with self.lock:
                if self.failure is not None:
                    return  # left for __exit__ to remove
            handle = os.open(temporary, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
            with self.lock:
                if self.failure is not None:
                    return
                os.replace(temporary, path)
                self.temporaries.discard(temporary)
        except OSError as error:
            with self.lock:
                if self.failure is None:  # said of the file it was for
                    self.failure = OSError(error.errno, error.strerror, path)
        except BaseException as error:
            with self.lock:
                if self.failure is None:
                    self.failure = error
        finally:
            self.room.release()

    def _raise(self) -> None:
        with self.lock:
            failure = self.failure
        if failure is not None:
            raise failure


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_folder(folder: str) -> None:
    """Make the names of a folder's new files durable (where the system allows it)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # a folder some systems cannot fsync: the files themselves are
    finally:
        os.close(handle)


def renderer(fmt: str) -> tuple[Callable[[Document], bytes], str]:
    """The function that renders a document in FMT, and the file's extension."""
    if fmt == "ubl":
        from invoicer.documents.ubl import render
        return render, "xml"
    if fmt == "facturx":
        from invoicer.documents.facturx import render
        return render, "pdf"
    if fmt == "pdf":
        from invoicer.documents.pdf import render
        return render, "pdf"
    raise ValueError(fmt)


def document(invoice, seller, customer, credits_issue_date=None) -> Document:
    """The Document of an invoice or credit note (read with its details), for the parties
    `seller` and `customer` (the book's records as the invoice keeps them; None where the
    book has none: a document still names the customer)."""
    from invoicer.money import MINOR_DIGITS

    lines = tuple(
        DocumentLine(line.line_id, line.name, abs(line.amount), line.tax_category, line.tax_rate,
                     line.tax_exemption_reason, tuple(_item(detail) for detail in line.details))
        for line in invoice.lines
    )
    tax = tuple(TaxGroup(group.category, group.rate, abs(group.taxable), abs(group.amount),
                         exemption_reasons(lines, group.category, group.rate))
                for group in invoice.tax)
    credit = invoice.type == "credit-note"
    return Document(
        number=invoice.number, type_code=CREDIT_NOTE if credit else INVOICE, status=invoice.status,
        contract=invoice.contract, currency=invoice.currency, digits=MINOR_DIGITS[invoice.currency],
        run_date=invoice.run_date, issue_date=invoice.issue_date, due_date=invoice.due_date,
        payment_terms_days=_terms(invoice),
        seller=_party(seller, ""), customer=_party(customer, invoice.customer),
        lines=lines, tax=tax, total=abs(invoice.total), tax_total=abs(invoice.tax_total),
        total_with_tax=abs(invoice.total_with_tax), credits=invoice.credits, credits_issue_date=credits_issue_date,
        reason=invoice.reason,
    )


def _terms(invoice) -> int | None:
    """The payment terms in days, as confirmation fixed them (a draft has none yet)."""
    if invoice.issue_date and invoice.due_date:
        return (invoice.due_date - invoice.issue_date).days
    return None


def _party(record, name: str) -> Party:
    if record is None:
        return Party(name=name)
    fields = {field: getattr(record, field, None) for field in Party._fields}
    return Party(**{**fields, "name": fields["name"] or name})


def _item(detail) -> Item:
    from invoicer.model import Milestone

    if isinstance(detail, Milestone):
        return Item(detail.date, f"milestone {detail.name}{_share(detail)}", abs(detail.amount))
    text = detail.type
    if detail.quantity is not None:
        text += f" {detail.quantity}"
    if detail.description:
        text += f": {detail.description}"
    return Item(detail.date, text + _share(detail), abs(detail.amount))


def _share(detail) -> str:
    """A share of an item split between customers (section 10) says so, and of what: its
    quantity is the whole item's."""
    from invoicer.money import format_amount

    whole = detail.item_amount
    if whole is None or whole == detail.amount:
        return ""
    return f" (share of {format_amount(abs(whole), detail.line.currency)})"
