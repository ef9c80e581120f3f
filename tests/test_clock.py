"""The clock at the ends of the calendar (spec section 1: "today" and INVOICER_NOW): a
clock that cannot be stored is refused (exit 1, one line, nothing written), the clocks
just inside the ends work in every zone, and a stored moment, however far out, never
breaks a later command (a monitor must see exit 0 or 5 from `job status`)."""

import json

import pytest

from tests.conftest import JOB, dump, write

ZONES = ["UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"]


@pytest.mark.parametrize("now, zone", [
    ("9999-12-31T12:00:00", "UTC"),
    ("9999-12-31", "UTC"),
    ("9999-12-30T00:00:00", "Pacific/Kiritimati"),
    ("9999-12-28T23:00:00-12:00", "UTC"),
    ("0001-01-01T00:30:00", "Asia/Tokyo"),
    ("0001-01-01T00:30:00+09:00", "UTC"),
    ("0001-01-01T00:00:00", "UTC"),
    ("0001-01-01T10:00:00", "Etc/GMT+12"),
])
@pytest.mark.parametrize("args", [
    ["job", "create", "Second create invoices"],
    ["job", "run-workflow", JOB, "--workflow", "ProcessRunner"],
    ["run-once"],
    ["job", "status"],
    ["job", "list"],
    ["doctor"],
], ids=lambda a: " ".join(a[:2]) if isinstance(a, list) else a)
def test_a_clock_that_cannot_be_stored_is_refused_with_one_line(inv, monkeypatch, now, zone, args):
    inv.ok("job", "create", JOB)
    before = dump(inv)
    monkeypatch.setenv("INVOICER_TZ", zone)
    inv.at(now)
    for extra in (["--json"], []):
        result = inv(*args, *extra)
        assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result.stderr
        message = json.loads(result.stderr)["error"]["message"] if extra else result.stderr
        assert "INVOICER_NOW" in message and "calendar" in message, message
    assert dump(inv) == before


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("now", ["9999-12-28T12:00:00+00:00", "0001-01-02T00:00:00+00:00"])
def test_the_clocks_just_inside_the_ends_work_in_every_zone(inv, monkeypatch, zone, now):
    monkeypatch.setenv("INVOICER_TZ", zone)
    inv.at(now)
    inv.ok("job", "create", JOB)
    started = inv.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunner")
    assert started["process"]["status"] == "completed"
    assert inv.ok("run-once")["status"] == "sleeping"
    for args in (["job", "status"], ["job", "list"], ["doctor"], ["run", "list"]):
        result = inv(*args, "--json")
        assert result.exit_code in (0, 5), (args, result.stderr)
        json.loads(result.stdout)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("stored", ["9999-12-31T23:59:59.999999+00:00", "9999-12-31T12:00:00",
                                    "0001-01-01T00:00:00+00:00", "0001-01-01T00:30:00+09:00"])
def test_a_moment_stored_at_an_end_of_the_calendar_never_breaks_a_later_command(inv, monkeypatch, zone, stored):
    """What an older invoicer wrote after `run-once` under INVOICER_NOW=9999-12-31T12:00:00."""
    inv.setup_job("ProcessRunner")
    write(inv, "UPDATE workflow_instances SET started_at = ?", [stored])
    write(inv, "UPDATE runs SET started_at = ?, ended_at = ?", [stored, stored])
    write(inv, "UPDATE jobs SET created_at = ?", [stored])
    monkeypatch.setenv("INVOICER_TZ", zone)
    for args in (["job", "status"], ["job", "status", JOB], ["job", "list"], ["doctor"], ["run", "list"]):
        for extra in (["--json"], []):
            result = inv(*args, *extra)
            assert result.exit_code in (0, 5), (args, result.exit_code, result.stderr)
            assert "Traceback" not in result.stderr
    status = inv("job", "status", "--json")
    (job,) = json.loads(status.stdout)["jobs"]
    assert job["stalled"] is (status.exit_code == 5)
    # The monitor's command still tells a stall: far in the past, the workflow is overdue.
    assert job["stalled"] is stored.startswith("0001")
    assert inv("job", "stop", JOB).exit_code == 0
    assert inv("job", "restart", JOB, "--json").exit_code == 0
