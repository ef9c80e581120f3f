"""Bulk import of contract lines, schedules and transactions from CSV (with a header row)
or JSON Lines, streamed row by row. Every row goes through the same rules as the
single-row command, all rows in one transaction: one bad row rejects the whole file."""

import csv
import gc
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from array import array
from bisect import bisect_right
from datetime import date
from itertools import chain, islice, repeat
from operator import attrgetter, itemgetter
from typing import NamedTuple

from invoicer import book
from invoicer.errors import InputError, InvoicerError
from invoicer.model import Line, RefHolder
from invoicer.store import Behind, NamedDateSchedules, Store
from invoicer.money import parse_minor, parse_minors
from invoicer.values import MAX_REF, iso_date, parse_bool, parse_id, parse_text

CONTRACT_FIELDS = ("contract", "name", "customer", "billing_method", "amount", "not_to_exceed", "project", "currency",
                   "tax_category", "tax_rate", "tax_exemption_reason")
LINE_FIELDS = ("line_id", "contract", "line")
SCHEDULE_FIELDS = LINE_FIELDS + ("frequency", "rrule", "start", "end", "dates", "milestone", "date", "amount",
                                 "percent", "ready")
TRANSACTION_FIELDS = LINE_FIELDS + ("date", "amount", "type", "quantity", "description", "ref")
BATCH = 5_000


class Imported(NamedTuple):
    """What an import did: rows added, and rows the book already held (`unchanged`)."""

    imported: int
    unchanged: int = 0


def open_source(path: str) -> "Source":
    """The text lines of a file, or of standard input for '-', with their size in bytes
    (None for standard input) and the SHA-256 of the bytes read."""
    if path == "-":
        if sys.stdin is None:
            raise InputError("file: standard input is closed; give a file, or pipe the rows in")
        return Source(sys.stdin.buffer, None)
    try:
        binary = open(path, "rb", buffering=0)
        return Source(binary, os.fstat(binary.fileno()).st_size)
    except OSError as error:
        raise InputError(f"file: cannot read {path}: {error.strerror}") from None


class Source:
    """What an import reads. `lines` are its text lines; `sha256()` is the digest of every
    byte read (all of them, once the lines are read to their end): `transaction import`
    remembers it, to know the same content when it comes again."""

    def __init__(self, binary, size: int | None):
        import hashlib  # here: a command that imports nothing does not pay for it

        self.size = size
        self._digest = hashlib.sha256()
        # A byte that is not UTF-8 is decoded as a lone surrogate, refused at its row (_csv_rows, _json_lines).
        self.lines = io.TextIOWrapper(io.BufferedReader(_Digested(binary, self._digest), 1 << 16),
                                      encoding="utf-8-sig", errors="surrogateescape", newline="")

    def sha256(self) -> str:
        for _ in self.lines:  # whatever the rows left unread counts too
            pass
        return self._digest.hexdigest()


class _Digested(io.RawIOBase):
    """A binary stream, its bytes added to a digest as they are read (a chunk at a time)."""

    def __init__(self, raw, digest):
        self.raw = raw
        self.digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        count = self.raw.readinto(buffer)
        if count:
            self.digest.update(memoryview(buffer)[:count])
        return count

    def close(self) -> None:
        if isinstance(self.raw, io.FileIO):  # the file it opened; standard input stays open
            self.raw.close()
        super().close()


def rows(lines: Iterable[str], fields: tuple[str, ...]) -> Iterator[tuple[int, tuple]]:
    """(row number, values in the order of `fields`, None where absent) for each row: CSV's
    header is row 1; JSON Lines' first line is row 1. The format is told by the first
    non-blank character. An empty or blank value is an absent one."""
    lines = iter(lines)
    try:
        first = next(lines)
        while not first.strip():
            first = next(lines)
        if first.lstrip().startswith("["):
            raise InputError("file: a JSON array; give JSON Lines instead (one object a line)")
        if first.lstrip().startswith("{"):
            yield from _json_lines(chain((first,), lines), fields)
        else:
            yield from _csv_rows(chain((first,), lines), fields)
    except StopIteration:
        return
    except OSError as failure:  # opened, then failed while read (a disk or network error)
        raise InputError(f"file: cannot read it: {failure.strerror or failure}") from None


