"""Rows of the store made into the model: dates, money, records; and helpers of its SQL."""

from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import chain

from invoicer import clock
from invoicer.model import (
    Customer,
    DateSchedule,
    Instance,
    Job,
    Line,
    Milestone,
    Seller,
    Transaction,
)
from invoicer.money import from_minor
from invoicer.store.postgres_schema import INTEGER_COLUMNS
from invoicer.tax import rate_from_store

_DATE_SCHEDULE_COLUMNS = 'line_id, kind, frequency, rrule, dates, start, "end", next_run_date'


def _date_schedule_values(line_id: int, schedule: DateSchedule, next_run_date: date | None) -> tuple:
    return (line_id, "dates", schedule.frequency, schedule.rrule,
            ",".join(d.isoformat() for d in schedule.dates) or None,
            _iso(schedule.start), _iso(schedule.end), _iso(next_run_date))


def _json_values(sql, table: str, columns: str, first: int = 0, row: str = "value") -> str:
    """The values of a row of `sql.json_rows` for SELECT, typed as `table`'s `columns`
    (a comma-separated list) are: for SQLite json_extract (not ->>, which needs SQLite 3.38)."""
    integers = INTEGER_COLUMNS.get(table, frozenset())
    names = [name.strip().strip('"') for name in columns.split(",")]
    return ", ".join(sql.item(row, first + i, "int" if name in integers else "text") for i, name in enumerate(names))


def _insert_each(sql, table: str, columns: str) -> str:
    """Insert the rows of a JSON array (the one parameter) in order, in one statement: how
    imports write a batch of thousands. A fifth faster than executemany, which binds each
    row's parameters one by one."""
    return (f"INSERT INTO {table} ({columns}) SELECT {_json_values(sql, table, columns, row='k.value')} "
            f"FROM {sql.json_rows('?')} ORDER BY k.key")


