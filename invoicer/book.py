"""What operators enter: contract lines, invoice schedules, milestones and transactions,
with the rules that keep them billable. Each public function is one command's work in
one transaction; the `_` functions do one row inside an open transaction, so that bulk
imports apply exactly the same rules."""

import re
from bisect import bisect_right
from collections import deque
from collections.abc import Container, Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import date
from decimal import Decimal, localcontext

from invoicer import clock, schedules, tax
from invoicer.errors import InputError, InvoicerError
from invoicer.model import (
    BILLING_METHODS,
    FIXED_PRICE,
    TIME_AND_MATERIAL,
    TRANSACTION_TYPES,
    DateSchedule,
    Line,
    Milestone,
    RefHolder,
    RunDate,
    ScheduleEntry,
    Transaction,
)
from invoicer.money import (
    format_minor,
    parse_currency,
    parse_minor,
    parse_percent,
    percent_share,
    to_minor,
)
from invoicer.store import Store, schedule_from_row
from invoicer.tax import rate_to_store
from invoicer.values import choice, iso_date, parse_date, parse_optional_date, parse_quantity, parse_ref, parse_text

# The run dates to come that `schedule list` shows after the ones already due: all of them
# when a schedule ends within ALL_SHOWN more (an end, explicit dates, an rrule's COUNT or
# UNTIL); else the next UPCOMING_SHOWN.
UPCOMING_SHOWN = 3
ALL_SHOWN = 36
# Of the run dates due so far, `schedule list` shows the latest PAST_SHOWN and counts the
# earlier ones.
PAST_SHOWN = 1000

# What no name the book holds contains: NUL and lone surrogates (no UTF-8 for them), which
# PostgreSQL's text and JSON cannot hold at all. A name with one matches no stored name:
# it is kept out of the batch lookups (the server would refuse the whole query), and the
# rules refuse it, naming its field.
_NEVER_STORED = re.compile("[\x00\ud800-\udfff]")


def may_be_stored(name: str) -> bool:
    return name.isprintable() or not _NEVER_STORED.search(name)  # isprintable: the common case, in C


# contract lines ---------------------------------------------------------------------------

def add_line(store: Store, contract: str, name: str, customer: str, billing_method: str,
             amount=None, not_to_exceed=None, project=None, currency=None,
             tax_category=None, tax_rate=None, tax_exemption_reason=None) -> Line:
    with store.writing():
        lines = NewLines(store)
        row = (contract, name, customer, billing_method, amount, not_to_exceed, project, currency,
               tax_category, tax_rate, tax_exemption_reason)
        lines.fetch([row])
        key = lines.check(row)
        store.add_lines(*lines.take())
        return store.line_by_name(*key)


