"""What the error messages say (spec section 6: one line on stderr naming the problem):
they quote a bounded part of what was given, name what exists rather than echo what was
typed, and point to the command that helps in the book as it stands."""

import json

import pytest

from invoicer import render
from tests.conftest import JOB


def test_a_binary_file_given_to_an_import_gives_a_short_message(inv, tmp_path):
    for kind in ("contract", "schedule", "transaction"):
        path = tmp_path / f"{kind}.csv"
        path.write_text("line_id," + "x" * 20_000 + "\n1,2\n", encoding="utf-8")
        result = inv(kind, "import", str(path))
        assert result.exit_code == 1 and "unknown column" in result.stderr
        assert len(result.stderr) < 400, len(result.stderr)
        as_json = inv(kind, "import", str(path), "--json")
        assert len(as_json.error["message"]) < 400


@pytest.mark.parametrize("message, expected", [
    ("name: no job named '" + "x" * 500 + "'", "name: no job named '" + "x" * 59 + "...'"),
    ('unknown key "' + "y" * 100 + '" (keys: a, b)', 'unknown key "' + "y" * 59 + '..." (keys: a, b)'),
    ("the job's workflow of 'short' " + "z" * 100, "the job's workflow of 'short' " + "z" * 100),
])
def test_a_message_quotes_at_most_sixty_characters_of_a_value(message, expected):
    assert render.capped(message) == expected


def test_a_message_is_cut_at_two_thousand_characters():
    assert len(render.capped("a" * 100_000)) == render.MESSAGE_CHARS


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("kind", ["contract", "schedule", "transaction"])
def test_a_json_lines_value_nested_deeply_is_refused_naming_the_row(inv, tmp_path, kind, depth):
    path = tmp_path / "deep.jsonl"
    key = "contract" if kind == "contract" else "line_id"
    path.write_text(f'{{"{key}": ' + "[" * depth + "]" * depth + "}\n", encoding="utf-8")
    result = inv(kind, "import", str(path), "--json")
    assert result.exit_code == 1, result
    assert "row 1" in result.error["message"] and "nested" in result.error["message"]


def test_a_job_name_taken_in_another_case_quotes_the_existing_job(inv):
    inv.ok("job", "create", JOB)
    result = inv("job", "create", JOB.upper(), "--json")
    assert result.exit_code == 1
    assert repr(JOB) in result.error["message"] and JOB.upper() not in result.error["message"]
    assert "case" in result.error["message"]


def test_after_job_stop_run_once_names_the_stopped_job_and_job_restart(inv):
    """Another job sorts first and has no instance: the hint is still about the stopped one."""
    inv.ok("job", "create", "Billing create invoices")
    inv.ok("job", "create", "A first create invoices")
    inv.ok("job", "run-workflow", "Billing create invoices", "--workflow", "ProcessRunner")
    inv.ok("job", "stop", "Billing create invoices")
    result = inv("run-once", "--json")
    assert result.exit_code == 4
    message = result.error["message"]
    assert "invoicer job restart 'Billing create invoices'" in message, message
    assert "run-workflow" not in message and "A first" not in message
    assert "invoicer job restart 'Billing create invoices'" in inv("doctor").stdout


def test_the_stopped_job_made_inactive_is_activated_then_restarted(inv):
    inv.ok("job", "create", JOB)
    inv.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
    inv.ok("job", "stop", JOB)
    inv.ok("job", "update", JOB, "--inactive")
    message = inv("run-once", "--json").error["message"]
    assert f"invoicer job update '{JOB}' --active && invoicer job restart '{JOB}'" in message, message


def test_a_job_never_started_is_given_job_run_workflow(inv):
    inv.ok("job", "create", JOB)
    message = inv("run-once", "--json").error["message"]
    assert f"invoicer job run-workflow '{JOB}' --workflow ProcessRunCaller" in message
    assert json.loads(json.dumps(message))
