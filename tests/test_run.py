"""The invoice run (spec section 4) and the invoices it makes (section 5), through the CLI."""

import shlex

import pytest

from tests.conftest import JOB


@pytest.fixture
def book(inv):
    """Contract C-1 (Fabrikam): two time-and-material lines on a monthly schedule from
    2024-02-01; the job set up with ProcessRunCaller today (2026-11-24)."""
    inv.design = inv.line("C-1", "Design")
    inv.build = inv.line("C-1", "Build")
    for line in (inv.design, inv.build):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01")
    inv.setup_job()
    return inv


def tx(inv, line, day, amount):
    return inv.ok("transaction", "add", line, "--date", day, "--amount", amount)["id"]


def summary(run):
    return [(i["contract"], i["run_date"], i["total"], [(l["name"], l["amount"]) for l in i["lines"]])
            for i in run["invoices"]]


def reasons(run):
    return {(s["name"], s["reason"]) for s in run["skipped"]}


# the gate ---------------------------------------------------------------------------------

def test_without_a_job_the_run_is_not_configured_exit_4(inv):
    result = inv("run-once", "--date", "2024-03-01")
    assert result.exit_code == 4
    assert "job create" in result.stderr


def test_a_job_without_a_running_workflow_is_not_configured_and_told_what_to_type(inv):
    inv.ok("job", "create", JOB)
    result = inv("run-once", "--date", "2024-03-01")
    assert result.exit_code == 4 and f"invoicer job run-workflow '{JOB}'" in result.stderr
    assert "job create" not in result.stderr  # the job exists: creating it again would fail
    inv.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
    inv.ok("job", "stop", JOB)
    result = inv("run-once", "--date", "2024-03-01")
    assert result.exit_code == 4 and f"invoicer job restart '{JOB}'" in result.stderr
    assert f"invoicer job restart '{JOB}'" in inv("doctor").stdout
    inv.ok("job", "update", JOB, "--inactive")
    assert f"invoicer job update '{JOB}' --active" in inv("run-once", "--date", "2024-03-01").stderr


def test_the_command_to_type_quotes_the_job_name_for_a_shell(inv):
    name = "Bob's $HOME create invoices"
    inv.ok("job", "create", name)
    message = inv("run-once", "--date", "2024-03-01", "--json").error["message"]
    typed = shlex.split(message.partition("with: ")[2])
    assert typed[:4] == ["invoicer", "job", "run-workflow", name], message


def test_an_inactive_job_does_not_run(book):
    book.ok("job", "update", JOB, "--inactive")
    assert book("run-once", "--date", "2024-03-01").exit_code == 4


def test_options_are_checked_before_the_setup(inv):
    assert inv("run-once", "--date", "2024-02-30").exit_code == 1
    assert inv("run-once", "--date", "2099-01-01").exit_code == 1


def test_a_real_run_for_a_future_date_is_refused_without_allow_future(book):
    result = book("run-once", "--date", "2026-11-25", "--json")
    assert result.exit_code == 1 and "date" in result.error["message"]
    assert book.ok("run", "list")["runs"] == []
    assert book.ok("run-once", "--date", "2026-11-25", "--allow-future")["status"] == "completed"


def test_a_dry_run_may_look_ahead(book):
    tx(book, book.design, "2026-11-30", "10")
    run = book.ok("run-once", "--date", "2026-12-01", "--dry-run")
    assert run["status"] == "dry-run"
    assert summary(run) == [("C-1", "2026-12-01", "10.00", [("Design", "10.00")])]


def test_process_run_caller_sleeps_through_the_day_it_started(book):
    run = book.ok("run-once")
    assert run == {"status": "sleeping", "run_date": "2026-11-24", "next_due": "2026-11-25",
                   "invoices": [], "skipped": []}
    assert book.ok("run", "list")["runs"] == []


def test_the_next_day_runs_and_a_second_call_that_day_sleeps(book):
    tx(book, book.design, "2026-11-20", "100")
    book.at("2026-12-01T00:05:00")
    first = book.ok("run-once")
    assert first["status"] == "completed"
    assert summary(first)[-1] == ("C-1", "2026-12-01", "100.00", [("Design", "100.00")])
    again = book.ok("run-once")
    assert again["status"] == "sleeping" and again["next_due"] == "2026-12-02"


