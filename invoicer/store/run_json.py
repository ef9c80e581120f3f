"""The run's invoices as JSON text, built by SQLite: what `run-once --json` prints of a
month-end (100,000 invoices) without a Python object per invoice, line or amount.

The one place where the store writes output, and why: building each invoice's record,
its Decimals and then its dict costs 30 times what SQLite takes to write the same text.
The text is render.invoice_json's (section 5's shape, section 8's tax), and
tests/test_run_output.py holds the two to the same keys, order and values: the money as
money.format_minor writes it, the rates as tax.format_rate, the tax groups as
tax.breakdown makes and orders them."""

from collections.abc import Iterator

from invoicer.money import MINOR_DIGITS
from invoicer.store.connection import Connection


def _money(minor: str, digits: str = "d.digits", unit: str = "d.unit") -> str:
    """SQL: integer minor units as their currency's text ('1500.00'; '1500' in JPY)."""
    return (f"CASE WHEN {digits} = 0 THEN CAST({minor} AS TEXT) "
            f"ELSE printf('%s%d.%0*d', CASE WHEN {minor} < 0 THEN '-' ELSE '' END, "
            f"abs({minor}) / {unit}, {digits}, abs({minor}) % {unit}) END")


def _rate(hundredths: str) -> str:
    """SQL: a rate kept in hundredths of a percent, as text with two decimals ('19.00')."""
    return f"CASE WHEN {hundredths} IS NOT NULL THEN printf('%d.%02d', {hundredths} / 100, {hundredths} % 100) END"


def _tax(taxable: str, rate: str) -> str:
    """SQL: tax.tax_amount_minor, taxable x rate / 100 rounded half away from zero, exact
    in 64 bits (taxable x rate may not fit; its quotient and remainder by 10,000 do)."""
    return (f"(CASE WHEN {rate} IS NULL THEN 0 ELSE sign({taxable}) * (abs({taxable}) / 10000 * {rate} "
            f"+ (abs({taxable}) % 10000 * {rate} + 5000) / 10000) END)")


def _group(category: str, rate: str, taxable: str) -> str:
    """SQL: render.tax_group_json of one (category, rate) and its taxable amount."""
    return (f"json_object('category', {category}, 'rate', {_rate(rate)}, "
            f"'taxable', {_money(taxable, 'digits', 'unit')}, 'amount', {_money(_tax(taxable, rate), 'digits', 'unit')})")


# An invoice's tax groups: each (category, rate) of its lines, with their sum.
_GROUPS = """(SELECT tax_category AS category, tax_rate AS rate, sum(amount) AS taxable FROM invoice_lines
               WHERE invoice_id = invoice.id AND tax_category IS NOT NULL GROUP BY tax_category, tax_rate)"""
# A line's tax group as text (null for a line without tax): an invoice whose first and
# last are the same has one group, the common case, computed in the same pass.
_GROUP_KEY = "il.tax_category || ' ' || coalesce(il.tax_rate, '')"
_TAXED = "CASE WHEN il.tax_category IS NOT NULL THEN il.amount END"

# Three levels, each read as the next asks for its rows (OFFSET 0 keeps SQLite from
# folding them into one, which would compute each total as often as it is named): the
# invoices with their lines, in one pass; their tax; their text.
_DOCUMENTS = f"""
    SELECT head || ',"lines":[' || lines || '],"tax":' || tax
           || ',"tax_total":"' || {_money('tax_total', 'digits', 'unit')}
           || '","total_with_tax":"' || {_money('total + tax_total', 'digits', 'unit')} || '"}}'
      FROM (SELECT head, lines, total, digits, unit,
                   CASE WHEN first_group IS NULL THEN '[]'
                        WHEN first_group = last_group THEN '[' || {_group('category', 'rate', 'taxable')} || ']'
                        -- ordered by category, then rate, as tax.breakdown orders them
                        ELSE '[' || (SELECT group_concat(g, ',') OVER (ORDER BY category, coalesce(rate, 0)
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                                       FROM (SELECT category, rate, {_group('category', 'rate', 'taxable')} AS g
                                               FROM {_GROUPS})
                                      LIMIT 1) || ']' END AS tax,
                   CASE WHEN first_group IS NULL THEN 0
                        WHEN first_group = last_group THEN {_tax('taxable', 'rate')}
                        ELSE (SELECT sum({_tax('taxable', 'rate')}) FROM {_GROUPS}) END AS tax_total
              FROM (SELECT *, substr(first_group, 1, instr(first_group, ' ') - 1) AS category,
                           CAST(nullif(substr(first_group, instr(first_group, ' ') + 1), '') AS INTEGER) AS rate
                      FROM (SELECT i.id, d.digits, d.unit, sum(il.amount) AS total,
                                   rtrim(json_object(
                                       'number', CASE WHEN :dry_run THEN NULL ELSE i.number END, 'type', i.type,
                                       'credits', NULL, 'contract', c.name, 'customer', i.customer,
                                       'run_date', i.run_date, 'currency', c.currency,
                                       'total', {_money('sum(il.amount)')},
                                       'status', CASE WHEN :dry_run THEN 'dry-run' ELSE i.status END,
                                       'issue_date', i.issue_date, 'due_date', i.due_date), '}}') AS head,
                                   group_concat(json_object(
                                       'line_id', il.line_id, 'name', il.name, 'billing_method', l.billing_method,
                                       'amount', {_money('il.amount')},
                                       CASE l.billing_method WHEN 'fixed-price' THEN 'milestones'
                                            ELSE 'transactions' END, il.items,
                                       'tax_category', il.tax_category, 'tax_rate', {_rate('il.tax_rate')},
                                       'tax_exemption_reason', il.tax_exemption_reason), ',') AS lines,
                                   min({_GROUP_KEY}) AS first_group, max({_GROUP_KEY}) AS last_group,
                                   sum({_TAXED}) AS taxable
                              FROM invoices i
                             -- CROSS JOIN: the invoice is the outer loop, so that its lines are read
                             -- in line order, from the index by invoice and line
                             CROSS JOIN invoice_lines il INDEXED BY invoice_lines_by_invoice ON il.invoice_id = i.id
                              JOIN contracts c ON c.id = i.contract_id
                              JOIN temp.minor_digits d ON d.currency = c.currency
                              JOIN contract_lines l ON l.id = il.line_id
                             WHERE i.run_id = :run_id
                             GROUP BY i.id ORDER BY i.id LIMIT -1 OFFSET 0)
                     LIMIT -1 OFFSET 0) AS invoice
             LIMIT -1 OFFSET 0)"""


class RunJson(Connection):
    """The run's invoices as the JSON text `run-once --json` prints."""

    def invoice_documents(self, run_id: int, dry_run: bool = False) -> Iterator[str]:
        """Each invoice the run made as render.invoice_json's text, in creation order, read
        as iterated (a dry run's with no number and status "dry-run"): from the first
        text on, nothing of the run is held but the row SQLite is on."""
        self.conn.execute("""CREATE TEMP TABLE IF NOT EXISTS minor_digits (
                                 currency TEXT PRIMARY KEY, digits INTEGER NOT NULL, unit INTEGER NOT NULL
                             ) WITHOUT ROWID""")
        self.conn.executemany("INSERT OR IGNORE INTO temp.minor_digits VALUES (?, ?, ?)",
                              ((code, digits, 10**digits) for code, digits in MINOR_DIGITS.items()))
        for (text,) in self.conn.execute(_DOCUMENTS, {"run_id": run_id, "dry_run": dry_run}):
            yield text