class NewLines:
    """Contract lines to add, checked by the rules of `contract add-line` a batch at a time,
    as imports need: the contracts and lines a batch names are read in two queries, each row
    is checked against them and the rows before it, and the batch is written in two
    statements. A row is (contract, name, customer, billing_method, amount, not_to_exceed,
    project, currency, tax_category, tax_rate, tax_exemption_reason), as `contract import`
    reads it."""

    def __init__(self, store: Store, repeats: bool = False):
        self.store = store
        # repeats: a row for a line that exists with the same values is unchanged (contract
        # import, spec section 11), not refused (contract add-line).
        self.repeats = repeats
        self.unchanged = 0
        self.contracts: dict[str, dict] = {}
        # (contract, name) -> (line id or None if not written yet, billing method, amount, cap,
        # project, tax category, tax rate in hundredths, tax exemption reason)
        self.taken: dict[tuple[str, str], tuple] = {}
        self.new_contracts: list[tuple] = []
        self.new_lines: list[tuple] = []

    def fetch(self, rows: list[tuple]) -> None:
        """Read the contracts the rows name, and those of their lines that exist. The rows
        checked since the last take() count as the book's: they may not be written yet."""
        names = {(row[0].strip(), (row[1] or "").strip()) for row in rows
                 if row[0] is not None and may_be_stored(row[0]) and (row[1] is None or may_be_stored(row[1]))}
        contracts = self.store.contracts_by_name({contract for contract, _ in names})
        known = [key for key in names if key[0] in contracts]
        taken = {key: (line.id, line.billing_method, _minor(line.amount, line.currency),
                       _minor(line.not_to_exceed, line.currency), line.project, line.tax_category,
                       rate_to_store(line.tax_rate), line.tax_exemption_reason)
                 for key, line in (self.store.lines_by_names(known) if known else {}).items()}
        for contract, customer, code in self.new_contracts:
            contracts[contract] = {"customer": customer, "currency": code}
        taken.update(((contract, name), (None, *values)) for contract, name, *values in self.new_lines)
        self.contracts, self.taken = contracts, taken

    def check(self, row: tuple) -> tuple[str, str]:
        """Check one row, the rows before it taken into account; (contract, name) of its line."""
        (contract, name, customer, billing_method, amount, not_to_exceed, project, currency,
         tax_category, tax_rate, tax_exemption_reason) = row
        contract = parse_text(contract, "contract")
        name = parse_text(name, "name")
        customer = parse_text(customer, "customer")
        method = choice(billing_method, BILLING_METHODS, "billing_method")
        project = parse_text(project, "project", required=False)
        code = parse_currency(currency) if currency is not None else None
        existing = self.contracts.get(contract)
        if existing:
            if existing["customer"] != customer:
                raise InvoicerError(f"customer: contract {contract!r} is for {existing['customer']!r}, "
                                    f"not {customer!r} (a contract has one customer)")
            if code and code != existing["currency"]:
                raise InvoicerError(f"currency: contract {contract!r} is in {existing['currency']}, "
                                    f"not {code} (a contract has one currency)")
            code = existing["currency"]
            if (contract, name) in self.taken and not self.repeats:
                raise InvoicerError(f"name: contract {contract!r} already has a line named {name!r}")
        code = code or "USD"
        value = _optional_amount(amount, code, "amount")
        cap = _optional_amount(not_to_exceed, code, "not_to_exceed")
        if existing and (contract, name) in self.taken:
            line_tax = _new_line_tax(tax_category, tax_rate, tax_exemption_reason)
            return self._unchanged(contract, name, code, (method, value, cap, project, line_tax.category,
                                                          rate_to_store(line_tax.rate), line_tax.reason))
        if method == FIXED_PRICE and value is None:
            raise InputError("amount: a fixed-price line needs --amount, the contract line's value")
        if method == FIXED_PRICE and cap is not None:
            raise InputError("not_to_exceed: a not-to-exceed limit is for time-and-material lines only")
        line_tax = _new_line_tax(tax_category, tax_rate, tax_exemption_reason)
        if not existing:
            self.contracts[contract] = {"customer": customer, "currency": code}
            self.new_contracts.append((contract, customer, code))
        values = (method, value, cap, project, line_tax.category, rate_to_store(line_tax.rate), line_tax.reason)
        self.taken[(contract, name)] = (None, *values)
        self.new_lines.append((contract, name, *values))
        return contract, name

    def _unchanged(self, contract: str, name: str, currency: str, values: tuple) -> tuple[str, str]:
        """A row for a line that exists: unchanged if its every value is the line's (an empty
        column is what a new line would take), else refused."""
        line_id, *held = self.taken[(contract, name)]
        if tuple(held) == values:
            self.unchanged += 1
            return contract, name
        fields = ("billing_method", "amount", "not_to_exceed", "project", "tax_category", "tax_rate",
                  "tax_exemption_reason")
        field, there, here = next((f, a, b) for f, a, b in zip(fields, held, values) if a != b)
        if field in ("amount", "not_to_exceed"):
            there, here = format_minor(there, currency), format_minor(here, currency)
        if field == "tax_rate":
            there, here = (None if v is None else tax.format_rate(tax.rate_from_store(v)) for v in (there, here))
        quoted = field in ("project", "tax_exemption_reason")
        shown = tuple("none" if v is None else repr(v) if quoted else v for v in (there, here))
        if line_id is None:
            raise InvoicerError(f"{field}: line {contract} / {name} is given earlier in this file with {field} "
                                f"{shown[0]}, not {shown[1]}")
        raise InvoicerError(f"{field}: line {line_id} ({contract} / {name}) exists with {field} {shown[0]}, "
                            f"not {shown[1]}; correct it with `invoicer contract set-line {line_id}`")

    def take(self) -> tuple[list[tuple], list[tuple]] | None:
        """The new contracts and lines of the rows checked since the last take(), for
        Store.add_lines; None if there are none."""
        taken = (self.new_contracts, self.new_lines) if self.new_lines else None
        self.new_contracts, self.new_lines = [], []
        return taken


