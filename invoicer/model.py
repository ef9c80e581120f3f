"""The domain's records: immutable named tuples with Decimal money (each with its
currency) and `datetime.date` dates. The store builds them; the engine and renderer read
them. Named tuples, not frozen dataclasses: a command defines them all at start-up, and
imports build hundreds of thousands; both cost a fifth of a dataclass's."""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

TIME_AND_MATERIAL = "time-and-material"
FIXED_PRICE = "fixed-price"
BILLING_METHODS = (FIXED_PRICE, TIME_AND_MATERIAL)
TRANSACTION_TYPES = ("time", "expense", "material", "fee")
INVOICE = "invoice"
CREDIT_NOTE = "credit-note"
INVOICE_TYPES = (INVOICE, CREDIT_NOTE)
# Payment terms when neither the customer's record nor the seller's has any (section 8).
DEFAULT_PAYMENT_TERMS_DAYS = 30

PROCESS_RUN_CALLER = "ProcessRunCaller"
PROCESS_RUNNER = "ProcessRunner"
UPDATE_ROLE_UTILIZATION = "UpdateRoleUtilization"
WORKFLOWS = (PROCESS_RUN_CALLER, PROCESS_RUNNER, UPDATE_ROLE_UTILIZATION)


class Job(NamedTuple):
    id: int
    name: str
    job_type: str
    frequency: str
    active: bool


class Instance(NamedTuple):
    """A job's workflow instance. `last_end` is the end of its latest Process step since
    it was (re)started."""

    id: int
    job_id: int
    job_name: str
    job_active: bool
    workflow: str
    running: bool
    started_at: datetime
    last_end: datetime | None


class JobStatus(NamedTuple):
    job: Job
    instance: Instance | None
    step: str | None
    next_due: datetime | None
    stalled: bool


class Line(NamedTuple):
    id: int
    contract: str
    customer: str
    currency: str
    name: str
    billing_method: str
    amount: Decimal | None
    not_to_exceed: Decimal | None
    project: str | None
    # The line's own tax; None: it takes the seller's when an invoice is made.
    tax_category: str | None = None
    tax_rate: Decimal | None = None
    tax_exemption_reason: str | None = None
    closed: bool = False  # closed lines are not billed nor reported, and take nothing new


class DateSchedule(NamedTuple):
    """How a time-and-material line's invoice run dates are made: a named frequency, an
    RFC 5545 rule, or explicit dates; `start` is the billing start, `end` the requested
    delivery date."""

    frequency: str | None = None
    rrule: str | None = None
    dates: tuple[date, ...] = ()
    start: date | None = None
    end: date | None = None


class RunDate(NamedTuple):
    run_date: date
    status: str  # not-run-yet | invoiced | nothing-to-bill | cancelled | not-run (replaced)
    invoice: str | None = None
    invoices: tuple[str, ...] = ()  # every invoice of the run date (one a customer, split)


class ScheduleEntry(NamedTuple):
    """A line's date-based schedule, with its run dates as far as worth showing."""

    id: int
    line: Line
    schedule: DateSchedule
    next_run_date: date | None
    processed_through: date | None
    run_dates: tuple[RunDate, ...] = ()
    earlier: int = 0  # run dates due before the first of `run_dates`, not shown


class Milestone(NamedTuple):
    id: int
    line: Line
    name: str
    date: date
    amount: Decimal
    percent: Decimal | None
    ready: bool
    invoice: str | None = None
    invoice_status: str | None = None
    written_off: bool = False  # credited in full by a confirmed --write-off credit note
    credit_notes: tuple[str, ...] = ()  # credit notes not cancelled that credit it
    # Split (section 10): the invoices not cancelled that bill a share of it, first first;
    # and, in an invoice's details, the whole amount beside the share in `amount`.
    invoices: tuple[str, ...] = ()
    item_amount: Decimal | None = None


class SplitPart(NamedTuple):
    """One customer of a billing split: its percent (two decimals), and whether it takes
    the rounding difference."""

    customer: str
    percent: Decimal
    rounding: bool


class Transaction(NamedTuple):
    id: int
    line: Line
    date: date
    amount: Decimal
    type: str
    quantity: Decimal | None
    description: str | None
    invoice: str | None = None
    returned_from: str | None = None  # the credit note whose confirmation returned it
    credit_notes: tuple[str, ...] = ()  # credit notes not cancelled that credit it
    ref: str | None = None  # its id in the system it came from; unique in the book
    # Split (section 10): as for a Milestone; and the customer it is billed to alone (a
    # credit note returned it from that customer's share).
    invoices: tuple[str, ...] = ()
    item_amount: Decimal | None = None
    customer: str | None = None


