"""Random values for every option and every import row (spec sections 3 and 6): each
outcome is a success (exit 0, one JSON document) or one of the spec's exit codes with
exactly one line on stderr and no traceback; a refused command leaves the database as it
was (every table compared through a dump); text, SQL fragments included, is stored as
given and never executed; and whatever was accepted obeys what the spec says of amounts
("positive decimal strings, exact in the currency's minor unit"), dates (ISO YYYY-MM-DD)
and ids. A value the spec refuses, among values it accepts, gives exit 1 naming its field.

Half the examples draw one value wild among good ones (so that successes are common and
a refusal has one cause), the other half draw every value wild. Each example runs
in-process against its own copy of a small book, so examples are independent of each
other (hence the function-scoped fixture health check is off)."""

import csv
import io
import itertools
import json
import re
import sqlite3
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicer.cli.common import EMPTY_MEANS_NONE
from tests.conftest import JOB, Invoicer, dump, freeze, query, restore

TODAY = date(2026, 11, 24)  # the fixture's clock
EXIT_CODES = {0, 1, 2, 3, 4}
MINOR_DIGITS = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}  # ISO 4217, for the currencies used here
FUZZED: Counter = Counter()
OUTCOMES: dict[str, Counter] = {}


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    if FUZZED:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            examples = sum(v for k, v in FUZZED.items() if not k.startswith("rows"))
            rows = sum(v for k, v in FUZZED.items() if k.startswith("rows"))
            print(f"\n[test_fuzz] {examples} commands and {rows} import rows fuzzed")
            for name, seen in sorted(OUTCOMES.items()):
                rows_of = FUZZED.get(f"rows {name}")
                print(f"[test_fuzz]   {name}: {sum(seen.values())} runs"
                      + (f", {rows_of} rows" if rows_of else "") + ", exit codes "
                      + " ".join(f"{code}x{n}" for code, n in sorted(seen.items())))


FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Examples of each fuzz test on PostgreSQL: one costs several times SQLite's there, and the
# bugs of the SQL both stores share are SQLite's examples' to find.
ON_POSTGRESQL = 10


def fuzzed(examples: int = 100, **strategies):
    """@settings(FUZZ, max_examples=examples) @given(**strategies), on SQLite: on_postgresql()
    makes the same body's test on the server."""
    def make(body):
        test = pytest.mark.sqlite_only(settings(FUZZ, max_examples=examples)(given(**strategies)(body)))
        test.body, test.strategies = body, strategies
        return test
    return make


def on_postgresql(test, examples: int = ON_POSTGRESQL):
    """The fuzzed test's body on PostgreSQL, ON_POSTGRESQL examples."""
    variant = settings(FUZZ, max_examples=examples)(given(**test.strategies)(test.body))
    return pytest.mark.postgresql_only(variant)


# values: good ones, and wild ones (good ones among them) --------------------------------------

SQL = [
    "'); DROP TABLE transactions; --",
    "Robert'); DROP TABLE contracts; --",
    "x' OR '1'='1",
    "1; DELETE FROM invoices; --",
    '"; UPDATE counters SET value = 0; --',
    "%' ; ATTACH DATABASE 'evil.db' AS evil; --",
]
ODD_TEXT = ["", " ", "  padded  ", "x" * 10_000, "契約 東京", "Zoë Ærøskøbing", "🧾💸", "\u202eright-to-left",
            "tab\tinside", "line\nbreak", "nul\x00byte", "--json", "-", "NULL", "None", "%s%n{0}", "\\", "'", '"']
printable = st.characters(blacklist_categories=("Cc", "Cs"))
good_text = st.one_of(st.sampled_from(SQL + ["契約 東京", "Zoë Ærøskøbing", "🧾💸", "NULL", "%s%n{0}", "'", '"']),
                      st.text(printable, min_size=1, max_size=40).filter(str.strip))
texts = st.one_of(good_text, st.sampled_from(ODD_TEXT), st.text(max_size=40), st.text(max_size=300))

ODD_AMOUNTS = ["1e3", "NaN", "nan", "Infinity", "-0", "0", "0.00", "0.001", "0.01", "99999999999999999", "1,000",
               " 12 ", "12.", ".5", "+5", "-5", "1_000", "１２", "0x1F", "", " ", "12.345", "1234.5", "1234.50",
               "1234.500", "9999999999999.99", "10000000000000.01", "1e-2", "١٢٣", "12 000", "1.2.3"]
good_amounts = st.one_of(st.integers(min_value=1, max_value=10**6).map(str),
                         st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2).map(str))
amounts = st.one_of(
    good_amounts,
    st.sampled_from(ODD_AMOUNTS),
    st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1e9"), places=3, allow_nan=False).map(str),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.text(max_size=12),
)

# The ends of the calendar (the first days of year 1, the last centuries before 9999) have
# tests of their own (below): kept out of the fuzzing, so that the bugs found there do not
# hide others.
ODD_DATES = ["2026-02-30", "20261201", "", "2026-13-01", "0000-01-01", "0001-02-01", "2999-12-31", "2026-11-24",
             "2026-11-25", "2026-12-01", "2026-1-1", "2026-01-01T00:00", " 2026-10-05 ", "2026-W48-2", "2026-334", "yesterday", "2026/10/05", "١٢٣٤-٠١-٠١", "2024-02-29", "2023-02-29"]
good_dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)).map(date.isoformat)
dates = st.one_of(good_dates, st.sampled_from(ODD_DATES),
                  st.dates(min_value=date(1, 2, 1), max_value=date(9499, 12, 31)).map(date.isoformat),
                  st.text(max_size=12))

ODD_IDS = ["0", "-1", "-999", "999999", "9" * 30, "abc", "", " ", "1.0", "1e2", "0x1", "+1", " 1 ", "١", "NaN",
           "1'; DROP TABLE transactions; --"]


def wild_ids(existing) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from([str(i) for i in existing]), st.sampled_from(ODD_IDS),
                     st.integers(min_value=-10**20, max_value=10**20).map(str))


def optional(strategy):
    return st.one_of(st.none(), strategy)


def draw_values(data, fields: dict) -> tuple[dict, str | None]:
    """{field: (good, wild)} -> (values, the one wild field or None when every one is wild)."""
    wild = data.draw(st.one_of(st.none(), st.sampled_from(list(fields))), "wild field")
    return {k: data.draw(bad if wild in (None, k) else good, k) for k, (good, bad) in fields.items()}, wild


# what the spec says a value must be ----------------------------------------------------------

def spec_amount(text, currency: str) -> Decimal | None:
    """The amount if the spec accepts it: a positive decimal, exact in the currency's minor
    unit. Blanks around it are tolerated (the spec is silent on them)."""
    raw = str(text).strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw):
        return None
    value = Decimal(raw)
    if value <= 0 or value != value.quantize(Decimal(1).scaleb(-MINOR_DIGITS[currency])):
        return None
    return value


def spec_date(text) -> date | None:
    raw = str(text).strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def strict(text) -> bool:
    """No blanks around it: blanks are tolerated either way (the spec is silent on them)."""
    return isinstance(text, str) and text == text.strip()


def entered(value):
    """An option's value as the fuzz oracles read it: an empty value given on the command
    line counts as not given (test_an_empty_option_value_is_a_bad_value says otherwise)."""
    return None if value == "" else value


def same_text(stored, given) -> bool:
    """Stored as given (or trimmed of blanks at its ends)."""
    return stored == given or stored == given.strip()