def set_line(store: Store, line_id: int, name=None, amount=None, not_to_exceed=None,
             clear_not_to_exceed: bool = False, project=None,
             tax_category=None, tax_rate=None, tax_exemption_reason=None, clear_project: bool = False) -> Line:
    if not_to_exceed is not None and clear_not_to_exceed:
        raise InputError("not_to_exceed: give --not-to-exceed or --no-not-to-exceed, not both")
    if project is not None and clear_project:
        raise InputError("project: give --project or --no-project, not both")
    taxes = (tax_category, tax_rate, tax_exemption_reason)
    if all(v is None for v in (name, amount, not_to_exceed, project, *taxes)) and not (clear_not_to_exceed
                                                                                     or clear_project):
        raise InputError("give what to change: --name, --amount, --not-to-exceed, --no-not-to-exceed, --project, "
                         "--no-project, --tax-category, --tax-rate or --tax-exemption-reason")
    with store.writing():
        line = store.line(line_id)
        changes: dict = {}
        if name is not None:
            changes["name"] = parse_text(name, "name")
            if changes["name"] != line.name and store.line_exists(_contract_id(store, line), changes["name"]):
                raise InvoicerError(f"name: contract {line.contract!r} already has a line named {changes['name']!r}")
        if amount is not None:
            value = parse_minor(amount, line.currency, "amount")
            milestones, _, _ = store.milestone_totals(line.id)
            if value < milestones:
                raise InvoicerError(
                    f"amount: {format_minor(value, line.currency)} is below what the line's milestones add up to "
                    f"({format_minor(milestones, line.currency)})")
            changes["amount"] = value
        if not_to_exceed is not None or clear_not_to_exceed:
            if line.billing_method != TIME_AND_MATERIAL:
                raise InputError("not_to_exceed: a not-to-exceed limit is for time-and-material lines only")
            changes["not_to_exceed"] = None if clear_not_to_exceed else parse_minor(
                not_to_exceed, line.currency, "not_to_exceed")
        if project is not None or clear_project:
            changes["project"] = None if clear_project else parse_text(project, "project")
        if any(v is not None for v in taxes):
            stored = tax.Tax(line.tax_category, line.tax_rate, line.tax_exemption_reason)
            found = tax.resolve(*taxes, stored=stored)
            changes.update(tax_category=found.category, tax_rate=rate_to_store(found.rate),
                           tax_exemption_reason=found.reason)
        store.update_line(line.id, changes)
        return store.line(line.id)


def close_line(store: Store, line_id: int, closed: bool = True) -> Line:
    """Close a line (not billed, not reported, takes nothing new) or reopen it."""
    with store.writing():
        line = store.line(line_id)
        if line.closed == closed:
            raise InvoicerError(f"line_id: line {line.id} is already {'closed' if closed else 'open'}")
        store.set_line_closed(line.id, closed)
        return store.line(line.id)


def refuse_closed(line: Line, what: str) -> None:
    """A closed line takes no new transaction, schedule or milestone."""
    if line.closed:
        raise InvoicerError(f"line_id: line {line.id} is closed: it takes no new {what} "
                            f"(reopen it first: invoicer contract reopen-line {line.id})")


def list_lines(store: Store, contract: str | None = None) -> list[Line]:
    with store.reading():
        lines = store.lines(contract)
        if contract and not lines:
            raise InvoicerError(f"contract: no contract named {contract!r} (see `invoicer contract list`)")
        return lines


def _contract_id(store: Store, line: Line) -> int:
    return store.contract(line.contract)["id"]


@lru_cache(maxsize=1024)  # an imported book gives its many lines a few taxes
def _new_line_tax(category, rate, reason) -> tax.Tax:
    """A new line's own tax: none if it gives none (it takes the seller's)."""
    return tax.resolve(category, rate, reason)


def _minor(amount: Decimal | None, currency: str) -> int | None:
    return None if amount is None else to_minor(amount, currency)


def _optional_amount(text, currency: str, field: str) -> int | None:
    return None if text is None else parse_minor(text, currency, field)


# schedules and milestones -------------------------------------------------------------------

@dataclass(frozen=True)
class Added:
    """What `schedule add` made: a date-based schedule or a milestone."""

    schedule: ScheduleEntry | None = None
    milestone: Milestone | None = None


# A date-based schedule whose next run date is more than this many years before today is
# refused unless the operator confirms it (--allow-past): the next run would catch up every
# run date since, and a typo in the year (0206 for 2026) is the likelier cause.
PAST_YEARS = 10


