"""Amounts (SPEC section 3, "Amounts are positive decimal strings..."): exact in the
currency's minor unit, never a float, strings in JSON; percent milestones rounded half up,
the one that completes 100 % taking exactly the remainder."""

import re
import sqlite3
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicer.errors import InvoicerError
from invoicer.money import format_minor, parse_amount, parse_minor, percent_share
from tests.conftest import another_book, query

DIGITS = {"USD": 2, "JPY": 0, "KWD": 3}
REFUSED_USD = ["1e3", "NaN", "-0", "-5", "0", "0.00", "0.001", "", "99999999999999999", "12.345", "Infinity",
               "abc", "1 000"]


def refused(inv, *args, field):
    """Run a command that must be refused with exit 1; return the JSON error's message."""
    result = inv(*args, "--json")
    assert result.exit_code == 1, (args, result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    message = result.error["message"]
    assert re.search(field, message, re.IGNORECASE), message
    return message


def milestone_amounts(inv, line_id) -> list[str]:
    return [m["amount"] for m in inv.ok("schedule", "list", line_id)["schedules"] if m["kind"] == "milestone"]


def fixed_price(inv, value, currency="USD", contract="C-1", name="Build"):
    return inv.line(contract, name, "fixed-price", "Fabrikam", "--amount", value, "--currency", currency)


# parsing and formatting -----------------------------------------------------------------

def test_1234_5_and_1234_50_and_1234_500_are_the_same_usd_amount():
    assert parse_minor("1234.5", "USD") == parse_minor("1234.50", "USD") == parse_minor("1234.500", "USD") == 123450
    assert parse_amount("1234.5", "USD") == parse_amount("1234.500", "USD") == Decimal("1234.50")


def test_usd_has_two_decimals_jpy_none_and_kwd_three():
    assert parse_minor("12.34", "USD") == 1234
    assert parse_minor("1500", "JPY") == 1500
    assert parse_minor("12.345", "KWD") == 12345
    assert parse_minor("1", "KWD") == 1000
    assert parse_minor("0.001", "KWD") == 1
    assert parse_minor("0.01", "USD") == 1


@pytest.mark.parametrize("text, currency", [("12.345", "USD"), ("1500.5", "JPY"), ("0.5", "JPY"),
                                            ("12.3456", "KWD"), ("0.0001", "KWD"), ("12.3401", "EUR")])
def test_an_amount_not_exact_in_the_minor_unit_is_refused(text, currency):
    with pytest.raises(InvoicerError):
        parse_minor(text, currency)


def test_trailing_zeros_beyond_the_minor_unit_are_still_exact():
    assert parse_minor("1500.0", "JPY") == 1500
    assert parse_minor("12.3450", "KWD") == 12345


@pytest.mark.parametrize("text", REFUSED_USD)
def test_malformed_zero_negative_or_huge_usd_amounts_are_refused(text):
    with pytest.raises(InvoicerError) as error:
        parse_minor(text, "USD", "amount")
    assert "amount" in str(error.value)


def test_the_refusal_names_the_field_it_was_given():
    with pytest.raises(InvoicerError, match="not_to_exceed"):
        parse_minor("-5", "USD", "not_to_exceed")


@pytest.mark.parametrize("minor, currency, text", [
    (123450, "USD", "1234.50"), (1, "USD", "0.01"), (100, "USD", "1.00"), (1500, "JPY", "1500"),
    (1, "JPY", "1"), (12345, "KWD", "12.345"), (12000, "KWD", "12.000"), (1, "KWD", "0.001"),
])
def test_format_has_exactly_the_currencys_decimals(minor, currency, text):
    assert format_minor(minor, currency) == text


@pytest.mark.parametrize("value, percent, share", [
    (10, "25", 3),          # 2.5 -> 3 (half up, not to even)
    (1001, "50", 501),      # 500.5 -> 501
    (5, "50", 3),           # 2.5 -> 3
    (30, "25", 8),          # 7.5 -> 8
    (101, "12.5", 13),      # 12.625 -> 13
    (1001, "12.5", 125),    # 125.125 -> 125
    (10000, "33.33", 3333),
    (10000, "33.335", 3334),  # 3333.5 -> 3334
    (10000, "33.334999", 3333),
])
def test_percent_share_is_rounded_half_up_to_the_minor_unit(value, percent, share):
    assert percent_share(value, Decimal(percent), "USD") == share


# properties ---------------------------------------------------------------------------------

CURRENCY = st.sampled_from(sorted(DIGITS))
MINOR = st.integers(min_value=1, max_value=10**13)


@settings(max_examples=400, deadline=None)
@given(CURRENCY, MINOR, st.integers(0, 4))
def test_format_then_parse_gives_back_the_same_minor_units(currency, minor, extra_zeros):
    text = format_minor(minor, currency)
    digits = DIGITS[currency]
    assert re.fullmatch(r"[0-9]+" + (rf"\.[0-9]{{{digits}}}" if digits else ""), text), text
    assert Fraction(text) == Fraction(minor, 10**digits)
    assert parse_minor(text, currency) == minor
    padded = text + ("" if digits else ".") + "0" * extra_zeros if extra_zeros else text
    assert parse_minor(padded, currency) == minor
    assert parse_amount(text, currency) == Decimal(minor).scaleb(-digits)


@settings(max_examples=300, deadline=None)
@given(CURRENCY, MINOR, st.integers(1, 9))
def test_a_nonzero_digit_beyond_the_minor_unit_is_always_refused(currency, minor, last):
    text = format_minor(minor, currency) + ("" if DIGITS[currency] else ".") + str(last)
    with pytest.raises(InvoicerError):
        parse_minor(text, currency)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 10**13), st.integers(1, 10**6), st.integers(0, 4))