def assert_money(text: str, value: Decimal, currency: str) -> None:
    digits = MINOR_DIGITS[currency]
    assert isinstance(text, str), f"money must be a string in JSON: {text!r}"
    assert re.fullmatch(r"[0-9]+" + (rf"\.[0-9]{{{digits}}}" if digits else ""), text), (text, currency)
    assert Decimal(text) == value, (text, value)


def assert_refusal_names(error: dict | None, field: str) -> None:
    """A bad value among good ones: exit 1, and the message names its field."""
    assert error is not None, f"a bad {field} was accepted"
    names = {field, field.replace("_", "-"), field.replace("-", "_")}
    assert any(n in error["message"] for n in names), (field, error)


# the book every example starts from ---------------------------------------------------------

class Book:
    """A small book built once per test; every example gets a fresh copy of the file."""

    def __init__(self, inv, tmp_path):
        self.monkeypatch = inv.monkeypatch
        self.folder = tmp_path
        inv.setup_job()
        self.tm = inv.line("C-100", "Design")
        self.fp = inv.line("C-100", "Build", "fixed-price", "Fabrikam", "--amount", "10000")
        self.jpy = inv.line("C-200", "Support", "time-and-material", "Contoso", "--currency", "JPY")
        self.kwd = inv.line("C-300", "Ops", "time-and-material", "Northwind", "--currency", "KWD",
                            "--not-to-exceed", "500")
        self.lines = [self.tm, self.fp, self.jpy, self.kwd]
        self.tm_lines = [self.tm, self.jpy, self.kwd]
        self.currency = {self.tm: "USD", self.fp: "USD", self.jpy: "JPY", self.kwd: "KWD"}
        self.customer = {"C-100": "Fabrikam", "C-200": "Contoso", "C-300": "Northwind"}
        self.schedules = [inv.ok("schedule", "add", self.tm, "--frequency", "monthly", "--start", "2026-10-01")["id"],
                          inv.ok("schedule", "add", self.jpy, "--dates", "2026-10-01,2026-11-01")["id"],
                          inv.ok("schedule", "add", self.kwd, "--frequency", "weekly", "--start", "2026-09-28")["id"]]
        self.milestones = [
            inv.ok("schedule", "add", self.fp, "--milestone", "Kick-off", "--date", "2026-09-15", "--amount", "2500",
                   "--ready")["id"],
            inv.ok("schedule", "add", self.fp, "--milestone", "Sign-off", "--date", "2026-12-15",
                   "--percent", "25")["id"],
        ]
        self.milestone_total = Decimal(5000)
        for line, day, amount in ((self.tm, "2026-09-05", "1200"), (self.jpy, "2026-09-10", "15000"),
                                  (self.kwd, "2026-09-11", "12.345"), (self.tm, "2026-10-07", "300.50"),
                                  (self.jpy, "2026-11-20", "700")):
            inv.ok("transaction", "add", line, "--date", day, "--amount", amount, "--description", "Workshop")
        self.invoices = {i["number"]: i for i in inv.ok("run-once", "--date", "2026-10-01")["invoices"]}
        numbers = sorted(self.invoices)
        assert len(numbers) >= 3
        inv.ok("invoice", "confirm", numbers[0])
        inv.ok("invoice", "cancel", numbers[-1])
        self.status = {n: "draft" for n in numbers} | {numbers[0]: "confirmed", numbers[-1]: "cancelled"}
        # The milestone Kick-off is on the confirmed invoice; a cancelled draft's
        # transactions are unbilled again (spec 5).
        assert [l["line_id"] for l in self.invoices[numbers[0]]["lines"]] == [self.fp]
        self.invoiced_milestone = self.milestones[0]
        self.transactions = [t["id"] for t in inv.ok("transaction", "list")["transactions"]]
        self.unbilled = {t["id"] for t in inv.ok("transaction", "list", "--unbilled")["transactions"]}
        assert 0 < len(self.unbilled) < len(self.transactions)
        self.tables = tables(inv)
        self.counter = itertools.count()
        self.frozen = None
        if inv.postgres:
            # One database of the cluster for the examples, put back to this book before each.
            self.frozen = freeze(inv.db)
            self.example = inv.another(tmp_path / "example.db")
            return
        _settle(inv.db)
        self.template = Path(inv.db).read_bytes()

    def fresh(self) -> Invoicer:
        folder = self.folder / f"example-{next(self.counter)}"
        folder.mkdir()
        if self.frozen is not None:
            restore(self.example.db, self.frozen)
            return Invoicer(self.example.db, self.monkeypatch, folder=folder)
        path = folder / "book.db"
        path.write_bytes(self.template)
        return Invoicer(path, self.monkeypatch)