def earliest_run_date(allow_past: bool) -> date | None:
    """The earliest next run date a new schedule may have, or None for any (allow_past)."""
    if allow_past:
        return None
    today = clock.today()
    if today.year <= PAST_YEARS:
        return date.min
    return today.replace(year=today.year - PAST_YEARS, day=28 if (today.month, today.day) == (2, 29) else today.day)


def refuse_long_past(first: date | None, earliest: date | None) -> None:
    if earliest is not None and first is not None and first < earliest:
        raise InputError(f"start: the schedule's first run date {first} is more than {PAST_YEARS} years before "
                         f"today ({clock.today()}): the next run would catch up every run date since; check the "
                         "year, or add --allow-past if it is meant")


def add_schedule(store: Store, line_id: int, allow_past: bool = False, **options) -> Added:
    with store.writing():
        line = store.line(line_id)
        kind, added_id = _add_schedule(store, line, earliest=earliest_run_date(allow_past), **options)
        if kind == "milestone":
            return Added(milestone=store.milestone(added_id))
        return Added(schedule=_schedule_entry(store, store.date_schedules(line.id)[0], line, with_run_dates=False))


def _add_schedule(store: Store, line: Line, frequency=None, rrule=None, dates=None, start=None, end=None,
                  replace: bool = False, milestone=None, milestone_date=None, amount=None, percent=None,
                  ready=False, earliest: date | None = None) -> tuple[str, int]:
    """Add one date-based schedule or milestone; ("dates" | "milestone", its id)."""
    date_based = any(v is not None for v in (frequency, rrule, dates))
    refuse_closed(line, "milestone" if milestone is not None else "schedule")
    if milestone is not None:
        if date_based:
            raise InputError("schedule: give either a milestone or a date-based schedule, not both")
        if line.billing_method != FIXED_PRICE:
            raise InvoicerError(f"line {line.id} is time-and-material: it needs a date-based invoice schedule "
                                "(--frequency, --rrule or --dates), not milestones")
        refuse_other_kind(MILESTONE, start=start, end=end, replace=replace)
        return "milestone", _add_milestone(store, line, milestone, milestone_date, amount, percent, ready)
    if not date_based:
        raise InputError("schedule: give --frequency, --rrule or --dates for a date-based schedule, "
                         "or --milestone NAME --date DATE --amount|--percent")
    schedule = _date_schedule(line, frequency, rrule, dates, start, end)
    refuse_other_kind(DATE_BASED, date=milestone_date, amount=amount, percent=percent, ready=ready)
    existing = store.date_schedule(line.id)
    if existing and not replace:
        raise InvoicerError(f"line {line.id} already has a date-based schedule (id {existing['id']}); "
                            "add --replace to replace it")
    processed = store.processed_through(line.id)
    first = schedules.next_run_date(schedule, processed)
    refuse_long_past(first, earliest)
    if existing:
        store.remove_schedule(existing["id"])
    return "dates", store.add_date_schedule(line.id, schedule, first)


DATE_BASED, MILESTONE = "a date-based schedule", "a milestone"


def refuse_other_kind(kind: str, **values) -> None:
    """Refuse a value given to a schedule of `kind` that only the other kind takes (a
    milestone's amount on a date-based schedule, say): dropped in silence, it would leave
    the operator believing the schedule bills it."""
    for field, value in values.items():
        if value not in (None, False):
            other = MILESTONE if kind == DATE_BASED else DATE_BASED
            raise InputError(f"{field}: applies to {other}, not to {kind}")


def _date_schedule(line: Line, frequency, rrule, dates, start, end) -> DateSchedule:
    if line.billing_method != TIME_AND_MATERIAL:
        raise InvoicerError(f"line {line.id} is fixed-price: it needs milestones "
                            "(--milestone NAME --date DATE --amount|--percent), not a date-based schedule")
    return _parsed_schedule(frequency, rrule, dates, start, end)


@lru_cache(maxsize=4096)  # an imported book gives its many lines a few schedules
def _parsed_schedule(frequency, rrule, dates, start, end) -> DateSchedule:
    return schedules.make_schedule(
        frequency=None if frequency is None else frequency.strip().lower(),
        rrule=rrule,
        dates=None if dates is None else _parse_dates(dates),
        start=parse_optional_date(start, "start"),
        end=parse_optional_date(end, "end"),
    )