def test_percent_share_is_the_exact_share_rounded_half_up(value, units, places):
    percent = Decimal(units).scaleb(-places)
    exact = Fraction(value) * Fraction(percent) / 100
    half_up = (exact + Fraction(1, 2)).__floor__()
    assert percent_share(value, percent, "USD") == half_up


# through the CLI ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["1234.5", "1234.50", "1234.500"])
def test_the_cli_stores_1234_5_and_1234_50_and_1234_500_as_the_same_amount(inv, text):
    assert inv.ok("contract", "add-line", "C-1", "--name", "Build", "--customer", "Fabrikam",
                  "--billing-method", "fixed-price", "--amount", text)["amount"] == "1234.50"


@pytest.mark.parametrize("currency, entered, shown", [
    ("USD", "1500", "1500.00"), ("USD", "0.5", "0.50"), ("EUR", "99.9", "99.90"),
    ("JPY", "1500", "1500"), ("KWD", "12.5", "12.500"), ("KWD", "0.001", "0.001"),
])
def test_json_money_is_a_string_with_exactly_the_currencys_decimals(inv, currency, entered, shown):
    added = inv.ok("contract", "add-line", "C-1", "--name", "Build", "--customer", "Fabrikam",
                   "--billing-method", "fixed-price", "--amount", entered, "--currency", currency)
    assert added["amount"] == shown
    assert added["currency"] == currency
    [listed] = inv.ok("contract", "list")["lines"]
    assert listed["amount"] == shown
    tm = inv.line("C-1", "Hours", "time-and-material", "Fabrikam", "--not-to-exceed", entered)
    [capped] = [line for line in inv.ok("contract", "list")["lines"] if line["id"] == tm]
    assert capped["not_to_exceed"] == shown
    transaction = inv.ok("transaction", "add", tm, "--date", "2026-01-05", "--amount", entered)
    assert transaction["amount"] == shown
    assert [t["amount"] for t in inv.ok("transaction", "list")["transactions"]] == [shown]


def test_a_jpy_invoice_totals_in_whole_yen_as_strings(inv):
    line = inv.line("C-JP", "Hours", "time-and-material", "Contoso", "--currency", "JPY")
    inv.ok("schedule", "add", line, "--dates", "2026-11-01")
    inv.ok("transaction", "add", line, "--date", "2026-10-10", "--amount", "1000")
    inv.ok("transaction", "add", line, "--date", "2026-10-11", "--amount", "500")
    inv.setup_job()
    [invoice] = inv.ok("run-once", "--date", "2026-11-01")["invoices"]
    assert invoice["currency"] == "JPY"
    assert invoice["total"] == "1500"
    assert [item["amount"] for item in invoice["lines"]] == ["1500"]


