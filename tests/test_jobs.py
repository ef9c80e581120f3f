"""The batch job and its workflow instance (spec section 2, the seed's steps 1-6): the
"create invoices" name rule, the two workflows that create invoices, one running
instance per database, status and stalled detection, stop, restart and Is Active."""

from datetime import datetime, timezone

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import JOB

OTHER_JOB = "Backup create invoices"


def moment(text):
    """An ISO time from the CLI, as an aware datetime (the clock runs in UTC here)."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text!r} should carry its UTC offset"
    return value


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def status_of(inv, name=JOB):
    """`job status NAME --json` (exit 0 or 5): the job's entry."""
    result = inv("job", "status", name, "--json")
    assert result.exit_code in (0, 5), (result.exit_code, result.stderr)
    jobs = result.json["jobs"]
    assert [j["name"] for j in jobs] == [name]
    return jobs[0]


def job_list(inv):
    return inv.ok("job", "list")["jobs"]


def runs(inv):
    return inv.ok("run", "list")["runs"]


def billable_line(inv):
    """A time-and-material line with one run date today (2026-11-24) and a transaction
    dated the day before, so a Process step for today makes one invoice."""
    line = inv.line("C-100", "Design")
    inv.ok("schedule", "add", line, "--dates", "2026-11-24")
    inv.ok("transaction", "add", line, "--date", "2026-11-23", "--amount", "100")
    return line


# job create: the name rule ---------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "Project operations create invoices",
    "create invoices",
    "CREATE INVOICES",
    "Nightly Create Invoices for Northwind",
    "create\tinvoices",
    "create   invoices daily",
    "create \t invoices",
])
def test_job_name_including_create_invoices_in_any_case_and_spacing_is_accepted(inv, name):
    created = inv.ok("job", "create", name)
    assert created["name"] == name
    assert isinstance(created["id"], int)
    assert [j["name"] for j in job_list(inv)] == [name]


@pytest.mark.parametrize("name", [
    "Project operations invoices",
    "Project operations create invoice",
    "invoices create",
    "createinvoices",
    "create-invoices",
    "create_invoices",
    "create the invoices",
    "recreate invoices",
    "Invoice creation",
])
def test_job_name_without_the_words_create_invoices_is_refused_quoting_the_rule(inv, name):
    result = inv("job", "create", name, "--json")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    message = result.error["message"]
    assert '"create invoices"' in message or "'create invoices'" in message
    assert job_list(inv) == []


def test_job_name_refusal_without_json_is_one_line_quoting_the_rule(inv):
    result = inv("job", "create", "Monthly billing")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "create invoices" in result.stderr
    assert job_list(inv) == []


def test_job_defaults_are_job_type_none_frequency_daily_and_is_active_yes(inv):
    created = inv.ok("job", "create", JOB)
    assert (created["job_type"], created["frequency"], created["active"]) == ("None", "Daily", True)
    [listed] = job_list(inv)
    assert (listed["job_type"], listed["frequency"], listed["active"]) == ("None", "Daily", True)


def test_job_type_none_and_frequency_daily_may_be_given_explicitly(inv):
    created = inv.ok("job", "create", JOB, "--job-type", "None", "--frequency", "Daily", "--active")
    assert (created["job_type"], created["frequency"], created["active"]) == ("None", "Daily", True)


