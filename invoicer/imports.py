"""Bulk import of contract lines, schedules and transactions from CSV (with a header row)
or JSON Lines, streamed row by row. Every row goes through the same rules as the
single-row command, all rows in one transaction: one bad row rejects the whole file."""

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import islice

from invoicer import book
from invoicer.errors import InputError, InvoicerError
from invoicer.model import Line
from invoicer.store import Store
from invoicer.values import parse_bool, parse_id, parse_text

CONTRACT_FIELDS = ("contract", "name", "customer", "billing_method", "amount", "not_to_exceed", "project", "currency")
LINE_FIELDS = ("line_id", "contract", "line")
SCHEDULE_FIELDS = LINE_FIELDS + ("frequency", "rrule", "start", "end", "dates", "milestone", "date", "amount",
                                 "percent", "ready")
TRANSACTION_FIELDS = LINE_FIELDS + ("date", "amount", "type", "quantity", "description")
BATCH = 5_000


def open_source(path: str):
    """(text lines, size in bytes or None) of a file, or of standard input for '-'."""
    if path == "-":
        return sys.stdin, None
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
        return handle, os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise InputError(f"file: cannot read {path}: {error.strerror}") from None


def rows(lines: Iterable[str], fields: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """(row number, values) for each row: CSV's header is row 1; JSON Lines' first line is
    row 1. The format is told by the first non-blank character."""
    lines = iter(lines)
    try:
        first = next(lines)
        while not first.strip():
            first = next(lines)
    except StopIteration:
        return
    except UnicodeDecodeError:
        raise InputError("file: not UTF-8 text") from None
    stream = _chain(first, lines)
    if first.lstrip().startswith("["):
        raise InputError("file: a JSON array; give JSON Lines instead (one object a line)")
    if first.lstrip().startswith("{"):
        yield from _json_lines(stream, fields)
    else:
        yield from _csv_rows(stream, fields)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    try:
        yield from rest
    except UnicodeDecodeError:
        raise InputError("file: not UTF-8 text") from None


def _csv_rows(lines: Iterator[str], fields: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(lines, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
        unknown = [h for h in header if h not in fields]
        if unknown:
            raise InputError(f"row 1: unknown column {unknown[0]!r} (columns: {', '.join(fields)})")
        if len(set(header)) != len(header):
            raise InputError("row 1: a column appears twice")
        # Rows are records, not physical lines: a quoted value may span lines.
        width = len(header)
        for number, values in enumerate(reader, start=2):
            if len(values) != width:
                if not any(v.strip() for v in values):
                    continue  # a blank line
                raise InputError(f"row {number}: {len(values)} values for {width} columns")
            row = dict(zip(header, values))
            # An empty or blank cell is an absent value; tested cheaply first, as this runs per row.
            if "" in values or not all(map(str.strip, values)):
                row = {k: v if v.strip() else None for k, v in row.items()}
            yield number, row
    except csv.Error as error:
        raise InputError(f"row {reader.line_num}: not valid CSV ({error})") from None


def _json_lines(lines: Iterator[str], fields: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            # Numbers keep their literal text: money never passes through a float.
            obj = json.loads(text, parse_float=str, parse_int=str, parse_constant=_no_constant)
        except ValueError as error:
            raise InputError(f"row {number}: not a JSON object ({error})") from None
        if not isinstance(obj, dict):
            raise InputError(f"row {number}: not a JSON object")
        for key, value in obj.items():
            if key not in fields:
                raise InputError(f"row {number}: unknown key {key!r} (keys: {', '.join(fields)})")
            if isinstance(value, (dict, list)):
                raise InputError(f"row {number}: {key}: must be a string or a number")
        yield number, {k: _text(v) for k, v in obj.items()}


def _text(value) -> str | None:
    """A JSON value as the text a CSV cell would hold; empty and null are absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def import_contracts(store: Store, lines: Iterable[str]) -> int:
    with store.writing():
        added = _numbered(rows(lines, CONTRACT_FIELDS),
                          lambda row: book._add_line(store, **{f: row.get(f) for f in CONTRACT_FIELDS}))
        return sum(1 for _ in added)


def import_schedules(store: Store, lines: Iterable[str]) -> int:
    with store.writing():
        resolve = _line_resolver(store)

        def add(row: dict):
            return book._add_schedule(
                store, resolve(row), frequency=row.get("frequency"), rrule=row.get("rrule"),
                dates=row.get("dates"), start=row.get("start"), end=row.get("end"),
                milestone=row.get("milestone"), milestone_date=row.get("date"),
                amount=row.get("amount"), percent=row.get("percent"),
                ready=parse_bool(row.get("ready"), "ready"),
            )

        return sum(1 for _ in _numbered(rows(lines, SCHEDULE_FIELDS), add))


def import_transactions(store: Store, lines: Iterable[str]) -> int:
    with store.writing():
        resolve = _line_resolver(store)
        checked = _numbered(rows(lines, TRANSACTION_FIELDS), lambda row: book.transaction_row(
            resolve(row), row.get("date"), row.get("amount"), row.get("type"), row.get("quantity"),
            row.get("description")))
        count = 0
        while batch := list(islice(checked, BATCH)):
            store.add_transactions(batch)
            count += len(batch)
        return count


def _numbered(numbered_rows: Iterable[tuple[int, dict]], apply: Callable[[dict], object]) -> Iterator:
    """apply() to each row; an error names its row number, keeping its kind and exit code."""
    number = 0
    try:
        for number, row in numbered_rows:
            yield apply(row)
    except InvoicerError as error:
        if not str(error).startswith("row "):
            error.args = (f"row {number}: {error}",)
        raise


def _line_resolver(store: Store) -> Callable[[dict], Line]:
    """A row's contract line, by `line_id` or by `contract` and `line`. Recent lines are
    kept (a file is usually grouped by line), but not all: memory must not grow with the file."""

    @lru_cache(maxsize=4096)
    def lookup(line_id: str | None, contract: str | None, name: str | None) -> Line:
        if line_id is None:
            return store.line_by_name(parse_text(contract, "contract"), parse_text(name, "line"))
        found = store.line(parse_id(line_id, "line_id"))
        if (contract is not None and contract.strip() != found.contract) or \
                (name is not None and name.strip() != found.name):
            raise InputError(f"line_id: line {found.id} is {found.contract} / {found.name}, "
                             "not the contract and line the row names")
        return found

    def resolve(row: dict) -> Line:
        return lookup(row.get("line_id"), row.get("contract"), row.get("line"))

    return resolve