@lru_cache(maxsize=4096)
def first_run(frequency, rrule, dates, start, end) -> tuple[DateSchedule, date | None]:
    """A date-based schedule as `schedule add` reads it, and its first run date: the next
    run date of a line never run before. Raises as `schedule add` does on a bad value."""
    schedule = _parsed_schedule(frequency, rrule, dates, start, end)
    return schedule, schedules.next_run_date(schedule, None)


class NewDateSchedules:
    """Date-based schedules to add by the rules of `schedule add` (no --replace), a batch at
    a time, as imports need: whether each line has one already, and how far its run dates
    were processed, are read in one query a batch; each row is checked against that and
    the rows before it; the batch is written in one statement."""

    def __init__(self, store: Store, allow_past: bool = False):
        self.store = store
        self.earliest = earliest_run_date(allow_past)
        self.state: dict[int, tuple[int | None, date | None]] = {}
        # The lines given a schedule by this file: those written since it began have ids
        # above `before`; those checked but not yet written are in `given` (a batch or two).
        self.before = store.last_schedule_id()
        self.given: dict[int, DateSchedule] = {}
        self.new: list[tuple[int, DateSchedule, date | None]] = []
        self.unchanged = 0  # rows identical to the line's schedule (spec section 11)

    def fetch(self, line_ids: Iterable[int]) -> None:
        """Read the lines' state; only once all that was taken is written."""
        self.state = self.store.date_schedule_state(line_ids)
        self.given = {line_id: schedule for line_id, schedule, _ in self.new}

    def check(self, line: Line, frequency=None, rrule=None, dates=None, start=None, end=None,
              **milestone_values) -> None:
        """Check a row; a milestone's values (date, amount, percent, ready) are refused. A
        row identical to the line's schedule (explicit dates compare as a set) is unchanged."""
        schedule = _date_schedule(line, frequency, rrule, dates, start, end)
        refuse_other_kind(DATE_BASED, **milestone_values)
        refuse_closed(line, "schedule")
        existing, processed, held = self.state[line.id]
        earlier = self.given.get(line.id)
        if earlier is not None or (existing is not None and existing > self.before):
            if schedule == (earlier or held):
                self.unchanged += 1
                return
            raise InvoicerError(f"line {line.id} has a date-based schedule earlier in this file, with other "
                                "values; a line has one")
        if existing is not None:
            if schedule == held:
                self.unchanged += 1
                return
            raise InvoicerError(f"line {line.id} already has a date-based schedule (id {existing}), with other "
                                "values; remove it first (`invoicer schedule remove`) or use `schedule add --replace`")
        first = schedules.next_run_date(schedule, processed)
        refuse_long_past(first, self.earliest)
        self.given[line.id] = schedule
        self.new.append((line.id, schedule, first))

    def take(self) -> list[tuple[int, DateSchedule, date | None]]:
        """The schedules checked since the last take(), for Store.add_date_schedules."""
        taken, self.new = self.new, []
        return taken


def same_milestone(store: Store, line: Line, name, when, amount, percent, ready, added: Container[int] = (),
                   **date_based_values) -> bool:
    """Whether a milestone row (schedule import) is one of the line's milestones: the same
    name, date, and amount or percent (as the milestone was given); one marked ready since
    still matches ready false. False if the line has no milestone of that name; a row for
    one that differs otherwise is refused (one `added` by an earlier row of the same file:
    the file disagrees with itself)."""
    if line.billing_method != FIXED_PRICE:
        return False  # refused as the wrong kind by _add_schedule
    refuse_other_kind(MILESTONE, **date_based_values)
    name = parse_text(name, "milestone")
    found = store.milestones_named(line, name)
    if not found:
        return False
    when = parse_date(when, "date")
    if (amount is None) == (percent is None):
        raise InputError("amount: a milestone needs exactly one of --amount or --percent")
    minor = None if amount is None else parse_minor(amount, line.currency, "amount")
    share = None if percent is None else parse_percent(percent)
    for milestone in found:
        if milestone.date == when and (milestone.ready or not ready) and (
                share == milestone.percent if share is not None
                else milestone.percent is None and to_minor(milestone.amount, milestone.line.currency) == minor):
            return True
    milestone = found[0]
    if milestone.id in added:
        raise InvoicerError(f"milestone: an earlier row of this file gives line {line.id}'s milestone {name!r} "
                            "other values; a line's milestones have names of their own")
    if len(found) == 1 and ready and not milestone.ready and milestone.date == when:
        fix = f"mark it ready with `invoicer schedule ready {milestone.id}`"
    else:
        fix = f"remove it (`invoicer schedule remove {milestone.id}`) and add it anew"
    raise InvoicerError(f"milestone: line {line.id} has a milestone {name!r} (id {milestone.id}) with other values "
                        f"(date {milestone.date}, amount {format_minor(to_minor(milestone.amount, line.currency), line.currency)}"
                        f"{'' if milestone.percent is None else f', {milestone.percent} %'}, "
                        f"{'ready' if milestone.ready else 'not ready'}); to change it, {fix}")


