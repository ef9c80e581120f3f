"""Tax per contract line and the per-invoice breakdown (SPEC section 8): the EN 16931
categories and their rules, the seller's default, the tax an invoice line keeps, and the
rounding once per (category, rate) group (BR-CO-17), in currencies of 0, 2 and 3 decimals."""

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicer import billing, tax
from invoicer.errors import InputError
from invoicer.model import InvoiceLine
from invoicer.money import MINOR_DIGITS
from invoicer.store import Store
from tests.conftest import Invoicer, dump

TM = "time-and-material"


def refused(inv, *args, field: str) -> str:
    inv.ok("contract", "list")
    before = dump(inv)
    result = inv(*args, "--json")
    assert result.exit_code == 1, (args, result.stdout, result.stderr)
    assert result.stdout == ""
    assert re.search(field, result.error["message"], re.I), result.error["message"]
    assert dump(inv) == before
    return result.error["message"]


def add_line(inv, *tax_options, contract="C-1", name="Work", currency=None):
    extra = ["--currency", currency] if currency else []
    return inv.ok("contract", "add-line", contract, "--name", name, "--customer", "Fabrikam",
                  "--billing-method", TM, *extra, *tax_options)


def billed(inv, lines: dict, currency=None, contract="C-1", run_date="2026-11-01") -> dict:
    """A run that bills `lines` ({name: (amount, tax options)}) on one invoice; its JSON."""
    if not inv.ok("job", "list")["jobs"]:
        inv.setup_job()
    for name, (amount, options) in lines.items():
        line = add_line(inv, *options, contract=contract, name=name, currency=currency)["id"]
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", run_date)
        inv.ok("transaction", "add", line, "--date", "2026-10-05", "--amount", amount)
    run = inv.ok("run-once", "--date", run_date)
    (made,) = [i for i in run["invoices"] if i["contract"] == contract]
    return inv.ok("invoice", "show", made["number"])


def groups(invoice: dict) -> list[tuple]:
    return [(g["category"], g["rate"], g["taxable"], g["amount"]) for g in invoice["tax"]]


# the categories' rules ----------------------------------------------------------------------

BASE = ("contract", "add-line", "C-1", "--name", "Bad", "--customer", "Fabrikam", "--billing-method", TM)


@pytest.mark.parametrize("options, field", [
    (("--tax-category", "XX", "--tax-rate", "0"), "tax_category"),
    (("--tax-category", "S", "--tax-rate", "0"), "tax_rate"),
    (("--tax-category", "S"), "rate above 0"),
    (("--tax-category", "S", "--tax-rate", "7.125"), "tax_rate"),
    (("--tax-category", "S", "--tax-rate", "100.5"), "tax_rate"),
    (("--tax-category", "S", "--tax-rate", "-7"), "tax_rate"),
    (("--tax-category", "S", "--tax-rate", "abc"), "tax_rate"),
    (("--tax-category", "S", "--tax-rate", "19", "--tax-exemption-reason", "Why"), "tax_exemption_reason"),
    (("--tax-category", "Z", "--tax-exemption-reason", "Why"), "tax_exemption_reason"),
    (("--tax-category", "Z", "--tax-rate", "5"), "tax_rate"),
    (("--tax-category", "E"), "tax_exemption_reason"),
    (("--tax-category", "AE", "--tax-rate", "19"), "tax_rate"),
    (("--tax-category", "O", "--tax-rate", "0"), "tax_rate"),
    (("--tax-rate", "19"), "tax_rate: needs a tax category"),
    (("--tax-exemption-reason", "Why"), "tax_exemption_reason: needs a tax category"),
])
def test_a_line_tax_that_breaks_a_rule_is_refused_naming_the_option(inv, options, field):
    refused(inv, *BASE, *options, field=field)