def _settle(db) -> None:
    """Fold the write-ahead log into the file, so that a copy of the file is the whole book."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def tables(runner: Invoicer) -> set[str]:
    if runner.postgres:
        return {r[0] for r in query(runner, "SELECT tablename FROM pg_tables WHERE schemaname = 'invoicer'")}
    return {r[0] for r in query(runner, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def finish(runner: Invoicer) -> None:
    folder = runner.dir
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


@pytest.fixture
def book(inv, tmp_path):
    return Book(inv, tmp_path)


def attempt(book: Book, runner: Invoicer, name: str, *args, input=None):
    """Run one command with --json and check what every outcome must be. Returns (the JSON
    document, None) on success; (None, the error) when refused, and then nothing was written."""
    FUZZED[name] += 1
    before = dump(runner)
    result = runner(*args, "--json", input=input)  # an uncaught exception is raised here: a traceback
    OUTCOMES.setdefault(name, Counter())[result.exit_code] += 1
    assert result.exit_code in EXIT_CODES, (args, result.exit_code, result.stderr[-500:])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert tables(runner) == book.tables, "a table was dropped or added"
    if result.exit_code == 0:
        return json.loads(result.stdout), None  # exactly one JSON document
    assert result.stdout == "", "nothing on stdout on an error"
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-1000:]
    error = json.loads(result.stderr)["error"]
    assert error["code"] and error["message"], error
    assert "database is locked" not in error["message"].lower()
    assert dump(runner) == before, f"refused (exit {result.exit_code}: {error['message'][:200]}) but wrote"
    if result.exit_code == 2:
        assert error["code"] == "usage"
    return None, error


def options(values: dict) -> list[str]:
    """Options from {"--flag": value}: None leaves the option out, True gives a bare flag."""
    found = []
    for option, value in values.items():
        if value is True:
            found.append(option)
        elif value is not None and value is not False:
            found += [option, value]
    return found


# single-row commands --------------------------------------------------------------------------

good_currencies = st.sampled_from([None, "USD", "EUR", "usd"])
currencies = st.one_of(good_currencies, st.sampled_from(["JPY", " KWD ", "XXX", "EURO", "US$", ""] + SQL),
                       st.text(max_size=4))
good_methods = st.sampled_from(["fixed-price", "time-and-material"])
methods = st.one_of(good_methods, st.sampled_from(["Fixed-Price", "fixed price", "", "T&M"]), texts)
new_contracts = st.one_of(st.sampled_from(["C-100", "C-200"]), good_text)


@fuzzed(data=st.data())
def test_fuzz_contract_add_line(book, data):
    runner = book.fresh()
    values, wild = draw_values(data, {
        "contract": (new_contracts, texts), "--name": (good_text, texts), "--customer": (good_text, texts),
        "--billing-method": (good_methods, methods), "--amount": (good_amounts, optional(amounts)),
        "--not-to-exceed": (st.none(), optional(amounts)), "--project": (optional(good_text), optional(texts)),
        "--currency": (good_currencies, currencies)})
    contract = values.pop("contract")
    done, error = attempt(book, runner, "contract add-line", "contract", "add-line", contract, *options(values))
    if wild in ("--amount", "--not-to-exceed") and values[wild] is not None \
            and spec_amount(values[wild], "KWD") is None:  # bad in any currency of this book
        assert error is not None, f"{wild} {values[wild]!r} accepted"
        if contract.strip() not in book.customer and (wild == "--amount" or
                                                      values["--billing-method"] == "time-and-material"):
            assert_refusal_names(error, wild[2:])
    if done:
        assert isinstance(done["id"], int)
        assert same_text(done["contract"], contract) and same_text(done["name"], values["--name"])
        assert same_text(done["customer"], values["--customer"])
        if done["contract"] in book.customer:  # an existing contract keeps its one customer and currency
            assert done["customer"] == book.customer[done["contract"]]
        if values["--project"] and values["--project"].strip():
            assert same_text(done["project"], values["--project"])
        currency = done["currency"]
        for option, key in (("--amount", "amount"), ("--not-to-exceed", "not_to_exceed")):
            if values[option] is not None:
                value = spec_amount(values[option], currency)
                assert value is not None, f"{option} {values[option]!r} accepted for {currency}"
                assert_money(done[key], value, currency)
        assert done["billing_method"] in ("fixed-price", "time-and-material")
        if done["billing_method"] == "fixed-price":
            assert done["amount"] is not None and done["not_to_exceed"] is None
        (listed,) = [l for l in runner.ok("contract", "list")["lines"] if l["id"] == done["id"]]
        assert listed == done
    finish(runner)


@fuzzed(data=st.data())
def test_fuzz_contract_set_line(book, data):
    runner = book.fresh()
    values, wild = draw_values(data, {
        "line_id": (st.sampled_from([str(i) for i in book.lines]), wild_ids(book.lines)),
        # A good value may still break a rule (below the milestones, a cap on a fixed-price
        # line): amounts come only wild, so that a refusal has one cause.
        "--name": (optional(good_text), optional(texts)), "--amount": (st.none(), optional(amounts)),
        "--not-to-exceed": (st.none(), optional(amounts)),
        "--no-not-to-exceed": (st.just(False), st.booleans()), "--project": (optional(good_text), optional(texts))})
    line_id = values.pop("line_id")
    done, error = attempt(book, runner, "contract set-line", "contract", "set-line", line_id, *options(values))
    line = int(line_id) if line_id in {str(i) for i in book.lines} else None
    if wild in ("--amount", "--not-to-exceed") and values[wild] is not None and line \
            and spec_amount(values[wild], book.currency[line]) is None:
        assert_refusal_names(error, wild[2:])
    if done:
        assert str(done["id"]) == line_id.strip() and done["id"] in book.lines
        if values["--name"] is not None:
            assert same_text(done["name"], values["--name"])
        if values["--project"] and values["--project"].strip():
            assert same_text(done["project"], values["--project"])
        if values["--amount"] is not None:
            value = spec_amount(values["--amount"], done["currency"])
            assert value is not None, f"--amount {values['--amount']!r} accepted"
            assert_money(done["amount"], value, done["currency"])
            if done["id"] == book.fp:  # not below what the line's milestones add up to
                assert value >= book.milestone_total
        if values["--not-to-exceed"] is not None:
            assert not values["--no-not-to-exceed"], "both --not-to-exceed and --no-not-to-exceed accepted"
            assert done["billing_method"] == "time-and-material"
            value = spec_amount(values["--not-to-exceed"], done["currency"])
            assert value is not None, f"--not-to-exceed {values['--not-to-exceed']!r} accepted"
            assert_money(done["not_to_exceed"], value, done["currency"])
    finish(runner)


frequencies = st.one_of(st.sampled_from(["daily", "weekly", "biweekly", "semimonthly", "monthly", "quarterly",
                                         "Monthly", "yearly", "hourly", ""]), texts)
good_rrules = st.sampled_from(["FREQ=MONTHLY;BYMONTHDAY=7,-1", "FREQ=WEEKLY;BYDAY=MO", "FREQ=MONTHLY;INTERVAL=2"])
rrules = st.one_of(good_rrules, st.sampled_from([
    "FREQ=HOURLY", "FREQ=DAILY;INTERVAL=0", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "DTSTART:20260101\nRRULE:FREQ=DAILY",
    "FREQ=MONTHLY;COUNT=0", "FREQ=WEEKLY;BYDAY=XX", "RRULE:FREQ=WEEKLY", "FREQ=", "FREQ=MONTHLY;UNTIL=20250101",
    "FREQ=SECONDLY", "FREQ=MONTHLY;BYMONTHDAY=0"]), texts)
good_date_lists = st.lists(good_dates, min_size=1, max_size=4).map(",".join)
date_lists = st.one_of(good_date_lists, st.lists(dates, max_size=4).map(",".join),
                       st.lists(dates, max_size=3).map(";".join), texts)
good_percents = st.sampled_from(["5", "12.5", "20", "0.5"])
percents = st.one_of(good_percents, st.sampled_from(["100", "100.0001", "0", "-5", "33.333333333333", "1e1", "NaN",
                                                     "", "50%"]), amounts)
small_amounts = st.integers(min_value=1, max_value=800).map(str)


@fuzzed(data=st.data())
def test_fuzz_schedule_add_milestone(book, data):
    runner = book.fresh()
    values, wild = draw_values(data, {
        "line_id": (st.just(str(book.fp)), wild_ids(book.lines)), "--milestone": (good_text, texts),
        "--date": (good_dates, dates), "--amount": (small_amounts, optional(amounts)),
        "--percent": (st.none(), optional(percents)), "--ready": (st.booleans(), st.booleans())})
    line_id = values.pop("line_id")
    done, error = attempt(book, runner, "schedule add (milestone)", "schedule", "add", line_id, *options(values))
    if wild == "--date" and spec_date(values["--date"]) is None:
        assert_refusal_names(error, "date")
    if wild == "--amount" and entered(values["--amount"]) is not None \
            and spec_amount(values["--amount"], "USD") is None:
        assert_refusal_names(error, "amount")
    if wild == "line_id" and line_id.strip() in {str(i) for i in book.tm_lines}:
        assert error is not None, "a milestone on a time-and-material line"
    if done:
        assert done["line_id"] == book.fp and str(done["line_id"]) == line_id.strip()
        assert done["kind"] == "milestone" and done["ready"] is bool(values["--ready"])
        assert same_text(done["name"], values["--milestone"])
        assert spec_date(values["--date"]) == date.fromisoformat(done["date"])
        amount, percent = entered(values["--amount"]), entered(values["--percent"])
        assert (amount is None) != (percent is None), "a milestone needs exactly one of --amount, --percent"
        if amount is not None:
            value = spec_amount(values["--amount"], "USD")
            assert value is not None, f"--amount {values['--amount']!r} accepted"
            assert_money(done["amount"], value, "USD")
        assert Decimal(done["amount"]) <= Decimal(10000) - book.milestone_total, "milestones over the line's value"
    finish(runner)


@fuzzed(data=st.data())
def test_fuzz_schedule_add_date_based(book, data):
    runner = book.fresh()
    kind = data.draw(st.sampled_from(["--frequency", "--rrule", "--dates"]), "kind")
    good_kind = {"--frequency": st.sampled_from(["daily", "weekly", "biweekly", "semimonthly", "monthly", "quarterly"]),
                 "--rrule": good_rrules, "--dates": good_date_lists}[kind]
    wild_kind = {"--frequency": frequencies, "--rrule": rrules, "--dates": date_lists}[kind]
    ranged = kind != "--dates"
    values, wild = draw_values(data, {
        "line_id": (st.sampled_from([str(i) for i in book.tm_lines]), wild_ids(book.lines)),
        kind: (good_kind, wild_kind),
        "--start": (good_dates if ranged else st.none(), optional(dates)),
        "--end": (st.none(), optional(dates)), "--replace": (st.just(True), st.booleans())})
    if data.draw(st.integers(0, 9), "both kinds") == 0:
        values["--milestone"] = "M"
    line_id = values.pop("line_id")
    done, error = attempt(book, runner, "schedule add (dates)", "schedule", "add", line_id, *options(values))
    if wild in ("--start", "--end") and entered(values[wild]) is not None and spec_date(values[wild]) is None:
        assert error is not None, f"{wild} {values[wild]!r} accepted"
        if "--milestone" not in values:
            assert_refusal_names(error, wild[2:])
    if done:
        assert "--milestone" not in values, "a milestone and a date-based schedule at once"
        assert done["line_id"] in book.tm_lines and str(done["line_id"]) == line_id.strip()
        assert values["--replace"], "a second date-based schedule without --replace"
        for option in ("--start", "--end"):
            if entered(values[option]) is not None:
                assert spec_date(values[option]) == date.fromisoformat(done[option[2:]])
        if kind == "--dates":
            wanted = {spec_date(d) for d in re.split("[,;]", values["--dates"]) if d.strip()}
            assert None not in wanted and {date.fromisoformat(d) for d in done["dates"]} == wanted
    finish(runner)


good_types = st.sampled_from([None, "time", "expense", "material", "fee"])
types = st.one_of(good_types, st.sampled_from(["TIME", "hours", ""]), texts)
good_quantities = st.sampled_from([None, "8", "7.5", "0.25"])
quantities = st.one_of(good_quantities, st.sampled_from(["0", "-1", "1e3", "NaN", "", "1,5"]), amounts)


@fuzzed(data=st.data())
def test_fuzz_transaction_add(book, data):
    runner = book.fresh()
    values, wild = draw_values(data, {
        "line_id": (st.sampled_from([str(i) for i in book.tm_lines]), wild_ids(book.lines)),
        "--date": (good_dates, dates), "--amount": (st.integers(1, 10**6).map(str), amounts),
        "--type": (good_types, optional(types)), "--quantity": (good_quantities, optional(quantities)),
        "--description": (optional(good_text), optional(texts))})
    line_id = values.pop("line_id")
    done, error = attempt(book, runner, "transaction add", "transaction", "add", line_id, *options(values))
    if wild in ("--date", "--amount"):
        currency = book.currency[int(line_id)]
        if wild == "--date":
            invalid = spec_date(values["--date"]) is None
        else:
            invalid = spec_amount(values["--amount"], currency) is None
        if invalid:
            assert_refusal_names(error, wild[2:])
    if wild == "line_id" and line_id.strip() == str(book.fp):
        assert error is not None, "a transaction on a fixed-price line"
    if done:
        currency = book.currency.get(done["line_id"])
        assert done["line_id"] in book.tm_lines, "a transaction on a fixed-price or unknown line"
        assert str(done["line_id"]) == line_id.strip()
        assert spec_date(values["--date"]) == date.fromisoformat(done["date"]), (values["--date"], done["date"])
        value = spec_amount(values["--amount"], currency)
        assert value is not None, f"--amount {values['--amount']!r} accepted for {currency}"
        assert_money(done["amount"], value, currency)
        assert done["billed"] is False and done["invoice"] is None
        assert done["type"] in ("time", "expense", "material", "fee")
        if values["--description"] and values["--description"].strip():
            assert same_text(done["description"], values["--description"])
    finish(runner)


run_flags = st.lists(st.sampled_from(["--dry-run", "--force", "--allow-future"]), unique=True, max_size=3)


@fuzzed(60,  # a real run years ahead catches up every run date: slow
        when=optional(dates), flags=run_flags)
def test_fuzz_run_once_date(book, when, flags):
    runner = book.fresh()
    before = dump(runner)
    args = (["--date", when] if when is not None else []) + flags
    done, error = attempt(book, runner, "run-once", "run-once", *args)
    if when is not None and spec_date(when) is None:
        assert_refusal_names(error, "date")
    if done:
        run_date = date.fromisoformat(done["run_date"])
        assert run_date == (spec_date(when) if when is not None else TODAY)
        if run_date > TODAY and "--dry-run" not in flags:
            assert "--allow-future" in flags, "a real run for a future date without --allow-future"
        if "--dry-run" in flags:
            assert dump(runner) == before, "a dry run wrote to the database"
            assert all(i["number"] is None for i in done["invoices"])
        assert done["status"] in ("completed", "sleeping", "dry-run")
    finish(runner)


invoice_numbers = st.one_of(st.sampled_from(["INV-000001", "INV-000002", "INV-000003", "INV-000004", "INV-999999",
                                             "inv-000002", " INV-000002 ", "INV-2", "INV-0000002", ""] + SQL), texts)


@fuzzed(action=st.sampled_from(["show", "confirm", "cancel"]), number=invoice_numbers)
def test_fuzz_invoice_show_confirm_cancel(book, action, number):
    runner = book.fresh()
    before = dump(runner)
    done, error = attempt(book, runner, f"invoice {action}", "invoice", action, number)
    if done:
        assert done["number"] in book.status, f"{number!r} found {done['number']}"
        was = book.status[done["number"]]
        if action == "show":
            assert dump(runner) == before and done["status"] == was
        elif action == "confirm":
            assert was == "draft" and done["status"] == "confirmed"
        else:
            assert was == "draft" and done["status"] == "cancelled"
    elif number in book.status:
        # A real invoice is refused only by a rule: only drafts are confirmed or cancelled.
        assert (action, book.status[number]) in (("confirm", "cancelled"), ("confirm", "confirmed"),
                                                 ("cancel", "confirmed"), ("cancel", "cancelled")), (action, number, error)
    finish(runner)


@fuzzed(data=st.data())
def test_fuzz_schedule_ready_remove_and_transaction_delete(book, data):
    runner = book.fresh()
    action = data.draw(st.sampled_from(["schedule ready", "schedule remove", "transaction delete"]), "action")
    known = book.transactions if action == "transaction delete" else book.schedules + book.milestones
    some_id = data.draw(wild_ids(known), "id")
    done, error = attempt(book, runner, action, *action.split(), some_id)
    if done:
        assert done["id"] in known and str(done["id"]) == some_id.strip()
        if action == "transaction delete":
            assert done["id"] in book.unbilled, "a billed transaction was deleted"
            assert done["id"] not in {t["id"] for t in runner.ok("transaction", "list")["transactions"]}
        elif action == "schedule ready":
            assert done["id"] in book.milestones and done["ready"] is True
        else:
            assert done["id"] != book.invoiced_milestone, "an invoiced milestone was removed"
    elif some_id in {str(i) for i in known}:
        # An id that exists is refused only by a rule.
        assert (action == "transaction delete" and int(some_id) not in book.unbilled) \
            or (action == "schedule ready" and int(some_id) in book.schedules) \
            or (action == "schedule remove" and int(some_id) == book.invoiced_milestone), (action, some_id, error)
    finish(runner)


# imports ----------------------------------------------------------------------------------------

def file_text(fmt: str, header: list[str], rows: list[dict]) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row.get(h) for h in header])
        return out.getvalue()
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def json_value(strategy):
    """A JSON Lines value: mostly what a CSV cell holds, sometimes a number, a boolean,
    null or a list."""
    return st.one_of(strategy, strategy, strategy, st.integers(-10**6, 10**20), st.booleans(), st.none(),
                     st.floats(allow_nan=False, allow_infinity=False), st.just(["x"]))


def text_of(value) -> str | None:
    """What a CSV cell or JSON value says, as the import should read it (None: absent, as
    an empty or blank one is)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def blank(row: dict) -> bool:
    return not any((text_of(v) or "").strip() for v in row.values())