# Where a blank value (white space alone) is a value, refused by its rule, not an absent one:
# a ref is compared exactly and may not begin or end with white space (spec section 11), so
# " " is a bad ref, where "" is none.
_BLANK_IS_GIVEN = ("ref",)
# What surrogateescape makes of a byte that is not UTF-8.
_UNDECODED = re.compile("[\udc80-\udcff]")
# White space, as str.strip sees it: a cell that holds only that is blank.
_SPACE = re.compile(r"\s")
# CSV records checked at once for bytes that are not UTF-8 and for blank cells: a test of
# all their text, in C, rather than one a row.
_CHUNK = 1_000


def _undecoded(values: list[str]) -> bool:
    """Whether a record's cells hold a byte that is not UTF-8."""
    text = "".join(values)
    return not text.isascii() and _UNDECODED.search(text) is not None


def _csv_rows(lines: Iterator[str], fields: tuple[str, ...]) -> Iterator[tuple[int, tuple]]:
    reader = csv.reader(lines, strict=True)
    number = 0  # the row last read: a record, which may span lines
    try:
        header = next(reader)
        if _undecoded(header):
            raise InputError("row 1: not UTF-8 text")
        header = [h.strip().lower() for h in header]
        unknown = [h for h in header if h not in fields]
        if unknown:
            raise InputError(f"row 1: unknown column {unknown[0]!r} (columns: {', '.join(fields)})")
        if twice := next((h for h in header if header.count(h) > 1), None):
            raise InputError(f"row 1: the column {twice!r} appears twice")
        number = 1
        width = len(header)
        # The row's values in field order, in C: an absent column reads the None put after the last value.
        pick = itemgetter(*(header.index(f) if f in header else width for f in fields))
        absent = [None]
        given = {header.index(f) for f in _BLANK_IS_GIVEN if f in header}
        while True:
            # Rows are records, not physical lines: a quoted value may span lines.
            chunk: list[list[str]] = []
            failure: Exception | None = None
            try:
                chunk.extend(islice(reader, _CHUNK))
            except csv.Error as error:  # the records before it are in the chunk
                failure = error
            text = "".join(chain.from_iterable(chunk))
            if not text.isascii() and _UNDECODED.search(text):
                bad = next(i for i, values in enumerate(chunk) if _undecoded(values))
                del chunk[bad:]
                failure = _NotUtf8()
            if set(map(len, chunk)) == {width} and "" not in chain.from_iterable(chunk) and \
                    not _SPACE.search(text):
                # The common case: every record has its values, none blank.
                yield from zip(range(number + 1, number + 1 + len(chunk)), map(pick, map(list.__add__, chunk,
                                                                                       repeat(absent))))
                number += len(chunk)
            else:
                for values in chunk:
                    number += 1
                    if len(values) != width:
                        if not any(v.strip() for v in values):
                            continue  # a blank line
                        raise InputError(f"row {number}: {len(values)} values for {width} columns")
                    # An empty or blank cell is an absent value (but a blank ref: _BLANK_IS_GIVEN).
                    if "" in values or not all(map(str.strip, values)):
                        values = [v if v.strip() or (v and at in given) else None for at, v in enumerate(values)]
                    values.append(None)
                    yield number, pick(values)
            if failure is not None:
                raise failure
            if len(chunk) < _CHUNK:
                return
    except csv.Error as error:
        raise InputError(f"row {number + 1}: not valid CSV ({error})") from None
    except _NotUtf8:
        raise InputError(f"row {number + 1}: not UTF-8 text") from None


class _NotUtf8(Exception):
    pass