def _parse_dates(text) -> list[date]:
    if not str(text).strip():
        raise InputError("dates: give at least one date, like 2026-12-01,2027-01-01")
    parts = str(text).replace(";", ",").split(",")
    if not all(p.strip() for p in parts):
        raise InputError(f"dates: {text!r} has an empty date between its separators")
    return [parse_date(p, "dates") for p in parts]


def _add_milestone(store: Store, line: Line, name, when, amount, percent, ready) -> int:
    name = parse_text(name, "milestone")
    when = parse_date(when, "date")
    # A line's milestones are told apart by name: a repeated schedule import matches its
    # rows to them so (same_milestone).
    if taken := store.milestones_named(line, name):
        raise InvoicerError(f"milestone: line {line.id} already has a milestone named {name!r} (id {taken[0].id}); "
                            "give this one another name")
    value = to_minor(line.amount, line.currency)
    total, percents, fixed = store.milestone_totals(line.id)
    if (amount is None) == (percent is None):
        raise InputError("amount: a milestone needs exactly one of --amount or --percent")
    share = None
    if amount is not None:
        minor = parse_minor(amount, line.currency, "amount")
    else:
        share = parse_percent(percent)
        minor = percent_share(value, share, line.currency)
        # The percent milestone that brings the line to 100 % takes exactly the remainder.
        with localcontext() as ctx:
            ctx.prec = 80
            if (percents + share) * value / 100 + fixed == value:
                minor = value - total
    if total + minor > value:
        raise InvoicerError(
            f"amount: the line's milestones would add up to {format_minor(total + minor, line.currency)}, "
            f"more than its value {format_minor(value, line.currency)}")
    if minor <= 0:
        raise InvoicerError(f"amount: the milestone would bill nothing ({format_minor(minor, line.currency)})")
    return store.add_milestone(line.id, name, when, minor, share, bool(ready))


def mark_ready(store: Store, milestone_id: int, ready: bool = True) -> Milestone:
    """Mark a milestone ready to invoice, or (ready=False) not ready again: not once it is
    invoiced (a cancelled invoice's milestone is not)."""
    with store.writing():
        row = store.schedule_row(milestone_id)
        if row["kind"] != "milestone":
            raise InvoicerError(f"id: {milestone_id} is a date-based schedule, not a milestone")
        if not ready and row["invoice_line_id"] is not None:
            raise InvoicerError(f"id: milestone {milestone_id} is invoiced on {store.milestone(milestone_id).invoice}; "
                                "only cancelling that invoice, while it is a draft, releases it")
        store.set_milestone_ready(milestone_id, ready)
        return store.milestone(milestone_id)


def remove_schedule(store: Store, schedule_id: int) -> dict:
    with store.writing():
        row = store.schedule_row(schedule_id)
        if row["kind"] == "milestone" and row["invoice_line_id"] is not None:
            milestone = store.milestone(schedule_id)
            raise InvoicerError(f"id: milestone {schedule_id} is invoiced on {milestone.invoice}; "
                                "only cancelling that invoice, while it is a draft, releases it")
        store.remove_schedule(schedule_id)
        # The kinds as `schedule add` and `schedule list` print them.
        kind = "milestone" if row["kind"] == "milestone" else "date"
        return {"id": schedule_id, "line_id": row["line_id"], "kind": kind, "removed": True}


@dataclass(frozen=True)
class ScheduleListing:
    schedules: list[ScheduleEntry]
    milestones: list[Milestone]
    shortfalls: list[tuple[Line, Decimal, Decimal]]  # (line, value, what its milestones add up to)


def list_schedules(store: Store, line_id: int | None = None) -> ScheduleListing:
    with store.reading():
        lines = [store.line(line_id)] if line_id else store.lines()
        by_id = {line.id: line for line in lines}
        entries = [
            _schedule_entry(store, row, by_id[row["line_id"]], True)
            for row in store.date_schedules(line_id)
        ]
        milestones, shortfalls = [], []
        for line in lines:
            if line.billing_method != FIXED_PRICE:
                continue
            found = store.milestones(line)
            milestones.extend(found)
            planned = sum((m.amount for m in found), Decimal(0))
            if found and planned < line.amount:
                shortfalls.append((line, line.amount, planned))
        return ScheduleListing(entries, milestones, shortfalls)