def test_a_kwd_milestone_invoice_has_three_decimals(inv):
    line = fixed_price(inv, "10.5", "KWD")
    inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2026-11-01", "--percent", "10",
           "--ready")
    inv.setup_job()
    [invoice] = inv.ok("run-once", "--date", "2026-11-01")["invoices"]
    assert (invoice["total"], invoice["lines"][0]["amount"]) == ("1.050", "1.050")


@pytest.mark.parametrize("text", REFUSED_USD)
def test_bad_amounts_are_refused_with_exit_1_naming_the_field_and_nothing_is_written(inv, text):
    refused(inv, "contract", "add-line", "C-1", "--name", "Build", "--customer", "Fabrikam",
            "--billing-method", "fixed-price", "--amount", text, field="amount")
    assert inv.ok("contract", "list")["lines"] == []
    tm = inv.line("C-1", "Hours")
    if text:  # an empty --not-to-exceed has its own test below
        refused(inv, "contract", "add-line", "C-1", "--name", "Capped", "--customer", "Fabrikam",
                "--billing-method", "time-and-material", "--not-to-exceed", text, field="not.to.exceed")
    refused(inv, "transaction", "add", tm, "--date", "2026-01-05", "--amount", text, field="amount")
    assert inv.ok("transaction", "list")["transactions"] == []
    assert [line["name"] for line in inv.ok("contract", "list")["lines"]] == ["Hours"]


def test_an_empty_not_to_exceed_is_refused_naming_the_field_not_taken_as_no_cap(inv):
    refused(inv, "contract", "add-line", "C-1", "--name", "Capped", "--customer", "Fabrikam",
            "--billing-method", "time-and-material", "--not-to-exceed", "", field="not.to.exceed")
    assert inv.ok("contract", "list")["lines"] == []


@pytest.mark.parametrize("currency, text", [("JPY", "1500.5"), ("KWD", "1.0005"), ("EUR", "0.001")])
def test_amounts_finer_than_the_currencys_minor_unit_are_refused_through_the_cli(inv, currency, text):
    refused(inv, "contract", "add-line", "C-1", "--name", "Build", "--customer", "Fabrikam",
            "--billing-method", "fixed-price", "--amount", text, "--currency", currency, field="amount")
    assert inv.ok("contract", "list")["lines"] == []


@pytest.mark.parametrize("text", ["1e3", "NaN", "-5", "0", "0.001", "12.345"])
def test_bad_milestone_amounts_are_refused_naming_the_field(inv, text):
    line = fixed_price(inv, "1000")
    refused(inv, "schedule", "add", line, "--milestone", "M", "--date", "2026-01-01", "--amount", text,
            field="amount")
    assert milestone_amounts(inv, line) == []


@pytest.mark.parametrize("code", ["XYZ", "ABC", "US", "DOLLAR", "123", "EURO"])
def test_an_unknown_currency_code_is_refused(inv, code):
    refused(inv, "contract", "add-line", "C-1", "--name", "Build", "--customer", "Fabrikam",
            "--billing-method", "fixed-price", "--amount", "100", "--currency", code, field="currency")
    assert inv.ok("contract", "list")["lines"] == []


def test_money_is_never_a_float_in_the_database(inv):
    tm = inv.line("C-1", "Hours", "time-and-material", "Fabrikam", "--not-to-exceed", "1000.10")
    fp = fixed_price(inv, "200.20")
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2026-10-01")
    inv.ok("schedule", "add", fp, "--milestone", "A", "--date", "2026-10-15", "--percent", "33.33", "--ready")
    inv.ok("schedule", "add", fp, "--milestone", "B", "--date", "2026-10-20", "--amount", "0.10", "--ready")
    inv.ok("transaction", "add", tm, "--date", "2026-10-02", "--amount", "0.10", "--quantity", "1.5")
    inv.ok("transaction", "add", tm, "--date", "2026-10-03", "--amount", "0.20")
    inv.setup_job()
    assert inv.ok("run-once", "--date", "2026-11-01")["invoices"]
    if inv.postgres:
        # A server's column holds its declared type only: none may be a float or a decimal.
        inexact = query(inv, "SELECT table_name, column_name FROM information_schema.columns "
                             "WHERE table_schema = 'invoicer' AND data_type IN ('real', 'double precision', 'numeric')")
        assert inexact == []
        return
    with sqlite3.connect(inv.db) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                reals = db.execute(f'SELECT count(*) FROM "{table}" WHERE typeof("{column}") = \'real\'').fetchone()[0]
                assert reals == 0, (table, column)