def _json_lines(lines: Iterator[str], fields: tuple[str, ...]) -> Iterator[tuple[int, tuple]]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if not text.isascii() and _UNDECODED.search(text):
            raise InputError(f"row {number}: not UTF-8 text")
        try:
            # Numbers keep their literal text: money never passes through a float.
            obj = json.loads(text, parse_float=str, parse_int=str, parse_constant=_no_constant,
                             object_pairs_hook=_object)
        except _KeyTwice as twice:
            raise InputError(f"row {number}: the key {twice.args[0]!r} appears twice") from None
        except ValueError as error:
            raise InputError(f"row {number}: not a JSON object ({error})") from None
        except RecursionError:
            # Arrays or objects nested past Python's limit: no value may be nested at all.
            raise InputError(f"row {number}: values nested too deeply (a value must be a string or a number)") from None
        if not isinstance(obj, dict):
            raise InputError(f"row {number}: not a JSON object")
        for key, value in obj.items():
            if key not in fields:
                raise InputError(f"row {number}: unknown key {key!r} (keys: {', '.join(fields)})")
            if isinstance(value, (dict, list)):
                raise InputError(f"row {number}: {key}: must be a string or a number")
        yield number, tuple(_text(obj.get(f), f in _BLANK_IS_GIVEN) for f in fields)


def _text(value, blank_is_given: bool = False) -> str | None:
    """A JSON value as the text a CSV cell would hold; null, empty and (but where
    `blank_is_given`) blank are absent, as a CSV cell that holds only white space is."""
    if value is None or value == "" or (isinstance(value, str) and not blank_is_given and not value.strip()):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class _KeyTwice(Exception):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object, refused if it gives a key twice (json would keep the last in silence)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _KeyTwice(next(key for key, _ in pairs if sum(k == key for k, _ in pairs) > 1))
    return obj


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def import_contracts(store: Store, lines: Iterable[str]) -> Imported:
    """Import contract lines; a row for a line that exists with the same values is unchanged."""
    with store.writing(), store.behind() as behind:
        new = book.NewLines(store, repeats=True)
        count = 0
        for batch in _batches(rows(lines, CONTRACT_FIELDS)):
            behind.settle()
            new.fetch([row for _, row in batch])
            # The batch before is written while this one is checked (fetch counted it in).
            if written := new.take():
                behind.run(store.add_lines, *written)
            count += sum(1 for _ in _numbered(batch, new.check))
        if written := new.take():
            behind.run(store.add_lines, *written)
        behind.settle()
        store.imported("contracts", "contract_lines")
        return Imported(count - new.unchanged, new.unchanged)


def import_schedules(store: Store, lines: Iterable[str], allow_past: bool = False) -> Imported:
    """Import schedules and milestones; a row identical to what the line has is unchanged."""
    with store.writing(), store.behind() as behind:
        by_rules = _ScheduleRules(store, behind, allow_past)
        waiting = None  # the batch the worker is inserting whole, by Store.add_named_date_schedules

        def settle() -> None:
            # A batch the whole insert refused goes through the rules row by row: they say why.
            nonlocal waiting
            batch, waiting = waiting, None
            if batch is not None and not behind.settle():
                by_rules.check(batch)

        count = 0
        try:
            for batch in _batches(rows(lines, SCHEDULE_FIELDS)):
                named = _named_date_schedules(batch, by_rules.new.earliest)
                settle()
                if named is None:
                    by_rules.check(batch)
                else:
                    by_rules.write()  # first what was checked before: ids follow the file
                    behind.run(store.add_named_date_schedules, NamedDateSchedules(*named))
                    waiting = batch
                count += len(batch)
            settle()
        except InvoicerError:
            settle()  # a row that cannot be read: a bad row in the batch before it comes first
            raise
        by_rules.write()
        store.imported("schedules")
        return Imported(count - by_rules.unchanged, by_rules.unchanged)


_ABSENT = (None,) * 5


