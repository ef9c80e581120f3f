"""Operators' habits and costs that must not grow without bound (issue 18): far-past
schedules, skip records a catch-up writes, help and version, values typed in another case."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import JOB, NOW

EXE = str(Path(sys.executable).with_name("invoicer"))


def tx(inv, line, day, amount):
    return inv.ok("transaction", "add", line, "--date", day, "--amount", amount)["id"]


# a schedule that starts long ago ------------------------------------------------------------

def test_a_schedule_whose_first_run_date_is_over_ten_years_ago_is_refused_without_allow_past(inv):
    line = inv.line("C-1", "Design")
    for how in (["--frequency", "daily", "--start", "0206-11-01"], ["--rrule", "FREQ=MONTHLY", "--start", "2016-11-23"],
                ["--dates", "2016-11-01,2026-12-01"]):
        result = inv("schedule", "add", line, *how, "--json")
        assert result.exit_code == 1 and "--allow-past" in result.error["message"], how
        assert "more than 10 years before today (2026-11-24)" in result.error["message"]
    assert inv.ok("schedule", "list", line)["schedules"] == []
    # Ten years to the day is accepted; so is any start with --allow-past.
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2016-11-24")
    added = inv.ok("schedule", "add", line, "--frequency", "daily", "--start", "0206-11-01", "--replace", "--allow-past")
    assert added["next_run_date"] == "0206-11-01"


def test_a_replacing_schedule_is_judged_by_the_run_dates_it_would_catch_up(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
    inv.setup_job()
    inv.ok("run-once", "--date", "2026-11-01")
    # The old start stays: only run dates after 2026-11-01 will run, so nothing is caught up.
    inv.ok("schedule", "add", line, "--frequency", "weekly", "--start", "2010-01-04", "--replace")


@pytest.mark.parametrize("named", [False, True])
def test_schedule_import_refuses_a_far_past_start_naming_the_row_unless_allow_past(inv, tmp_path, named):
    inv.line("C-1", "Design")
    inv.line("C-1", "Build")
    file = tmp_path / "schedules.csv"
    if named:
        file.write_text("contract,line,frequency,start\nC-1,Design,monthly,2026-01-01\nC-1,Build,daily,0206-11-01\n")
    else:
        file.write_text("line_id,frequency,start\n1,monthly,2026-01-01\n2,daily,0206-11-01\n")
    result = inv("schedule", "import", str(file), "--json")
    assert result.exit_code == 1
    assert "row 3" in result.error["message"] and "--allow-past" in result.error["message"]
    assert inv.ok("schedule", "list")["schedules"] == []
    assert inv.ok("schedule", "import", str(file), "--allow-past") == {"imported": 2, "unchanged": 0}


# a catch-up over a long span ---------------------------------------------------------------

def test_a_catch_up_writes_one_skip_record_a_line_and_reason_with_its_span_and_count(inv):
    idle = inv.line("C-1", "Idle")
    busy = inv.line("C-1", "Busy")
    inv.ok("schedule", "add", idle, "--frequency", "daily", "--start", "1926-11-24", "--allow-past")
    inv.ok("schedule", "add", busy, "--frequency", "daily", "--start", "1926-11-24", "--allow-past")
    tx(inv, busy, "2026-01-01", "10")
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2026-11-23")
    assert [(i["run_date"], i["total"]) for i in run["invoices"]] == [("2026-01-02", "10.00")]
    days = (36524 + 1)  # 1926-11-24 .. 2026-11-23
    assert sorted((s["name"], s["reason"], s["run_date"], s["last_run_date"], s["count"]) for s in run["skipped"]) == [
        ("Busy", "no-transactions", "1926-11-24", "2026-11-23", days - 1),
        ("Idle", "no-transactions", "1926-11-24", "2026-11-23", days)]
    listed = inv.ok("run", "list")["runs"][-1]["skipped"]
    assert sorted(s["count"] for s in listed) == [days - 1, days]
    # schedule list tells each processed run date's status from the span; it shows the
    # latest 1,000 run dates due so far, and counts the earlier ones.
    listed = inv.ok("schedule", "list", busy)["schedules"][0]
    statuses = {r["run_date"]: r["status"] for r in listed["run_dates"]}
    assert statuses["2026-01-02"] == "invoiced"
    assert statuses["2026-01-01"] == statuses["2026-01-03"] == statuses["2026-11-23"] == "nothing-to-bill"
    assert statuses["2026-11-24"] == "not-run-yet"
    assert listed["earlier_run_dates"] == days + 1 - 1000 and len([d for d in statuses if d <= "2026-11-24"]) == 1000
    assert "... 35526 earlier run date(s)" in inv("schedule", "list", busy).stdout


def test_explain_says_the_span_of_run_dates_a_line_would_be_passed_over(inv):
    idle = inv.line("C-1", "Idle")
    inv.ok("schedule", "add", idle, "--frequency", "weekly", "--start", "2026-10-05")
    found = inv.ok("explain", idle, "--date", "2026-11-02")
    assert [(s["run_date"], s["last_run_date"], s["count"]) for s in found["skipped"]] == [("2026-10-05", "2026-11-02", 5)]
    assert any("5 run dates from 2026-10-05 to 2026-11-02" in sentence for sentence in found["explanation"])


def _peak_mib(db, start, tmp_path) -> tuple[float, int]:
    env = dict(os.environ, INVOICER_NOW=NOW, INVOICER_TZ="UTC", INVOICER_DB=str(db), NO_COLOR="1")

    def run(*args):
        subprocess.run([EXE, *args], env=env, check=True, capture_output=True)

    run("contract", "add-line", "C-1", "--name", "Idle", "--customer", "F", "--billing-method", "time-and-material")
    run("schedule", "add", "1", "--frequency", "daily", "--start", start, "--allow-past")
    run("job", "create", JOB)
    run("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
    proc = subprocess.Popen([EXE, "run-once", "--date", "2026-11-23"], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0
    return usage.ru_maxrss / 1024, os.path.getsize(db)


def test_a_catch_up_of_centuries_stays_flat_in_memory_and_small_on_disk(tmp_path):
    recent, recent_size = _peak_mib(tmp_path / "recent.db", "2025-11-23", tmp_path)
    far, far_size = _peak_mib(tmp_path / "far.db", "1726-11-23", tmp_path)  # 110,000 run dates
    assert far < recent + 25, (recent, far)
    assert far_size < recent_size + 1_000_000, (recent_size, far_size)


# help and version -----------------------------------------------------------------------------

def test_version_prints_the_version(inv):
    from invoicer import __version__

    result = inv("--version")
    assert result.exit_code == 0 and result.stdout == f"invoicer {__version__}\n"


def _commands(inv, *group):
    text = inv(*group, "--help").stdout
    return [line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.strip()]


def test_every_group_help_lists_every_subcommand_and_the_invoice_group_names_them_all(inv):
    from invoicer.cli.app import COMMANDS, app
    import typer

    root = typer.main.get_group(app)
    for name in COMMANDS:
        command = root.commands[name]
        if hasattr(command, "commands"):
            assert _commands(inv, name) == list(command.commands), name
    first = inv("invoice", "--help").stdout.split("\n\n")[1].strip()
    assert first == "Invoices: " + ", ".join(_commands(inv, "invoice")) + "."


def test_argument_names_in_help_read_as_metavars_in_capitals(inv):
    from invoicer.cli.app import COMMANDS, app
    import typer

    root = typer.main.get_group(app)
    for name in COMMANDS:
        command = root.commands[name]
        for sub in (command.commands if hasattr(command, "commands") else {"": command}):
            args = [name, sub] if sub else [name]
            usage = inv(*args, "--help").stdout.splitlines()[0]
            words = usage.split("[OPTIONS]")[1].split()
            assert all(w.strip("[]") == w.strip("[]").upper() and "{" not in w and "[[" not in w for w in words), usage
    assert " contract show [OPTIONS] CONTRACT\n" in inv("contract", "show", "--help").stdout
    assert " schedule list [OPTIONS] [LINE_ID]\n" in inv("schedule", "list", "--help").stdout
    assert "Missing argument 'CONTRACT'" in inv("contract", "show").stderr


# values typed in another case --------------------------------------------------------------

def test_enumerated_values_are_taken_in_any_case_and_stored_as_the_spec_spells_them(inv):
    job = inv.ok("job", "create", JOB, "--job-type", "none", "--frequency", "daily")
    assert (job["job_type"], job["frequency"]) == ("None", "Daily")
    started = inv.ok("job", "run-workflow", JOB, "--workflow", "processrunner")
    assert inv.ok("job", "status")["jobs"][0]["workflow"] == "ProcessRunner"
    assert started is not None
    line = inv.ok("contract", "add-line", "C-1", "--name", "Build", "--customer", "F",
                  "--billing-method", "Time-And-Material")
    assert line["billing_method"] == "time-and-material"
    fixed = inv.ok("contract", "add-line", "C-2", "--name", "Fixed", "--customer", "F",
                   "--billing-method", "Fixed-Price", "--amount", "100")
    assert fixed["billing_method"] == "fixed-price"
    assert inv.ok("schedule", "add", line["id"], "--frequency", "Daily", "--start", "2026-11-01")["frequency"] == "daily"
    assert inv.ok("transaction", "add", line["id"], "--date", "2026-11-02", "--amount", "5", "--type", "Time")["type"] == "time"
    inv.ok("invoice", "list", "--status", "Draft")
    assert inv("job", "run-workflow", JOB, "--workflow", "updateroleutilization").exit_code == 1
    refused = inv("job", "run-workflow", JOB, "--workflow", "Process-Runner", "--json")
    assert refused.exit_code == 1 and "ProcessRunCaller, ProcessRunner" in refused.error["message"]


# tables on a terminal ------------------------------------------------------------------------

@pytest.fixture
def wide_book(inv):
    """Long free text beside codes and dates that must stay whole."""
    design = inv.line("C-100", "Design and architecture work", "time-and-material", "Fabrikam Incorporated Holdings",
                      "--not-to-exceed", "100000", "--project", "Project Phoenix")
    inv.line("C-200", "Fixed", "fixed-price", "Contoso", "--amount", "5000")
    idle = inv.line("C-300", "Idle", "time-and-material", "Contoso")
    inv.ok("schedule", "add", design, "--frequency", "monthly", "--start", "2026-09-30")
    inv.ok("schedule", "add", idle, "--frequency", "weekly", "--start", "2026-09-01")
    inv.ok("schedule", "add", 2, "--milestone", "Kick-off meeting", "--date", "2026-10-15", "--percent", "30")
    inv.ok("transaction", "add", design, "--date", "2026-10-03", "--amount", "12345.67", "--type", "material",
           "--description", "Architecture workshop with the customer's whole team")
    inv.setup_job()
    return inv


CODES = ("2026-10-03", "2026-10-30", "2026-11-24", "INV-000001", "12345.67", "time-and-material",
         "ProcessRunCaller", "milestone-not-ready", "2026-11-25T00:00:00+00:00", "2026-09-01")


@pytest.mark.parametrize("columns", ["80", "120"])
def test_tables_on_a_terminal_never_wrap_codes_and_dates(wide_book, monkeypatch, columns):
    inv = wide_book
    run = inv("run-once", "--date", "2026-11-24", "--force")
    assert run.exit_code == 0
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", columns)
    text = ""
    for command in (["job", "status"], ["transaction", "list"], ["contract", "list"], ["schedule", "list"],
                    ["invoice", "list"], ["invoice", "show", "INV-000001"], ["run", "list"], ["doctor"],
                    ["run-once", "--date", "2026-11-24", "--force", "--dry-run"]):
        out = re.sub(r"\x1b\[[0-9;]*m", "", inv(*command).stdout)
        assert out and max(map(len, out.splitlines())) <= int(columns), (command, out)
        text += out
    for code in CODES:
        assert code in text, code
    # The free text wraps between words; no word of it is cut.
    for word in ("Incorporated", "architecture", "Architecture", "Phoenix"):
        assert word in text


def test_a_run_summary_lists_what_needs_action_and_counts_the_idle_lines(wide_book):
    out = wide_book("run-once", "--date", "2026-11-24", "--force").stdout
    assert "milestone-not-ready" in out and "Kick-off meeting" in out
    idle = [line for line in out.splitlines() if "no-transactions" in line]
    assert idle == ["2 line(s) had nothing to bill (no-transactions) at 14 run date(s): "
                    "`invoicer run show 1` lists them"], out


# invoice list filters and totals, run show -------------------------------------------------

@pytest.fixture
def billed(inv):
    """Three contracts, two customers, two currencies, invoices on two run dates."""
    a = inv.line("C-1", "Design", "time-and-material", "Fabrikam")
    b = inv.line("C-2", "Build", "time-and-material", "Contoso")
    c = inv.line("C-3", "Yen", "time-and-material", "Fabrikam", "--currency", "JPY")
    for line in (a, b, c):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
    tx(inv, a, "2026-09-20", "100.10")
    tx(inv, a, "2026-10-20", "200.20")
    tx(inv, b, "2026-10-05", "50")
    tx(inv, c, "2026-10-06", "1500")
    inv.setup_job()
    inv.ok("run-once", "--date", "2026-11-01")
    return inv


def test_invoice_list_filters_by_customer_and_run_dates_and_totals_by_currency(billed):
    listed = billed.ok("invoice", "list", "--customer", "Fabrikam")
    assert [(i["contract"], i["run_date"], i["total"]) for i in listed["invoices"]] == [
        ("C-1", "2026-10-01", "100.10"), ("C-1", "2026-11-01", "200.20"), ("C-3", "2026-11-01", "1500")]
    assert listed["totals"] == [
        {"currency": "JPY", "invoices": 1, "total": "1500", "tax_total": "0", "total_with_tax": "1500"},
        {"currency": "USD", "invoices": 2, "total": "300.30", "tax_total": "0.00", "total_with_tax": "300.30"}]
    november = billed.ok("invoice", "list", "--from", "2026-11-01", "--to", "2026-11-30")
    assert [i["contract"] for i in november["invoices"]] == ["C-1", "C-2", "C-3"]
    assert [(t["currency"], t["invoices"], t["total"]) for t in billed.ok("invoice", "list", "--to", "2026-10-31")["totals"]] == [
        ("USD", 1, "100.10")]
    assert billed.ok("invoice", "list", "--from", "2027-01-01") == {"invoices": [], "totals": []}
    human = billed("invoice", "list", "--customer", "Fabrikam").stdout
    assert any(line.split()[:1] == ["Total"] and "300.30" in line and "USD" in line for line in human.splitlines())
    assert any(line.split()[:1] == ["Total"] and "1500" in line and "JPY" in line for line in human.splitlines())


def test_invoice_list_totals_leave_out_a_cancelled_invoice_unless_the_cancelled_are_listed(billed):
    """A cancelled draft bills nothing, and its items go on the next run's invoice: counted
    with it, the same money would be counted twice."""
    cancelled = billed.ok("invoice", "list", "--contract", "C-2")["invoices"][0]["number"]
    billed.ok("invoice", "cancel", cancelled)
    billed.ok("run-once", "--date", "2026-12-01", "--allow-future")
    listed = billed.ok("invoice", "list", "--contract", "C-2")
    assert [(i["status"], i["total"]) for i in listed["invoices"]] == [("cancelled", "50.00"), ("draft", "50.00")]
    assert [(t["currency"], t["invoices"], t["total"]) for t in listed["totals"]] == [("USD", 1, "50.00")]
    human = billed("invoice", "list", "--contract", "C-2").stdout
    assert [line.split()[:8] for line in human.splitlines() if line.split()[:1] == ["Total"]] == [
        ["Total", "1", "invoice(s),", "1", "cancelled", "left", "out", "50.00"]]
    for status in ("cancelled", "Cancelled"):
        only = billed.ok("invoice", "list", "--contract", "C-2", "--status", status)
        assert [(t["invoices"], t["total"]) for t in only["totals"]] == [(1, "50.00")]
    # Cancelled ones alone, not asked for by status: their currency counts none of them.
    listed = billed.ok("invoice", "list", "--contract", "C-2", "--to", "2026-11-01")
    assert [i["status"] for i in listed["invoices"]] == ["cancelled"]
    assert [(t["currency"], t["invoices"], t["total"]) for t in listed["totals"]] == [("USD", 0, "0.00")]


@pytest.mark.parametrize("args, field", [
    (["--customer", "Nobody"], "customer"), (["--from", "2026-13-01"], "from"), (["--to", "yesterday"], "to"),
    (["--from", "2026-11-02", "--to", "2026-11-01"], "to")])
def test_invoice_list_refuses_an_unknown_customer_and_bad_dates(billed, args, field):
    result = billed("invoice", "list", *args, "--json")
    assert result.exit_code == 1 and result.error["message"].startswith(f"{field}:") and result.stdout == ""


def test_run_show_prints_one_run_as_run_list_does_with_its_invoices_and_skips(billed):
    runs = billed.ok("run", "list")["runs"]
    shown = billed.ok("run", "show", runs[-1]["id"])
    assert shown == runs[-1]
    assert shown["invoices"] == ["INV-000001", "INV-000002", "INV-000003", "INV-000004"]
    human = billed("run", "show", runs[-1]["id"]).stdout
    assert "INV-000004" in human and "no-transactions" in human  # the idle lines too
    missing = billed("run", "show", "99", "--json")
    assert missing.exit_code == 1 and "run_id" in missing.error["message"]
    assert billed("run", "show", "x").exit_code == 1


# setting back, correcting in place ---------------------------------------------------------

def test_a_milestone_can_be_set_back_to_not_ready_until_it_is_invoiced(inv):
    line = inv.line("C-1", "Fixed", "fixed-price", "Fabrikam", "--amount", "1000")
    m = inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2026-11-01", "--percent", "30", "--ready")
    assert inv.ok("schedule", "ready", m["id"], "--not-ready")["ready"] is False
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2026-11-02")
    assert run["invoices"] == [] and {s["reason"] for s in run["skipped"]} == {"milestone-not-ready"}
    assert inv.ok("schedule", "ready", m["id"])["ready"] is True
    number = inv.ok("run-once", "--date", "2026-11-03")["invoices"][0]["number"]
    refused = inv("schedule", "ready", m["id"], "--not-ready", "--json")
    assert refused.exit_code == 1 and number in refused.error["message"]
    assert inv("schedule", "ready", m["id"], "--ready", "--not-ready").exit_code == 2
    inv.ok("invoice", "cancel", number)
    assert inv.ok("schedule", "ready", m["id"], "--not-ready")["ready"] is False


def test_transaction_set_corrects_an_unbilled_transaction_by_the_rules_of_add(inv):
    line = inv.line("C-1", "Design")
    t = tx(inv, line, "2026-10-03", "100")
    changed = inv.ok("transaction", "set", t, "--amount", "125.5", "--date", "2026-10-04", "--type", "Expense",
                     "--quantity", "2", "--description", "Taxi")
    assert (changed["id"], changed["amount"], changed["date"], changed["type"], changed["quantity"],
            changed["description"]) == (t, "125.50", "2026-10-04", "expense", "2", "Taxi")
    assert inv.ok("transaction", "set", t, "--amount", "130")["description"] == "Taxi"  # the rest stays
    for args, field in ((["--amount", "1.234"], "amount"), (["--date", "2026-02-30"], "date"),
                        (["--type", "travel"], "type"), (["--quantity", "-1"], "quantity"), ([], "give")):
        result = inv("transaction", "set", t, *args, "--json")
        assert result.exit_code == 1 and result.error["message"].startswith(field), args
    assert inv.ok("transaction", "list")["transactions"][0]["amount"] == "130.00"
    assert inv("transaction", "set", "99", "--amount", "1").exit_code == 1
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-11-01")
    inv.setup_job()
    number = inv.ok("run-once", "--date", "2026-11-01")["invoices"][0]["number"]
    refused = inv("transaction", "set", t, "--amount", "1", "--json")
    assert refused.exit_code == 1 and number in refused.error["message"] and "cancel" in refused.error["message"]
    assert inv.ok("invoice", "show", number)["total"] == "130.00"