# percent milestones ----------------------------------------------------------------------------

def test_a_percent_milestone_is_rounded_half_up_when_added(inv):
    line = fixed_price(inv, "0.10")
    added = inv.ok("schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--percent", "25")
    assert added["amount"] == "0.03"  # 2.5 cents


def test_percent_milestones_in_jpy_and_kwd_round_half_up_to_their_minor_unit(inv):
    jpy = fixed_price(inv, "1001", "JPY", contract="C-JP")
    assert inv.ok("schedule", "add", jpy, "--milestone", "A", "--date", "2026-01-01",
                  "--percent", "50")["amount"] == "501"
    kwd = fixed_price(inv, "1.001", "KWD", contract="C-KW")
    assert inv.ok("schedule", "add", kwd, "--milestone", "A", "--date", "2026-01-01",
                  "--percent", "50")["amount"] == "0.501"


def test_thirds_of_100_add_up_to_the_value_to_the_cent(inv):
    line = fixed_price(inv, "100.00")
    for name, percent in [("A", "33.33"), ("B", "33.33"), ("C", "33.34")]:
        inv.ok("schedule", "add", line, "--milestone", name, "--date", "2026-01-01", "--percent", percent)
    assert milestone_amounts(inv, line) == ["33.33", "33.33", "33.34"]


def test_the_percent_milestone_reaching_100_takes_the_remainder_of_rounded_shares(inv):
    line = fixed_price(inv, "100.00")
    for name, percent in [("A", "33.335"), ("B", "33.335"), ("C", "33.33")]:
        inv.ok("schedule", "add", line, "--milestone", name, "--date", "2026-01-01", "--percent", percent)
    # 33.335 % of 100.00 is 33.335, half up 33.34; the last takes 100.00 - 66.68.
    assert milestone_amounts(inv, line) == ["33.34", "33.34", "33.32"]


def test_half_and_half_of_10_01_is_5_01_then_the_remainder_5_00(inv):
    line = fixed_price(inv, "10.01")
    first = inv.ok("schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--percent", "50")
    second = inv.ok("schedule", "add", line, "--milestone", "B", "--date", "2026-02-01", "--percent", "50")
    assert (first["amount"], second["amount"]) == ("5.01", "5.00")


def test_50_25_25_percent_of_10_01_is_5_01_then_2_50_then_the_remainder_2_50(inv):
    line = fixed_price(inv, "10.01")
    inv.ok("schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--percent", "50")  # 5.01
    inv.ok("schedule", "add", line, "--milestone", "B", "--date", "2026-01-01", "--percent", "25")  # 2.5025 -> 2.50
    last = inv.ok("schedule", "add", line, "--milestone", "C", "--date", "2026-01-01", "--percent", "25")
    assert last["amount"] == "2.50"
    assert milestone_amounts(inv, line) == ["5.01", "2.50", "2.50"]


def test_a_percent_milestone_completing_100_after_an_amount_milestone_takes_the_remainder(inv):
    line = fixed_price(inv, "200.04")
    inv.ok("schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--amount", "50.01")  # 25 %
    second = inv.ok("schedule", "add", line, "--milestone", "B", "--date", "2026-01-01", "--percent", "37.5")
    last = inv.ok("schedule", "add", line, "--milestone", "C", "--date", "2026-01-01", "--percent", "37.5")
    # 37.5 % of 200.04 is 75.015: half up 75.02; the last takes 200.04 - 50.01 - 75.02.
    assert (second["amount"], last["amount"]) == ("75.02", "75.01")