def _named_date_schedules(batch: list[tuple[int, tuple]], earliest: date | None) -> tuple[list, list] | None:
    """The batch's rows for Store.add_named_date_schedules if each row is a date-based
    schedule, of good values, for a line named by contract and line name, and nothing else;
    None if any row is not (it goes through the rules row by row)."""
    named: list[tuple[str, str, int]] = []
    index: dict[tuple, int] = {}  # the batch's schedules, by their values
    schedules: list = []
    for _, row in batch:
        contract, name = row[1], row[2]
        # line_id, and the milestone's values (milestone, date, amount, percent, ready).
        if row[0] is not None or row[8:] != _ABSENT or contract is None or name is None:
            return None
        # SQLite's JSON reads text up to a NUL: "C-1\0x" would find C-1. The rules refuse it.
        if not (contract.isprintable() and name.isprintable()):
            return None
        key = row[3:8]  # frequency, rrule, start, end, dates
        found = index.get(key)
        if found is None:
            frequency, rrule, start, end, dates = key
            if frequency is None and rrule is None and dates is None:
                return None
            try:
                schedules.append(book.first_run(frequency, rrule, dates, start, end))
                book.refuse_long_past(schedules[-1][1], earliest)
            except InvoicerError:
                return None
            found = index[key] = len(index)
        named.append((contract.strip(), name.strip(), found))
    return named, schedules


class _ScheduleRules:
    """Schedule rows checked one by one by the rules of `schedule add` (a milestone, a line
    given by id, a row in error...), a batch at a time: what a batch checks is written on
    the worker while the next is checked."""

    def __init__(self, store: Store, behind: Behind, allow_past: bool = False):
        self.store = store
        self.behind = behind
        self.line_of = _Lines(store, settle=behind.settle)
        self.new = book.NewDateSchedules(store, allow_past)
        self.milestones_unchanged = 0
        self.milestones_added: set[int] = set()  # by this file: a row that differs from one is the file's own conflict

    @property
    def unchanged(self) -> int:
        """Rows identical to a schedule or milestone the line has."""
        return self.new.unchanged + self.milestones_unchanged

    def check(self, batch: list[tuple[int, tuple]]) -> None:
        self.behind.settle()
        self.line_of.fetch(batch)
        self.new.fetch(self.line_of.line_ids())
        # The batch before is written while this one is checked (its lines are remembered).
        self.write()
        for _ in _numbered(batch, self._add):
            pass

    def write(self) -> None:
        if checked := self.new.take():
            self.behind.run(self.store.add_date_schedules, checked)

    def _add(self, row: tuple) -> None:
        line = self.line_of(row)
        _, _, _, frequency, rrule, start, end, dates, milestone, when, amount, percent, ready = row
        ready = parse_bool(ready, "ready")
        if milestone is None and any(v is not None for v in (frequency, rrule, dates)):
            return self.new.check(line, frequency, rrule, dates, start, end,
                                  date=when, amount=amount, percent=percent, ready=ready)
        # A milestone (or a row that is neither) reads and writes the book row by row:
        # what is checked so far is written first, so that ids follow the file.
        self.behind.settle()
        if checked := self.new.take():
            self.store.add_date_schedules(checked)
        if milestone is not None and frequency is None and rrule is None and dates is None:
            if book.same_milestone(self.store, line, milestone, when, amount, percent, ready, start=start, end=end,
                                   added=self.milestones_added):
                self.milestones_unchanged += 1
                return None
        kind, added = book._add_schedule(self.store, line, milestone=milestone, milestone_date=when, amount=amount,
                                         percent=percent, ready=ready, frequency=frequency, rrule=rrule, dates=dates,
                                         start=start, end=end)
        if kind == "milestone":
            self.milestones_added.add(added)