class RefHolder(NamedTuple):
    """The transaction that holds a ref, as stored; `deleted_at` is set once it was
    deleted (its ref stays taken)."""

    id: int
    line_id: int
    date: str
    amount: int
    type: str
    quantity: str | None
    description: str | None
    deleted_at: str | None


class InvoiceLine(NamedTuple):
    line_id: int
    name: str
    billing_method: str
    amount: Decimal
    items: int
    details: tuple = ()  # Transaction or Milestone records, for `invoice show`
    # The tax the line had when the invoice was made (None: the line has no tax).
    tax_category: str | None = None
    tax_rate: Decimal | None = None
    tax_exemption_reason: str | None = None


class TaxGroup(NamedTuple):
    """One (category, rate) group of an invoice's tax breakdown (EN 16931 BG-23)."""

    category: str
    rate: Decimal | None  # None for O (outside the scope of VAT)
    taxable: Decimal
    amount: Decimal


class Invoice(NamedTuple):
    number: str | None
    contract: str
    customer: str
    run_date: date
    currency: str
    status: str
    lines: tuple[InvoiceLine, ...]
    # The breakdown by (category, rate): tax.breakdown() of the lines, made where the
    # invoice is built; the totals below derive from it.
    tax: tuple[TaxGroup, ...] = ()
    type: str = "invoice"  # invoice | credit-note
    credits: str | None = None  # a credit note's: the invoice it corrects
    issue_date: date | None = None
    due_date: date | None = None
    write_off: bool = False
    reason: str | None = None
    # {format: moment} of each `export --new` hand-over; None where not looked up.
    exported: dict[str, datetime] | None = None

    @property
    def total(self) -> Decimal:
        """The sum of the lines, without tax."""
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((group.amount for group in self.tax), Decimal(0))

    @property
    def total_with_tax(self) -> Decimal:
        return self.total + self.tax_total


class Skip(NamedTuple):
    """A line passed over, and why: at `count` run dates from `run_date` to
    `last_run_date` (one record however many run dates a catch-up passes), or at none
    (`run_date` None: the line is not configured for batch invoicing)."""

    line_id: int
    contract: str
    name: str
    reason: str
    run_date: date | None = None
    detail: str | None = None
    last_run_date: date | None = None
    count: int = 1


class RunResult(NamedTuple):
    """What a call of the run did. `invoices` holds all `invoice_count` invoices it made,
    or only the first ones when the caller asked for a summary. When the caller asked for
    the run's JSON, `documents` holds each invoice as its JSON text instead, and both
    it and `skipped` are read as they are iterated (once), not held."""

    status: str  # completed | sleeping | dry-run
    run_date: date
    next_due: date | None = None
    invoices: tuple[Invoice, ...] = ()
    skipped: Iterable[Skip] = ()
    invoice_count: int = 0
    run_id: int | None = None  # the run record (a dry run's is rolled back)
    documents: Iterable[str] = ()  # section 5's invoice objects as JSON text, in creation order


class Run(NamedTuple):
    id: int
    run_date: date
    started_at: datetime
    ended_at: datetime
    forced: bool
    workflow: str | None
    invoices: tuple[str, ...] = ()
    skipped: tuple[Skip, ...] = ()
    undone: bool = False


class Seller(NamedTuple):
    """The company that issues the book's invoices (`seller set`); None where unset. The
    fields are `seller show --json`'s keys, in its order."""

    name: str | None = None
    country: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    vat_id: str | None = None
    tax_registration: str | None = None
    legal_id: str | None = None
    email: str | None = None
    electronic_address: str | None = None
    iban: str | None = None
    bic: str | None = None
    payment_terms_days: int | None = None
    tax_category: str | None = None
    tax_rate: Decimal | None = None


class Customer(NamedTuple):
    """The record of a customer that contracts name (`customer set`); the fields are
    `customer show --json`'s keys, in its order."""

    name: str
    country: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    vat_id: str | None = None
    legal_id: str | None = None
    email: str | None = None
    electronic_address: str | None = None
    payment_terms_days: int | None = None
    reference: str | None = None