def _insert_rows(store, table: str, columns: str, rows: list[tuple]) -> None:
    """Insert rows (tuples, a value for each column) in order, a few thousand a statement
    of many rows of VALUES (as many as the store takes parameters): SQLite binds them in C, with
    no JSON to build nor parse, which makes the transaction import's write a third cheaper
    than _insert_each's."""
    width = columns.count(",") + 1
    per = max(1, store.max_parameters() // width)
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        store.conn.execute(_values_statement(table, columns, width, len(chunk)), list(chain.from_iterable(chunk)))


@lru_cache(maxsize=16)
def _values_statement(table: str, columns: str, width: int, count: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([row] * count)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _job(row: dict) -> Job:
    return Job(id=row["id"], name=row["name"], job_type=row["job_type"], frequency=row["frequency"],
               active=bool(row["active"]))


def _instance(row: dict) -> Instance:
    return Instance(id=row["id"], job_id=row["job_id"], job_name=row["job_name"],
                    job_active=bool(row["job_active"]), workflow=row["workflow"],
                    running=row["state"] == "running", started_at=clock.from_stamp(row["started_at"]),
                    last_end=clock.from_stamp(row["last_end"]))


def _line(row: tuple) -> Line:
    """A Line from a row of Store._LINE."""
    (line_id, contract, customer, currency, name, billing_method, amount, not_to_exceed, project,
     tax_category, tax_rate, tax_exemption_reason, closed) = row
    return Line(line_id, contract, customer, currency, name, billing_method,
                None if amount is None else from_minor(amount, currency),
                None if not_to_exceed is None else from_minor(not_to_exceed, currency), project,
                tax_category, rate_from_store(tax_rate), tax_exemption_reason, bool(closed))


def _seller(row: tuple) -> Seller:
    *values, rate = row
    return Seller(*values, rate_from_store(rate))


def _milestone(row: dict, line: Line) -> Milestone:
    return Milestone(
        id=row["id"], line=line, name=row["name"], date=date.fromisoformat(row["date"]),
        amount=from_minor(row["amount"], line.currency),
        percent=None if row["percent"] is None else Decimal(row["percent"]),
        ready=bool(row["ready"]), invoice=row["invoice"], invoice_status=row["invoice_status"],
        written_off=bool(row.get("written_off")), credit_notes=_numbers(row.get("credit_notes")),
        invoices=_invoices(row), item_amount=_item_amount(row, line),
    )


def _transaction(row: dict, line: Line) -> Transaction:
    return Transaction(
        id=row["id"], line=line, date=date.fromisoformat(row["date"]),
        amount=from_minor(row["amount"], line.currency), type=row["type"],
        quantity=None if row["quantity"] is None else Decimal(row["quantity"]),
        description=row["description"], invoice=row["invoice"], returned_from=row.get("returned_from"),
        credit_notes=_numbers(row.get("credit_notes")), ref=row.get("ref"),
        invoices=_invoices(row), item_amount=_item_amount(row, line), customer=row.get("customer"),
    )


def _invoices(row: dict) -> tuple[str, ...]:
    """The invoices an item has shares on, from INVOICES_OF; else the one it is on."""
    if row.get("invoices"):
        return tuple(row["invoices"].split(","))
    return (row["invoice"],) if row.get("invoice") else ()


def _item_amount(row: dict, line: Line):
    whole = row.get("item_amount")
    return from_minor(row["amount"] if whole is None else whole, line.currency)


def _numbers(text: str | None) -> tuple[str, ...]:
    return tuple(sorted(set(text.split(",")))) if text else ()


def schedule_from_row(row: dict) -> DateSchedule:
    return DateSchedule(
        frequency=row["frequency"], rrule=row["rrule"],
        dates=tuple(date.fromisoformat(d) for d in row["dates"].split(",")) if row["dates"] else (),
        start=_date(row["start"]), end=_date(row["end"]),
    )


# SQL that several areas share.

# The fields of a Line, in its order: rows are made Lines positionally, as imports fetch
# many at a time.
LINE_FIELDS = ("l.id, c.name, c.customer, c.currency, l.name, l.billing_method, l.amount, l.not_to_exceed, "
                "l.project, l.tax_category, l.tax_rate, l.tax_exemption_reason, l.closed")


LINE = f"SELECT {LINE_FIELDS} FROM contract_lines l JOIN contracts c ON c.id = l.contract_id"


# What the line named by {line} has billed on invoices not cancelled, less what its
# confirmed credit notes credited (their lines are negative): what its not-to-exceed
# limit counts.
BILLED = """coalesce((SELECT sum(il.amount) FROM invoice_lines il JOIN invoices i ON i.id = il.invoice_id
                      WHERE il.line_id = {line} AND i.status != 'cancelled'
                        AND (i.type = 'invoice' OR i.status = 'confirmed')), 0)"""


def parties_snapshot(sql) -> str:
    """The parties' records as an invoice's confirmation keeps them: JSON objects of their
    columns as stored (a rate in hundredths), as text for the `parties` column of `invoices`."""
    seller = sql.json_object(", ".join(f"'{c}', s.{c}" for c in Seller._fields))
    customer = sql.json_object(", ".join(f"'{c}', cu.{c}" for c in Customer._fields))
    return sql.json_text(sql.json_object(f"'seller', CASE WHEN s.id IS NULL THEN NULL ELSE {seller} END, "
                                         f"'customer', CASE WHEN cu.name IS NULL THEN NULL ELSE {customer} END"))


TRANSACTION_COLUMNS = "line_id, date, amount, type, quantity, description"

# Whether a confirmed write-off credit note credits the milestone m as the invoice line
# {line} billed it.
WRITTEN_OFF = """EXISTS (SELECT 1 FROM credited_items ci
                           JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                          WHERE ci.kind = 'm' AND ci.item_id = m.id AND ci.source_line_id = {line}
                            AND cn.status = 'confirmed' AND cn.write_off = 1)"""

# The invoices not cancelled that bill a share of the item {item} of kind {kind}, in
# invoice order, comma-separated (NULL: none, or the item is not split).
INVOICES_OF = """(SELECT group_concat(number, ',') FROM (
                     SELECT x.number FROM shares s JOIN invoice_lines xl ON xl.id = s.invoice_line_id
                       JOIN invoices x ON x.id = xl.invoice_id
                      WHERE s.kind = '{kind}' AND s.item_id = {item} ORDER BY x.id) AS billing)"""

# The transactions t that the invoice lines {lines} selects bill (whole, or on the first
# of their shares). An invoice line bills its contract line's transactions alone, so they
# are looked up by line (transactions_by_line): a run links a million transactions to their
# invoice lines, and no index of them by invoice line is kept up as it does (schema 11).
TRANSACTIONS_ON = "t.line_id IN (SELECT line_id FROM invoice_lines WHERE id IN ({lines})) AND t.invoice_line_id IN ({lines})"

# What the invoice lines that {lines} selects bill, item by item: (invoice_line_id, kind,
# item_id, amount: the item's share, item_amount: the whole item). An item not split is
# on its line whole; a split one has a share on each of its customers' lines.
ON_LINES = f"""SELECT t.invoice_line_id, 't' AS kind, t.id AS item_id, t.amount, t.amount AS item_amount
                FROM transactions t
               WHERE {TRANSACTIONS_ON}
                 AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 't' AND s.item_id = t.id)
              UNION ALL
              SELECT m.invoice_line_id, 'm', m.id, m.amount, m.amount
                FROM schedules m
               WHERE m.invoice_line_id IN ({{lines}})
                 AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.kind = 'm' AND s.item_id = m.id)
              UNION ALL
              SELECT s.invoice_line_id, s.kind, s.item_id, s.amount, coalesce(t.amount, m.amount)
                FROM shares s
                LEFT JOIN transactions t ON s.kind = 't' AND t.id = s.item_id
                LEFT JOIN schedules m ON s.kind = 'm' AND m.id = s.item_id
               WHERE s.invoice_line_id IN ({{lines}})"""