def import_transactions(store: Store, lines: Iterable[str], again: bool = False,
                        content: Callable[[], str] | None = None) -> Imported:
    """Import transaction rows. A row whose ref the book holds with the same values is
    unchanged; `content`, the SHA-256 of what was read (Source.sha256), is remembered, and
    content imported before is refused unless `again`, or every row has a ref."""
    with store.writing(), store.behind() as behind:
        line_of = _Lines(store, settle=behind.settle)
        refs = _Refs(store, settle=behind.settle)
        found: list = []  # what the worker read for the next batch: its lines, the holders of its refs

        def check(number: int, row: tuple) -> tuple | None:
            line = line_of(row)
            checked = book.transaction_row(line, *row[3:])
            return checked if checked[6] is None else refs.check(number, checked, line)

        def ahead(checked: list[tuple], following: "_Batch | None") -> None:
            """On the worker: insert the batch checked, then read what the one after the
            batch being checked needs (queries only: what they ask for is worked out by
            this thread). The refs of the batch being checked are not in the book yet;
            _Refs keeps them until that one is checked."""
            if checked:
                store.add_transactions(checked)
            if following is not None:
                found[:] = line_of.lookup(following.lines), refs.lookup(following.refs)

        # Three batches are under way at once: the worker inserts one and looks up the
        # lines and refs of the one after next, while this thread checks the next one and
        # then reads the one after it. The queries run (Python's lock released) while rows
        # are read and checked.
        batches = _batches(rows(lines, TRANSACTION_FIELDS))
        unreadable = None  # a row that cannot be read: raised once the rows before it are checked

        def read() -> "_Batch | None":
            nonlocal unreadable
            try:
                numbered = next(batches, None)
            except InvoicerError as error:
                unreadable = error
                return None
            return None if numbered is None else _Batch(numbered, line_of)

        count = imported = 0
        checked: list[tuple] = []
        with _few_collections():
            batch = read()
            if batch is not None:
                ahead([], batch)
                following = read()
            while batch is not None:
                line_of.use(found[0])
                refs.use(found[1])
                behind.run(ahead, checked, following)
                checked = _checked_at_once(batch, line_of, refs)
                if checked is None:
                    checked = [row for row in _numbered(batch.numbered, check, numbered=True) if row is not None]
                count += len(batch.rows)
                imported += len(checked)
                batch, following = following, (read() if following is not None else None)
                behind.settle()
        if unreadable is not None:
            raise unreadable
        if checked:
            behind.run(store.add_transactions, checked)
        behind.settle()
        if content is not None:
            _remember(store, content(), count, again or refs.count == count)
        store.imported("transactions")
        return Imported(imported, count - imported)


@contextmanager
def _few_collections() -> Iterator[None]:
    """Python's cycle collector, seldom: a bulk import makes millions of tuples that live
    for a batch or two and hold no cycles, and scanning them every few hundred costs a
    fifth of the import. What was there before is frozen out of its scans meanwhile."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _Batch:
    """A batch of transaction rows (row number, values), and what checking it at once needs,
    taken apart in C: its columns, each row's line key, the lines and refs it names."""

    __slots__ = ("numbered", "numbers", "rows", "columns", "keys", "lines", "refs")

    def __init__(self, numbered: list[tuple[int, tuple]], line_of: "_Lines"):
        self.numbered = numbered
        self.numbers = list(map(_FIRST, numbered))
        self.rows = list(map(_SECOND, numbered))
        # zip(*rows) would be slower: it steps through one iterator a row.
        self.columns = [tuple(map(column, self.rows)) for column in _COLUMNS]
        self.keys = list(map(_LINE_KEY, self.rows))
        self.lines = line_of.wanted(set(self.keys))
        self.refs = list(filter(None, self.columns[8]))  # a ref is never empty: absent is None


_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_COLUMNS = tuple(itemgetter(i) for i in range(len(TRANSACTION_FIELDS)))
_LINE_KEY = itemgetter(slice(0, 3))  # line_id, contract, line