def _schedule_entry(store: Store, row: dict, line: Line, with_run_dates: bool) -> ScheduleEntry:
    schedule = schedule_from_row(row)
    processed = date.fromisoformat(row["processed_through"]) if row.get("processed_through") else None
    run_dates: list[RunDate] = []
    earlier = 0
    if with_run_dates:
        invoiced = store.invoices_by_run_date(line.id)
        passed = _spans(store.passed_run_dates(line.id))
        horizon = max(clock.today(), processed or clock.today())
        # The latest PAST_SHOWN run dates due so far, counted rather than kept: a schedule
        # started centuries ago (--allow-past) lists in flat memory.
        recent: deque[date] = deque(maxlen=PAST_SHOWN)
        due = 0
        for day in schedules.iter_run_dates(schedule, None, horizon):
            recent.append(day)
            due += 1
        earlier = due - len(recent)
        # Run dates a replaced schedule billed stay in view (those of the shown span).
        billed = {date.fromisoformat(d) for d in invoiced}
        shown = sorted(set(recent) | {d for d in billed if not earlier or d >= recent[0]})
        ends = schedule.end is not None or bool(schedule.dates) or \
            any(part in (schedule.rrule or "") for part in ("COUNT=", "UNTIL="))
        to_come: list[date] = []
        upcoming = max(shown[-1], horizon) if shown else horizon
        while len(to_come) < (ALL_SHOWN + 1 if ends else UPCOMING_SHOWN):
            upcoming = schedules.next_run_date(schedule, upcoming)
            if upcoming is None:
                break
            to_come.append(upcoming)
        shown += to_come if len(to_come) <= ALL_SHOWN else to_come[:UPCOMING_SHOWN]
        for d in shown:
            if processed is None or d > processed:
                run_dates.append(RunDate(d, "not-run-yet"))
            elif d.isoformat() in invoiced:
                numbers, status = invoiced[d.isoformat()]
                run_dates.append(RunDate(d, "cancelled" if status == "cancelled" else "invoiced", numbers[0], numbers))
            elif _within(passed, d.isoformat()):
                run_dates.append(RunDate(d, "nothing-to-bill"))
            else:
                # On or before the latest processed run date of a schedule that replaced
                # another: it is never run.
                run_dates.append(RunDate(d, "not-run"))
    return ScheduleEntry(
        id=row["id"], line=line, schedule=schedule,
        next_run_date=date.fromisoformat(row["next_run_date"]) if row["next_run_date"] else None,
        processed_through=processed, run_dates=tuple(run_dates), earlier=earlier,
    )


