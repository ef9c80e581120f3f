"""The book, many rows at a time: imports look up and write a batch of thousands of rows in
one statement each."""

import json
from collections.abc import Iterable
from datetime import date

from invoicer import clock
from invoicer.model import (
    DateSchedule,
    Line,
    RefHolder,
)
from invoicer.store.connection import Connection
from invoicer.store.rows import (
    _DATE_SCHEDULE_COLUMNS,
    LINE_FIELDS,
    TRANSACTION_COLUMNS,
    _date,
    _date_schedule_values,
    _insert_each,
    _insert_rows,
    _json_values,
    _line,
    schedule_from_row,
)


class Imports(Connection):
    """Reads and writes of many rows in one statement: how imports check and write a batch."""

    def contracts_by_name(self, names: Iterable[str]) -> dict[str, dict]:
        """Many contracts in one query, by name; those that do not exist are left out."""
        rows = self._rows(f"""SELECT c.* FROM {self.sql.json_list('?', 'k')} CROSS JOIN contracts c WHERE c.name = k.value""",
                          [json.dumps(list(names))])
        return {row["name"]: row for row in rows}

    def add_lines(self, contracts: list[tuple], lines: list[tuple]) -> None:
        """Insert new contracts (name, customer, currency), then contract lines (contract
        name, name, billing method, amount, not to exceed, project, tax category, tax rate
        in hundredths, tax exemption reason), each in order, in one statement each: imports
        write a batch of thousands at a time."""
        if contracts:
            self.conn.execute(_insert_each(self.sql, "contracts", "name, customer, currency"), [json.dumps(contracts)])
        columns = "name, billing_method, amount, not_to_exceed, project, tax_category, tax_rate, tax_exemption_reason"
        self.conn.execute(
            f"""INSERT INTO contract_lines (contract_id, {columns})
                SELECT c.id, {_json_values(self.sql, "contract_lines", columns, first=1, row="k.value")}
                  FROM {self.sql.json_rows('?')} CROSS JOIN contracts c
                 WHERE c.name = {self.sql.item('k.value', 0)} ORDER BY k.key""",
            [json.dumps(lines)])

    # Imports run these on their worker thread, while the checking thread holds Python's
    # lock: the rows come back as one JSON array, in one step, rather than one step (and
    # one wait for the lock) a row.

    def lines_by_names(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Line]:
        """Many lines in one query, by (contract, line name); those that do not exist are left out."""
        rows = self.conn.execute(
            f"""SELECT {self.sql.rows_as_json(LINE_FIELDS)}
                  FROM {self.sql.json_rows('?')} CROSS JOIN contracts c CROSS JOIN contract_lines l
                 WHERE c.name = {self.sql.item('k.value', 0)} AND l.contract_id = c.id
                   AND l.name = {self.sql.item('k.value', 1)}""",
            [json.dumps(list(keys))]).fetchone()[0]
        return {(line.contract, line.name): line for line in map(_line, json.loads(rows))}

    def lines_by_ids(self, ids: Iterable[int]) -> dict[int, Line]:
        """Many lines in one query, by id; those that do not exist are left out."""
        rows = self.conn.execute(
            f"""SELECT {self.sql.rows_as_json(LINE_FIELDS)}
                  FROM contract_lines l JOIN contracts c ON c.id = l.contract_id
                 WHERE l.id IN (SELECT value FROM {self.sql.json_list('?', kind='int')})""", [json.dumps(list(ids))]).fetchone()[0]
        return {line.id: line for line in map(_line, json.loads(rows))}

    def add_date_schedules(self, rows: list[tuple[int, DateSchedule, date | None]]) -> None:
        """Insert many (line id, schedule, next run date), in order, in one statement."""
        self.conn.execute(_insert_each(self.sql, "schedules", _DATE_SCHEDULE_COLUMNS),
                          [json.dumps([_date_schedule_values(*row) for row in rows])])

    def add_named_date_schedules(self, named: "NamedDateSchedules") -> bool:
        """Insert date-based schedules for lines named by contract and line name, in order,
        in one statement, all or nothing: True if every row went in; False, and nothing
        written, if any row's line is missing, is not time-and-material, was run before (its
        first run date would not be the schedule's first), or has a date-based schedule (the
        unique index refuses it; one named twice too). Imports try this first: each line is
        looked up once, in SQLite. A batch it refuses goes through the rules row by row, which
        say why: those rules (book.NewDateSchedules) are the reference, this is their shortcut,
        and tests/test_import_properties.py holds the two to the same outcome."""
        self.conn.execute("SAVEPOINT named_date_schedules")
        ids = self._ids_taken()
        try:
            # In file order, so that ids follow the file (SQLite's CROSS JOIN keeps the rows in
            # the outer loop's order; PostgreSQL's plan need not, without the ORDER BY).
            inserted = self.conn.execute(
                f"""INSERT INTO schedules ({_DATE_SCHEDULE_COLUMNS})
                    SELECT l.id, 'dates', {_json_values(self.sql, "schedules", _DATE_SCHEDULE_COLUMNS.partition(", kind, ")[2],
                                                        first=2, row="k.value")}
                      FROM {self.sql.json_rows('?')}
                      CROSS JOIN contracts c CROSS JOIN contract_lines l
                     WHERE c.name = {self.sql.item('k.value', 0)}
                       AND l.contract_id = c.id AND l.name = {self.sql.item('k.value', 1)}
                       AND l.billing_method = 'time-and-material' AND l.processed_through IS NULL
                       AND l.closed = 0
                     ORDER BY k.key""",
                [named.json]).rowcount
        except self.integrity_errors:
            inserted = -1
        if inserted != named.count:
            self.conn.execute("ROLLBACK TO named_date_schedules")
            self._ids_put_back(ids)  # the rules then write the batch with the ids it would have had
        self.conn.execute("RELEASE named_date_schedules")
        return inserted == named.count

    def _ids_taken(self):
        """Where the ids' sequences are before a savepoint, for _ids_put_back. None here:
        SQLite's ids (AUTOINCREMENT's marks) roll back with the savepoint; PostgreSQL's
        sequences do not (PostgresConnection's)."""
        return None

    def _ids_put_back(self, taken) -> None:
        """Put the ids' sequences back where _ids_taken saw them, after a rollback to a savepoint."""

    def last_schedule_id(self) -> int:
        """The highest schedule id so far: those a command adds are above it (AUTOINCREMENT)."""
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM schedules").fetchone()[0]

    def date_schedule_state(self, line_ids: Iterable[int]) -> dict[int, tuple[int | None, date | None,
                                                                               DateSchedule | None]]:
        """For many lines in one query: (the id of its date-based schedule or None, the
        latest run date processed for it or None, that schedule or None)."""
        rows = self._rows(
            f"""SELECT l.id AS line_id, s.id, l.processed_through, s.frequency, s.rrule, s.dates, s.start, s."end"
                 FROM {self.sql.json_list('?', 'k', 'int')} CROSS JOIN contract_lines l
                 LEFT JOIN schedules s ON s.line_id = l.id AND s.kind = 'dates'
                WHERE l.id = k.value""", [json.dumps(list(line_ids))])
        return {row["line_id"]: (row["id"], _date(row["processed_through"]),
                                 None if row["id"] is None else schedule_from_row(row)) for row in rows}

    def add_transactions(self, rows: list[tuple]) -> None:
        """Insert many (line_id, date, amount, type, quantity, description, ref) rows, in
        order (a row without its ref has none)."""
        _insert_rows(self, "transactions", TRANSACTION_COLUMNS + ", ref", rows)

    def ref_holders(self, refs: list[str]) -> dict[str, RefHolder]:
        """The transactions, live or deleted, that hold these refs, in one query: imports
        look up a batch's refs at once, as they look up its lines (one JSON array, as
        lines_by_names)."""
        rows = self.conn.execute(
            f"""SELECT {self.sql.rows_as_json("ref, id, line_id, date, amount, type, quantity, description, deleted_at")}
                 FROM (
                 SELECT t.ref, t.id, t.line_id, t.date, t.amount, t.type, t.quantity, t.description,
                        NULL AS deleted_at
                   FROM {self.sql.json_list(':refs', 'k')} CROSS JOIN transactions t WHERE t.ref = k.value
                 UNION ALL
                 SELECT d.ref, d.transaction_id, d.line_id, d.date, d.amount, d.type, d.quantity, d.description,
                        d.deleted_at
                   FROM {self.sql.json_list(':refs', 'k')} CROSS JOIN deleted_refs d WHERE d.ref = k.value) AS held""",
            {"refs": json.dumps(refs)}).fetchone()[0]
        return {row[0]: RefHolder(*row[1:]) for row in json.loads(rows)}

    def last_transaction_id(self) -> int:
        """The highest transaction id so far: those a command adds are above it (AUTOINCREMENT)."""
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM transactions").fetchone()[0]

    def refs_added_between(self, after: int, before: int) -> int:
        """How many transactions with a ref have an id above `after` and below `before`."""
        return self.conn.execute("SELECT count(*) FROM transactions WHERE id > ? AND id < ? AND ref IS NOT NULL",
                                 [after, before]).fetchone()[0]

    def transaction_import(self, sha256: str) -> tuple[str, int] | None:
        """(when, how many rows) of the latest transaction import that read this content."""
        row = self.conn.execute(
            "SELECT imported_at, rows FROM transaction_imports WHERE sha256 = ? ORDER BY id DESC LIMIT 1",
            [sha256]).fetchone()
        return None if row is None else (row[0], row[1])

    def record_transaction_import(self, sha256: str, rows: int) -> None:
        self.conn.execute("INSERT INTO transaction_imports (sha256, rows, imported_at) VALUES (?, ?, ?)",
                          [sha256, rows, clock.stamp()])


class NamedDateSchedules:
    """Date-based schedules for Store.add_named_date_schedules: row i is (contract, line
    name, index in `schedules` of its (schedule, first run date)). Made into JSON here, by
    the checking thread, so that the worker thread only runs SQLite."""

    def __init__(self, rows: list[tuple[str, str, int]], schedules: list[tuple[DateSchedule, date | None]]):
        values = [_date_schedule_values(None, schedule, first)[2:] for schedule, first in schedules]
        self.count = len(rows)
        self.json = json.dumps([(contract, name, *values[index]) for contract, name, index in rows])