@st.composite
def import_rows(draw, fields: dict, fmt: str):
    """Rows of {column: value} and, for each row, its one wild column ("*": all wild; None:
    none). A file has good rows only, one row with one wild value, one wild value in every
    row, or every value wild."""
    count = draw(st.integers(1, 6))
    mode = draw(st.sampled_from(["good", "one row", "every row", "all wild"]))
    odd_row = draw(st.integers(0, count - 1))
    rows, wild_fields = [], []
    for n in range(count):
        wild = {"good": None, "all wild": "*"}.get(mode) or (
            None if mode == "one row" and n != odd_row else draw(st.sampled_from(list(fields))))
        row = {}
        for key, (good, bad) in fields.items():
            is_wild = wild in ("*", key)
            strategy = (json_value(bad) if fmt == "jsonl" else bad) if is_wild else good
            row[key] = draw(strategy)
        rows.append(row)
        wild_fields.append(wild)
    return rows, wild_fields


def import_outcome(book, runner, kind, fmt, rows, key=None, known=()):
    """Import the rows; returns the rows that count (a CSV row of empty cells is no row),
    or None and the error when refused. With `key`, a row whose key is `known` or was
    given by a row before it repeats what the book holds (spec section 11): it is counted
    as unchanged, and left out of the rows returned."""
    FUZZED[f"rows {kind} import"] += len(rows)
    path = runner.dir / f"import.{fmt}"
    path.write_text(file_text(fmt, list(rows[0]), rows), encoding="utf-8")
    done, error = attempt(book, runner, f"{kind} import", kind, "import", str(path))
    counted = [row for row in rows if not (fmt == "csv" and blank(row))]
    if done is None:
        # The error names the row to blame (1 = the CSV header / the first JSON object).
        assert re.search(r"\brow \d+", error["message"]), error["message"]
        return None, error
    if key is not None:
        seen, new = set(known), []
        for row in counted:
            if key(row) not in seen:
                seen.add(key(row))
                new.append(row)
        done, counted = dict(done, unchanged=done["unchanged"] - (len(counted) - len(new))), new
    assert done == {"imported": len(counted), "unchanged": 0}, (done, len(counted))
    return counted, None


