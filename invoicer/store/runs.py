"""The invoice run: staging the due run dates and the billable items, the not-to-exceed
limit, writing the invoices, the lines passed over, and run undo. Set-based: a few
statements over all due lines, never a query per line."""

from collections.abc import Iterable, Iterator
from datetime import date

from invoicer import clock
from invoicer.errors import NotFound
from invoicer.model import (
    Instance,
    Run,
    Skip,
)
from invoicer.store.connection import Connection
from invoicer.store.rows import BILLED, _date, _iso
from invoicer.tax import rate_to_store, seller_reason


class _Span:
    """A plan's pending (run date, cut-off) pairs, read once as a stream, and what they
    came to: how many, the first run date, the last run date and the latest cut-off (a
    run date of 0001-01-01 has none: there is no day before it to bill)."""

    def __init__(self, pending: Iterable[tuple[str, str | None]]):
        self.pending = pending
        self.count = 0
        self.first_run_date: str | None = None
        self.last_run_date: str | None = None
        self.last_cutoff: str | None = None

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        for day, cutoff in self.pending:
            self.count += 1
            self.first_run_date = min(self.first_run_date or day, day)
            self.last_run_date = max(self.last_run_date or day, day)
            if cutoff is not None:
                self.last_cutoff = max(self.last_cutoff or cutoff, cutoff)
            yield day, cutoff