def test_a_later_change_of_the_line_value_does_not_move_percent_milestones(inv):
    line = fixed_price(inv, "100.00")
    inv.ok("schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--percent", "25")
    inv.ok("contract", "set-line", line, "--amount", "400")
    assert milestone_amounts(inv, line) == ["25.00"]
    [shown] = [item for item in inv.ok("contract", "list")["lines"] if item["id"] == line]
    assert shown["amount"] == "400.00"
    # a milestone added after the change is a share of the new value
    assert inv.ok("schedule", "add", line, "--milestone", "B", "--date", "2026-01-01",
                  "--percent", "10")["amount"] == "40.00"


def test_milestones_may_add_up_to_exactly_the_value(inv):
    line = fixed_price(inv, "100")
    inv.ok("schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--amount", "60")
    inv.ok("schedule", "add", line, "--milestone", "B", "--date", "2026-01-01", "--amount", "40.00")
    assert milestone_amounts(inv, line) == ["60.00", "40.00"]


@pytest.mark.parametrize("first, second", [
    (("--amount", "60"), ("--amount", "40.01")),
    (("--percent", "60"), ("--percent", "41")),
    (("--amount", "99.99"), ("--percent", "1")),
    (("--percent", "100"), ("--amount", "0.01")),
])
def test_milestones_may_not_add_up_to_more_than_the_lines_value(inv, first, second):
    line = fixed_price(inv, "100")
    kept = inv.ok("schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", *first)["amount"]
    refused(inv, "schedule", "add", line, "--milestone", "B", "--date", "2026-01-01", *second,
            field="value|more than|exceed")
    assert milestone_amounts(inv, line) == [kept]


def test_a_single_milestone_above_the_value_is_refused(inv):
    line = fixed_price(inv, "100")
    refused(inv, "schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--amount", "100.01",
            field="value|more than|exceed")
    assert milestone_amounts(inv, line) == []


@pytest.mark.parametrize("percent", ["0", "-10", "100.01", "150", "abc", "1e2"])
def test_a_percent_outside_0_to_100_or_malformed_is_refused_naming_percent(inv, percent):
    line = fixed_price(inv, "100")
    refused(inv, "schedule", "add", line, "--milestone", "A", "--date", "2026-01-01", "--percent", percent,
            field="percent")
    assert milestone_amounts(inv, line) == []


PERCENT_PARTS = (st.lists(st.integers(50, 2400), min_size=1, max_size=4)
                 .map(lambda parts: parts + [10000 - sum(parts)]))  # hundredths of a percent, sum 100 %


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CURRENCY, st.integers(10**4, 10**12), PERCENT_PARTS)
def test_percent_milestones_summing_to_100_add_up_exactly_to_the_value(inv, currency, value, parts):
    # `inv` only provides the environment and the store; each example has its own book.
    with another_book(inv) as cli:
        value_text = format_minor(value, currency)
        line = fixed_price(cli, value_text, currency)
        amounts = []
        for k, part in enumerate(parts):
            percent = str(Decimal(part).scaleb(-2))
            added = cli.ok("schedule", "add", line, "--milestone", f"M{k}", "--date", "2026-01-01",
                           "--percent", percent)
            amounts.append(parse_minor(added["amount"], currency))
        # all but the last: the share rounded half up
        for part, amount in zip(parts[:-1], amounts):
            assert amount == (Fraction(value) * Fraction(part, 10000) + Fraction(1, 2)).__floor__()
        assert sum(amounts) == value
        assert [parse_minor(a, currency) for a in milestone_amounts(cli, line)] == amounts


def test_the_iso_4217_table_holds_only_codes_of_the_maintained_list():
    """money.py keeps ISO 4217's minor digits (pycountry has the codes but not the digits;
    babel's CLDR digits differ from ISO's for IQD, HUF, IDR and a dozen more). Every code of
    the table is in pycountry's ISO 4217 list, but those withdrawn lately, kept so that a
    book holding them still reads."""
    import pycountry

    from invoicer.money import MINOR_DIGITS

    withdrawn = {"ANG", "BGN", "CUC", "SLL", "ZWL"}
    assert set(MINOR_DIGITS) - {c.alpha_3 for c in pycountry.currencies} <= withdrawn