def test_force_runs_a_second_process_step_that_finds_only_what_became_billable_since(book):
    tx(book, book.design, "2024-02-10", "100")
    first = book.ok("run-once", "--date", "2024-03-01")
    assert [i["total"] for i in first["invoices"]] == ["100.00"]
    assert book.ok("run-once", "--date", "2024-03-01")["status"] == "sleeping"
    forced = book.ok("run-once", "--date", "2024-03-01", "--force")
    assert forced["status"] == "completed" and forced["invoices"] == []
    assert len(book.ok("run", "list")["runs"]) == 2


def test_a_replayed_past_day_runs_even_after_a_later_day(book):
    tx(book, book.design, "2024-02-10", "100")
    book.ok("run-once", "--date", "2024-04-01")
    replay = book.ok("run-once", "--date", "2024-03-01")
    assert replay["status"] == "completed" and replay["invoices"] == []


# what a Process step bills ----------------------------------------------------------------

def test_the_cutoff_is_the_day_before_the_run_date(book):
    tx(book, book.design, "2024-02-29", "1")
    tx(book, book.design, "2024-03-01", "2")
    run = book.ok("run-once", "--date", "2024-03-01")
    assert summary(run) == [("C-1", "2024-03-01", "1.00", [("Design", "1.00")])]
    unbilled = book.ok("transaction", "list", "--unbilled")["transactions"]
    assert [t["amount"] for t in unbilled] == ["2.00"]


def test_lines_of_one_contract_with_same_run_date_share_one_invoice(book):
    tx(book, book.design, "2024-02-10", "100")
    tx(book, book.build, "2024-02-11", "250.50")
    run = book.ok("run-once", "--date", "2024-03-01")
    assert summary(run) == [("C-1", "2024-03-01", "350.50", [("Design", "100.00"), ("Build", "250.50")])]
    assert run["invoices"][0]["lines"][0]["transactions"] == 1


def test_different_contracts_make_different_invoices_numbered_by_run_date_then_contract(book):
    other = book.line("A-9", "Audit", "time-and-material", "Contoso")
    book.ok("schedule", "add", other, "--frequency", "monthly", "--start", "2024-02-01")
    tx(book, book.design, "2024-02-10", "1")
    tx(book, other, "2024-02-10", "2")
    tx(book, other, "2024-01-10", "3")
    run = book.ok("run-once", "--date", "2024-03-01")
    got = [(i["number"], i["contract"], i["run_date"], i["total"]) for i in run["invoices"]]
    assert got == [("INV-000001", "A-9", "2024-02-01", "3.00"),
                   ("INV-000002", "A-9", "2024-03-01", "2.00"),
                   ("INV-000003", "C-1", "2024-03-01", "1.00")]


def test_missed_run_dates_are_caught_up_each_on_its_own_invoice(book):
    for day, amount in [("2024-02-10", "1"), ("2024-03-10", "2"), ("2024-04-10", "4")]:
        tx(book, book.design, day, amount)
    run = book.ok("run-once", "--date", "2024-05-01")
    assert [(i["run_date"], i["total"]) for i in run["invoices"]] == [
        ("2024-03-01", "1.00"), ("2024-04-01", "2.00"), ("2024-05-01", "4.00")]


def test_nothing_to_bill_creates_no_invoice_but_records_the_process_step(book):
    run = book.ok("run-once", "--date", "2024-03-01")
    assert run["status"] == "completed" and run["invoices"] == []
    assert ("Design", "no-transactions") in reasons(run)
    runs = book.ok("run", "list")["runs"]
    assert [(r["run_date"], r["invoices"]) for r in runs] == [("2024-03-01", [])]


def test_not_to_exceed_bills_in_date_order_what_fits_and_holds_the_rest(inv):
    line = inv.line("C-2", "Capped", "time-and-material", "Fabrikam", "--not-to-exceed", "100")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01")
    inv.setup_job()
    tx(inv, line, "2024-02-03", "60")
    tx(inv, line, "2024-02-05", "50")   # does not fit after 60
    tx(inv, line, "2024-02-07", "40")   # fits: 60 + 40 = 100
    run = inv.ok("run-once", "--date", "2024-03-01")
    assert [i["total"] for i in run["invoices"]] == ["100.00"]
    assert ("Capped", "over-not-to-exceed") in reasons(run)
    held = inv.ok("transaction", "list", "--unbilled")["transactions"]
    assert [t["amount"] for t in held] == ["50.00"]