def _checked_at_once(batch: _Batch, line_of: "_Lines", refs: "_Refs") -> list[tuple] | None:
    """The batch's rows as book.transaction_row checks them, checked column by column: each
    distinct line, date, type, quantity and description once, by the rules of `transaction
    add`; the rows are then put together in C, not one at a time. For the common cases
    only: no row has a ref, or every row's ref is new to the book and to the file, or every
    row's ref is held with the same values (a feed sent again). None when the batch is not
    one of them or a value is refused: then its rows go through the rules one by one, which
    say what is wrong with the first bad row."""
    _, _, _, dates, amounts, kinds, quantities, descriptions, given = batch.columns
    try:
        lines = {key: line_of(key) for key in set(batch.keys)}
        for line in lines.values():
            book.takes_transactions(line)
        by_row = list(map(lines.__getitem__, batch.keys))
        currencies = {line.currency for line in lines.values()}
        minors = parse_minors(amounts, next(iter(currencies))) if len(currencies) == 1 else None
        checked = list(zip(
            map(attrgetter("id"), by_row),
            _each(dates, iso_date),
            map(parse_minor, amounts, map(attrgetter("currency"), by_row)) if minors is None else minors,
            _each(kinds, book.transaction_type),
            _each(quantities, book.transaction_quantity),
            _each(descriptions, book.transaction_description),
            given))
    except InvoicerError:
        return None
    if not batch.refs:
        return checked
    return refs.check_at_once(batch.numbers, given, checked)


def _each(values: tuple, rule: Callable) -> Iterator:
    """rule(value) for each value, applied once to each distinct value."""
    done = {value: rule(value) for value in set(values)}
    return map(done.__getitem__, values)


def _remember(store: Store, sha256: str, count: int, repeat_allowed: bool) -> None:
    """Record an import's content; refuse content imported before unless it may repeat."""
    before = store.transaction_import(sha256)
    if before is not None and not repeat_allowed:
        when, rows_then = before
        raise InvoicerError(
            f"file: this content was imported before, at {when} ({rows_then} row(s)); importing it again "
            "would add its transactions twice. Give --again if that is meant, or give each row a ref")
    store.record_transaction_import(sha256, count)


