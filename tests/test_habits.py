"""Operators' habits and costs that must not grow without bound (issue 18): far-past
schedules, skip records a catch-up writes, help and version, values typed in another case."""

import os
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
    assert inv.ok("schedule", "import", str(file), "--allow-past") == {"imported": 2}


# a catch-up over a long span ---------------------------------------------------------------

def test_a_catch_up_writes_one_skip_record_a_line_and_reason_with_its_span_and_count(inv):
    idle = inv.line("C-1", "Idle")
    busy = inv.line("C-1", "Busy")
    inv.ok("schedule", "add", idle, "--frequency", "daily", "--start", "1926-11-24", "--allow-past")
    inv.ok("schedule", "add", busy, "--frequency", "daily", "--start", "1926-11-24", "--allow-past")
    tx(inv, busy, "2000-01-01", "10")
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2026-11-23")
    assert [(i["run_date"], i["total"]) for i in run["invoices"]] == [("2000-01-02", "10.00")]
    days = (36524 + 1)  # 1926-11-24 .. 2026-11-23
    assert sorted((s["name"], s["reason"], s["run_date"], s["last_run_date"], s["count"]) for s in run["skipped"]) == [
        ("Busy", "no-transactions", "1926-11-24", "2026-11-23", days - 1),
        ("Idle", "no-transactions", "1926-11-24", "2026-11-23", days)]
    listed = inv.ok("run", "list")["runs"][-1]["skipped"]
    assert sorted(s["count"] for s in listed) == [days - 1, days]
    # schedule list still tells each processed run date's status from the span.
    statuses = {r["run_date"]: r["status"] for r in inv.ok("schedule", "list", busy)["schedules"][0]["run_dates"]}
    assert statuses["2000-01-02"] == "invoiced"
    assert statuses["2000-01-01"] == statuses["2000-01-03"] == statuses["2026-11-23"] == "nothing-to-bill"
    assert statuses["2026-11-24"] == "not-run-yet"


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