def test_the_limit_counts_what_the_line_billed_before_and_not_cancelled_invoices(inv):
    line = inv.line("C-2", "Capped", "time-and-material", "Fabrikam", "--not-to-exceed", "100")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01")
    inv.setup_job()
    tx(inv, line, "2024-02-03", "70")
    first = inv.ok("run-once", "--date", "2024-03-01")
    tx(inv, line, "2024-03-03", "40")
    assert inv.ok("run-once", "--date", "2024-04-01")["invoices"] == []
    inv.ok("invoice", "cancel", first["invoices"][0]["number"])
    run = inv.ok("run-once", "--date", "2024-05-01")
    # After the cancel, 70 and 40 compete again in date order: 70 fits, 40 does not.
    assert [i["total"] for i in run["invoices"]] == ["70.00"]


def test_a_cap_set_below_what_is_billed_bills_nothing_more(inv):
    line = inv.line("C-2", "Capped", "time-and-material", "Fabrikam", "--not-to-exceed", "100")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01")
    inv.setup_job()
    tx(inv, line, "2024-02-03", "70")
    inv.ok("run-once", "--date", "2024-03-01")
    inv.ok("contract", "set-line", line, "--not-to-exceed", "50")
    tx(inv, line, "2024-03-03", "1")
    run = inv.ok("run-once", "--date", "2024-04-01")
    assert run["invoices"] == [] and ("Capped", "over-not-to-exceed") in reasons(run)


def test_ready_milestones_dated_on_or_before_the_run_date_are_billed_on_their_date(inv):
    line = inv.line("F-1", "Fixed", "fixed-price", "Fabrikam", "--amount", "1000")
    inv.ok("schedule", "add", line, "--milestone", "One", "--date", "2024-02-15", "--amount", "400", "--ready")
    inv.ok("schedule", "add", line, "--milestone", "Two", "--date", "2024-03-15", "--amount", "600", "--ready")
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-03-01")
    assert summary(run) == [("F-1", "2024-02-15", "400.00", [("Fixed", "400.00")])]
    assert run["invoices"][0]["lines"][0]["milestones"] == 1


def test_a_milestone_passed_over_is_late_and_billed_with_the_run_date(inv):
    line = inv.line("F-1", "Fixed", "fixed-price", "Fabrikam", "--amount", "1000")
    milestone = inv.ok("schedule", "add", line, "--milestone", "One", "--date", "2024-02-15", "--amount", "400")["id"]
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-03-01")
    assert run["invoices"] == [] and ("Fixed", "milestone-not-ready") in reasons(run)
    inv.ok("schedule", "ready", milestone)
    late = inv.ok("run-once", "--date", "2024-03-05")
    assert summary(late) == [("F-1", "2024-03-05", "400.00", [("Fixed", "400.00")])]


def test_lines_batch_invoicing_does_not_cover_are_reported_never_billed(inv):
    inv.line("F-1", "No milestones", "fixed-price", "Fabrikam", "--amount", "1000")
    unscheduled = inv.line("T-1", "No schedule", "time-and-material", "Contoso")
    tx(inv, unscheduled, "2024-02-01", "5")
    ended = inv.line("T-2", "Ended", "time-and-material", "Contoso")
    inv.ok("schedule", "add", ended, "--dates", "2024-02-01")
    tx(inv, ended, "2024-02-10", "7")
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-03-01")
    assert run["invoices"] == []
    assert {("No milestones", "no-milestones"), ("No schedule", "no-schedule"),
            ("Ended", "schedule-ended")} <= reasons(run)


def test_replacing_a_schedule_never_runs_processed_dates_again(book):
    tx(book, book.design, "2024-02-10", "1")
    book.ok("run-once", "--date", "2024-03-01")
    tx(book, book.design, "2024-02-20", "2")
    book.ok("schedule", "add", book.design, "--frequency", "weekly", "--start", "2024-02-05", "--replace")
    run = book.ok("run-once", "--date", "2024-03-05")
    # Weekly from 2024-02-05: 02-05 .. 02-26 are on or before the processed 03-01; 03-04 runs.
    assert summary(run) == [("C-1", "2024-03-04", "2.00", [("Design", "2.00")])]


# invoices ---------------------------------------------------------------------------------