@pytest.mark.parametrize("options, expected", [
    (("--tax-category", "S", "--tax-rate", "19"), ("S", "19.00", None)),
    (("--tax-category", "s", "--tax-rate", "5.5"), ("S", "5.50", None)),
    (("--tax-category", "S", "--tax-rate", "100"), ("S", "100.00", None)),
    (("--tax-category", "S", "--tax-rate", "8.10"), ("S", "8.10", None)),
    (("--tax-category", "Z"), ("Z", "0.00", None)),
    (("--tax-category", "Z", "--tax-rate", "0.00"), ("Z", "0.00", None)),
    (("--tax-category", "E", "--tax-exemption-reason", "Article 132"), ("E", "0.00", "Article 132")),
    (("--tax-category", "AE"), ("AE", "0.00", "Reverse charge")),
    (("--tax-category", "K"), ("K", "0.00", "Intra-community supply")),
    (("--tax-category", "G"), ("G", "0.00", "Export outside the EU")),
    (("--tax-category", "O"), ("O", None, "Not subject to VAT")),
    (("--tax-category", "G", "--tax-exemption-reason", "Export to CH"), ("G", "0.00", "Export to CH")),
    ((), (None, None, None)),
])
def test_a_line_keeps_its_tax_with_the_default_exemption_reasons(inv, options, expected):
    made = add_line(inv, *options)
    got = (made["tax_category"], made["tax_rate"], made["tax_exemption_reason"])
    assert got == expected
    (listed,) = inv.ok("contract", "list")["lines"]
    assert (listed["tax_category"], listed["tax_rate"], listed["tax_exemption_reason"]) == expected


def test_set_line_checks_a_rate_or_reason_given_alone_against_the_stored_category(inv):
    line = add_line(inv, "--tax-category", "S", "--tax-rate", "19")["id"]
    refused(inv, "contract", "set-line", line, "--tax-rate", "0", field="tax_rate")
    refused(inv, "contract", "set-line", line, "--tax-exemption-reason", "Why", field="tax_exemption_reason")
    assert inv.ok("contract", "set-line", line, "--tax-rate", "7")["tax_rate"] == "7.00"
    refused(inv, "contract", "set-line", line, "--tax-category", "E", field="tax_exemption_reason")
    changed = inv.ok("contract", "set-line", line, "--tax-category", "E", "--tax-exemption-reason", "Art. 132")
    assert (changed["tax_category"], changed["tax_rate"], changed["tax_exemption_reason"]) == ("E", "0.00", "Art. 132")
    # The category stays, so does its reason; another category takes its own default.
    assert inv.ok("contract", "set-line", line, "--tax-rate", "0")["tax_exemption_reason"] == "Art. 132"
    moved = inv.ok("contract", "set-line", line, "--tax-category", "AE")
    assert moved["tax_exemption_reason"] == "Reverse charge"
    assert inv.ok("contract", "set-line", line, "--tax-category", "S", "--tax-rate", "19")["tax_exemption_reason"] is None


def test_set_line_of_a_line_without_tax_needs_a_category(inv):
    line = add_line(inv)["id"]
    refused(inv, "contract", "set-line", line, "--tax-rate", "19", field="needs a tax category")
    refused(inv, "contract", "set-line", line, "--tax-exemption-reason", "Why", field="needs a tax category")


def test_contract_import_takes_the_tax_columns(inv, tmp_path):
    path = tmp_path / "contracts.csv"
    path.write_text("contract,name,customer,billing_method,tax_category,tax_rate,tax_exemption_reason\n"
                    f"C-1,Design,Fabrikam,{TM},S,19,\n"
                    f"C-1,Books,Fabrikam,{TM},S,7,\n"
                    f"C-1,Exempt,Fabrikam,{TM},E,,Article 132\n"
                    f"C-1,Outside,Fabrikam,{TM},O,,\n"
                    f"C-1,Seller's,Fabrikam,{TM},,,\n")
    assert inv.ok("contract", "import", str(path)) == {"imported": 5, "unchanged": 0}
    got = [(l["name"], l["tax_category"], l["tax_rate"], l["tax_exemption_reason"])
           for l in inv.ok("contract", "list")["lines"]]
    assert got == [("Design", "S", "19.00", None), ("Books", "S", "7.00", None), ("Exempt", "E", "0.00", "Article 132"),
                   ("Outside", "O", None, "Not subject to VAT"), ("Seller's", None, None, None)]


