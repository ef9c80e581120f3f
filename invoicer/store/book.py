"""The book, one row at a time: contracts and lines, the parties, date-based schedules and
milestones, transactions."""

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from invoicer import clock
from invoicer.errors import NotFound
from invoicer.model import (
    Customer,
    DateSchedule,
    Line,
    Milestone,
    Seller,
    SplitPart,
    Transaction,
)
from invoicer.store.connection import Connection
from invoicer.store.rows import (
    _DATE_SCHEDULE_COLUMNS,
    BILLED,
    INVOICES_OF,
    LINE,
    TRANSACTION_COLUMNS,
    WRITTEN_OFF,
    _date,
    _date_schedule_values,
    _iso,
    _line,
    _milestone,
    _seller,
    _transaction,
)
from invoicer.tax import rate_from_store, rate_to_store


class Book(Connection):
    """Contracts and their lines, the parties, schedules, milestones and transactions, one at a time."""

    def contract(self, name: str) -> dict | None:
        return self._one("SELECT * FROM contracts WHERE name = ?", [name])

    def has_customer(self, customer: str) -> bool:
        """Whether a contract is for the customer, or a split or an invoice names it."""
        return bool(self._one(
            """SELECT EXISTS (SELECT 1 FROM contracts WHERE customer = :c) OR EXISTS (SELECT 1 FROM splits WHERE customer = :c)
                      OR EXISTS (SELECT 1 FROM invoices WHERE customer = :c) AS found""", {"c": customer})["found"])

    def update_line(self, line_id: int, changes: dict) -> None:
        if changes:
            self.conn.execute(f"UPDATE contract_lines SET {', '.join(f'{c} = ?' for c in changes)} WHERE id = ?",
                              [*changes.values(), line_id])


    def line(self, line_id: int) -> Line:
        row = self.conn.execute(LINE + " WHERE l.id = ?", [line_id]).fetchone()
        if row is None:
            raise NotFound(f"line_id: no contract line with id {line_id} (see `invoicer contract list`)")
        return _line(row)

    def line_by_name(self, contract: str, name: str) -> Line:
        row = self.conn.execute(LINE + " WHERE c.name = ? AND l.name = ?", [contract, name]).fetchone()
        if row is None:
            raise NotFound(f"line: contract {contract!r} has no line named {name!r}")
        return _line(row)

    def line_exists(self, contract_id: int, name: str) -> bool:
        return bool(self._one("SELECT 1 FROM contract_lines WHERE contract_id = ? AND name = ?", [contract_id, name]))

    def lines(self, contract: str | None = None) -> list[Line]:
        where, params = ("WHERE c.name = ?", [contract]) if contract else ("", [])
        return [_line(row) for row in self.conn.execute(LINE + f" {where} ORDER BY c.name, l.id", params)]

    def unbilled_minor(self, line_id: int, through: date | None) -> tuple[int, int, int, int]:
        """(count, sum) of a line's unbilled transactions, and of those dated up to `through`."""
        row = self.conn.execute(
            """SELECT count(*), coalesce(sum(amount), 0),
                      count(*) FILTER (WHERE date <= :through), coalesce(sum(amount) FILTER (WHERE date <= :through), 0)
                 FROM transactions WHERE line_id = :line AND invoice_line_id IS NULL""",
            {"line": line_id, "through": _iso(through)}).fetchone()
        return row[0], row[1], row[2], row[3]

    def billable_shares_minor(self, line_id: int) -> tuple[int, int]:
        """(count, sum) of the shares of the line's transactions that are billable again,
        each to its customer alone (section 10)."""
        row = self.conn.execute(
            """SELECT count(*), coalesce(sum(s.amount), 0) FROM transactions t
                 JOIN shares s ON s.kind = 't' AND s.item_id = t.id AND s.invoice_line_id IS NULL
                WHERE t.line_id = ? AND t.invoice_line_id IS NOT NULL""", [line_id]).fetchone()
        return row[0], row[1]

    def billed_minor(self, line_id: int) -> int:
        """What a line has billed on invoices not cancelled."""
        return self.conn.execute(f"SELECT {BILLED.format(line='?')}", [line_id]).fetchone()[0]


    def set_line_closed(self, line_id: int, closed: bool) -> None:
        self.db.execute("UPDATE contract_lines SET closed = ? WHERE id = ?", [int(closed), line_id])

    def splits(self, contract_id: int) -> dict[int | None, tuple[SplitPart, ...]]:
        """The contract's billing split under None, and each line's own under its id (only
        the lines that have one), each in the order its customers were named."""
        found: dict[int | None, list[SplitPart]] = {}
        for line_id, customer, percent, rounding in self.conn.execute(
                """SELECT line_id, customer, percent, rounding FROM splits WHERE contract_id = ?
                    ORDER BY line_id, position""", [contract_id]):
            found.setdefault(line_id, []).append(SplitPart(customer, rate_from_store(percent), bool(rounding)))
        return {owner: tuple(parts) for owner, parts in found.items()}

    def put_split(self, contract_id: int, line_id: int | None, parts: tuple[SplitPart, ...]) -> None:
        """Replace the contract's split (a line's own, with `line_id`) whole."""
        self.remove_split(contract_id, line_id)
        self.conn.executemany(
            "INSERT INTO splits (contract_id, line_id, position, customer, percent, rounding) VALUES (?, ?, ?, ?, ?, ?)",
            [(contract_id, line_id, n, p.customer, rate_to_store(p.percent), int(p.rounding))
             for n, p in enumerate(parts, start=1)])

    def remove_split(self, contract_id: int, line_id: int | None) -> bool:
        """Remove the contract's split (a line's own, with `line_id`); whether there was one."""
        return self.conn.execute("DELETE FROM splits WHERE contract_id = ? AND line_id IS NOT DISTINCT FROM ?",
                                 [contract_id, line_id]).rowcount > 0

    _SELLER_COLUMNS = ", ".join(Seller._fields)

    _CUSTOMER_COLUMNS = ", ".join(Customer._fields)

    def seller(self) -> Seller:
        """The seller's record; every value None if it was never set."""
        row = self.conn.execute(f"SELECT {self._SELLER_COLUMNS} FROM seller WHERE id = 1").fetchone()
        return _seller(row) if row else Seller()

    def put_seller(self, seller: Seller) -> None:
        values = [*seller[:-1], rate_to_store(seller.tax_rate)]
        self.conn.execute(
            f"""INSERT INTO seller (id, {self._SELLER_COLUMNS}) VALUES (1, {", ".join("?" * len(values))})
                ON CONFLICT (id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in Seller._fields)}""",
            values)

    def customer(self, name: str) -> Customer | None:
        row = self.conn.execute(f"SELECT {self._CUSTOMER_COLUMNS} FROM customers WHERE name = ?", [name]).fetchone()
        return Customer(*row) if row else None

    def customers(self) -> list[Customer]:
        return [Customer(*row) for row in
                self.conn.execute(f"SELECT {self._CUSTOMER_COLUMNS} FROM customers ORDER BY name")]

    def put_customer(self, customer: Customer) -> None:
        self.conn.execute(
            f"""INSERT INTO customers ({self._CUSTOMER_COLUMNS}) VALUES ({", ".join("?" * len(customer))})
                ON CONFLICT (name) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in Customer._fields[1:])}""",
            list(customer))


    def invoice_parties(self, number: str) -> tuple[Seller, Customer | None]:
        """The seller's and the customer's records for an invoice: as they were when it was
        confirmed, for a confirmed (or since cancelled) one; as they are now for a draft."""
        row = self._one(
"SELECT i.parties, i.customer FROM invoices i WHERE i.number = ?", [number])
        if row is None:
            raise NotFound(f"number: no invoice {number!r} (see `invoicer invoice list`)")
        if row["parties"] is None:
            return self.seller(), self.customer(row["customer"])
        return _kept_parties(row["parties"])

    def parties_of_invoices(self, numbers: list[str]) -> dict[str, tuple[Seller, Customer | None]]:
        """invoice_parties of many invoices at once, by number, in a query or three
        whatever their count: exports read the parties of thousands of documents."""
        rows = self.conn.execute(
            f"SELECT i.number, i.parties, i.customer FROM {self.sql.json_list('?', 'k')} CROSS JOIN invoices i "
            "WHERE i.number = k.value",
            [json.dumps(numbers)]).fetchall()
        drafts = {customer for _, parties, customer in rows if parties is None}
        seller, now = (self.seller() if drafts else None), {}
        if drafts:
            now = {customer.name: (seller, customer) for customer in map(Customer._make, self.conn.execute(
                f"""SELECT {self._CUSTOMER_COLUMNS} FROM customers
                     WHERE name IN (SELECT value FROM {self.sql.json_list('?')})""", [json.dumps(sorted(drafts))]))}
        return {number: now.get(customer, (seller, None)) if parties is None else _kept_parties(parties)
                for number, parties, customer in rows}

    def issue_dates(self, numbers: list[str]) -> dict[str, date | None]:
        """The issue date of each invoice named, by number, in one query."""
        return {number: _date(issued) for number, issued in self.conn.execute(
            f"SELECT number, issue_date FROM invoices WHERE number IN (SELECT value FROM {self.sql.json_list('?')})",
            [json.dumps(numbers)])}

    def processed_through(self, line_id: int) -> date | None:
        """The latest invoice run date processed for the line (kept when its schedule is
        replaced, so that run dates already processed are never run again)."""
        return _date(self._one("SELECT processed_through FROM contract_lines WHERE id = ?", [line_id])["processed_through"])

    def date_schedule(self, line_id: int) -> dict | None:
        return self._one("SELECT * FROM schedules WHERE line_id = ? AND kind = 'dates'", [line_id])

    def remove_schedule(self, schedule_id: int) -> None:
        self.db.execute("DELETE FROM schedules WHERE id = ?", [schedule_id])

    def add_date_schedule(self, line_id: int, schedule: DateSchedule, next_run_date: date | None) -> int:
        return self.conn.execute(
            f"INSERT INTO schedules ({_DATE_SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            _date_schedule_values(line_id, schedule, next_run_date)).fetchall()[0][0]

    def set_next_run_date(self, schedule_id: int, next_run_date: date | None) -> None:
        self.db.execute("UPDATE schedules SET next_run_date = ? WHERE id = ?", [_iso(next_run_date), schedule_id])

    def add_milestone(self, line_id: int, name: str, when: date, amount: int,
                      percent: Decimal | None, ready: bool) -> int:
        return self.conn.execute(
            """INSERT INTO schedules (line_id, kind, name, date, amount, percent, ready)
               VALUES (?, 'milestone', ?, ?, ?, ?, ?) RETURNING id""",
            [line_id, name, when.isoformat(), amount, None if percent is None else str(percent),
             int(ready)]).fetchall()[0][0]

    def schedule_row(self, schedule_id: int) -> dict:
        row = self._one("SELECT * FROM schedules WHERE id = ?", [schedule_id])
        if row is None:
            raise NotFound(f"id: no schedule or milestone with id {schedule_id} (see `invoicer schedule list`)")
        return row

    def set_milestone_ready(self, milestone_id: int, ready: bool = True) -> None:
        self.db.execute("UPDATE schedules SET ready = ? WHERE id = ?", [int(ready), milestone_id])

    def milestone_totals(self, line_id: int) -> tuple[int, Decimal, int]:
        """(sum of amounts, sum of percents of percent milestones, sum of amounts of the others)."""
        rows = list(self._rows(
            "SELECT amount, percent FROM schedules WHERE line_id = ? AND kind = 'milestone'", [line_id]))
        total = sum(r["amount"] for r in rows)
        percents = sum((Decimal(r["percent"]) for r in rows if r["percent"] is not None), Decimal(0))
        fixed = sum(r["amount"] for r in rows if r["percent"] is None)
        return total, percents, fixed

    _MILESTONE = f"""
        SELECT m.*, i.number AS invoice, i.status AS invoice_status, {INVOICES_OF.format(kind="m", item="m.id")} AS invoices,
               (SELECT group_concat(cn.number, ',') FROM credited_items ci
                  JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                 WHERE ci.kind = 'm' AND ci.item_id = m.id AND cn.status != 'cancelled') AS credit_notes,
               -- written off: on the invoice it is billed on; split, on each invoice with a share
               CASE WHEN NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'm' AND s.item_id = m.id)
                    THEN {WRITTEN_OFF.format(line="m.invoice_line_id")}
                    ELSE m.invoice_line_id IS NOT NULL
                         AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'm' AND s.item_id = m.id
                                            AND s.invoice_line_id IS NOT NULL
                                            AND NOT {WRITTEN_OFF.format(line="s.invoice_line_id")}) END AS written_off
          FROM schedules m
          LEFT JOIN invoice_lines il ON il.id = m.invoice_line_id
          LEFT JOIN invoices i ON i.id = il.invoice_id
         WHERE m.kind = 'milestone'
    """

    def milestones(self, line: Line) -> list[Milestone]:
        rows = self._rows(self._MILESTONE + " AND m.line_id = ? ORDER BY m.date, m.id", [line.id])
        return [_milestone(row, line) for row in rows]

    def milestones_named(self, line: Line, name: str) -> list[Milestone]:
        rows = self._rows(self._MILESTONE + " AND m.line_id = ? AND m.name = ? ORDER BY m.id", [line.id, name])
        return [_milestone(row, line) for row in rows]

    def milestone(self, milestone_id: int) -> Milestone:
        row = self._one(self._MILESTONE + " AND m.id = ?", [milestone_id])
        if row is None:
            raise NotFound(f"id: no milestone with id {milestone_id} (see `invoicer schedule list`)")
        return _milestone(row, self.line(row["line_id"]))

    def date_schedules(self, line_id: int | None) -> list[dict]:
        where, params = ("AND s.line_id = ?", [line_id]) if line_id else ("", [])
        return list(self._rows(
            f"""SELECT s.*, l.processed_through FROM schedules s
                  JOIN contract_lines l ON l.id = s.line_id
                 WHERE s.kind = 'dates' {where} ORDER BY s.line_id""", params))

    def invoices_by_run_date(self, line_id: int) -> dict[str, tuple[tuple[str, ...], str]]:
        """run date -> (invoice numbers, status) of the line's invoices: its drafts and
        confirmed ones (several under a billing split), else its cancelled ones, in order."""
        found: dict[str, tuple[list[str], str]] = {}
        for run_date, number, status in self.conn.execute(
            """SELECT i.run_date, i.number, i.status FROM invoice_lines il
                 JOIN invoices i ON i.id = il.invoice_id
                WHERE il.line_id = ? AND i.type = 'invoice' ORDER BY i.status = 'cancelled' DESC, i.id""", [line_id]):
            numbers, kept = found.get(run_date, ([], status))
            if kept == "cancelled" and status != "cancelled":
                numbers, kept = [], status
            found[run_date] = (numbers + [number], kept)
        return {run_date: (tuple(numbers), status) for run_date, (numbers, status) in found.items()}

    def passed_run_dates(self, line_id: int) -> list[tuple[str, str]]:
        """The spans (first, last run date) in which Process steps (not undone) passed over
        run dates of the line without billing them (a run date in a span that was billed is
        invoiced)."""
        return [(row[0], row[1]) for row in self.conn.execute(
            """SELECT DISTINCT s.run_date, s.last_run_date FROM run_skips s JOIN runs r ON r.id = s.run_id
                WHERE s.line_id = ? AND s.run_date IS NOT NULL AND r.undone_at IS NULL
                ORDER BY s.run_date""", [line_id])]


    def add_transaction(self, row: tuple) -> int:
        """Insert one (line_id, date, amount, type, quantity, description, ref) row."""
        return self.conn.execute(
            f"INSERT INTO transactions ({TRANSACTION_COLUMNS}, ref) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            row).fetchall()[0][0]

    def update_transaction(self, transaction_id: int, row: tuple) -> None:
        """Set an unbilled transaction's (line_id, date, amount, type, quantity, description)."""
        self.conn.execute(
            """UPDATE transactions SET date = ?, amount = ?, type = ?, quantity = ?, description = ?
                WHERE id = ? AND line_id = ? AND invoice_line_id IS NULL""",
            [*row[1:6], transaction_id, row[0]])

    _TRANSACTION = f"""
        SELECT t.*, i.number AS invoice, rf.number AS returned_from, {INVOICES_OF.format(kind="t", item="t.id")} AS invoices,
               (SELECT group_concat(cn.number, ',') FROM credited_items ci
                  JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                 WHERE ci.kind = 't' AND ci.item_id = t.id AND cn.status != 'cancelled') AS credit_notes
          FROM transactions t
          LEFT JOIN invoice_lines il ON il.id = t.invoice_line_id
          LEFT JOIN invoices i ON i.id = il.invoice_id
          LEFT JOIN invoices rf ON rf.id = t.returned_from
    """

    def transaction(self, transaction_id: int) -> Transaction:
        row = self._one(self._TRANSACTION + " WHERE t.id = ?", [transaction_id])
        if row is None:
            raise NotFound(f"id: no transaction with id {transaction_id}")
        return _transaction(row, self.line(row["line_id"]))

    def transactions(self, line_id: int | None, unbilled: bool) -> Iterator[Transaction]:
        clauses, params = [], []
        if line_id:
            clauses.append("t.line_id = ?")
            params.append(line_id)
        if unbilled:
            clauses.append("t.invoice_line_id IS NULL")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        lines: dict[int, Line] = {}
        for row in self._rows(self._TRANSACTION + f" {where} ORDER BY t.date, t.id", params):
            line = lines.get(row["line_id"]) or lines.setdefault(row["line_id"], self.line(row["line_id"]))
            yield _transaction(row, line)

    def delete_transaction(self, transaction_id: int) -> None:
        # Its ref stays taken, with the values it had: a feed that sends it again finds it.
        self.conn.execute(
            """INSERT INTO deleted_refs (ref, transaction_id, line_id, date, amount, type, quantity, description,
                                         deleted_at)
               SELECT ref, id, line_id, date, amount, type, quantity, description, ? FROM transactions
                WHERE id = ? AND ref IS NOT NULL""", [clock.stamp(), transaction_id])
        self.db.execute("DELETE FROM transactions WHERE id = ?", [transaction_id])


def _kept_parties(text: str) -> tuple[Seller, Customer | None]:
    """The parties a confirmed invoice keeps (invoices.parties): the seller's and the
    customer's records as they were then."""
    kept = json.loads(text)
    seller = Seller(**{**kept["seller"], "tax_rate": rate_from_store(kept["seller"]["tax_rate"])}) \
        if kept["seller"] else Seller()
    return seller, Customer(**kept["customer"]) if kept["customer"] else None