def test_a_dry_run_equals_the_real_run_and_takes_no_number(book):
    tx(book, book.design, "2024-02-10", "100")
    tx(book, book.build, "2024-02-11", "5")
    dry = book.ok("run-once", "--date", "2024-03-01", "--dry-run")
    assert book.ok("invoice", "list")["invoices"] == [] and book.ok("run", "list")["runs"] == []
    real = book.ok("run-once", "--date", "2024-03-01")
    assert [i["number"] for i in dry["invoices"]] == [None]
    assert [i["status"] for i in dry["invoices"]] == ["dry-run"]
    for d, r in zip(dry["invoices"], real["invoices"]):
        assert {**d, "number": r["number"], "status": r["status"]} == r
    assert dry["skipped"] == real["skipped"]
    assert real["invoices"][0]["number"] == "INV-000001"


def test_a_dry_run_of_a_sleeping_day_says_sleeping(book):
    assert book.ok("run-once", "--dry-run")["status"] == "sleeping"
    assert book.ok("run-once", "--dry-run", "--force")["status"] == "dry-run"


def test_cancelling_a_draft_makes_its_transactions_billable_and_numbers_are_never_reused(book):
    tx(book, book.design, "2024-02-10", "100")
    first = book.ok("run-once", "--date", "2024-03-01")["invoices"][0]["number"]
    cancelled = book.ok("invoice", "cancel", first)
    assert cancelled["status"] == "cancelled"
    assert cancelled["lines"][0]["details"][0]["amount"] == "100.00"
    assert [t["billed"] for t in book.ok("transaction", "list")["transactions"]] == [False]
    run = book.ok("run-once", "--date", "2024-04-01")
    assert [(i["number"], i["total"]) for i in run["invoices"]] == [("INV-000002", "100.00")]


def test_a_confirmed_invoice_cannot_be_cancelled(book):
    tx(book, book.design, "2024-02-10", "100")
    number = book.ok("run-once", "--date", "2024-03-01")["invoices"][0]["number"]
    assert book.ok("invoice", "confirm", number)["status"] == "confirmed"
    result = book("invoice", "cancel", number, "--json")
    assert result.exit_code == 1 and number in result.error["message"]
    assert book.ok("invoice", "show", number)["status"] == "confirmed"


def test_invoice_show_lists_the_billed_details(book):
    first = tx(book, book.design, "2024-02-10", "100")
    second = tx(book, book.design, "2024-02-11", "0.5")
    number = book.ok("run-once", "--date", "2024-03-01")["invoices"][0]["number"]
    shown = book.ok("invoice", "show", number)
    details = shown["lines"][0]["details"]
    assert [(d["id"], d["amount"]) for d in details] == [(first, "100.00"), (second, "0.50")]
    assert shown["total"] == "100.50"


def test_invoice_list_filters_by_status_and_contract(book):
    tx(book, book.design, "2024-02-10", "100")
    tx(book, book.design, "2024-03-10", "100")
    run = book.ok("run-once", "--date", "2024-04-01")
    book.ok("invoice", "confirm", run["invoices"][0]["number"])
    assert len(book.ok("invoice", "list", "--status", "draft")["invoices"]) == 1
    assert len(book.ok("invoice", "list", "--contract", "C-1")["invoices"]) == 2
    # An unknown contract is said so, as `contract list NAME` says it (a typo is no empty list).
    for command in (("invoice", "list"), ("invoice", "export", "--all")):
        unknown = book(*command, "--contract", "nope", "--json")
        assert unknown.exit_code == 1 and "no contract named 'nope'" in unknown.error["message"]
    assert book("invoice", "list", "--status", "paid").exit_code == 1