def bad_row(rows, wilds, fmt, check) -> int | None:
    """The file's row number of the first row whose one wild value `check` finds bad."""
    header = 1 if fmt == "csv" else 0
    number = header
    for row, wild in zip(rows, wilds):
        if fmt == "csv" and blank(row):
            continue
        number += 1
        if wild not in (None, "*") and check(row, wild):
            return number
    return None


@fuzzed(data=st.data(), fmt=st.sampled_from(["csv", "jsonl"]))
def test_fuzz_transaction_import(book, data, fmt):
    runner = book.fresh()
    fields = {"line_id": (st.sampled_from([str(i) for i in book.tm_lines]), wild_ids(book.lines)),
              "contract": (st.none(), optional(texts)), "line": (st.none(), optional(texts)),
              "date": (good_dates, dates), "amount": (st.integers(1, 10**6).map(str), amounts),
              "type": (good_types, types), "quantity": (good_quantities, quantities),
              "description": (optional(good_text), texts)}
    rows, wilds = data.draw(import_rows(fields, fmt), "rows")
    known = {t["id"] for t in runner.ok("transaction", "list")["transactions"]}
    counted, error = import_outcome(book, runner, "transaction", fmt, rows)

    def bad(row, wild):
        if wild == "date":
            return spec_date(text_of(row["date"]) or "") is None
        if wild == "amount" and row["line_id"] in {str(i) for i in book.tm_lines}:
            return spec_amount(text_of(row["amount"]) or "", book.currency[int(row["line_id"])]) is None
        return False

    first_bad = bad_row(rows, wilds, fmt, bad)
    if first_bad is not None:
        assert error is not None, f"row {first_bad} has a bad value and the file was imported"
    if counted is not None:
        added = sorted((t for t in runner.ok("transaction", "list")["transactions"] if t["id"] not in known),
                       key=lambda t: t["id"])
        assert len(added) == len(counted)
        for row, t in zip(counted, added):
            currency = book.currency[t["line_id"]]
            assert t["line_id"] in book.tm_lines
            assert spec_date(text_of(row["date"]) or "") == date.fromisoformat(t["date"]), (row, t)
            value = spec_amount(text_of(row["amount"]) or "", currency)
            assert value is not None, f"amount {row['amount']!r} imported for {currency}"
            assert_money(t["amount"], value, currency)
            description = text_of(row["description"])
            if description and description.strip():
                assert same_text(t["description"], description)
    finish(runner)


@fuzzed(data=st.data(), fmt=st.sampled_from(["csv", "jsonl"]))
def test_fuzz_contract_import(book, data, fmt):
    runner = book.fresh()
    fields = {"contract": (good_text, texts), "name": (good_text, texts), "customer": (st.just("Fabrikam"), texts),
              "billing_method": (good_methods, methods), "amount": (good_amounts, optional(amounts)),
              "not_to_exceed": (st.none(), optional(amounts)), "project": (optional(good_text), optional(texts)),
              "currency": (good_currencies, currencies)}
    rows, wilds = data.draw(import_rows(fields, fmt), "rows")
    known = {l["id"] for l in runner.ok("contract", "list")["lines"]}
    counted, error = import_outcome(book, runner, "contract", fmt, rows,
                                    key=lambda row: (text_of(row["contract"]).strip(), text_of(row["name"]).strip()))
    first_bad = bad_row(rows, wilds, fmt, lambda row, wild: wild in ("amount", "not_to_exceed")
                        and text_of(row[wild]) is not None and spec_amount(text_of(row[wild]), "KWD") is None)
    if first_bad is not None:
        assert error is not None, f"row {first_bad} has a bad amount and the file was imported"
    if counted is not None:
        added = sorted((l for l in runner.ok("contract", "list")["lines"] if l["id"] not in known),
                       key=lambda l: l["id"])
        assert len(added) == len(counted)
        for row, line in zip(counted, added):
            assert same_text(line["contract"], text_of(row["contract"]))
            assert same_text(line["name"], text_of(row["name"]))
            for key in ("amount", "not_to_exceed"):
                if text_of(row[key]) is not None:
                    value = spec_amount(text_of(row[key]), line["currency"])
                    assert value is not None, f"{key} {row[key]!r} imported for {line['currency']}"
                    assert_money(line[key], value, line["currency"])
    finish(runner)


