"""`run-once --json` as cron reads it (spec sections 4-6, 8): the document is written as it
is read, each invoice's JSON text built by SQLite (on PostgreSQL from its records), and says exactly what the invoices'
records say through render.invoice_json: the same keys in the same order, the same values,
the same invoices in the same order. Also after the commit: a reader that goes away
leaves the run done, without a traceback."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicer import render
from invoicer.store import open_store
from tests.conftest import another_book

TM = "time-and-material"


def ordered(text: str):
    """A JSON text as nested lists of (key, value) pairs: equal only in the same order."""
    return json.loads(text, object_pairs_hook=list)


def as_records_say(db: str, run_id: int, dry_run: bool = False) -> list:
    """The run's invoices as the Python path renders them (invoice list, invoice show)."""
    store = open_store(db)
    try:
        with store.reading():
            found = store.invoices(run_id=run_id)
    finally:
        store.close()
    if dry_run:
        found = [i._replace(number=None, status="dry-run") for i in found]
    return [ordered(json.dumps(render.invoice_json(i))) for i in found]


def printed(inv, *args) -> tuple[list, dict]:
    result = inv("run-once", *args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.endswith("}\n") and result.stdout.count("\n") == 1
    return ordered(result.stdout), result.json


def invoices_of(pairs: list) -> list:
    return dict(pairs)["invoices"]


def a_varied_book(inv) -> None:
    """Currencies of 0, 2, 3 and 4 decimals; the seller's tax and lines' own (several groups
    on one invoice, exempt with a reason, outside the scope without a rate); milestones;
    a capped line holding a transaction back; a caught-up run date; names JSON must escape."""
    inv.ok("seller", "set", "--name", "Contoso", "--tax-category", "S", "--tax-rate", "19")
    usd = inv.line("C-1 \"quoted\" \\ back", "Design", TM, "Fàbrikam “Ltd” </x>")
    build = inv.line("C-1 \"quoted\" \\ back", "Build 出張", TM, "Fàbrikam “Ltd” </x>", "--tax-category", "S",
                     "--tax-rate", "7")
    exempt = inv.line("C-1 \"quoted\" \\ back", "Exempt", TM, "Fàbrikam “Ltd” </x>", "--tax-category", "E",
                      "--tax-exemption-reason", "Article 132 § (1)")
    outside = inv.line("C-1 \"quoted\" \\ back", "Outside", TM, "Fàbrikam “Ltd” </x>", "--tax-category", "O")
    zero = inv.line("C-1 \"quoted\" \\ back", "Zero", TM, "Fàbrikam “Ltd” </x>", "--tax-category", "Z")
    yen = inv.line("J-1", "Work", TM, "Nihon", "--currency", "JPY", "--tax-category", "S", "--tax-rate", "10")
    dinar = inv.line("B-1", "Work", TM, "Manama", "--currency", "BHD", "--tax-category", "S", "--tax-rate", "5.5")
    unit = inv.line("U-1", "Work", TM, "Santiago", "--currency", "CLF", "--not-to-exceed", "100")
    for line in (usd, build, exempt, outside, zero, yen, dinar, unit):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-09-01")
    for line, amounts in ((usd, ["100.05", "0.01"]), (build, ["999999999.99"]), (exempt, ["12.34"]),
                          (outside, ["1"]), (zero, ["3"]), (yen, ["1005", "7"]), (dinar, ["1.005", "2.341"]),
                          (unit, ["60.1234", "50"])):
        for day, amount in zip(("2026-08-20", "2026-09-15"), amounts):
            inv.ok("transaction", "add", line, "--date", day, "--amount", amount)
    fixed = inv.line("F-1", "Fixed", "fixed-price", "Fàbrikam “Ltd” </x>", "--amount", "1000", "--tax-category", "AE")
    inv.ok("schedule", "add", fixed, "--milestone", "One", "--date", "2026-09-15", "--amount", "400", "--ready")
    inv.setup_job()


def test_the_printed_run_is_what_the_invoices_records_render_key_for_key(inv):
    a_varied_book(inv)
    dry_pairs, dry = printed(inv, "--date", "2026-10-01", "--dry-run")
    pairs, run = printed(inv, "--date", "2026-10-01")
    run_id = inv.ok("run", "list")["runs"][-1]["id"]
    made = invoices_of(pairs)
    assert len(made) == 8  # C-1, J-1 and B-1 at two run dates (one caught up), F-1, U-1
    assert made == as_records_say(inv.db, run_id)
    assert invoices_of(dry_pairs) == as_records_say(inv.db, run_id, dry_run=True)
    assert [key for key, _ in pairs] == ["status", "run_date", "invoices", "skipped"]
    assert run["skipped"] == dry["skipped"] == [render.skip_json(s) for s in _skips(inv.db, run_id)]
    assert "over-not-to-exceed" in {s["reason"] for s in run["skipped"]}
    # what the rest of the tool says of the same invoices
    shown = [inv.ok("invoice", "show", i["number"]) for i in run["invoices"]]
    assert [set(s) - set(i) for s, i in zip(shown, run["invoices"])] == [{"exported"}] * len(shown)
    assert run["invoices"] == [{k: v for k, v in s.items() if k != "exported"} | {"lines": i["lines"]}
                               for s, i in zip(shown, run["invoices"])]
    several = [i for i in run["invoices"] if len(i["tax"]) > 2]
    assert several and [g["category"] for g in several[0]["tax"]] == ["E", "O", "S", "S", "Z"]


def _skips(db: str, run_id: int):
    store = open_store(db)
    try:
        with store.reading():
            return store.run_skips(run_id)
    finally:
        store.close()


def test_a_sleeping_call_and_a_run_that_bills_nothing_print_the_same_shapes_as_before(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-11-01")
    inv.setup_job()
    assert printed(inv)[1] == {"status": "sleeping", "run_date": "2026-11-24", "next_due": "2026-11-25",
                               "invoices": [], "skipped": []}
    nothing = printed(inv, "--date", "2026-11-01")[1]
    assert nothing["status"] == "completed" and nothing["invoices"] == []
    assert [(s["name"], s["reason"]) for s in nothing["skipped"]] == [("Design", "no-transactions")]


CURRENCIES = st.sampled_from(["USD", "JPY", "BHD", "CLF", "EUR"])
TAXES = st.sampled_from([(), ("--tax-category", "S", "--tax-rate", "19"), ("--tax-category", "S", "--tax-rate", "0.01"),
                         ("--tax-category", "S", "--tax-rate", "100"), ("--tax-category", "Z"),
                         ("--tax-category", "E", "--tax-exemption-reason", "exempt"), ("--tax-category", "K"),
                         ("--tax-category", "O")])
MINOR = st.one_of(st.integers(1, 10_000), st.integers(1, 10**15))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contracts=st.lists(st.tuples(CURRENCIES, st.lists(st.tuples(TAXES, st.lists(MINOR, min_size=1, max_size=3)),
                                                         min_size=1, max_size=4)), min_size=1, max_size=3),
       seller=TAXES)
def test_any_book_prints_what_its_records_render(inv, contracts, seller):
    """Amounts from a cent to the largest a transaction may hold, in currencies of 0 to 4
    decimals, taxed at any category and rate, several groups an invoice: the tax rounded
    once a group, as tax.breakdown does, the money as money.format_minor writes it."""
    with another_book(inv) as book:
        _prints_what_its_records_render(book, contracts, seller)


def _prints_what_its_records_render(inv, contracts, seller):
    if seller and seller[1] != "E":
        inv.ok("seller", "set", "--name", "Contoso", *seller)
    from invoicer.money import MINOR_DIGITS, format_minor
    for number, (currency, lines) in enumerate(contracts):
        for index, (tax, amounts) in enumerate(lines):
            line = inv.line(f"C-{number}", f"L{index}", TM, "Fabrikam", "--currency", currency, *tax)
            inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-11-01")
            for amount in amounts:
                inv.ok("transaction", "add", line, "--date", "2026-10-05", "--amount",
                       format_minor(amount, currency) if MINOR_DIGITS[currency] else str(amount))
    inv.setup_job()
    pairs, run = printed(inv, "--date", "2026-11-01")
    run_id = inv.ok("run", "list")["runs"][-1]["id"]
    assert len(run["invoices"]) == len(contracts)
    assert invoices_of(pairs) == as_records_say(inv.db, run_id)


def test_a_reader_that_goes_away_after_the_commit_leaves_the_run_done_without_a_traceback(inv, tmp_path):
    """Cron's log on a full disk, or `| head`: the run is committed before a line is printed."""
    exe = os.path.join(os.path.dirname(sys.executable), "invoicer")
    db = inv.db
    env = dict(os.environ, INVOICER_TZ="UTC", INVOICER_NOW="2026-11-24T10:00:00")
    lines = tmp_path / "lines.csv"
    schedules = tmp_path / "schedules.csv"
    transactions = tmp_path / "transactions.csv"
    count = 3000  # far more than a pipe holds
    lines.write_text("contract,name,customer,billing_method\n"
                     + "".join(f"C-{n:05d},Work,Fabrikam,time-and-material\n" for n in range(count)))
    schedules.write_text("contract,line,frequency,start\n"
                         + "".join(f"C-{n:05d},Work,monthly,2026-11-01\n" for n in range(count)))
    transactions.write_text("contract,line,date,amount\n"
                            + "".join(f"C-{n:05d},Work,2026-10-05,{n + 1}.00\n" for n in range(count)))
    for args in (("contract", "import", str(lines)), ("schedule", "import", str(schedules)),
                 ("transaction", "import", str(transactions)), ("job", "create", "Ops create invoices"),
                 ("job", "run-workflow", "Ops create invoices", "--workflow", "ProcessRunCaller")):
        subprocess.run([exe, "--db", db, *args], check=True, capture_output=True, env=env)
    for extra in (("--dry-run",), ()):
        reader = subprocess.Popen([exe, "--db", db, "run-once", "--date", "2026-11-01", *extra, "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert reader.stdout.read(100).startswith(b'{"status":')
        reader.stdout.close()
        error = reader.stderr.read().decode()
        assert reader.wait() in (0, 1) and "Traceback" not in error and error.count("\n") <= 1, error
    listed = subprocess.run([exe, "--db", db, "invoice", "list", "--json"], capture_output=True, text=True, env=env)
    assert len(json.loads(listed.stdout)["invoices"]) == count


def test_the_run_summary_shows_every_invoice_and_skip_when_a_line_is_over_its_limit(inv):
    """A line held back by its not-to-exceed limit is one skip among others: the summary
    for people lists every invoice the run made and every line that needs action (the
    limit's loop once took the last capped line's id as the line to show)."""
    inv.setup_job()
    plain = inv.line("C-1", "Design")
    capped = inv.line("C-2", "Build", "time-and-material", "Fabrikam", "--not-to-exceed", "5")
    other = inv.line("C-3", "Test")
    inv.line("C-4", "Ops")  # no schedule: needs action
    for line in (plain, capped, other):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-03-01")
        inv.ok("transaction", "add", line, "--date", "2024-02-10", "--amount", "100")
    out = inv("run-once", "--date", "2024-03-01")
    assert out.exit_code == 0, out.stderr
    made = inv.ok("invoice", "list")["invoices"]
    assert [i["contract"] for i in made] == ["C-1", "C-3"]
    assert "created 2 invoice(s)" in out.stdout
    for invoice in made:
        assert invoice["number"] in out.stdout and invoice["contract"] in out.stdout
    assert "over-not-to-exceed" in out.stdout and "no-schedule" in out.stdout


@pytest.mark.parametrize("count", [0, 1, 499, 500, 501, 1001])
def test_a_dry_run_s_spool_gives_back_every_text_in_order_whatever_their_count(count):
    """The dry run's texts, spooled a few hundred at a write before its rollback, come
    back one by one, each whole, none lost at a chunk's edge."""
    from invoicer.billing import _spooled

    texts = [f'{{"number":null,"customer":"Café {n}","lines":[]}}' for n in range(count)]
    assert list(_spooled(iter(texts))) == texts