@pytest.mark.parametrize("job_type", ["Batch", "Recurring", "UpdateRoleUtilization"])
def test_job_type_other_than_none_is_refused_and_nothing_written(inv, job_type):
    result = inv("job", "create", JOB, "--job-type", job_type, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.error["message"]
    assert job_list(inv) == []


def test_job_created_inactive_has_is_active_no(inv):
    created = inv.ok("job", "create", JOB, "--inactive")
    assert created["active"] is False
    assert job_list(inv)[0]["active"] is False


def test_job_names_are_unique(inv):
    first = inv.ok("job", "create", JOB)
    result = inv("job", "create", JOB, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert [(j["id"], j["name"]) for j in job_list(inv)] == [(first["id"], JOB)]


def test_job_list_lists_every_job_with_its_settings(inv):
    inv.ok("job", "create", JOB)
    inv.ok("job", "create", OTHER_JOB, "--inactive")
    listed = {j["name"]: j for j in job_list(inv)}
    assert set(listed) == {JOB, OTHER_JOB}
    assert listed[JOB]["active"] is True and listed[OTHER_JOB]["active"] is False
    assert len({j["id"] for j in listed.values()}) == 2


def test_job_list_without_json_names_the_jobs(inv):
    inv.ok("job", "create", JOB)
    result = inv("job", "list")
    assert result.exit_code == 0
    assert JOB in result.stdout


# run-workflow ------------------------------------------------------------------------------

def test_process_run_caller_starts_with_sleep_so_run_once_today_says_sleeping(inv):
    billable_line(inv)
    inv.setup_job("ProcessRunCaller")
    assert inv.ok("invoice", "list")["invoices"] == []
    assert runs(inv) == []
    today = inv.ok("run-once")
    assert today["status"] == "sleeping"
    assert today["run_date"] == "2026-11-24"
    assert today["next_due"] == "2026-11-25"
    assert today["invoices"] == [] and today["skipped"] == []
    assert runs(inv) == []  # a sleeping call is not a run
    assert inv.ok("invoice", "list")["invoices"] == []


def test_process_run_caller_next_due_is_the_start_of_the_day_after_its_start(inv):
    inv.setup_job("ProcessRunCaller")
    job = status_of(inv)
    assert job["workflow"] == "ProcessRunCaller"
    assert job["step"] == "Sleep"
    assert job["last_end"] is None
    assert moment(job["next_due"]) == utc("2026-11-25T00:00:00")
    assert job["stalled"] is False


def test_process_run_caller_processes_on_the_next_day(inv):
    billable_line(inv)
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-25T00:05:00")
    done = inv.ok("run-once")
    assert done["status"] == "completed"
    assert [i["total"] for i in done["invoices"]] == ["100.00"]
    assert [r["run_date"] for r in runs(inv)] == ["2026-11-25"]


def test_process_runner_processes_today_at_once_inside_run_workflow(inv):
    billable_line(inv)
    inv.setup_job("ProcessRunner")
    recorded = runs(inv)
    assert [r["run_date"] for r in recorded] == ["2026-11-24"]
    invoices = inv.ok("invoice", "list")["invoices"]
    assert [(i["run_date"], i["total"], i["status"]) for i in invoices] == [("2026-11-24", "100.00", "draft")]


def test_process_runner_records_a_run_even_when_there_is_nothing_to_bill(inv):
    inv.setup_job("ProcessRunner")
    assert [r["run_date"] for r in runs(inv)] == ["2026-11-24"]
    assert inv.ok("invoice", "list")["invoices"] == []


def test_process_runner_then_sleeps_through_today(inv):
    inv.setup_job("ProcessRunner")
    again = inv.ok("run-once")
    assert again["status"] == "sleeping"
    assert again["next_due"] == "2026-11-25"
    assert len(runs(inv)) == 1


def test_process_runner_timer_counts_from_the_process_end(inv):
    inv.setup_job("ProcessRunner")
    job = status_of(inv)
    assert job["workflow"] == "ProcessRunner"
    assert job["step"] == "Sleep"
    assert moment(job["last_end"]) == utc("2026-11-24T10:00:00")
    assert moment(job["next_due"]) == utc("2026-11-25T00:00:00")


def test_update_role_utilization_is_refused_naming_the_two_workflows_that_create_invoices(inv):
    inv.ok("job", "create", JOB)
    result = inv("job", "run-workflow", JOB, "--workflow", "UpdateRoleUtilization", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    message = result.error["message"]
    assert "ProcessRunCaller" in message and "ProcessRunner" in message
    assert status_of(inv)["workflow"] is None
    assert inv("run-once", "--json").exit_code == 4  # nothing was started


def test_update_role_utilization_refusal_without_json_is_one_line(inv):
    inv.ok("job", "create", JOB)
    result = inv("job", "run-workflow", JOB, "--workflow", "UpdateRoleUtilization")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ProcessRunCaller" in result.stderr and "ProcessRunner" in result.stderr


def test_unknown_workflow_is_refused_and_nothing_started(inv):
    inv.ok("job", "create", JOB)
    result = inv("job", "run-workflow", JOB, "--workflow", "ProcessEverything", "--json")
    assert result.exit_code in (1, 2)
    assert result.stdout == ""
    assert status_of(inv)["workflow"] is None


@pytest.mark.parametrize("second", ["ProcessRunCaller", "ProcessRunner"])
def test_second_start_for_the_same_job_is_refused_with_exit_3_naming_the_running_instance(inv, second):
    inv.setup_job("ProcessRunCaller")
    result = inv("job", "run-workflow", JOB, "--workflow", second, "--json")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert JOB in result.error["message"]
    assert status_of(inv)["workflow"] == "ProcessRunCaller"
    assert runs(inv) == []  # a refused ProcessRunner did not process


@pytest.mark.parametrize("second", ["ProcessRunCaller", "ProcessRunner"])
def test_start_for_another_job_is_refused_with_exit_3_naming_the_running_instance(inv, second):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "create", OTHER_JOB)
    result = inv("job", "run-workflow", OTHER_JOB, "--workflow", second, "--json")
    assert result.exit_code == 3
    assert JOB in result.error["message"]
    assert status_of(inv, OTHER_JOB)["workflow"] is None
    assert runs(inv) == []


def test_second_start_refusal_without_json_names_the_running_instance(inv):
    inv.setup_job("ProcessRunner")
    inv.ok("job", "create", OTHER_JOB)
    result = inv("job", "run-workflow", OTHER_JOB, "--workflow", "ProcessRunCaller")
    assert result.exit_code == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert JOB in result.stderr


def test_a_stopped_instance_does_not_block_another_jobs_start(inv):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "stop", JOB)
    inv.ok("job", "create", OTHER_JOB)
    started = inv("job", "run-workflow", OTHER_JOB, "--workflow", "ProcessRunCaller", "--json")
    assert started.exit_code == 0, started.stderr
    assert status_of(inv, OTHER_JOB)["workflow"] == "ProcessRunCaller"


def test_run_workflow_needs_an_existing_job(inv):
    result = inv("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.error["message"]
    assert job_list(inv) == []


def test_run_workflow_needs_an_active_job(inv):
    inv.ok("job", "create", JOB, "--inactive")
    result = inv("job", "run-workflow", JOB, "--workflow", "ProcessRunner", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert status_of(inv)["workflow"] is None
    assert runs(inv) == []


# job status and stalled detection --------------------------------------------------------

def test_job_status_json_has_the_contract_keys(inv):
    inv.setup_job()
    document = inv.ok("job", "status")
    [job] = document["jobs"]
    assert {"name", "active", "workflow", "step", "last_end", "next_due", "stalled"} <= set(job)
    assert (job["name"], job["active"], job["workflow"]) == (JOB, True, "ProcessRunCaller")


def test_job_status_without_name_shows_every_job(inv):
    inv.setup_job()
    inv.ok("job", "create", OTHER_JOB)
    names = {j["name"] for j in inv.ok("job", "status")["jobs"]}
    assert names == {JOB, OTHER_JOB}


def test_job_status_of_an_unknown_job_is_refused(inv):
    result = inv("job", "status", "Nope create invoices", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""


def test_step_is_process_once_the_sleep_timer_has_ended(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-25T08:00:00")
    job = status_of(inv)
    assert job["step"] == "Process"
    assert job["stalled"] is False


def test_not_stalled_until_more_than_a_day_past_next_due(inv):
    inv.setup_job("ProcessRunCaller")  # next due 2026-11-25T00:00
    for now in ["2026-11-25T12:00:00", "2026-11-25T23:59:59", "2026-11-26T00:00:00"]:
        inv.at(now)
        result = inv("job", "status", "--json")
        assert result.exit_code == 0, now
        assert result.json["jobs"][0]["stalled"] is False, now


def test_stalled_when_the_next_process_is_more_than_a_day_overdue_exit_5_with_json(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-27T09:00:00")
    result = inv("job", "status", "--json")
    assert result.exit_code == 5
    [job] = result.json["jobs"]
    assert job["stalled"] is True
    assert moment(job["next_due"]) == utc("2026-11-25T00:00:00")


def test_stalled_just_past_next_due_plus_one_day(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-26T00:00:01")
    result = inv("job", "status", "--json")
    assert result.exit_code == 5
    assert result.json["jobs"][0]["stalled"] is True


def test_stalled_exits_5_without_json_too(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-27T09:00:00")
    result = inv("job", "status")
    assert result.exit_code == 5
    assert JOB in result.stdout


def test_stalled_for_the_named_job_exits_5(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-27T09:00:00")
    assert inv("job", "status", JOB).exit_code == 5


def test_stall_is_counted_from_the_last_process_end(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-25T06:30:00")
    assert inv.ok("run-once")["status"] == "completed"
    job = status_of(inv)
    assert moment(job["last_end"]) == utc("2026-11-25T06:30:00")
    assert moment(job["next_due"]) == utc("2026-11-26T00:00:00")
    inv.at("2026-11-27T00:00:00")
    assert inv("job", "status", "--json").exit_code == 0
    inv.at("2026-11-27T09:00:00")
    assert inv("job", "status", "--json").exit_code == 5


def test_process_runner_instance_stalls_when_cron_misses_a_whole_day(inv):
    inv.setup_job("ProcessRunner")  # processed 2026-11-24T10:00, next due 11-25T00:00
    inv.at("2026-11-26T12:00:00")
    result = inv("job", "status", "--json")
    assert result.exit_code == 5
    assert result.json["jobs"][0]["stalled"] is True


def test_an_inactive_job_is_never_stalled_and_run_once_exits_4(inv):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "update", JOB, "--inactive")
    inv.at("2026-12-20T09:00:00")
    result = inv("job", "status", "--json")
    assert result.exit_code == 0
    assert result.json["jobs"][0]["stalled"] is False
    refused = inv("run-once", "--json")
    assert refused.exit_code == 4
    assert refused.stdout == ""
    assert refused.error["message"]
    assert runs(inv) == []


def test_a_stopped_instance_is_not_stalled(inv):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "stop", JOB)
    inv.at("2026-12-20T09:00:00")
    result = inv("job", "status", "--json")
    assert result.exit_code == 0
    job = result.json["jobs"][0]
    assert (job["step"], job["stalled"]) == ("Stopped", False)


def test_a_replayed_past_day_is_a_process_step_that_resets_the_timer(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-27T09:00:00")
    assert inv("job", "status", "--json").exit_code == 5
    replay = inv.ok("run-once", "--date", "2026-11-25")
    assert replay["status"] == "completed"
    assert replay["run_date"] == "2026-11-25"
    assert [r["run_date"] for r in runs(inv)] == ["2026-11-25"]
    result = inv("job", "status", "--json")
    assert result.exit_code == 0
    job = result.json["jobs"][0]
    assert job["stalled"] is False
    assert moment(job["last_end"]) == utc("2026-11-27T09:00:00")  # its end by the clock
    assert moment(job["next_due"]) == utc("2026-11-28T00:00:00")


def test_a_replay_of_a_past_day_runs_even_while_the_instance_sleeps_today(inv):
    inv.setup_job("ProcessRunCaller")
    assert inv.ok("run-once")["status"] == "sleeping"
    inv.at("2026-11-24T11:00:00")
    replay = inv.ok("run-once", "--date", "2026-11-23")
    assert replay["status"] == "completed"
    assert moment(status_of(inv)["last_end"]) == utc("2026-11-24T11:00:00")


# stop ------------------------------------------------------------------------------------

def test_job_stop_stops_the_instance_and_run_once_then_exits_4(inv):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "stop", JOB)
    job = status_of(inv)
    assert job["step"] == "Stopped"
    assert job["workflow"] == "ProcessRunCaller"
    inv.at("2026-11-25T09:00:00")
    result = inv("run-once", "--json")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert runs(inv) == []


def test_job_stop_of_an_unknown_job_is_refused(inv):
    result = inv("job", "stop", "Nope create invoices", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""


# restart ---------------------------------------------------------------------------------

def test_restart_of_a_running_instance_is_refused_with_exit_3(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-25T09:00:00")  # due, but not stalled
    result = inv("job", "restart", JOB, "--json")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.error["message"]
    job = status_of(inv)
    assert moment(job["next_due"]) == utc("2026-11-25T00:00:00")  # untouched


def test_restart_of_a_job_with_no_instance_is_refused_with_exit_1(inv):
    inv.ok("job", "create", JOB)
    result = inv("job", "restart", JOB, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert status_of(inv)["workflow"] is None


def test_restart_of_an_unknown_job_is_refused_with_exit_1(inv):
    result = inv("job", "restart", "Nope create invoices", "--json")
    assert result.exit_code == 1


def test_restart_of_a_stopped_process_run_caller_sleeps_through_today(inv):
    billable_line(inv)
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "stop", JOB)
    inv.at("2026-11-26T10:00:00")
    inv.ok("job", "restart", JOB)
    job = status_of(inv)
    assert (job["workflow"], job["step"], job["stalled"]) == ("ProcessRunCaller", "Sleep", False)
    assert moment(job["next_due"]) == utc("2026-11-27T00:00:00")
    assert runs(inv) == []
    today = inv.ok("run-once")
    assert (today["status"], today["run_date"]) == ("sleeping", "2026-11-26")
    assert inv.ok("invoice", "list")["invoices"] == []
    inv.at("2026-11-27T00:10:00")
    assert inv.ok("run-once")["status"] == "completed"


def test_restart_of_a_stopped_process_runner_processes_today_at_once(inv):
    inv.setup_job("ProcessRunner")
    assert [r["run_date"] for r in runs(inv)] == ["2026-11-24"]
    inv.ok("job", "stop", JOB)
    billable_line(inv)
    inv.at("2026-11-26T10:00:00")
    inv.ok("job", "restart", JOB)
    assert [r["run_date"] for r in runs(inv)] == ["2026-11-24", "2026-11-26"]
    assert [i["total"] for i in inv.ok("invoice", "list")["invoices"]] == ["100.00"]
    job = status_of(inv)
    assert (job["workflow"], job["step"]) == ("ProcessRunner", "Sleep")
    assert moment(job["last_end"]) == utc("2026-11-26T10:00:00")
    assert moment(job["next_due"]) == utc("2026-11-27T00:00:00")
    assert inv.ok("run-once")["status"] == "sleeping"


def test_restart_of_a_stalled_instance_is_allowed_and_is_a_fresh_start(inv):
    inv.setup_job("ProcessRunCaller")
    inv.at("2026-11-27T09:00:00")
    assert inv("job", "status", "--json").exit_code == 5
    restarted = inv("job", "restart", JOB, "--json")
    assert restarted.exit_code == 0, restarted.stderr
    result = inv("job", "status", "--json")
    assert result.exit_code == 0
    job = result.json["jobs"][0]
    assert (job["workflow"], job["step"], job["stalled"]) == ("ProcessRunCaller", "Sleep", False)
    assert moment(job["next_due"]) == utc("2026-11-28T00:00:00")
    assert inv.ok("run-once")["status"] == "sleeping"


def test_restart_while_another_jobs_instance_runs_is_refused_with_exit_3(inv):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "stop", JOB)
    inv.ok("job", "create", OTHER_JOB)
    inv.ok("job", "run-workflow", OTHER_JOB, "--workflow", "ProcessRunCaller")
    result = inv("job", "restart", JOB, "--json")
    assert result.exit_code == 3
    assert OTHER_JOB in result.error["message"]
    assert status_of(inv)["step"] == "Stopped"


# update: Is Active -----------------------------------------------------------------------

@pytest.mark.parametrize("command", [("job", "create", JOB), ("job", "update", JOB)])
@pytest.mark.parametrize("flags", [("--active", "--inactive"), ("--inactive", "--active")])
def test_active_and_inactive_together_are_a_usage_error_not_the_last_one_kept(inv, command, flags):
    if command[1] == "update":
        inv.ok("job", "create", JOB)
    before = inv.ok("job", "list")
    result = inv(*command, *flags, "--json")
    assert result.exit_code == 2 and "contradict" in result.error["message"], result
    assert inv.ok("job", "list") == before


def test_a_flag_given_as_an_options_value_is_that_value_not_a_contradiction(inv):
    result = inv("job", "create", "B create invoices", "--frequency", "--inactive", "--active", "--json")
    assert result.exit_code == 1 and "frequency" in result.error["message"], result
    assert inv("job", "update", JOB, "--active", "--inactive", "--help").exit_code == 0


def test_update_inactive_keeps_the_instance_but_run_once_exits_4(inv):
    inv.setup_job("ProcessRunCaller")
    updated = inv.ok("job", "update", JOB, "--inactive")
    assert updated["active"] is False
    job = status_of(inv)
    assert job["active"] is False
    assert job["workflow"] == "ProcessRunCaller"
    assert job["step"] != "Stopped"
    assert job_list(inv)[0]["active"] is False
    inv.at("2026-11-25T09:00:00")
    result = inv("run-once", "--json")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert runs(inv) == []


def test_an_inactive_jobs_instance_still_blocks_a_second_instance(inv):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "update", JOB, "--inactive")
    inv.ok("job", "create", OTHER_JOB)
    result = inv("job", "run-workflow", OTHER_JOB, "--workflow", "ProcessRunner", "--json")
    assert result.exit_code == 3
    assert JOB in result.error["message"]
    assert status_of(inv, OTHER_JOB)["workflow"] is None
    assert runs(inv) == []


def test_update_active_again_lets_the_instance_run(inv):
    inv.setup_job("ProcessRunCaller")
    inv.ok("job", "update", JOB, "--inactive")
    inv.ok("job", "update", JOB, "--active")
    assert status_of(inv)["active"] is True
    inv.at("2026-11-25T09:00:00")
    assert inv.ok("run-once")["status"] == "completed"


def test_update_of_an_unknown_job_is_refused(inv):
    result = inv("job", "update", "Nope create invoices", "--inactive", "--json")
    assert result.exit_code == 1
    assert job_list(inv) == []


def test_job_names_are_unique_whatever_their_case(inv):
    inv.ok("job", "create", "Nightly create invoices")
    result = inv("job", "create", "NIGHTLY CREATE INVOICES", "--json")
    assert result.exit_code == 1
    assert len(inv.ok("job", "list")["jobs"]) == 1


def test_an_inactive_job_cannot_be_restarted(inv):
    inv.setup_job()
    inv.ok("job", "stop", JOB)
    inv.ok("job", "update", JOB, "--inactive")
    assert inv("job", "restart", JOB, "--json").exit_code == 1


def test_the_timer_keeps_whole_local_days_across_a_daylight_saving_change(tmp_path):
    # No INVOICER_TZ: the system zone (TZ) with its DST rules. A Process step that ends at
    # 00:30 on the day summer time ends is due again at midnight after it, not a day early.
    env = dict(os.environ, TZ="Europe/Berlin", NO_COLOR="1")
    env.pop("INVOICER_TZ", None)

    def run(moment, *args):
        return subprocess.run([sys.executable, "-m", "invoicer", "--db", str(tmp_path / "d.db"), *args],
                              capture_output=True, text=True, env=dict(env, INVOICER_NOW=moment))

    # Moments with their offsets: the one stored was written in summer time (+02:00).
    assert run("2026-10-25T00:30:00+02:00", "job", "create", JOB).returncode == 0
    assert run("2026-10-25T00:30:00+02:00", "job", "run-workflow", JOB, "--workflow", "ProcessRunner").returncode == 0
    status = run("2026-10-26T00:10:00+01:00", "job", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["jobs"][0]["next_due"] == "2026-10-26T00:00:00+01:00"