class _Refs:
    """The refs of transaction rows, a batch at a time: the book's holders of a batch's refs
    are read in one query before the batch is checked; the refs of the rows checked and not
    yet written when that query ran (the batch before) are kept until they are. A row whose
    ref is held with the same values is unchanged (None); with other values it is refused."""

    def __init__(self, store: Store, settle: Callable[[], None] = lambda: None):
        self.store = store
        self.settle = settle  # called before a query of the checking thread: an insert may be under way
        self.before = store.last_transaction_id()  # this import's transactions have ids above it
        self.holders: dict[str, RefHolder] = {}
        self.pending: dict[str, tuple[int, tuple]] | _Added = {}  # ref -> (row number, row) of the batch before
        self.current: dict[str, tuple[int, tuple]] | _Added = {}  # ... and of this batch
        self.count = 0  # rows with a ref
        # Where the rows with a ref that this import added are in the file, to name the
        # first of two rows with one ref: the k-th such row (from 0) is row
        # rows[i] + k - starts[i], i the last start at or below k. One entry for each gap
        # between such rows, not one a row: memory stays flat on a file of consecutive rows.
        self.added = 0
        self.last_row = -1
        self.starts, self.rows = array("q"), array("q")

    def lookup(self, wanted: list[str]) -> dict[str, RefHolder]:
        """Who holds a batch's refs, in the book as it is (the batch before it need not be
        written yet: use() keeps its refs). Any thread may call it (see import_transactions)."""
        return self.store.ref_holders(wanted) if wanted else {}

    def use(self, holders: dict[str, RefHolder]) -> None:
        """Check the next batch against these holders (lookup's)."""
        self.pending, self.current = self.current, {}
        self.holders = holders

    def check_at_once(self, numbers: tuple[int, ...], given: tuple, rows: list[tuple]) -> list[tuple] | None:
        """check() for a whole batch of rows (whose other values are checked) with refs,
        for its two common cases: every ref new to the book and to the file (the rows,
        to add), or every ref held with the rows' values (none to add). None for any
        other batch: its rows go through check() one by one."""
        unique = set(given)
        if len(unique) != len(given) or None in unique or not unique.isdisjoint(self.pending.keys()):
            return None
        # parse_ref's common case, for all of them at once: 1 to MAX_REF printable characters,
        # no space at either end (printable text has no white space but the ASCII space).
        if not ("".join(given).isprintable() and min(map(len, given)) > 0 and max(map(len, given)) <= MAX_REF
                and all(map(str.__eq__, map(str.strip, given), given))):
            return None
        held = unique.intersection(self.holders)
        if not held:
            if numbers[-1] - numbers[0] != len(numbers) - 1:
                return None  # not consecutive rows: check() keeps where each one is
            self.current = _Added(unique, given, numbers, rows)
            if numbers[0] != self.last_row + 1:
                self.starts.append(self.added)
                self.rows.append(numbers[0])
            self.last_row = numbers[-1]
            self.added += len(rows)
            self.count += len(rows)
            return rows
        if len(held) == len(unique) and list(map(_HELD_VALUES, map(self.holders.__getitem__, given))) == \
                list(map(_ROW_VALUES, rows)):
            self.count += len(rows)
            return []  # every row unchanged (see book.ref_differences)
        return None

    def check(self, number: int, row: tuple, line: Line) -> tuple | None:
        ref = row[6]
        self.count += 1
        holder = self.holders.get(ref)
        if holder is not None:
            differs = book.ref_differences(row, holder, line.currency)
            if differs is None:
                return None
            if holder.id > self.before and holder.deleted_at is None:  # this file added it
                raise InvoicerError(f"ref: {ref!r} is given in row {self._row_of(holder.id)} of this file "
                                    f"{differs}")
            deleted = f", deleted {holder.deleted_at}," if holder.deleted_at else ""
            raise InvoicerError(f"ref: {ref!r} is transaction {holder.id}'s{deleted} {differs}")
        earlier = self.current.get(ref) or self.pending.get(ref)
        if earlier is not None:
            differs = book.ref_differences(row, RefHolder(0, *earlier[1][:6], None), line.currency)
            if differs is None:
                return None
            raise InvoicerError(f"ref: {ref!r} is given in row {earlier[0]} of this file {differs}")
        self.current[ref] = (number, row)
        if number != self.last_row + 1:
            self.starts.append(self.added)
            self.rows.append(number)
        self.last_row = number
        self.added += 1
        return row

    def _row_of(self, transaction_id: int) -> int:
        """The row of the file that added a transaction with a ref, once written."""
        self.settle()
        k = self.store.refs_added_between(self.before, transaction_id)
        i = bisect_right(self.starts, k) - 1
        return self.rows[i] + k - self.starts[i]


class _Added:
    """The refs of a batch that check_at_once added, as _Refs.current and pending keep
    them: (row number, row) by ref, made only if a row of the next batch asks."""

    def __init__(self, refs: set[str], given: tuple[str, ...], numbers: list[int], rows: list[tuple]):
        self.refs = refs
        self.given, self.numbers, self.rows = given, numbers, rows
        self.by_ref: dict[str, tuple[int, tuple]] | None = None

    def keys(self) -> set[str]:
        return self.refs

    def get(self, ref: str) -> tuple[int, tuple] | None:
        if ref not in self.refs:
            return None
        if self.by_ref is None:
            self.by_ref = dict(zip(self.given, zip(self.numbers, self.rows)))
        return self.by_ref[ref]


# (line_id, date, amount, type, quantity, description) of a RefHolder, and of a checked row.
_HELD_VALUES = itemgetter(1, 2, 3, 4, 5, 6)
_ROW_VALUES = itemgetter(0, 1, 2, 3, 4, 5)


def _batches(numbered_rows: Iterable[tuple[int, tuple]]) -> Iterator[list[tuple[int, tuple]]]:
    """The rows by batches of BATCH. A row that cannot be read (bad CSV, not a JSON object)
    is raised only once the rows before it are checked: the error names the first bad row."""
    numbered_rows = iter(numbered_rows)
    while True:
        batch: list[tuple[int, tuple]] = []
        try:
            batch.extend(islice(numbered_rows, BATCH))
        except InvoicerError as unreadable:
            if batch:
                yield batch
            raise unreadable
        if batch:
            yield batch
        if len(batch) < BATCH:
            return