class Runs(Connection):
    """The invoice run: its set-based statements over all due lines, its skips, its undo."""

    whole_milestones_staged = True  # set by stage_billable

    def has_run_for(self, run_date: date) -> bool:
        return bool(self._one("SELECT 1 FROM runs WHERE run_date = ? AND undone_at IS NULL", [run_date.isoformat()]))

    def latest_run_date(self) -> date | None:
        """The latest run date of a Process step not undone (an undone run is none)."""
        row = self._one("SELECT max(run_date) AS latest FROM runs WHERE undone_at IS NULL", [])
        return _date(row["latest"])

    def due_schedule_kinds(self, run_date: date) -> list[dict]:
        """The distinct (schedule, processed through) of the date-based schedules with a run
        date due by `run_date`: a book of 100,000 lines on one monthly schedule has one."""
        return list(self._rows(
            """SELECT DISTINCT s.frequency, s.rrule, s.dates, s.start, s."end", l.processed_through
                 FROM schedules s JOIN contract_lines l ON l.id = s.line_id
                WHERE s.kind = 'dates' AND s.next_run_date <= ? AND l.closed = 0""", [run_date.isoformat()]))

    def begin_run(self, instance: Instance | None, run_date: date, forced: bool) -> int:
        now = clock.stamp()
        return self.conn.execute(
            """INSERT INTO runs (instance_id, workflow, run_date, started_at, ended_at, forced)
               VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
            [instance and instance.id, instance and instance.workflow, run_date.isoformat(), now, now,
             int(forced)]).fetchall()[0][0]

    def end_run(self, run_id: int) -> None:
        self.conn.execute("UPDATE runs SET ended_at = ? WHERE id = ?", [clock.stamp(), run_id])

    def stage_due_run_dates(self, run_date: date,
                            plans: list[tuple[dict, Iterable[tuple[str, str | None]], str | None]],
                            run_id: int | None = None) -> None:
        """Stage the run's due schedules, each with its plan's (run date, cut-off) pairs,
        and move each due schedule on, recording where each stood before in `run_moves`
        (what `run undo` puts back).
        A plan is (a schedule kind from `due_schedule_kinds`, its pending (run date, cut-off)
        pairs in order, read as a stream, and its next run date after this run)."""
        for table in ("plan", "plan_dates", "due_schedules"):
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
        self.conn.execute(
            """CREATE TEMP TABLE plan (id INTEGER PRIMARY KEY, frequency TEXT, rrule TEXT, dates TEXT, start TEXT,
                   "end" TEXT, processed_through TEXT, through TEXT, next_run_date TEXT,
                   n INTEGER, first_run_date TEXT, last_cutoff TEXT)""")
        self.conn.execute(
            "CREATE TEMP TABLE plan_dates (plan_id INTEGER, run_date TEXT, cutoff TEXT, PRIMARY KEY (plan_id, run_date)) WITHOUT ROWID")
        for number, (kind, pending, following) in enumerate(plans, start=1):
            span = _Span(pending)
            self.conn.executemany("INSERT INTO temp.plan_dates VALUES (?, ?, ?)",
                                  ((number, day, cutoff) for day, cutoff in span))
            # Processed through the last pending run date, or as far as before.
            self.conn.execute(
                "INSERT INTO temp.plan VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [number, kind["frequency"], kind["rrule"], kind["dates"], kind["start"], kind["end"],
                 kind["processed_through"], span.last_run_date or kind["processed_through"], following,
                 span.count, span.first_run_date, span.last_cutoff])
        # Each due schedule, by its line (a line has one date schedule), with where it stands
        # (what run undo puts back), where this run leaves it (through, following), its
        # line's billing method and its plan's run dates in brief. A line's due run dates
        # are its plan's: temp.plan_dates holds each plan's once, not each line's.
        self.conn.execute(
            """CREATE TEMP TABLE due_schedules (line_id INTEGER PRIMARY KEY, schedule_id INTEGER, plan_id INTEGER,
                   processed_through TEXT, next_run_date TEXT, n INTEGER, first_run_date TEXT, last_cutoff TEXT,
                   through TEXT, following TEXT, billing_method TEXT)""")
        self.conn.execute(
            """INSERT INTO temp.due_schedules
               SELECT s.line_id, s.id, p.id, l.processed_through, s.next_run_date, p.n, p.first_run_date, p.last_cutoff,
                      p.through, p.next_run_date, l.billing_method
                 FROM schedules s JOIN contract_lines l ON l.id = s.line_id
                 JOIN temp.plan p ON s.frequency IS p.frequency AND s.rrule IS p.rrule AND s.dates IS p.dates
                      AND s.start IS p.start AND s."end" IS p."end" AND l.processed_through IS p.processed_through
                WHERE s.kind = 'dates' AND s.next_run_date <= ? AND l.closed = 0""", [run_date.isoformat()])
        if run_id is not None:
            self.conn.execute(
                """INSERT INTO run_moves (run_id, line_id, schedule_id, processed_through, next_run_date)
                   SELECT ?, line_id, schedule_id, processed_through, next_run_date FROM temp.due_schedules""", [run_id])
        # Each moved on; the lines looked up by their key, which is the due schedules' (no
        # join to materialise first: 0.03 s of a month-end's 200,000 lines).
        self.conn.execute(
            """UPDATE schedules SET next_run_date = ds.following
                 FROM temp.due_schedules ds WHERE schedules.id = ds.schedule_id""")
        self.conn.execute(
            """UPDATE contract_lines SET processed_through = (SELECT ds.through FROM temp.due_schedules ds
                                                                WHERE ds.line_id = contract_lines.id)
                WHERE id IN (SELECT line_id FROM temp.due_schedules)""")

    def stage_billable(self, run_date: date, latest_run_date: date | None) -> None:
        """Every item this run may bill, each with its invoice run date: unbilled
        transactions on or before a due run date's cut-off (the earliest such run date),
        and ready milestones dated on or before the run date; each whole (customer ''),
        or billed to one customer alone (a share billable again, or a transaction a credit
        note returned from a share)."""
        for table in ("billable", "held"):
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
        self.conn.execute("CREATE TEMP TABLE held (line_id INTEGER NOT NULL, item_id INTEGER NOT NULL, date TEXT NOT NULL)")
        self.conn.execute("CREATE INDEX temp.held_by_line ON held (line_id, date)")
        # `share`: 0 a whole item, 1 a share the split makes (split_billable), 2 a share
        # billable again. `customer`: '' for a whole item billed by the split in force (or
        # to the contract's customer), else the one customer it is billed to.
        self.conn.execute(
            """CREATE TEMP TABLE billable (line_id INTEGER NOT NULL, run_date TEXT NOT NULL, customer TEXT NOT NULL,
                   kind TEXT NOT NULL, item_id INTEGER NOT NULL, amount INTEGER NOT NULL,
                   share INTEGER NOT NULL, PRIMARY KEY (line_id, run_date, customer, kind, item_id)) WITHOUT ROWID""")
        run_date_of_transaction = """CASE WHEN d.n = 1 THEN d.first_run_date
                                          ELSE (SELECT min(x.run_date) FROM temp.plan_dates x
                                                 WHERE x.plan_id = d.plan_id AND x.cutoff >= t.date) END"""
        self.conn.execute(
            f"""INSERT INTO temp.billable (kind, item_id, line_id, run_date, customer, amount, share)
               SELECT 't', t.id, t.line_id, {run_date_of_transaction}, coalesce(t.customer, ''), t.amount, 0
                 FROM temp.due_schedules d JOIN transactions t ON t.line_id = d.line_id
                WHERE d.billing_method = 'time-and-material' AND t.invoice_line_id IS NULL AND t.date <= d.last_cutoff""")
        self.conn.execute(
            f"""INSERT INTO temp.billable (kind, item_id, line_id, run_date, customer, amount, share)
               SELECT 't', t.id, t.line_id, {run_date_of_transaction}, s.customer, s.amount, 2
                 FROM shares s JOIN transactions t ON t.id = s.item_id
                 JOIN temp.due_schedules d ON d.line_id = t.line_id
                WHERE s.kind = 't' AND s.invoice_line_id IS NULL AND t.date <= d.last_cutoff""")
        milestone_run_date = """CASE WHEN (:latest IS NULL OR m.date > :latest)
                                          -- a milestone a confirmed credit note returned is late
                                          AND NOT EXISTS (SELECT 1 FROM credited_items ci
                                                           WHERE ci.kind = 'm' AND ci.item_id = m.id)
                                     THEN m.date ELSE :run_date END"""
        params = {"latest": _iso(latest_run_date), "run_date": run_date.isoformat()}
        cursor = self.conn.execute(
            f"""INSERT INTO temp.billable (kind, item_id, line_id, run_date, customer, amount, share)
               SELECT 'm', m.id, m.line_id, {milestone_run_date}, '', m.amount, 0
                 FROM schedules m JOIN contract_lines l ON l.id = m.line_id AND l.billing_method = 'fixed-price'
                WHERE m.kind = 'milestone' AND m.invoice_line_id IS NULL AND m.ready = 1
                  AND m.date <= :run_date AND l.closed = 0
                  -- every share billable again, one of them its customer's for good
                  AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'm' AND s.item_id = m.id)""", params)
        # Whether whole milestones are staged: else write_invoices links none, and need not
        # look through a month-end's million transactions for them.
        self.whole_milestones_staged = self.changes(cursor) > 0
        self.conn.execute(
            f"""INSERT INTO temp.billable (kind, item_id, line_id, run_date, customer, amount, share)
               SELECT 'm', m.id, m.line_id, {milestone_run_date}, s.customer, s.amount, 2
                 FROM shares s JOIN schedules m ON m.id = s.item_id
                 JOIN contract_lines l ON l.id = m.line_id AND l.billing_method = 'fixed-price'
                WHERE s.kind = 'm' AND s.invoice_line_id IS NULL AND m.ready = 1
                  AND m.date <= :run_date AND l.closed = 0""", params)

    def lines_over_cap(self) -> list[tuple[int, int]]:
        """(line id, headroom) of the capped lines whose billable transactions add up to
        more than what their not-to-exceed limit has left."""
        # From the capped lines, each with billable transactions, to their items: a book
        # whose lines have no limit reads none of a month-end's million items here.
        rows = self._rows(
            f"""SELECT line_id, headroom FROM (
               SELECT l.id AS line_id, l.not_to_exceed - {BILLED.format(line='l.id')} AS headroom,
                      (SELECT sum(b.amount) FROM temp.billable b WHERE b.line_id = l.id AND b.kind = 't') AS wanted
                 FROM contract_lines l
                WHERE l.not_to_exceed IS NOT NULL
                  AND EXISTS (SELECT 1 FROM temp.billable b WHERE b.line_id = l.id AND b.kind = 't')) AS capped
                WHERE wanted > headroom""")
        return [(row["line_id"], row["headroom"]) for row in rows]

    def billable_transactions(self, line_id: int) -> list[tuple[int, int]]:
        """(transaction id, amount) in billing order: by transaction date, then entry. The
        limit applies to whole items: a transaction's shares billable again count as one."""
        return [(row["item_id"], row["amount"]) for row in self._rows(
            """SELECT b.item_id, sum(b.amount) AS amount FROM temp.billable b JOIN transactions t ON t.id = b.item_id
                WHERE b.kind = 't' AND b.line_id = ? GROUP BY t.date, b.item_id ORDER BY t.date, b.item_id""",
            [line_id])]

    def hold_transactions(self, line_id: int, transaction_ids: Iterable[int]) -> None:
        """Move transactions the not-to-exceed limit holds back out of the billable items."""
        held = [(line_id, i) for i in transaction_ids]
        self.conn.executemany(
            """INSERT INTO temp.held SELECT DISTINCT b.line_id, b.item_id, t.date
                 FROM temp.billable b JOIN transactions t ON t.id = b.item_id
                WHERE b.line_id = ? AND b.kind = 't' AND b.item_id = ?""", held)
        self.conn.executemany("DELETE FROM temp.billable WHERE line_id = ? AND kind = 't' AND item_id = ?", held)

    def split_billable(self) -> bool:
        """Split each whole item of a line with a split in force (the line's own, else its
        contract's) into one share per customer, in the order named: each but the rounding
        customer gets amount x percent / 100 rounded half up, no more than what those
        named before it left of the item; the rounding customer the rest. A share of zero
        is not billed. One statement over every such item; a book without splits skips it.
        Whether it made any share."""
        if not self.conn.execute("SELECT EXISTS (SELECT 1 FROM splits)").fetchone()[0]:
            return False
        self.conn.execute("DROP TABLE IF EXISTS temp.in_force")
        self.conn.execute(
            """CREATE TEMP TABLE in_force (line_id INTEGER, position INTEGER, customer TEXT, percent INTEGER,
                   rounding INTEGER, PRIMARY KEY (line_id, position)) WITHOUT ROWID""")
        self.conn.execute(
            """INSERT INTO temp.in_force
               SELECT s.line_id, s.position, s.customer, s.percent, s.rounding FROM splits s
                WHERE s.line_id IS NOT NULL
               UNION ALL
               SELECT l.id, s.position, s.customer, s.percent, s.rounding
                 FROM splits s JOIN contract_lines l ON l.contract_id = s.contract_id
                WHERE s.line_id IS NULL AND NOT EXISTS (SELECT 1 FROM splits own WHERE own.line_id = l.id)""")
        # amount x percent / 10000 in two parts, so that no product passes 2^63 (an
        # amount may be 10^15 minor units); half up: amounts are positive.
        least, greatest = self.sql.least, self.sql.greatest
        cursor = self.conn.execute(
            f"""WITH parts AS (
                   SELECT b.line_id, b.run_date, b.kind, b.item_id, b.amount, f.customer, f.rounding,
                          f.position,
                          CASE WHEN f.rounding = 1 THEN 0
                               ELSE (b.amount / 10000) * f.percent + ((b.amount % 10000) * f.percent + 5000) / 10000
                          END AS raw
                     -- In the billable items' order, each item's customers in theirs: the
                     -- windows below need no sort.
                     -- (The join's condition in WHERE: PostgreSQL takes no ON after CROSS JOIN.)
                     FROM temp.billable b CROSS JOIN temp.in_force f
                    WHERE f.line_id = b.line_id AND b.customer = ''),
               taken AS (
                   -- Both windows in one order, so that SQLite sorts the rows once.
                   SELECT parts.*,
                          coalesce(sum(raw) OVER (item ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
                          sum(raw) OVER (item ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS others
                     FROM parts
                   WINDOW item AS (PARTITION BY line_id, run_date, kind, item_id ORDER BY position)),
               cut AS (
                   SELECT line_id, run_date, customer, kind, item_id,
                          CASE WHEN rounding = 1 THEN amount - {least('amount', 'others')}
                               ELSE {greatest('0', least('raw', 'amount - before'))} END AS share
                     FROM taken)
               INSERT INTO temp.billable (line_id, run_date, customer, kind, item_id, amount, share)
               SELECT line_id, run_date, customer, kind, item_id, share, 1 FROM cut WHERE share > 0""")
        made = self.changes(cursor)
        self.conn.execute(
            """DELETE FROM temp.billable
                WHERE customer = '' AND line_id IN (SELECT line_id FROM temp.in_force)""")
        return made > 0

    def write_invoices(self, run_id: int) -> None:
        """One invoice per contract, customer and invoice run date, numbered in order of
        run date, contract name, then customer name; one invoice line per contract line;
        each item linked to it, or each share of it to its customer's."""
        split = self.split_billable()
        now = clock.stamp()
        # The billable items by line, run date and customer: the statements below join
        # these few rows, not every item.
        self.conn.execute("DROP TABLE IF EXISTS temp.groups")
        self.conn.execute(
            """CREATE TEMP TABLE groups (line_id INTEGER, run_date TEXT, key TEXT, contract_id INTEGER,
                   customer TEXT, amount INTEGER, items INTEGER, PRIMARY KEY (line_id, run_date, key)) WITHOUT ROWID""")
        self.conn.execute(
            """INSERT INTO temp.groups
               SELECT g.line_id, g.run_date, g.customer, l.contract_id,
                      CASE WHEN g.customer = '' THEN c.customer ELSE g.customer END, g.amount, g.items
                 FROM (SELECT line_id, run_date, customer, sum(amount) AS amount, count(*) AS items
                         FROM temp.billable GROUP BY line_id, run_date, customer) g
                 JOIN contract_lines l ON l.id = g.line_id JOIN contracts c ON c.id = l.contract_id""")
        # The run's invoices in the order they are numbered: by run date, contract, customer.
        self.conn.execute("DROP TABLE IF EXISTS temp.numbering")
        self.conn.execute(
            "CREATE TEMP TABLE numbering (position INTEGER PRIMARY KEY, contract_id INTEGER, customer TEXT, run_date TEXT)")
        order = "k.run_date, c.name, k.customer"
        self.conn.execute(
            f"""INSERT INTO temp.numbering
               SELECT {self.sql.position_in(order)}, k.contract_id, k.customer, k.run_date
                 FROM (SELECT DISTINCT contract_id, customer, run_date FROM temp.groups) k
                 JOIN contracts c ON c.id = k.contract_id
                ORDER BY {order}""")
        base = self._one("SELECT value FROM counters WHERE name = 'invoice_number'", [])["value"]
        self.conn.execute(
            f"""INSERT INTO invoices (number, contract_id, customer, run_date, status, run_id, created_at)
               SELECT {self.sql.numbered('INV-', ':base + position')}, contract_id, customer, run_date, 'draft', :run_id, :now
                 FROM temp.numbering ORDER BY position""",
            {"base": base, "run_id": run_id, "now": now})
        self.conn.execute(
            "UPDATE counters SET value = value + (SELECT count(*) FROM invoices WHERE run_id = ?) WHERE name = 'invoice_number'",
            [run_id])
        # This run's invoices by their key: the joins below look each group's up here.
        self.conn.execute("DROP TABLE IF EXISTS temp.made")
        self.conn.execute(
            """CREATE TEMP TABLE made (contract_id INTEGER, run_date TEXT, customer TEXT, id INTEGER,
                                        PRIMARY KEY (contract_id, run_date, customer)) WITHOUT ROWID""")
        self.conn.execute("INSERT INTO temp.made SELECT contract_id, run_date, customer, id FROM invoices WHERE run_id = ?",
                        [run_id])
        # Each invoice line keeps the tax its contract line has now, else the seller's.
        seller = self.seller()
        self.conn.execute(
            """INSERT INTO invoice_lines (invoice_id, line_id, name, amount, items,
                                          tax_category, tax_rate, tax_exemption_reason)
               SELECT i.id, l.id, l.name, sum(g.amount), sum(g.items),
                      coalesce(l.tax_category, :seller_category),
                      CASE WHEN l.tax_category IS NULL THEN :seller_rate ELSE l.tax_rate END,
                      CASE WHEN l.tax_category IS NULL THEN :seller_reason ELSE l.tax_exemption_reason END
                 FROM temp.groups g
                 JOIN contract_lines l ON l.id = g.line_id
                 JOIN temp.made i ON i.contract_id = g.contract_id AND i.run_date = g.run_date AND i.customer = g.customer
                -- l.id (= g.line_id): the contract line's key, that its columns depend on
                GROUP BY i.id, l.id ORDER BY i.id, l.id""",
            {"seller_category": seller.tax_category, "seller_rate": rate_to_store(seller.tax_rate),
             "seller_reason": seller_reason(seller.tax_category)})
        self.conn.execute("DROP TABLE IF EXISTS temp.placed")
        self.conn.execute(
            """CREATE TEMP TABLE placed (line_id INTEGER, run_date TEXT, key TEXT, invoice_line_id INTEGER,
                                          PRIMARY KEY (line_id, run_date, key)) WITHOUT ROWID""")
        self.conn.execute(
            """INSERT INTO temp.placed SELECT g.line_id, g.run_date, g.key, il.id
                 FROM temp.groups g
                 JOIN temp.made i ON i.contract_id = g.contract_id AND i.run_date = g.run_date AND i.customer = g.customer
                 JOIN invoice_lines il ON il.invoice_id = i.id AND il.line_id = g.line_id""")
        placed = """FROM temp.billable b JOIN temp.placed p
                         ON p.line_id = b.line_id AND p.run_date = b.run_date AND p.key = b.customer"""
        linked = [("t", "transactions")] + ([("m", "schedules")] if self.whole_milestones_staged else [])
        for kind, table in linked:
            self.conn.execute(
                f"""UPDATE {table} SET invoice_line_id = p.invoice_line_id {placed}
                     WHERE b.kind = '{kind}' AND b.share = 0 AND {table}.id = b.item_id""")
        # No share made, and none billable again (an index of those): no shares to write.
        if not split and not self.conn.execute(
                "SELECT EXISTS (SELECT 1 FROM shares WHERE invoice_line_id IS NULL)").fetchone()[0]:
            return
        # Shares: each on its customer's line; the item is billed, on the first of them.
        self.conn.execute(
            f"""INSERT INTO shares (kind, item_id, customer, amount, invoice_line_id)
                SELECT b.kind, b.item_id, b.customer, b.amount, p.invoice_line_id {placed} WHERE b.share = 1""")
        self.conn.execute(
            f"""UPDATE shares SET invoice_line_id = p.invoice_line_id {placed}
                 WHERE b.share = 2 AND shares.kind = b.kind AND shares.item_id = b.item_id
                   AND shares.customer = b.customer""")
        for kind, table in (("t", "transactions"), ("m", "schedules")):
            self.conn.execute(
                f"""UPDATE {table} SET invoice_line_id = (SELECT min(s.invoice_line_id) FROM shares s
                                                             WHERE s.kind = '{kind}' AND s.item_id = {table}.id)
                     WHERE id IN (SELECT item_id FROM temp.billable WHERE kind = '{kind}' AND share != 0)""")

    # Why a line is passed over, as (line_id, reason, run_date, detail) rows. These need
    # only the book, so `doctor` forecasts them too; run them after the items are linked.
    _STANDING_SKIPS = (
        # A time-and-material line needs a date-based invoice schedule.
        """SELECT l.id, 'no-schedule', NULL, NULL FROM contract_lines l
            WHERE l.billing_method = 'time-and-material' AND l.closed = 0
              AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.line_id = l.id AND s.kind = 'dates')""",
        # A fixed-price line needs milestones.
        """SELECT l.id, 'no-milestones', NULL, NULL FROM contract_lines l
            WHERE l.billing_method = 'fixed-price' AND l.closed = 0
              AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.line_id = l.id AND s.kind = 'milestone')""",
        """SELECT m.line_id, 'milestone-not-ready', :run_date,
                  group_concat(m.name || ' (' || m.date || ')', ', ')
             FROM schedules m JOIN contract_lines l ON l.id = m.line_id AND l.closed = 0
            WHERE m.kind = 'milestone' AND m.invoice_line_id IS NULL AND m.ready = 0 AND m.date <= :run_date
            GROUP BY m.line_id""",
        # Unbilled transactions on a line whose schedule has no run date left.
        """SELECT s.line_id, 'schedule-ended', NULL,
                  count(*) || ' unbilled transaction(s) and no invoice run date left'
             FROM schedules s JOIN transactions t ON t.line_id = s.line_id AND t.invoice_line_id IS NULL
             JOIN contract_lines l ON l.id = s.line_id AND l.closed = 0
            WHERE s.kind = 'dates' AND s.next_run_date IS NULL
            GROUP BY s.line_id""",
    )

    # ... and those that only this run's staged items tell.
    _RUN_SKIPS = (
        # A run date with nothing to bill, and nothing held back by the limit either (the
        # billable items' groups, a fifth of their number at a month-end, tell).
        """SELECT d.line_id, 'no-transactions', pd.run_date, NULL
             FROM temp.due_schedules d JOIN temp.plan_dates pd ON pd.plan_id = d.plan_id
            WHERE d.billing_method = 'time-and-material'
              AND NOT EXISTS (SELECT 1 FROM temp.groups g
                               WHERE g.line_id = d.line_id AND g.run_date = pd.run_date)
              AND NOT EXISTS (SELECT 1 FROM temp.held h WHERE h.line_id = d.line_id AND h.date <= pd.cutoff)""",
        # Each run date at which a held-back transaction was waiting, as a daily run would say.
        """SELECT h.line_id, 'over-not-to-exceed', pd.run_date,
                  count(*) || ' transaction(s) held back by the not-to-exceed limit'
             FROM temp.held h JOIN temp.due_schedules d ON d.line_id = h.line_id
             JOIN temp.plan_dates pd ON pd.plan_id = d.plan_id AND h.date <= pd.cutoff
            GROUP BY h.line_id, pd.run_date""",
    )

    def write_skips(self, run_id: int, run_date: date) -> None:
        """The lines batch invoicing passed over in this run, and why: one record a line,
        reason and detail, with the first and last run date it covers and their count."""
        params = {"run_id": run_id, "run_date": run_date.isoformat()}
        for select in self._STANDING_SKIPS + self._RUN_SKIPS:
            self.conn.execute(
                f"""WITH k (line_id, reason, run_date, detail) AS ({select})
                    INSERT INTO run_skips (run_id, line_id, reason, run_date, detail, last_run_date, count)
                    SELECT :run_id, line_id, reason, min(run_date), detail, max(run_date), count(*)
                      FROM k GROUP BY line_id, reason, detail""",
                params)

    def standing_skips(self, run_date: date) -> list[Skip]:
        """The lines a run for `run_date` would pass over whatever it stages."""
        union = " UNION ALL ".join(f"SELECT * FROM ({select}) AS s{n}" for n, select in enumerate(self._STANDING_SKIPS))
        return [
            Skip(line_id=r[0], contract=r[5], name=r[4], reason=r[1], run_date=_date(r[2]), detail=r[3],
                 last_run_date=_date(r[2]))
            for r in self.conn.execute(
                f"""WITH k (line_id, reason, run_date, detail) AS ({union})
                    SELECT k.*, l.name, c.name FROM k
                      JOIN contract_lines l ON l.id = k.line_id JOIN contracts c ON c.id = l.contract_id
                     ORDER BY c.name, k.line_id""", {"run_date": run_date.isoformat()})
        ]

    def run_skips(self, run_id: int, line_id: int | None = None) -> list[Skip]:
        return list(self.iter_run_skips(run_id, line_id))

    def iter_run_skips(self, run_id: int, line_id: int | None = None) -> Iterator[Skip]:
        """The lines the run passed over (only `line_id`'s, if given), read one at a time."""
        for r in self._rows(
                """SELECT s.*, l.name, c.name AS contract FROM run_skips s
                     JOIN contract_lines l ON l.id = s.line_id JOIN contracts c ON c.id = l.contract_id
                    WHERE s.run_id = :run_id AND (:line_id IS NULL OR s.line_id = :line_id)
                    ORDER BY c.name, s.line_id, s.run_date""", {"run_id": run_id, "line_id": line_id}):
            yield Skip(line_id=r["line_id"], contract=r["contract"], name=r["name"], reason=r["reason"],
                       run_date=_date(r["run_date"]), detail=r["detail"], last_run_date=_date(r["last_run_date"]),
                       count=r["count"])

    def run(self, run_id: int) -> Run:
        found = self.runs(run_id=run_id)
        if not found:
            raise NotFound(f"run_id: no run with id {run_id} (see `invoicer run list`)")
        return found[0]

    def runs(self, limit: int | None = None, run_id: int | None = None) -> list[Run]:
        if run_id is not None:
            rows = list(self._rows("SELECT * FROM runs WHERE id = ?", [run_id]))
        else:
            rows = list(self._rows(
                "SELECT * FROM runs ORDER BY id DESC" + (" LIMIT ?" if limit else ""), [limit] if limit else []))
        return [
            Run(id=r["id"], run_date=date.fromisoformat(r["run_date"]),
                started_at=clock.from_stamp(r["started_at"]), ended_at=clock.from_stamp(r["ended_at"]),
                forced=bool(r["forced"]), workflow=r["workflow"], undone=r["undone_at"] is not None,
                invoices=tuple(x["number"] for x in self._rows(
                    "SELECT number FROM invoices WHERE run_id = ? ORDER BY id", [r["id"]])),
                skipped=tuple(self.run_skips(r["id"])))
            for r in reversed(rows)
        ]

    def run_row(self, run_id: int) -> dict:
        row = self._one("SELECT * FROM runs WHERE id = ?", [run_id])
        if row is None:
            raise NotFound(f"run_id: no run with id {run_id} (see `invoicer run list`)")
        return row

    def latest_run_id(self) -> int | None:
        """The run `run undo` may take back: the latest one not undone."""
        return self.conn.execute("SELECT max(id) FROM runs WHERE undone_at IS NULL").fetchone()[0]

    def first_confirmed_of_run(self, run_id: int) -> str | None:
        row = self._one("SELECT number FROM invoices WHERE run_id = ? AND status = 'confirmed' ORDER BY id LIMIT 1",
                        [run_id])
        return row and row["number"]

    def undo_run(self, run_id: int) -> list[dict]:
        """Cancel the run's drafts (what they billed becomes billable again), put each line
        it moved back where it stood, and mark it undone. Returns the lines whose date
        schedule was replaced since (line_id, processed_through, and the schedule's row):
        their next run date is the caller's to work out."""
        params = {"run": run_id, "now": clock.stamp()}
        self._release_items(
            """SELECT il.id FROM invoice_lines il JOIN invoices i ON i.id = il.invoice_id
                WHERE i.run_id = :run AND i.status = 'draft'""", params)
        self.conn.execute("UPDATE invoices SET status = 'cancelled', changed_at = :now WHERE run_id = :run AND status = 'draft'",
                        params)
        self.conn.execute(
            """UPDATE contract_lines SET processed_through = m.processed_through
                 FROM run_moves m WHERE m.run_id = :run AND contract_lines.id = m.line_id""", params)
        self.conn.execute(
            """UPDATE schedules SET next_run_date = m.next_run_date
                 FROM run_moves m WHERE m.run_id = :run AND schedules.id = m.schedule_id""", params)
        replaced = list(self._rows(
            """SELECT s.*, m.processed_through FROM run_moves m
                 JOIN schedules s ON s.line_id = m.line_id AND s.kind = 'dates' AND s.id != m.schedule_id
                WHERE m.run_id = :run""", params))
        self.conn.execute("DELETE FROM run_moves WHERE run_id = :run", params)
        self.conn.execute("UPDATE runs SET undone_at = :now WHERE id = :run", params)
        return replaced