@fuzzed(data=st.data(), fmt=st.sampled_from(["csv", "jsonl"]))
def test_fuzz_schedule_import(book, data, fmt):
    runner = book.fresh()
    ready = st.sampled_from(["true", "false", "1", "0", "yes", "no", "TRUE", None])
    fields = {"line_id": (st.just(str(book.fp)), wild_ids(book.lines)), "contract": (st.none(), optional(texts)),
              "line": (st.none(), optional(texts)), "frequency": (st.none(), optional(frequencies)),
              "rrule": (st.none(), optional(rrules)), "start": (st.none(), optional(dates)),
              "end": (st.none(), optional(dates)), "dates": (st.none(), optional(date_lists)),
              "milestone": (good_text, texts), "date": (good_dates, dates), "amount": (small_amounts, optional(amounts)),
              "percent": (st.none(), optional(percents)),
              "ready": (ready, st.one_of(ready, st.sampled_from(["maybe", "2", "oui"]), texts))}
    rows, wilds = data.draw(import_rows(fields, fmt), "rows")
    before = runner.ok("schedule", "list")["schedules"]
    counted, error = import_outcome(book, runner, "schedule", fmt, rows, key=lambda row: text_of(row["milestone"]).strip(),
                                    known={s["name"] for s in before if s["kind"] == "milestone"})
    first_bad = bad_row(rows, wilds, fmt, lambda row, wild: wild == "date"
                        and spec_date(text_of(row["date"]) or "") is None)
    if first_bad is not None:
        assert error is not None, f"row {first_bad} has a bad date and the file was imported"
    if counted is not None:
        # Every time-and-material line already has its date-based schedule (a file has no
        # --replace): what a row can add is a milestone on the fixed-price line.
        after = runner.ok("schedule", "list")["schedules"]
        new = [s for s in after if s["id"] not in {b["id"] for b in before}]
        assert len(new) == len(counted), (new, counted)
        assert all(s["kind"] == "milestone" and s["line_id"] == book.fp for s in new)
        milestones = [s for s in after if s["kind"] == "milestone"]
        assert sum(Decimal(m["amount"]) for m in milestones) <= Decimal(10000), "milestones over the line's value"
        for row, entry in zip(counted, sorted(new, key=lambda s: s["id"])):
            assert same_text(entry["name"], text_of(row["milestone"]))
            assert spec_date(text_of(row["date"]) or "") is not None, f"date {row['date']!r} imported"
            assert entry["date"] == spec_date(text_of(row["date"])).isoformat()
    finish(runner)


garbage = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b'"unclosed,quote\n1,2\n', b"{\"line_id\": 1, \"amount\": NaN}\n", b"{\"amount\": 1e999}\n",
                     b"line_id,amount\n\x00\x00\n", b"\xff\xfe\x00l\x00i", b"{}\n[]\n", b"{\"line_id\": {\"a\": 1}}\n",
                     b"contract,contract\nA,B\n", b"\n\n\n",
                     b"line_id,date,amount\n1,2026-10-05,12.50\n1,2026-10-05\n",
                     # Nested past Python's recursion limit (json's RecursionError).
                     b'{"line_id": ' + b"[" * 1000 + b"]" * 1000 + b"}\n",
                     b'{"contract": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}\n"]),
)


@fuzzed(kind=st.sampled_from(["contract", "schedule", "transaction"]), content=garbage)
def test_fuzz_imports_of_garbage_files(book, kind, content):
    runner = book.fresh()
    path = runner.dir / "garbage.txt"
    path.write_bytes(content)
    FUZZED[f"rows {kind} import (garbage)"] += max(1, content.count(b"\n"))
    attempt(book, runner, f"{kind} import (garbage)", kind, "import", str(path))
    finish(runner)


# every odd value, one by one (random draws meet each of them only now and then) ---------------

def test_each_odd_amount_is_accepted_exactly_when_the_spec_allows_it(book):
    wrong = []
    for line, amount in itertools.product(book.tm_lines, ODD_AMOUNTS + ["1.5", "1.50", "1.500", "1.005", "7"]):
        currency = book.currency[line]
        runner = book.fresh()
        done, error = attempt(book, runner, "odd amounts", "transaction", "add", line, "--date", "2026-10-05",
                              "--amount", amount)
        valid = spec_amount(amount, currency)
        if done and (valid is None or Decimal(done["amount"]) != valid):
            wrong.append(f"{amount!r} {currency}: accepted as {done['amount']}")
        elif not done and valid is None and "amount" not in error["message"]:
            wrong.append(f"{amount!r} {currency}: refused without naming the amount: {error['message']}")
        elif not done and valid is not None and strict(amount) and valid <= Decimal("1e12"):
            wrong.append(f"{amount!r} {currency}: refused: {error['message']}")
        finish(runner)
    assert not wrong, wrong


def test_each_odd_date_is_accepted_exactly_when_the_spec_allows_it(book):
    wrong = []
    for when in ODD_DATES + ["2026-10-5", "2026-10-05 ", "2026-10-05\n", "+2026-10-05", "2026-10-05Z"]:
        for args in (["transaction", "add", book.tm, "--date", when, "--amount", "5"],
                     ["run-once", "--date", when, "--dry-run"],
                     ["schedule", "add", book.fp, "--milestone", "M", "--date", when, "--amount", "5"]):
            runner = book.fresh()
            done, error = attempt(book, runner, "odd dates", *args)
            valid = spec_date(when)
            if done and valid is None:
                wrong.append(f"{args[:2]} {when!r}: accepted")
            elif done is None and valid is None and "date" not in error["message"]:
                wrong.append(f"{args[:2]} {when!r}: refused without naming the date: {error['message']}")
            elif done is None and valid is not None and strict(when):
                wrong.append(f"{args[:2]} {when!r}: refused: {error['message']}")
            finish(runner)
    assert not wrong, wrong


def test_each_odd_id_is_refused(book):
    """Ids that name nothing: zero, negative, huge, not a whole number."""
    wrong = []
    refused_ids = [i for i in ODD_IDS if i.strip() not in ("1", "+1")] + ["99999999999999999999999"]
    for some_id in refused_ids:
        for args in (["transaction", "delete", some_id], ["schedule", "ready", some_id],
                     ["schedule", "remove", some_id], ["contract", "set-line", some_id, "--name", "X"],
                     ["transaction", "add", some_id, "--date", "2026-10-05", "--amount", "5"],
                     ["schedule", "add", some_id, "--milestone", "M", "--date", "2026-10-05", "--amount", "5"]):
            runner = book.fresh()
            done, error = attempt(book, runner, "odd ids", *args)
            if done:
                wrong.append(f"{args}: accepted")
            finish(runner)
    assert not wrong, wrong


# the ends of the calendar ----------------------------------------------------------------------

def _done_or_refused_at_the_calendars_end(book, args):
    runner = book.fresh()
    done, error = attempt(book, runner, "calendar ends", *[a.format(tm=book.tm, fp=book.fp) for a in args])
    if done and args[0] == "run-once":
        assert done["run_date"] == args[2]
    finish(runner)


# A run years ahead catches up every run date (several seconds on PostgreSQL): the calendar's
# last day, dry and real, runs on both stores; these other far runs on SQLite only.
@pytest.mark.sqlite_only
@pytest.mark.parametrize("args", [
    ["run-once", "--date", "9700-01-01", "--dry-run"],
    ["run-once", "--date", "9999-12-30", "--allow-future"],
], ids=lambda args: " ".join(args))
def test_other_runs_far_ahead_are_done_or_refused_never_a_traceback(book, args):
    _done_or_refused_at_the_calendars_end(book, args)