def _spans(spans: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Spans (first, last) sorted by first, and the latest `last` of each prefix: a day lies
    in a span when the latest last of the spans starting on or before it reaches it."""
    firsts, reach, latest = [], [], ""
    for first, last in sorted(spans):
        latest = max(latest, last)
        firsts.append(first)
        reach.append(latest)
    return firsts, reach


def _within(spans: tuple[list[str], list[str]], day: str) -> bool:
    firsts, reach = spans
    index = bisect_right(firsts, day) - 1
    return index >= 0 and reach[index] >= day


# transactions ---------------------------------------------------------------------------

def add_transaction(store: Store, line_id: int, when, amount, kind=None, quantity=None,
                    description=None, ref=None) -> Transaction:
    return record_transaction(store, line_id, when, amount, kind, quantity, description, ref)[0]


def record_transaction(store: Store, line_id: int, when, amount, kind=None, quantity=None,
                       description=None, ref=None) -> tuple[Transaction, bool]:
    """`transaction add`: (the transaction, whether it was added). A ref held by a
    transaction with the same values gives that one, not added again."""
    with store.writing():
        line = store.line(line_id)
        row = transaction_row(line, when, amount, kind, quantity, description, ref)
        if ref is not None:
            holder = store.ref_holders([row[6]]).get(row[6])
            if holder is not None:
                if holder.deleted_at is not None:
                    raise InvoicerError(f"ref: {row[6]!r} was transaction {holder.id}'s, deleted "
                                        f"{holder.deleted_at}; the ref of a deleted transaction stays taken")
                if differs := ref_differences(row, holder, line.currency):
                    raise InvoicerError(f"ref: {row[6]!r} is transaction {holder.id}'s, {differs}")
                return store.transaction(holder.id), False
        return store.transaction(store.add_transaction(row)), True


def ref_differences(row: tuple, holder: RefHolder, currency: str) -> str | None:
    """None if a checked transaction row (transaction_row) has the values of the one that
    holds its ref, else what differs, in words. The values compare as stored: the line by
    id, the amount in minor units, the quantity by value (8 is 8.0)."""
    line_id, when, amount, kind, quantity, description = row[:6]
    if (line_id, when, amount, kind, quantity, description) == holder[1:7]:
        return None
    found = []
    if line_id != holder.line_id:
        found.append(f"line {holder.line_id} there, {line_id} here")
    if when != holder.date:
        found.append(f"date {holder.date} there, {when} here")
    if amount != holder.amount:
        found.append(f"amount {format_minor(holder.amount, currency)} there, {format_minor(amount, currency)} here")
    if kind != holder.type:
        found.append(f"type {holder.type} there, {kind} here")
    if (quantity is None) != (holder.quantity is None) or \
            (quantity is not None and Decimal(quantity) != Decimal(holder.quantity)):
        found.append(f"quantity {holder.quantity or 'none'} there, {quantity or 'none'} here")
    if description != holder.description:
        found.append(f"description {holder.description!r} there, {description!r} here")
    if not found:
        return None
    return "with other values: " + ", ".join(found) + " (a ref keeps the values it was first given)"


def transaction_row(line: Line, when, amount, kind=None, quantity=None, description=None, ref=None) -> tuple:
    """One transaction's values, checked against its line, as the store inserts them:
    (line_id, date, amount, type, quantity, description, ref). Shared with the bulk import."""
    takes_transactions(line)
    quantity = transaction_quantity(quantity)
    return (
        line.id,
        iso_date(when, "date"),
        parse_minor(amount, line.currency, "amount"),
        transaction_type(kind),
        quantity,
        transaction_description(description),
        None if ref is None else parse_ref(ref),
    )


# transaction_row's rules, value by value: the bulk import checks each distinct value of a
# batch once (imports._checked_at_once) by these.

def takes_transactions(line: Line) -> None:
    """Refuse a line that takes no transactions."""
    if line.billing_method != TIME_AND_MATERIAL:
        raise InvoicerError(f"line_id: line {line.id} is fixed-price; transactions are billed on "
                            "time-and-material lines (fixed-price lines bill milestones)")
    refuse_closed(line, "transaction")


def transaction_type(kind) -> str:
    return choice("time" if kind is None else kind, TRANSACTION_TYPES, "type")


def transaction_quantity(quantity) -> str | None:
    quantity = parse_quantity(quantity)
    return None if quantity is None else str(quantity)


def transaction_description(description) -> str | None:
    return None if description is None else parse_text(description, "description", required=False)


def set_transaction(store: Store, transaction_id: int, when=None, amount=None, kind=None, quantity=None,
                    description=None) -> Transaction:
    """Correct an unbilled transaction in place, by the rules of `transaction add`; the
    values not given stay."""
    if all(v is None for v in (when, amount, kind, quantity, description)):
        raise InputError("give what to change: --date, --amount, --type, --quantity or --description")
    with store.writing():
        found = store.transaction(transaction_id)
        if found.invoice:
            raise InvoicerError(f"id: transaction {transaction_id} is billed on {found.invoice}; cancel that "
                                "draft invoice first (a confirmed invoice never changes)")
        line = found.line
        row = transaction_row(
            line,
            found.date.isoformat() if when is None else when,
            format_minor(to_minor(found.amount, line.currency), line.currency) if amount is None else amount,
            found.type if kind is None else kind,
            found.quantity if quantity is None else quantity,
            found.description if description is None else description)
        store.update_transaction(transaction_id, row)
        return store.transaction(transaction_id)


def list_transactions(store: Store, line_id: int | None = None, unbilled: bool = False) -> list[Transaction]:
    with store.reading():
        if line_id:
            store.line(line_id)
        return list(store.transactions(line_id, unbilled))


def delete_transaction(store: Store, transaction_id: int) -> Transaction:
    with store.writing():
        found = store.transaction(transaction_id)
        if found.invoice:
            raise InvoicerError(f"id: transaction {transaction_id} is billed on {found.invoice}; "
                                "only cancelling that invoice, while it is a draft, makes it unbilled again")
        store.delete_transaction(transaction_id)
        return found