def _numbered(numbered_rows: Iterable[tuple[int, tuple]], apply: Callable, numbered: bool = False) -> Iterator:
    """apply(row), or apply(number, row), to each row; an error names its row number,
    keeping its kind and exit code."""
    number = 0
    try:
        if numbered:
            for number, row in numbered_rows:
                yield apply(number, row)
        else:
            for number, row in numbered_rows:
                yield apply(row)
    except InvoicerError as error:
        if not str(error).startswith("row "):
            error.args = (f"row {number}: {error}",)
        raise


class _Lines:
    """A row's contract line, by `line_id` or by `contract` and `line` (a row's first three
    values). The lines a batch of rows names are fetched in two queries before the batch is
    checked; only that batch's lines are kept, so memory does not grow with the file."""

    def __init__(self, store: Store, settle: Callable[[], None] = lambda: None):
        self.store = store
        self.settle = settle  # called before any query: an insert may be under way
        self.by_id: dict[int, Line] = {}
        self.by_name: dict[tuple[str, str], Line] = {}
        self.known: dict[tuple, Line] = {}

    def fetch(self, batch: list[tuple[int, tuple]]) -> None:
        self.use(self.lookup(self.wanted({row[:3] for _, row in batch})))

    @staticmethod
    def wanted(keys: Iterable[tuple]) -> tuple[set[int], set[tuple[str, str]]]:
        """The line ids and (contract, line) names that rows' first three values name.
        A value skipped here as malformed, or not found, is looked at again in _resolve,
        which names the error as the single-row commands do."""
        ids, names = set(), set()
        for line_id, contract, name in keys:
            if line_id is not None:
                try:
                    ids.add(parse_id(line_id, "line_id"))
                except InputError:
                    pass
            elif contract is not None and name is not None and book.may_be_stored(contract) \
                    and book.may_be_stored(name):
                names.add((contract.strip(), name.strip()))
        return ids, names

    def lookup(self, wanted: tuple[set[int], set[tuple[str, str]]]) -> tuple[dict, dict]:
        """The lines wanted (wanted's), by id and by name, in two queries. Any thread may
        call it, while the batch before is checked (see import_transactions)."""
        ids, names = wanted
        return (self.store.lines_by_ids(ids) if ids else {}), (self.store.lines_by_names(names) if names else {})

    def use(self, found: tuple[dict, dict]) -> None:
        """Resolve the next batch's rows with these lines (lookup's)."""
        self.by_id, self.by_name = found
        self.known = {}

    def line_ids(self) -> set[int]:
        """The ids of the lines of the last batch fetched."""
        return {line.id for line in self.by_id.values()} | {line.id for line in self.by_name.values()}

    def __call__(self, row: tuple) -> Line:
        key = row[:3]
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = self._resolve(*key)
        return found

    def _resolve(self, line_id: str | None, contract: str | None, name: str | None) -> Line:
        if line_id is None and contract is not None and name is not None:
            # Found by its stripped names, they are a stored line's: valid, no need to check them.
            found = self.by_name.get((contract.strip(), name.strip()))
            if found is not None:
                return found
        if line_id is None:
            contract, name = parse_text(contract, "contract"), parse_text(name, "line")
            found = self.by_name.get((contract, name))
            if found is None:
                self.settle()
                found = self.store.line_by_name(contract, name)
            return found
        line_id = parse_id(line_id, "line_id")
        found = self.by_id.get(line_id)
        if found is None:
            self.settle()
            found = self.store.line(line_id)
        if (contract is not None and contract.strip() != found.contract) or \
                (name is not None and name.strip() != found.name):
            raise InputError(f"line_id: line {found.id} is {found.contract} / {found.name}, "
                             "not the contract and line the row names")
        return found