def test_process_runner_processes_today_through_the_same_run(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-11-01")
    tx(inv, line, "2026-10-20", "42")
    inv.ok("job", "create", JOB)
    started = inv.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunner")
    assert started["process"]["status"] == "completed"
    assert [i["total"] for i in started["process"]["invoices"]] == ["42.00"]
    assert inv.ok("run-once")["status"] == "sleeping"


def test_a_transaction_released_by_a_cancel_can_be_deleted_and_the_cancelled_invoice_keeps_its_record(book):
    kept = tx(book, book.design, "2024-02-10", "100")
    wrong = tx(book, book.design, "2024-02-11", "9999")
    number = book.ok("run-once", "--date", "2024-03-01")["invoices"][0]["number"]
    book.ok("invoice", "cancel", number)
    book.ok("transaction", "delete", wrong)
    cancelled = book.ok("invoice", "show", number)
    assert [(d["id"], d["amount"]) for d in cancelled["lines"][0]["details"]] == [(kept, "100.00"), (wrong, "9999.00")]
    assert cancelled["total"] == "10099.00"
    rebilled = book.ok("run-once", "--date", "2024-04-01")["invoices"]
    assert [(i["total"], i["lines"][0]["transactions"]) for i in rebilled] == [("100.00", 1)]


def test_invoice_export_writes_one_csv_row_per_invoice_line_and_json_with_details(book):
    tx(book, book.design, "2024-02-10", "100")
    tx(book, book.build, "2024-02-11", "0.5")
    number = book.ok("run-once", "--date", "2024-03-01")["invoices"][0]["number"]
    rows = book("invoice", "export", "--all").stdout.splitlines()
    assert rows[0].startswith("number,type,credits,status,contract,customer,run_date,issue_date,due_date,currency,"
                              "invoice_total,tax_total,total_with_tax")
    assert rows[1:] == [
        f"{number},invoice,,draft,C-1,Fabrikam,2024-03-01,,,USD,100.50,0.00,100.50,{book.design},Design,time-and-material,100.00,1",
        f"{number},invoice,,draft,C-1,Fabrikam,2024-03-01,,,USD,100.50,0.00,100.50,{book.build},Build,time-and-material,0.50,1"]
    exported = book.ok("invoice", "export", number)["invoices"]
    shown = book.ok("invoice", "show", number)
    # The document is the invoice as show prints it, less the record of its hand-overs.
    assert shown.pop("exported") == {}
    assert exported == [shown]
    assert book("invoice", "export").exit_code == 2  # neither NUMBERs nor --all: a usage error
    assert book("invoice", "export", "--all", "--format", "xml").exit_code == 1


def test_invoice_show_details_name_the_invoice_that_bills_them(book):
    tx(book, book.design, "2024-02-10", "100")
    number = book.ok("run-once", "--date", "2024-03-01")["invoices"][0]["number"]
    detail = book.ok("invoice", "show", number)["lines"][0]["details"][0]
    assert detail["invoice"] == number and detail["billed"] is True


def test_a_late_run_reports_held_transactions_at_each_run_date_as_daily_runs_would(tmp_path, monkeypatch):
    from tests.conftest import Invoicer

    def book(name):
        inv = Invoicer(tmp_path / f"{name}.db", monkeypatch)
        line = inv.line("C-1", "Capped", "time-and-material", "Fabrikam", "--not-to-exceed", "100")
        inv.ok("schedule", "add", line, "--frequency", "weekly", "--start", "2026-10-05")
        for day, amount in [("2026-10-01", "80"), ("2026-10-02", "50"), ("2026-10-03", "20"), ("2026-10-08", "5")]:
            inv.ok("transaction", "add", line, "--date", day, "--amount", amount)
        inv.setup_job()
        return inv

    def skips(runs):
        return sorted((s["run_date"], s["last_run_date"], s["count"], s["reason"], s["detail"])
                      for r in runs for s in r["skipped"])

    late, daily = book("late"), book("daily")
    late_run = late.ok("run-once", "--date", "2026-10-26")
    daily_runs = [daily.ok("run-once", "--date", d) for d in ("2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26")]
    one, two = "1 transaction(s) held back by the not-to-exceed limit", "2 transaction(s) held back by the not-to-exceed limit"
    assert skips(daily_runs) == [
        ("2026-10-05", "2026-10-05", 1, "over-not-to-exceed", one), ("2026-10-12", "2026-10-12", 1, "over-not-to-exceed", two),
        ("2026-10-19", "2026-10-19", 1, "over-not-to-exceed", two), ("2026-10-26", "2026-10-26", 1, "over-not-to-exceed", two)]
    # The late run says the same in one record a line, reason and detail: its span of run dates and their count.
    assert skips([late_run]) == [
        ("2026-10-05", "2026-10-05", 1, "over-not-to-exceed", one), ("2026-10-12", "2026-10-26", 3, "over-not-to-exceed", two)]
    assert [(i["run_date"], i["total"]) for i in late_run["invoices"]] == [("2026-10-05", "100.00")]


def test_renaming_a_line_does_not_change_its_confirmed_invoice(book):
    tx(book, book.design, "2024-02-10", "100")
    number = book.ok("run-once", "--date", "2024-03-01")["invoices"][0]["number"]
    before = book.ok("invoice", "confirm", number)
    book.ok("contract", "set-line", book.design, "--name", "Renamed")
    assert book.ok("invoice", "show", number) == before
    assert before["lines"][0]["name"] == "Design"


def test_amounts_too_large_to_add_up_are_one_clear_line(book):
    rows = "line_id,date,amount\n" + f"{book.design},2024-02-10,10000000000000\n" * 9300
    book.ok("transaction", "import", "-", input=rows)
    result = book("run-once", "--date", "2024-03-01", "--json")
    assert result.exit_code == 1 and "exceed" in result.error["message"]
    assert book.ok("run", "list")["runs"] == []


# the run's references ---------------------------------------------------------------------

@pytest.mark.sqlite_only  # the server checks every reference it is given
def test_only_the_run_writes_references_unchecked_and_every_later_write_is_checked_again(book):
    from invoicer.store import open_store

    tx(book, book.design, "2024-02-10", "100.00")
    book.ok("run-once", "--date", "2024-03-01")
    store = open_store(book.db)
    try:
        def enforced() -> int:
            return store.conn.execute("PRAGMA foreign_keys").fetchone()[0]

        with store.writing(linked_by_joins=True):
            assert enforced() == 0
        assert enforced() == 1
        with pytest.raises(RuntimeError), store.writing(linked_by_joins=True):
            raise RuntimeError("a run that fails")
        assert enforced() == 1
        with store.writing():
            assert enforced() == 1
        # What the run linked holds, checked after the fact as doctor does.
        with store.reading(checked=False):
            assert store.integrity_problems() == []
    finally:
        store.close()


@pytest.mark.sqlite_only  # a server checkpoints its own log
def test_the_run_commits_without_a_checkpoint_and_one_beside_it_copies_the_whole_log(book, monkeypatch):
    """The run's commit leaves its checkpoint to a thread (store.connection's
    _commit_checkpointed_aside): a commit of more than SQLite's 1,000 pages leaves the file
    as it was, the thread copies the log into it, and other commits checkpoint as SQLite does."""
    import sqlite3

    from invoicer.store import connection, open_store

    def in_the_file() -> int:
        """The run's mark, read from the file as if there were no log beside it."""
        file = sqlite3.connect(f"file:{book.db}?immutable=1", uri=True)
        try:
            return file.execute("SELECT count(*) FROM contract_lines WHERE project = 'P-1'").fetchone()[0]
        finally:
            file.close()

    checkpoints = []
    checkpoint = connection._checkpoint
    monkeypatch.setattr(connection, "_checkpoint", lambda *args: checkpoints.append(args))
    store = open_store(book.db)
    try:
        with store.writing(linked_by_joins=True):
            store.conn.execute("UPDATE contract_lines SET project = 'P-1'")
            # 1,500 pages of the log, then gone: the commit is past SQLite's own checkpoint.
            store.conn.execute("CREATE TABLE bulk (x)")
            store.conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
                               "INSERT INTO bulk SELECT randomblob(3000) FROM n")
            store.conn.execute("DROP TABLE bulk")
        store._checkpoint.join()
        assert len(checkpoints) == 1 and in_the_file() == 0
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
        checkpoint(*checkpoints[0])
        assert in_the_file() > 0
    finally:
        store.close()


@pytest.mark.sqlite_only  # a server's connection has no checkpoint to wait for
def test_ctrl_c_while_the_run_s_checkpoint_is_waited_for_says_the_run_was_saved(book, monkeypatch):
    """Closing the book waits for the run's checkpoint; Ctrl-C then comes after the commit."""
    from invoicer.store.connection import Connection

    tx(book, book.design, "2024-02-10", "100.00")
    close = Connection.close

    def interrupted(store):
        close(store)
        if store.committed:
            raise KeyboardInterrupt

    monkeypatch.setattr(Connection, "close", interrupted)
    result = book("run-once", "--date", "2024-03-01", "--json")
    monkeypatch.setattr(Connection, "close", close)
    assert result.exit_code == 130, (result.exit_code, result.stderr)
    assert "after the command's changes were saved" in result.error["message"], result.error
    assert [i["total"] for i in book.ok("invoice", "list")["invoices"]] == ["100.00"]