@pytest.mark.parametrize("args", [
    ["run-once", "--date", "9999-12-31", "--dry-run"],
    ["run-once", "--date", "9999-12-31", "--allow-future"],
    ["schedule", "add", "{tm}", "--frequency", "daily", "--start", "9999-12-31", "--replace"],
    ["schedule", "add", "{tm}", "--frequency", "monthly", "--start", "9700-01-01", "--replace"],
    ["schedule", "add", "{tm}", "--frequency", "monthly", "--start", "9999-12-20", "--replace"],
    ["schedule", "add", "{tm}", "--rrule", "FREQ=WEEKLY", "--start", "9999-12-31", "--replace"],
    ["schedule", "add", "{fp}", "--milestone", "Last", "--date", "9999-12-31", "--amount", "1", "--ready"],
    ["transaction", "add", "{tm}", "--date", "0001-01-01", "--amount", "1"],
], ids=lambda args: " ".join(args).replace("{", "").replace("}", ""))
def test_dates_at_the_ends_of_the_calendar_are_done_or_refused_never_a_traceback(book, args):
    """Dates fuzzing met, valid ISO dates all: the first and the last centuries of the calendar."""
    _done_or_refused_at_the_calendars_end(book, args)


def test_an_invoice_confirmed_within_its_payment_terms_of_the_calendars_end_reads_back(book):
    """Issued days before 9999-12-31, its due date would be past the calendar's end: the
    confirmation is done or refused, and every invoice still reads (fuzzing met it)."""
    runner = book.fresh()
    draft = min(n for n, status in book.status.items() if status == "draft")
    runner.at("9999-12-26T00:00:00")
    attempt(book, runner, "confirm at the calendar's end", "invoice", "confirm", draft)
    runner.at("2026-11-24T10:00:00")
    assert runner.ok("invoice", "show", draft)["number"] == draft
    assert len(runner.ok("invoice", "list")["invoices"]) == len(book.status)
    finish(runner)


@pytest.mark.parametrize("flags", [["--dry-run"], []], ids=["dry-run", "real"])
def test_a_run_date_on_the_first_day_of_the_calendar_is_done_or_refused_never_a_traceback(book, flags):
    """0001-01-01 has no day before it: a run date on it bills nothing, and a later one
    of the same run bills what it may, the first day's transaction with it."""
    runner = book.fresh()
    line, _ = attempt(book, runner, "calendar ends", "contract", "add-line", "C-900", "--name", "Ancient",
                      "--customer", "Fabrikam", "--billing-method", "time-and-material")
    scheduled, _ = attempt(book, runner, "calendar ends", "schedule", "add", line["id"],
                           "--dates", "0001-01-01,0001-01-05", "--allow-past")
    assert scheduled
    for day, amount in (("0001-01-02", "5"), ("0001-01-01", "7")):
        attempt(book, runner, "calendar ends", "transaction", "add", line["id"], "--date", day, "--amount", amount)
    attempt(book, runner, "calendar ends", "run-once", "--date", "0001-01-01", *flags)
    ran, _ = attempt(book, runner, "calendar ends", "run-once", "--date", "0001-01-10", "--force", *flags)
    ancient = [i for i in ran["invoices"] if i["contract"] == "C-900"]
    assert [(i["run_date"], i["total"]) for i in ancient] == [("0001-01-05", "12.00")]
    finish(runner)


# empty values --------------------------------------------------------------------------------

@pytest.mark.parametrize("args, field", [
    (["schedule", "add", "{tm}", "--frequency", "monthly", "--start", "2026-12-01", "--end", "", "--replace"], "end"),
    (["schedule", "add", "{fp}", "--milestone", "M", "--date", "2026-12-01", "--amount", "5", "--percent", ""],
     "percent"),
    (["schedule", "add", "{fp}", "--milestone", "M", "--date", "2026-12-01", "--amount", "", "--percent", "5"],
     "amount"),
    (["contract", "add-line", "C-900", "--name", "X", "--customer", "Y", "--billing-method", "time-and-material",
      "--currency", ""], "currency"),
    (["transaction", "add", "{tm}", "--date", "2026-10-05", "--amount", "5", "--type", ""], "type"),
], ids=["schedule-end", "milestone-percent", "milestone-amount", "contract-currency", "transaction-type"])
def test_an_empty_option_value_is_a_bad_value_not_an_absent_one(book, args, field):
    """Spec 3: "Bad values give exit 1 naming the field". `--end ""` (a script's unset
    variable, say) is not a date in the form YYYY-MM-DD; read as "no end", the schedule
    would bill past the requested delivery date. Likewise an empty amount, percent,
    currency code or transaction type."""
    runner = book.fresh()
    done, error = attempt(book, runner, "empty values", *[a.format(tm=book.tm, fp=book.fp) for a in args])
    assert_refusal_names(error, field)
    finish(runner)


# SQL in every text field ----------------------------------------------------------------------

@pytest.mark.parametrize("fragment", SQL)
def test_sql_fragments_in_every_text_field_are_stored_verbatim_and_never_run(inv, fragment):
    inv.setup_job()
    line = inv.ok("contract", "add-line", fragment, "--name", fragment, "--customer", fragment,
                  "--billing-method", "time-and-material", "--project", fragment)
    assert [line[k] for k in ("contract", "name", "customer", "project")] == [fragment] * 4
    fp = inv.ok("contract", "add-line", fragment, "--name", fragment + " fixed", "--customer", fragment,
                "--billing-method", "fixed-price", "--amount", "100")
    milestone = inv.ok("schedule", "add", fp["id"], "--milestone", fragment, "--date", "2026-10-01", "--amount", "40",
                       "--ready")
    assert milestone["name"] == fragment
    inv.ok("schedule", "add", line["id"], "--frequency", "monthly", "--start", "2026-10-01")
    added = inv.ok("transaction", "add", line["id"], "--date", "2026-09-30", "--amount", "10",
                   "--description", fragment)
    assert added["description"] == fragment
    renamed = inv.ok("contract", "set-line", line["id"], "--name", fragment + "2", "--project", fragment + "3")
    assert (renamed["name"], renamed["project"]) == (fragment + "2", fragment + "3")
    path = inv.dir / "t.jsonl"
    path.write_text(file_text("jsonl", [], [{"contract": fragment, "line": fragment + "2", "date": "2026-09-29",
                                             "amount": "5", "description": fragment}]), encoding="utf-8")
    assert inv.ok("transaction", "import", str(path)) == {"imported": 1, "unchanged": 0}
    path = inv.dir / "c.csv"
    path.write_text(file_text("csv", ["contract", "name", "customer", "billing_method", "project"],
                              [{"contract": fragment + "4", "name": fragment, "customer": fragment,
                                "billing_method": "time-and-material", "project": fragment}]), encoding="utf-8")
    assert inv.ok("contract", "import", str(path)) == {"imported": 1, "unchanged": 0}

    run = inv.ok("run-once", "--date", "2026-10-01")
    (invoice,) = run["invoices"]
    assert invoice["contract"] == fragment and invoice["customer"] == fragment
    assert {l["name"] for l in invoice["lines"]} == {fragment + "2", fragment + " fixed"}
    assert invoice["total"] == "55.00"
    shown = inv.ok("invoice", "show", invoice["number"])
    details = [d for l in shown["lines"] for d in l["details"]]
    assert sorted(d.get("description") or d.get("name") for d in details) == [fragment] * 3
    assert [i["number"] for i in inv.ok("invoice", "list", "--contract", fragment)["invoices"]] == [invoice["number"]]
    assert {l["contract"] for l in inv.ok("contract", "list")["lines"]} == {fragment, fragment + "4"}
    assert len(inv.ok("transaction", "list")["transactions"]) == 2
    assert {"transactions", "contracts", "invoices", "counters", "contract_lines", "schedules"} <= tables(inv)