@pytest.mark.parametrize("row, field", [
    ("S,0,", "tax_rate"), ("E,0,", "tax_exemption_reason"), ("O,0,", "tax_rate"), ("XX,,", "tax_category"),
    ("Z,,Because", "tax_exemption_reason"), ("S,19.125,", "tax_rate"),
])
def test_a_bad_tax_row_rejects_the_whole_import_naming_row_and_field(inv, tmp_path, row, field):
    path = tmp_path / "contracts.csv"
    path.write_text("contract,name,customer,billing_method,tax_category,tax_rate,tax_exemption_reason\n"
                    f"C-1,Good,Fabrikam,{TM},S,19,\n"
                    f"C-1,Bad,Fabrikam,{TM},{row}\n")
    message = refused(inv, "contract", "import", str(path), field=field)
    assert message.startswith("row 3:")


def test_contract_import_takes_tax_keys_from_json_lines(inv, tmp_path):
    path = tmp_path / "contracts.jsonl"
    path.write_text('{"contract": "C-1", "name": "Design", "customer": "Fabrikam", "billing_method": "%s", '
                    '"tax_category": "S", "tax_rate": 8.1}\n' % TM)
    inv.ok("contract", "import", str(path))
    assert inv.ok("contract", "list")["lines"][0]["tax_rate"] == "8.10"


# the breakdown on invoices --------------------------------------------------------------------

def test_lines_group_by_category_and_rate_rounded_once_per_group(inv):
    """19% of 100.03 is 19.0057 a line: 19.01 each rounded per line (38.02), but the group of
    200.06 gives 38.0114 -> 38.01. 7% of 149.50 = 10.465, half up to 10.47."""
    invoice = billed(inv, {"Design": ("100.03", ["--tax-category", "S", "--tax-rate", "19"]),
                           "Build": ("100.03", ["--tax-category", "S", "--tax-rate", "19"]),
                           "Books": ("149.50", ["--tax-category", "S", "--tax-rate", "7"])})
    assert groups(invoice) == [("S", "7.00", "149.50", "10.47"), ("S", "19.00", "200.06", "38.01")]
    assert (invoice["total"], invoice["tax_total"], invoice["total_with_tax"]) == ("349.56", "48.48", "398.04")
    assert [(l["name"], l["tax_category"], l["tax_rate"]) for l in invoice["lines"]] == \
        [("Design", "S", "19.00"), ("Build", "S", "19.00"), ("Books", "S", "7.00")]


def test_groups_are_ordered_by_category_code_then_rate_as_a_number(inv):
    invoice = billed(inv, {"A": ("10.00", ["--tax-category", "S", "--tax-rate", "19"]),
                           "B": ("10.00", ["--tax-category", "S", "--tax-rate", "7"]),
                           "C": ("10.00", ["--tax-category", "Z"]),
                           "D": ("10.00", ["--tax-category", "AE"]),
                           "E": ("10.00", ["--tax-category", "O"]),
                           "F": ("10.00", ["--tax-category", "S", "--tax-rate", "100"])})
    assert groups(invoice) == [("AE", "0.00", "10.00", "0.00"), ("O", None, "10.00", "0.00"),
                               ("S", "7.00", "10.00", "0.70"), ("S", "19.00", "10.00", "1.90"),
                               ("S", "100.00", "10.00", "10.00"), ("Z", "0.00", "10.00", "0.00")]
    assert invoice["tax_total"] == "12.60" and invoice["total_with_tax"] == "72.60"


