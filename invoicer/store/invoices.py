"""Invoices and credit notes: reading them (details too), cancelling and confirming in bulk,
crediting, and the hand-over to accounting."""

import json
from collections.abc import Iterator
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter

from invoicer import clock
from invoicer.errors import NotFound
from invoicer.model import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    FIXED_PRICE,
    Invoice,
    InvoiceLine,
)
from invoicer.money import from_minor
from invoicer.store.connection import Connection
from invoicer.store.rows import (
    INVOICES_OF,
    ON_LINES,
    TRANSACTIONS_ON,
    TRANSACTION_COLUMNS,
    WRITTEN_OFF,
    _date,
    _insert_each,
    _iso,
    _milestone,
    parties_snapshot,
    _transaction,
)
from invoicer.tax import breakdown, rate_from_store


class Invoices(Connection):
    """Invoices and credit notes: reading them, cancelling, confirming, crediting, handing over."""

    _INVOICE = """
        SELECT i.*, c.name AS contract, c.currency FROM invoices i
          JOIN contracts c ON c.id = i.contract_id
    """

    def invoice_row(self, number: str) -> dict:
        row = self._one(self._INVOICE + " WHERE i.number = ?", [number])
        if row is None:
            raise NotFound(f"number: no invoice {number!r} (see `invoicer invoice list`)")
        return row

    def invoices(self, *args, **filters) -> list[Invoice]:
        """Invoices and credit notes in creation order (see iter_invoices)."""
        return list(self.iter_invoices(*args, **filters))

    def iter_invoices(self, status: str | None = None, contract: str | None = None, run_id: int | None = None,
                      number: str | None = None, details: bool = False, first: int | None = None,
                      customer: str | None = None, run_from: date | None = None, run_to: date | None = None,
                      type_: str | None = None, chosen: bool = False,
                      numbers: list[str] | None = None, line_id: int | None = None) -> Iterator[Invoice]:
        """Invoices and credit notes in creation order, one at a time (only the `first`
        ones of a run, or of temp.chosen, if given; only those in temp.chosen, if `chosen`;
        only those with a line of contract line `line_id`, if given); run_from and run_to
        bound their run dates, both included."""
        clauses, params = [], []
        for column, value in (("i.status", status), ("c.name", contract), ("i.run_id", run_id),
                              ("i.number", number), ("i.customer", customer), ("i.type", type_)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        for clause, value in (("i.run_date >= ?", run_from), ("i.run_date <= ?", run_to)):
            if value is not None:
                clauses.append(clause)
                params.append(value.isoformat())
        if numbers is not None:
            clauses.append(f"i.number IN (SELECT value FROM {self.sql.json_list('?')})")
            params.append(json.dumps(numbers))
        if line_id is not None:
            clauses.append("i.id IN (SELECT invoice_id FROM invoice_lines WHERE line_id = ?)")
            params.append(line_id)
        if chosen and first is None:
            clauses.append("i.id IN (SELECT id FROM temp.chosen)")
        elif chosen:
            clauses.append("i.id IN (SELECT id FROM temp.chosen ORDER BY id LIMIT ?)")
            params.append(first)
        elif first is not None:
            clauses.append("i.id IN (SELECT id FROM invoices WHERE run_id = ? ORDER BY id LIMIT ?)")
            params += [run_id, first]
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        # One pass over invoices and their lines: a month-end reads 100,000 invoices here.
        cursor = self.conn.execute(
            f"""SELECT i.id, i.number, i.run_date, i.status, c.name, i.customer, c.currency,
                       i.type, cr.number, i.issue_date, i.due_date, i.write_off, i.reason,
                       il.id, il.line_id, il.amount, il.items, il.name, l.billing_method,
                       il.tax_category, il.tax_rate, il.tax_exemption_reason
                  FROM invoices i JOIN contracts c ON c.id = i.contract_id
                  JOIN invoice_lines il ON il.invoice_id = i.id
                  JOIN contract_lines l ON l.id = il.line_id
                  LEFT JOIN invoices cr ON cr.id = i.credits_id
                  {where} ORDER BY i.id, il.line_id""", params)
        for _, rows in groupby(cursor, key=itemgetter(0)):
            rows = list(rows)
            (_, number, run_date, state, contract_name, customer, currency,
             kind, credits, issued, due, write_off, reason) = rows[0][:13]
            lines = tuple(
                InvoiceLine(line_id=line_id, name=name, billing_method=method, amount=from_minor(amount, currency),
                            items=items,
                            details=tuple(self._details(il_id, line_id, name, number, state, kind)) if details else (),
                            tax_category=category, tax_rate=rate_from_store(rate), tax_exemption_reason=exemption)
                for *_, il_id, line_id, amount, items, name, method, category, rate, exemption in rows
            )
            yield Invoice(number=number, contract=contract_name, customer=customer,
                          run_date=date.fromisoformat(run_date), currency=currency, status=state, lines=lines,
                          tax=breakdown(lines, currency),
                          type=kind, credits=credits, issue_date=_date(issued), due_date=_date(due),
                          write_off=bool(write_off), reason=reason)

    # A milestone as an invoice or credit note held it, from a credited item's copy.
    _CREDITED_MILESTONE = """SELECT ci.item_id AS id, ci.date, {amount} AS amount, ci.name, ci.percent, 1 AS ready,
                                    src.number AS invoice, src.status AS invoice_status
                               FROM credited_items ci
                               JOIN invoice_lines sl ON sl.id = ci.source_line_id
                               JOIN invoices src ON src.id = sl.invoice_id"""

    # Where a transaction is billed now (None: unbilled, or deleted).
    _BILLED_ON = """(SELECT x.number FROM transactions t2 JOIN invoice_lines xl ON xl.id = t2.invoice_line_id
                      JOIN invoices x ON x.id = xl.invoice_id WHERE t2.id = {item})"""

    # Whether the item {item} of kind {kind} is split now; and where the share of the
    # customer of the invoice :number is now (None: billable again).
    _SPLIT = "EXISTS (SELECT 1 FROM shares s WHERE s.kind = '{kind}' AND s.item_id = {item})"
    _SHARE_NOW = """(SELECT x.number FROM shares s JOIN invoice_lines xl ON xl.id = s.invoice_line_id
                       JOIN invoices x ON x.id = xl.invoice_id
                      WHERE s.kind = '{kind}' AND s.item_id = {item}
                        AND s.customer = (SELECT customer FROM invoices WHERE number = :number))"""

    def _details(self, invoice_line_id: int, line_id: int, name: str, number: str, status: str,
                 kind: str = "invoice") -> Iterator:
        """What an invoice line billed: the live items, or for a cancelled invoice the copy
        kept when it was cancelled (its items may have been billed again, or deleted), each
        with the invoice it is on now. A credit note's line: the items it credits, each at
        minus the amount credited. The line carries the name it had when invoiced: an
        invoice never changes."""
        line = self.line(line_id)._replace(name=name)
        milestones = line.billing_method == FIXED_PRICE
        if kind == "credit-note" and milestones:
            sql = self._CREDITED_MILESTONE.format(amount="-ci.amount") + \
                " WHERE ci.credit_line_id = :il ORDER BY ci.date, ci.item_id"
        elif kind == "credit-note":
            sql = """SELECT t.id, t.line_id, t.date, -ci.amount AS amount,
                            CASE WHEN EXISTS (SELECT 1 FROM shares s WHERE s.kind = 't' AND s.item_id = t.id
                                                 AND s.invoice_line_id = ci.source_line_id)
                                 THEN -t.amount ELSE -ci.amount END AS item_amount,
                            t.type, t.quantity, t.description, t.customer,
                            src.number AS invoice, rf.number AS returned_from
                       FROM credited_items ci JOIN transactions t ON t.id = ci.item_id
                       JOIN invoice_lines sl ON sl.id = ci.source_line_id
                       JOIN invoices src ON src.id = sl.invoice_id
                       LEFT JOIN invoices rf ON rf.id = t.returned_from
                      WHERE ci.credit_line_id = :il ORDER BY ci.date, ci.item_id"""
        elif status == "cancelled" and milestones:
            sql = f"""SELECT c.item_id AS id, c.date, c.amount, c.item_amount, c.name, c.percent, 1 AS ready,
                             CASE WHEN {self._SPLIT.format(kind="m", item="c.item_id")}
                                  THEN {self._SHARE_NOW.format(kind="m", item="c.item_id")} ELSE i.number END AS invoice,
                             i.status AS invoice_status, {INVOICES_OF.format(kind="m", item="c.item_id")} AS invoices
                        FROM cancelled_items c LEFT JOIN schedules m ON m.id = c.item_id
                        LEFT JOIN invoice_lines il ON il.id = m.invoice_line_id
                        LEFT JOIN invoices i ON i.id = il.invoice_id
                       WHERE c.invoice_line_id = :il ORDER BY c.date, c.item_id"""
        elif status == "cancelled":
            # c.item_id: a bare item_id in the subqueries would be their shares'.
            sql = f"""SELECT c.item_id AS id, c.date, c.amount, c.item_amount, c.type, c.quantity, c.description,
                             CASE WHEN {self._SPLIT.format(kind="t", item="c.item_id")}
                                  THEN {self._SHARE_NOW.format(kind="t", item="c.item_id")}
                                  ELSE {self._BILLED_ON.format(item="c.item_id")} END AS invoice,
                             {INVOICES_OF.format(kind="t", item="c.item_id")} AS invoices
                        FROM cancelled_items c WHERE c.invoice_line_id = :il ORDER BY c.date, c.item_id"""
        elif milestones:
            # Live ones, and those a confirmed credit note returned to the backlog.
            sql = f"""SELECT id, date, amount, item_amount, name, percent, ready, invoice, invoice_status, invoices,
                             written_off FROM (
                        SELECT m.id, m.date, x.amount, x.item_amount, m.name, m.percent, m.ready,
                               coalesce(first.number, :number) AS invoice, :status AS invoice_status,
                               {INVOICES_OF.format(kind="m", item="m.id")} AS invoices,
                               CASE WHEN {WRITTEN_OFF.format(line=":il")} THEN 1 ELSE 0 END AS written_off
                          FROM ({ON_LINES.format(lines=":il")}) x JOIN schedules m ON x.kind = 'm' AND m.id = x.item_id
                          LEFT JOIN invoice_lines fl ON fl.id = m.invoice_line_id
                          LEFT JOIN invoices first ON first.id = fl.invoice_id
                        UNION ALL
                        SELECT ci.item_id, ci.date, ci.amount,
                               coalesce((SELECT m2.amount FROM schedules m2 WHERE m2.id = ci.item_id), ci.amount),
                               ci.name, ci.percent, 1, :number, :status, NULL, 0
                          FROM credited_items ci JOIN invoice_lines cl ON cl.id = ci.credit_line_id
                          JOIN invoices cn ON cn.id = cl.invoice_id
                         WHERE ci.source_line_id = :il AND ci.kind = 'm' AND cn.status = 'confirmed'
                           AND cn.write_off = 0) AS items
                      ORDER BY date, id"""
        else:
            sql = f"""SELECT t.id, t.line_id, t.date, x.amount, x.item_amount, t.type, t.quantity, t.description,
                            t.ref, t.customer, coalesce(first.number, :number) AS invoice,
                            rf.number AS returned_from, {INVOICES_OF.format(kind="t", item="t.id")} AS invoices
                       FROM ({ON_LINES.format(lines=":il")}) x JOIN transactions t ON x.kind = 't' AND t.id = x.item_id
                       LEFT JOIN invoice_lines fl ON fl.id = t.invoice_line_id
                       LEFT JOIN invoices first ON first.id = fl.invoice_id
                       LEFT JOIN invoices rf ON rf.id = t.returned_from
                      ORDER BY t.date, t.id"""
        build = _milestone if milestones else _transaction
        return (build(row, line) for row in self._rows(sql, {"il": invoice_line_id, "number": number, "status": status}))

    def count_invoices(self, run_id: int) -> int:
        return self.conn.execute("SELECT count(*) FROM invoices WHERE run_id = ?", [run_id]).fetchone()[0]

    def set_invoice_status(self, invoice_id: int, status: str) -> None:
        self.db.execute("UPDATE invoices SET status = ?, changed_at = ? WHERE id = ?",
                        [status, clock.stamp(), invoice_id])

    def release_invoice_items(self, invoice_id: int) -> None:
        """A cancelled draft's transactions and milestones become billable again; the
        invoice keeps a record of what it held."""
        self._release_items("SELECT id FROM invoice_lines WHERE invoice_id = :invoice", {"invoice": invoice_id})

    def _release_items(self, lines: str, params: dict) -> None:
        """Release what the invoice lines `lines` selects hold, keeping a copy of it: items
        whole, and the shares of split ones (each billable again, to its customer alone)."""
        self.db.execute(
            f"""INSERT INTO cancelled_items (invoice_line_id, item_id, date, amount, type, quantity, description)
                SELECT invoice_line_id, id, date, amount, type, quantity, description
                  FROM transactions t WHERE {TRANSACTIONS_ON.format(lines=lines)}
                   AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 't' AND s.item_id = t.id)""", params)
        self.db.execute(
            f"""INSERT INTO cancelled_items (invoice_line_id, item_id, date, amount, name, percent)
                SELECT invoice_line_id, id, date, amount, name, percent
                  FROM schedules m WHERE invoice_line_id IN ({lines})
                   AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'm' AND s.item_id = m.id)""", params)
        self.db.execute(
            f"""INSERT INTO cancelled_items (invoice_line_id, item_id, date, amount, item_amount, type, quantity,
                                             description, name, percent)
                SELECT s.invoice_line_id, s.item_id, coalesce(t.date, m.date), s.amount, coalesce(t.amount, m.amount),
                       t.type, t.quantity, t.description, m.name, m.percent
                  FROM shares s
                  LEFT JOIN transactions t ON s.kind = 't' AND t.id = s.item_id
                  LEFT JOIN schedules m ON s.kind = 'm' AND m.id = s.item_id
                 WHERE s.invoice_line_id IN ({lines})""", params)
        self.db.execute(
            f"""UPDATE transactions AS t SET invoice_line_id = NULL WHERE {TRANSACTIONS_ON.format(lines=lines)}
                   AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 't' AND s.item_id = t.id)""", params)
        self.db.execute(
            f"""UPDATE schedules SET invoice_line_id = NULL WHERE invoice_line_id IN ({lines})
                   AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'm' AND s.item_id = schedules.id)""", params)
        self._release_shares(f"SELECT kind, item_id FROM shares WHERE invoice_line_id IN ({lines})",
                             f"invoice_line_id IN ({lines})", params)

    def _release_shares(self, items: str, where: str, params: dict, returned: bool = False) -> None:
        """Make billable again the shares `where` selects, of the items `items` selects
        (kind, item_id); `returned`: a credit note returned them, so they stay their
        customers' for good. Each such item stays billed on the first of its shares still
        on an invoice; one with none left, and none returned, is one item again, split when
        it is next billed."""
        self.db.execute("DROP TABLE IF EXISTS temp.released")
        self.db.execute(f"CREATE TEMP TABLE released AS {items}", params)
        self.db.execute(f"UPDATE shares SET invoice_line_id = NULL{', returned = 1' if returned else ''} WHERE {where}",
                        params)
        for kind, table in (("t", "transactions"), ("m", "schedules")):
            self.db.execute(
                f"""UPDATE {table} SET invoice_line_id = (SELECT min(s.invoice_line_id) FROM shares s
                                                             WHERE s.kind = '{kind}' AND s.item_id = {table}.id)
                     WHERE id IN (SELECT item_id FROM temp.released WHERE kind = '{kind}')""")
        self.db.execute(
            """DELETE FROM shares WHERE (kind, item_id) IN (SELECT kind, item_id FROM temp.released)
                 AND NOT EXISTS (SELECT 1 FROM shares x WHERE x.kind = shares.kind AND x.item_id = shares.item_id
                                   AND (x.invoice_line_id IS NOT NULL OR x.returned = 1))""")

    def choose_numbers(self, numbers: list[str]) -> list[dict]:
        """Put the invoices named into temp.chosen; each number given, in order, with the
        id and status of its invoice (None: no such invoice)."""
        self._new_chosen()
        given = json.dumps(numbers)
        found = list(self._rows(
            f"""SELECT k.value AS number, i.id, i.status FROM {self.sql.json_list('?', 'k')}
                 LEFT JOIN invoices i ON i.number = k.value ORDER BY k.key""", [given]))
        # WHERE true: SQLite would read ON CONFLICT as the join's.
        self.db.execute(f"""INSERT INTO temp.chosen SELECT i.id FROM {self.sql.json_list('?', 'k')}
                              JOIN invoices i ON i.number = k.value WHERE true ON CONFLICT DO NOTHING""", [given])
        return found

    def choose_drafts(self, contract_id: int | None, run_id: int | None, run_date: date | None,
                      type_: str | None) -> None:
        """Put every draft that all the filters given select into temp.chosen."""
        self._new_chosen()
        self.db.execute(
            """INSERT INTO temp.chosen SELECT id FROM invoices
                WHERE status = 'draft' AND (:contract IS NULL OR contract_id = :contract)
                  AND (:run IS NULL OR run_id = :run) AND (:run_date IS NULL OR run_date = :run_date)
                  AND (:type IS NULL OR type = :type)""",
            {"contract": contract_id, "run": run_id, "run_date": _iso(run_date), "type": type_})

    def _new_chosen(self) -> None:
        self.db.execute("DROP TABLE IF EXISTS temp.chosen")
        self.db.execute("CREATE TEMP TABLE chosen (id INTEGER PRIMARY KEY)")

    def count_chosen(self) -> int:
        return self.conn.execute("SELECT count(*) FROM temp.chosen").fetchone()[0]

    def chosen_issued_too_early(self, issue_date: date) -> dict | None:
        """The first chosen invoice that an issue date of `issue_date` would precede: its
        run date, or for a credit note the issue date of the invoice it corrects."""
        return self._one(
            """SELECT i.number, i.type, i.run_date, cr.number AS credits, cr.issue_date AS credits_issued
                 FROM temp.chosen ch JOIN invoices i ON i.id = ch.id LEFT JOIN invoices cr ON cr.id = i.credits_id
                WHERE (i.type = 'invoice' AND i.run_date > :issue) OR (i.type = 'credit-note' AND cr.issue_date > :issue)
                ORDER BY i.id LIMIT 1""", {"issue": issue_date.isoformat()})

    def confirm_chosen(self, issue_date: date) -> None:
        """Confirm the chosen drafts, issued on `issue_date`, due after their payment terms:
        the customer's record's, else the seller's, else 30 days (section 8), the one place
        they come from; each keeps both parties' records as they are now, for its documents.
        Then what their credit notes credit returns to the backlog."""
        self.db.execute(
            f"""UPDATE invoices SET status = 'confirmed', changed_at = :now, issue_date = :issue,
                       due_date = {self.sql.add_days(":issue", f"coalesce(cu.payment_terms_days, s.payment_terms_days, "
                                                                       f"{DEFAULT_PAYMENT_TERMS_DAYS})")},
                       parties = {parties_snapshot(self.sql)}
                  FROM temp.chosen ch JOIN invoices i ON i.id = ch.id
                  LEFT JOIN customers cu ON cu.name = i.customer
                  LEFT JOIN seller s ON s.id = 1
                 WHERE invoices.id = ch.id""",
            {"now": clock.stamp(), "issue": issue_date.isoformat()})
        # A run with a confirmed invoice can never be undone, nor any run before it.
        self.db.execute("""DELETE FROM run_moves WHERE run_id <= (SELECT max(run_id) FROM invoices
                             WHERE id IN (SELECT id FROM temp.chosen))""")

    # What the chosen credit notes (not written off) credit: transactions in the credit
    # notes' order and their details' order, with what each was billed.
    _RETURNING = """FROM temp.chosen ch
                    JOIN invoices cn ON cn.id = ch.id AND cn.type = 'credit-note' AND cn.write_off = 0
                    JOIN invoice_lines cl ON cl.invoice_id = cn.id
                    JOIN credited_items ci ON ci.credit_line_id = cl.id"""

    def chosen_credited_transactions(self) -> list[dict]:
        """Each with the whole transaction's amount (`billed`), and the customer it goes
        back to alone where the invoice billed a share of it or billed it to that customer
        alone (else None)."""
        return list(self._rows(
            f"""SELECT cn.id AS credit_note, ci.amount AS credited, t.line_id, t.date, t.amount AS billed, t.type,
                       t.quantity, t.description,
                       CASE WHEN t.customer IS NOT NULL
                                 OR EXISTS (SELECT 1 FROM shares s WHERE s.kind = 't' AND s.item_id = t.id
                                               AND s.invoice_line_id = ci.source_line_id)
                            THEN cn.customer END AS customer
                  {self._RETURNING} JOIN transactions t ON t.id = ci.item_id
                 WHERE ci.kind = 't' ORDER BY cn.id, cl.line_id, ci.date, ci.item_id"""))

    def add_returned_transactions(self, rows: list[tuple]) -> None:
        """Insert (line_id, date, amount, type, quantity, description, returned_from, customer) rows, in order."""
        if rows:
            self.conn.execute(_insert_each(self.sql, "transactions", TRANSACTION_COLUMNS + ", returned_from, customer"),
                              [json.dumps(rows)])

    def return_chosen_milestones(self) -> None:
        """The milestones the chosen credit notes credit are ready to invoice again: whole,
        or the share credited, to its customer alone."""
        self.db.execute(
            f"""UPDATE schedules SET invoice_line_id = NULL, ready = 1
                  FROM (SELECT ci.item_id, ci.source_line_id {self._RETURNING} WHERE ci.kind = 'm') r
                 WHERE schedules.id = r.item_id AND schedules.invoice_line_id = r.source_line_id
                   AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'm' AND s.item_id = schedules.id)""")
        credited = f"SELECT 'm' AS kind, ci.item_id, ci.source_line_id {self._RETURNING} WHERE ci.kind = 'm'"
        self._release_shares(
            f"SELECT kind, item_id FROM ({credited}) AS credited",
            f"kind = 'm' AND (item_id, invoice_line_id) IN (SELECT item_id, source_line_id FROM ({credited}) AS credited)",
            {},
            returned=True)

    def invoice_items(self, invoice_id: int) -> list[dict]:
        """Every item the invoice billed, in its details' order, with what it billed and
        what its credit notes not cancelled credit of it: (kind, item_id, line_id,
        source_line_id, billed, credited, date, name, percent)."""
        credited = """coalesce((SELECT sum(ci.amount) FROM credited_items ci
                         JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                        WHERE cn.credits_id = :invoice AND cn.status != 'cancelled'
                          AND ci.kind = {kind} AND ci.item_id = {item}), 0)"""
        return list(self._rows(
            f"""SELECT * FROM (
                  SELECT x.kind, x.item_id, il.line_id, il.id AS source_line_id, x.amount AS billed,
                         {credited.format(kind="x.kind", item="x.item_id")} AS credited, coalesce(t.date, m.date) AS date,
                         m.name, m.percent
                    FROM ({ON_LINES.format(lines="SELECT id FROM invoice_lines WHERE invoice_id = :invoice")}) x
                    JOIN invoice_lines il ON il.id = x.invoice_line_id
                    LEFT JOIN transactions t ON x.kind = 't' AND t.id = x.item_id
                    LEFT JOIN schedules m ON x.kind = 'm' AND m.id = x.item_id
                  UNION ALL
                  SELECT DISTINCT 'm', ci.item_id, il.line_id, il.id, ci.amount, ci.amount, ci.date, ci.name, ci.percent
                    FROM invoice_lines il JOIN credited_items ci ON ci.source_line_id = il.id AND ci.kind = 'm'
                    JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                   WHERE il.invoice_id = :invoice AND cn.status = 'confirmed' AND cn.write_off = 0) AS items
                ORDER BY line_id, date, item_id""", {"invoice": invoice_id}))

    def add_credit_note(self, invoice: dict, items: list[tuple], write_off: bool, reason: str | None) -> str:
        """A draft credit note for `invoice` (an invoice_row), in its own number series,
        crediting (kind, item_id, line_id, source_line_id, amount, date, name, percent)
        items: one line per contract line, at minus what it credits, with the tax its
        invoice line has."""
        value = self._one("SELECT value FROM counters WHERE name = 'credit_note_number'", [])["value"] + 1
        self.db.execute("UPDATE counters SET value = ? WHERE name = 'credit_note_number'", [value])
        number = f"CRN-{value:06d}"
        note_id = self.conn.execute(
            """INSERT INTO invoices (number, contract_id, customer, run_date, status, run_id, created_at, type,
                                     credits_id, write_off, reason)
               VALUES (?, ?, ?, ?, 'draft', NULL, ?, 'credit-note', ?, ?, ?) RETURNING id""",
            [number, invoice["contract_id"], invoice["customer"], invoice["run_date"], clock.stamp(), invoice["id"],
             int(write_off), reason]).fetchall()[0][0]
        by_line: dict[int, list[tuple]] = {}
        for item in items:
            by_line.setdefault(item[2], []).append(item)
        for line_id in sorted(by_line):
            credited = by_line[line_id]
            credit_line = self.conn.execute(
                """INSERT INTO invoice_lines (invoice_id, line_id, name, amount, items, tax_category, tax_rate,
                                              tax_exemption_reason)
                   SELECT ?, il.line_id, il.name, ?, ?, il.tax_category, il.tax_rate, il.tax_exemption_reason
                     FROM invoice_lines il WHERE il.id = ? RETURNING id""",
                [note_id, -sum(i[4] for i in credited), len(credited), credited[0][3]]).fetchall()[0][0]
            self.conn.executemany(
                """INSERT INTO credited_items (credit_line_id, kind, item_id, amount, source_line_id, date, name, percent)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [(credit_line, kind, item_id, amount, source, when, name, percent)
                 for kind, item_id, _, source, amount, when, name, percent in credited])
        return number

    def handed_over(self, numbers: list[str], fmt: str) -> set[str]:
        """The numbers among `numbers` that an `export --new` in FMT handed over before."""
        return {row[0] for row in self.conn.execute(
            f"""SELECT i.number FROM {self.sql.json_list('?', 'n')} JOIN invoices i ON i.number = n.value
                 JOIN hand_overs h ON h.invoice_id = i.id AND h.format = ?""", [json.dumps(numbers), fmt])}

    def record_hand_over(self, numbers: list[str], fmt: str, stamp: str) -> None:
        self.conn.execute(
            f"""INSERT INTO hand_overs (invoice_id, format, handed_over_at)
               SELECT i.id, ?, ? FROM {self.sql.json_list('?', 'n')} JOIN invoices i ON i.number = n.value""",
            [fmt, stamp, json.dumps(numbers)])

    def hand_overs(self, number: str) -> dict[str, datetime]:
        """{format: when} of one document's hand-overs."""
        return {fmt: clock.from_stamp(at) for fmt, at in self.conn.execute(
            """SELECT h.format, h.handed_over_at FROM hand_overs h JOIN invoices i ON i.id = h.invoice_id
                WHERE i.number = ? ORDER BY h.format""", [number])}