# random text, not valid Unicode among it, on every command's arguments ---------------------------

def _text_parameters_by_command():
    from tests.test_typed_values import CASES

    found: dict = {}
    for path, command, param in CASES:
        found.setdefault(path, (command, []))[1].append(param)
    return [(path, command, params) for path, (command, params) in found.items()]


EVERY_COMMAND = _text_parameters_by_command()
SURROGATE_RANGE = re.compile("[\ud800-\udfff]")
not_unicode = st.one_of(
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    # What Python makes of bytes that are not UTF-8 in argv (surrogateescape).
    st.binary(min_size=1, max_size=8).map(lambda b: b.decode("utf-8", "surrogateescape"))
    .filter(SURROGATE_RANGE.search),
)
plausible = st.sampled_from(["1", "2", "3", "C-100", "Design", "Fabrikam", "INV-000001", "2026-11-01", "monthly",
                             "time-and-material", "ProcessRunner", "12.50", "json", "csv", "-", "S", "19"])
any_text = st.one_of(plausible, texts, not_unicode,
                     st.tuples(texts, not_unicode, texts).map("".join))


@fuzzed(data=st.data())
def test_fuzz_every_command_with_random_text_including_text_that_is_not_valid_unicode(book, data):
    """Every command (found by walking the command tree), every text option and argument
    given a random value or left out: an outcome the spec allows; a value that is not valid
    Unicode, an empty one (but --description's, which says "none"), or one holding a NUL
    character is refused (exit 1) before anything runs."""
    path, command, params = data.draw(st.sampled_from(EVERY_COMMAND), "command")
    runner = book.fresh()
    folder = runner.dir
    book.monkeypatch.chdir(folder)  # a command that writes files (an export's folder) writes here
    # Half the examples give plausible values only (so that commands also succeed), the
    # other half any text.
    values = any_text if data.draw(st.booleans(), "wild") else plausible
    args, given = list(path), []
    for param in params:
        value = data.draw(values if param.required else optional(values), param.name)
        if value is None:
            continue
        given.append((param.name, value))
        args += [value] if param.param_type_name == "argument" else [param.opts[0], value]
    done, error = attempt(book, runner, "every command, random text", *args)
    if error is not None and error["code"] == "usage":
        pass  # a value that reads as an option (-x) before the rule could see it
    elif any((not v.strip() and name not in EMPTY_MEANS_NONE) or SURROGATE_RANGE.search(v) or "\x00" in v
             for name, v in given):
        # The first bad value in the command's order of parameters is the one named.
        assert error is not None, (args, "accepted")
        assert any(rule in error["message"] for rule in ("must not be empty", "not valid Unicode",
                                                         "holds a NUL character")), (args, error)
    book.monkeypatch.chdir(book.folder)
    import shutil

    shutil.rmtree(folder)


# the clock at the ends of the calendar ---------------------------------------------------------

far_moments = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 4)),
    st.datetimes(min_value=datetime(9999, 12, 26), max_value=datetime(9999, 12, 31, 23, 59, 59)),
)
zones = st.sampled_from(["UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"])
clock_commands = st.sampled_from([("run-once",), ("run-once", "--force"), ("job", "status"), ("job", "list"),
                                  ("doctor",), ("job", "stop", JOB), ("job", "restart", JOB),
                                  ("job", "create", "Another create invoices"),
                                  ("invoice", "confirm", "INV-000002")])


@fuzzed(40, data=st.data())
def test_fuzz_the_clock_at_the_ends_of_the_calendar(book, data):
    """A few commands under a clock near either end of the calendar, in any zone: done or
    refused (a clock that cannot be stored: exit 1), and the book's own clock then reads
    every stored moment: job status, job list and doctor never break on one."""
    runner = book.fresh()
    for step in range(data.draw(st.integers(1, 3), "commands")):
        moment = data.draw(far_moments, f"clock {step}")
        book.monkeypatch.setenv("INVOICER_TZ", data.draw(zones, f"zone {step}"))
        offset = data.draw(st.sampled_from(["", "+00:00", "+14:00", "-12:00", "+09:00"]), f"offset {step}")
        runner.at(moment.isoformat() + offset)
        args = data.draw(clock_commands, f"command {step}")
        if args[:2] in (("job", "status"), ("doctor",)):  # exit 5 when stalled, with the document on stdout
            result = runner(*args, "--json")
            assert result.exit_code in (0, 1, 4, 5) and "Traceback" not in result.stderr, result
            FUZZED["clock at the calendar's ends"] += 1
            OUTCOMES.setdefault("clock at the calendar's ends", Counter())[result.exit_code] += 1
        else:
            attempt(book, runner, "clock at the calendar's ends", *args)
    book.monkeypatch.setenv("INVOICER_TZ", data.draw(zones, "zone after"))
    runner.at("2026-11-24T10:00:00")
    for args in (("job", "status"), ("job", "list"), ("doctor",), ("run", "list")):
        result = runner(*args, "--json")
        assert result.exit_code in (0, 1, 4, 5), (args, result.exit_code, result.stderr[-500:])
        assert "Traceback" not in result.stderr
        json.loads(result.stdout)
    book.monkeypatch.setenv("INVOICER_TZ", "UTC")
    finish(runner)


# The same fuzz on PostgreSQL, ON_POSTGRESQL examples each.
test_fuzz_contract_add_line_on_postgresql = on_postgresql(test_fuzz_contract_add_line)
test_fuzz_contract_set_line_on_postgresql = on_postgresql(test_fuzz_contract_set_line)
test_fuzz_schedule_add_milestone_on_postgresql = on_postgresql(test_fuzz_schedule_add_milestone)
test_fuzz_schedule_add_date_based_on_postgresql = on_postgresql(test_fuzz_schedule_add_date_based)
test_fuzz_transaction_add_on_postgresql = on_postgresql(test_fuzz_transaction_add)
test_fuzz_run_once_date_on_postgresql = on_postgresql(test_fuzz_run_once_date)
test_fuzz_invoice_show_confirm_cancel_on_postgresql = on_postgresql(test_fuzz_invoice_show_confirm_cancel)
test_fuzz_schedule_ready_remove_and_transaction_delete_on_postgresql = on_postgresql(test_fuzz_schedule_ready_remove_and_transaction_delete)
test_fuzz_transaction_import_on_postgresql = on_postgresql(test_fuzz_transaction_import)
test_fuzz_contract_import_on_postgresql = on_postgresql(test_fuzz_contract_import)
test_fuzz_schedule_import_on_postgresql = on_postgresql(test_fuzz_schedule_import)
test_fuzz_imports_of_garbage_files_on_postgresql = on_postgresql(test_fuzz_imports_of_garbage_files)
test_fuzz_every_command_with_random_text_including_text_that_is_not_valid_unicode_on_postgresql = on_postgresql(test_fuzz_every_command_with_random_text_including_text_that_is_not_valid_unicode)
# Its runs under a clock years ahead catch up every run date: seconds each on the server.
test_fuzz_the_clock_at_the_ends_of_the_calendar_on_postgresql = on_postgresql(
    test_fuzz_the_clock_at_the_ends_of_the_calendar, examples=5)