def test_an_invoice_without_tax_has_an_empty_breakdown(inv):
    invoice = billed(inv, {"Design": ("1500", [])})
    assert (invoice["tax"], invoice["tax_total"], invoice["total_with_tax"]) == ([], "0.00", "1500.00")
    run_invoice = inv.ok("invoice", "list")["invoices"][0]
    assert (run_invoice["tax"], run_invoice["tax_total"], run_invoice["total_with_tax"]) == ([], "0.00", "1500.00")


def test_lines_without_tax_are_in_no_group(inv):
    invoice = billed(inv, {"Taxed": ("100.00", ["--tax-category", "S", "--tax-rate", "20"]),
                           "Untaxed": ("50.00", [])})
    assert groups(invoice) == [("S", "20.00", "100.00", "20.00")]
    assert (invoice["total"], invoice["tax_total"], invoice["total_with_tax"]) == ("150.00", "20.00", "170.00")


def test_a_line_without_tax_takes_the_sellers_when_the_invoice_is_made(inv):
    inv.ok("seller", "set", "--tax-category", "S", "--tax-rate", "19")
    first = billed(inv, {"Design": ("50.00", [])})
    assert groups(first) == [("S", "19.00", "50.00", "9.50")] and first["total_with_tax"] == "59.50"
    inv.ok("seller", "set", "--tax-rate", "16")
    later = billed(inv, {"Design": ("50.00", [])}, contract="C-2", run_date="2026-11-02")
    assert groups(later) == [("S", "16.00", "50.00", "8.00")]
    assert groups(inv.ok("invoice", "show", first["number"])) == [("S", "19.00", "50.00", "9.50")]


def test_a_sellers_category_of_rate_0_gives_its_default_reason_to_the_lines_that_take_it(inv):
    inv.ok("seller", "set", "--tax-category", "K")
    invoice = billed(inv, {"Design": ("50.00", [])})
    assert groups(invoice) == [("K", "0.00", "50.00", "0.00")]
    assert invoice["lines"][0]["tax_exemption_reason"] == "Intra-community supply"


def test_an_invoice_line_keeps_the_tax_its_line_had_when_invoiced(inv):
    invoice = billed(inv, {"Design": ("100.00", ["--tax-category", "S", "--tax-rate", "19"])})
    line = invoice["lines"][0]["line_id"]
    inv.ok("contract", "set-line", line, "--tax-category", "E", "--tax-exemption-reason", "Now exempt")
    kept = inv.ok("invoice", "show", invoice["number"])
    assert groups(kept) == [("S", "19.00", "100.00", "19.00")] and kept["lines"][0]["tax_exemption_reason"] is None
    inv.ok("transaction", "add", line, "--date", "2026-11-05", "--amount", "10")
    inv.at("2026-12-02T10:00:00")
    run = inv.ok("run-once", "--date", "2026-12-01")
    assert [groups(i) for i in run["invoices"]] == [[("E", "0.00", "10.00", "0.00")]]


def test_jpy_tax_rounds_half_up_to_whole_yen(inv):
    """10% of 1005 JPY = 100.5 -> 101; 8% of 1000 + 1005 (2005) = 160.4 -> 160."""
    invoice = billed(inv, {"A": ("1005", ["--tax-category", "S", "--tax-rate", "10"]),
                           "B": ("1000", ["--tax-category", "S", "--tax-rate", "8"]),
                           "C": ("1005", ["--tax-category", "S", "--tax-rate", "8"])}, currency="JPY")
    assert groups(invoice) == [("S", "8.00", "2005", "160"), ("S", "10.00", "1005", "101")]
    assert (invoice["total"], invoice["tax_total"], invoice["total_with_tax"]) == ("3010", "261", "3271")


def test_kwd_tax_rounds_half_up_to_the_fils(inv):
    """10% of 12.345 KWD = 1.2345 -> 1.235; 5% of 0.105 = 0.00525 -> 0.005."""
    invoice = billed(inv, {"A": ("12.345", ["--tax-category", "S", "--tax-rate", "10"]),
                           "B": ("0.105", ["--tax-category", "S", "--tax-rate", "5"])}, currency="KWD")
    assert groups(invoice) == [("S", "5.00", "0.105", "0.005"), ("S", "10.00", "12.345", "1.235")]
    assert (invoice["total"], invoice["tax_total"], invoice["total_with_tax"]) == ("12.450", "1.240", "13.690")


def test_human_output_shows_the_breakdown_and_totals_with_tax(inv):
    invoice = billed(inv, {"Design": ("100.03", ["--tax-category", "S", "--tax-rate", "19"]),
                           "Books": ("149.50", ["--tax-category", "S", "--tax-rate", "7"])})
    shown = inv("invoice", "show", invoice["number"]).stdout
    assert "S 7.00%" in shown and "10.47" in shown and "S 19.00%" in shown and "19.01" in shown
    assert "Total with tax" in shown and "279.01" in shown
    listed = inv("invoice", "list").stdout
    assert "total with tax" in listed and "279.01" in listed
    line = invoice["lines"][0]["line_id"]
    inv.ok("transaction", "add", line, "--date", "2026-11-05", "--amount", "10")
    inv.at("2026-12-02T10:00:00")
    summary = inv("run-once", "--date", "2026-12-01").stdout
    assert "total with tax" in summary and "11.90" in summary


@pytest.mark.sqlite_only  # counts the statements SQLite's trace callback sees
def test_the_run_copies_the_tax_in_as_many_statements_for_many_lines_as_for_one(tmp_path, monkeypatch, inv):
    def statements(lines: int) -> int:
        book = Invoicer(tmp_path / f"{lines}.db", monkeypatch)
        book.setup_job()
        book.ok("seller", "set", "--tax-category", "S", "--tax-rate", "7")
        for n in range(lines):
            line = add_line(book, *(["--tax-category", "S", "--tax-rate", "19"] if n % 2 else []),
                            contract=f"C-{n % 3}", name=f"L{n}")["id"]
            book.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
            book.ok("transaction", "add", line, "--date", "2026-09-05", "--amount", "10")
        store = Store(book.db)
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        result = billing.run_once(store, date(2026, 10, 1))
        store.close()
        assert result.invoice_count == min(lines, 3)
        return len(seen)

    assert statements(3) == statements(30)


# the rounding itself -----------------------------------------------------------------------

def test_tax_amounts_round_half_away_from_zero():
    assert tax.tax_amount_minor(1005, Decimal("10")) == 101
    assert tax.tax_amount_minor(-1005, Decimal("10")) == -101
    assert tax.tax_amount_minor(1004, Decimal("10")) == 100
    assert tax.tax_amount_minor(14950, Decimal("7")) == 1047  # 1046.5
    assert tax.tax_amount_minor(-14950, Decimal("7")) == -1047
    assert tax.tax_amount_minor(100, None) == 0


def test_rates_are_percents_with_at_most_two_decimals():
    assert tax.parse_rate("5.5") == Decimal("5.50") and tax.parse_rate("19.000") == Decimal("19.00")
    for bad in ("19.125", "101", "1e1", "", " ", "19,5", "٣"):
        with pytest.raises(InputError, match="tax_rate"):
            tax.parse_rate(bad)


CURRENCIES = ("USD", "JPY", "KWD")
TAXES = [("S", Decimal("19.00")), ("S", Decimal("7.00")), ("S", Decimal("5.50")), ("S", Decimal("8.10")),
         ("S", Decimal("100.00")), ("Z", Decimal("0.00")), ("E", Decimal("0.00")), ("AE", Decimal("0.00")),
         ("O", None), (None, None)]


@st.composite
def invoices(draw):
    currency = draw(st.sampled_from(CURRENCIES))
    digits = MINOR_DIGITS[currency]
    lines = [
        InvoiceLine(line_id=n, name=f"L{n}", billing_method="time-and-material",
                    amount=Decimal(minor).scaleb(-digits), items=1, tax_category=category, tax_rate=rate)
        for n, (minor, (category, rate)) in enumerate(draw(st.lists(
            st.tuples(st.integers(1, 10**12), st.sampled_from(TAXES)), min_size=1, max_size=12)))
    ]
    return currency, lines


def _oracle(taxable: Decimal, rate: Decimal | None, currency: str) -> Decimal:
    """The rule as written: taxable x rate / 100, rounded half up (away from zero) once."""
    if rate is None:
        return Decimal(0)
    unit = Decimal(1).scaleb(-MINOR_DIGITS[currency])
    return (taxable * rate / 100).quantize(unit, rounding=ROUND_HALF_UP)


@settings(max_examples=150, deadline=None)
@given(invoices())
def test_breakdown_properties_hold_for_random_invoices(drawn):
    from invoicer.model import Invoice

    currency, lines = drawn
    groups_ = tax.breakdown(lines, currency)
    invoice = Invoice(number="INV-1", contract="C", customer="X", run_date=date(2026, 11, 1), currency=currency,
                      status="draft", lines=tuple(lines), tax=groups_)
    taxed = [line for line in lines if line.tax_category is not None]
    # total_with_tax = total + tax_total; the taxable amounts add up to what the taxed lines bill.
    assert invoice.total_with_tax == invoice.total + invoice.tax_total
    assert sum((g.taxable for g in groups_), Decimal(0)) == sum((l.amount for l in taxed), Decimal(0))
    if len(taxed) == len(lines):
        assert sum((g.taxable for g in groups_), Decimal(0)) == invoice.total
    # One group per (category, rate), ordered, each rounded once from its sum.
    keys = [(g.category, g.rate) for g in groups_]
    assert keys == sorted(set(keys), key=lambda k: (k[0], k[1] or 0))
    assert set(keys) == {(l.tax_category, l.tax_rate) for l in taxed}
    for g in groups_:
        assert g.amount == _oracle(g.taxable, g.rate, currency)
    # A full credit note (every line negated) has the exact negative taxes.
    negated = [l._replace(amount=-l.amount) for l in lines]
    assert [(g.category, g.rate, -g.taxable, -g.amount) for g in tax.breakdown(negated, currency)] == \
        [tuple(g) for g in groups_]


def test_a_credit_note_has_its_invoices_rates_and_negative_taxes(inv):
    """A full credit note is the exact negative of its invoice, group by group, whatever
    the rates are since; a partial one is rounded once per group like any invoice."""
    invoice = billed(inv, {"Design": ("100.03", ["--tax-category", "S", "--tax-rate", "19"]),
                           "Build": ("100.03", ["--tax-category", "S", "--tax-rate", "19"]),
                           "Books": ("149.50", ["--tax-category", "S", "--tax-rate", "7"])})
    inv.ok("invoice", "confirm", invoice["number"])
    for line in invoice["lines"]:
        inv.ok("contract", "set-line", line["line_id"], "--tax-category", "S", "--tax-rate", "16")
    full = inv.ok("invoice", "credit", invoice["number"])
    assert groups(full) == [("S", "7.00", "-149.50", "-10.47"), ("S", "19.00", "-200.06", "-38.01")]
    assert (full["total"], full["tax_total"], full["total_with_tax"]) == ("-349.56", "-48.48", "-398.04")
    inv.ok("invoice", "cancel", full["number"])
    design = invoice["lines"][0]
    (item,) = inv.ok("invoice", "show", invoice["number"])["lines"][0]["details"]
    assert design["name"] == "Design"
    part = inv.ok("invoice", "credit", invoice["number"], "--transaction", item["id"])
    assert groups(part) == [("S", "19.00", "-100.03", "-19.01")]
    inv.ok("invoice", "confirm", part["number"])
    confirmed = inv.ok("invoice", "show", part["number"])
    assert confirmed["issue_date"] == "2026-11-24" and confirmed["due_date"] == "2026-12-24"
