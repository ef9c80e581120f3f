"""What every command shares: help with an example, shell completion, plain text when piped."""

import json
import os
import subprocess
import sys

import pytest
import typer.main

from invoicer.cli.app import app


def commands(group=None, path=()):
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from commands(command, path + (name,))
        else:
            yield path + (name,)


@pytest.mark.sqlite_only  # --help never reaches the store: the same on both
def test_every_command_has_help_with_an_example(inv):
    found = list(commands())
    assert len(found) >= 30
    for path in found:
        shown = inv(*path, "--help")
        assert shown.exit_code == 0 and "Example" in shown.stdout, path


def test_shell_completion_completes_commands(tmp_path):
    env = dict(os.environ, _INVOICER_COMPLETE="complete_bash", COMP_WORDS="invoicer job run-w", COMP_CWORD="2")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "invoicer")], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.split() == ["run-workflow"]


def test_piped_output_is_plain_text_without_colour_codes(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "invoicer")
    env = dict(os.environ, INVOICER_TZ="UTC")
    env.pop("NO_COLOR", None)
    db = str(tmp_path / "p.db")
    subprocess.run([exe, "--db", db, "job", "create", "A create invoices"], check=True, capture_output=True, env=env)
    shown = subprocess.run([exe, "--db", db, "job", "list"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and "A create invoices" in shown.stdout and "\x1b[" not in shown.stdout


def _closing(*fds):
    return lambda: [os.close(fd) for fd in fds]


def test_a_command_started_with_its_output_closed_still_does_its_work(tmp_path):
    """Under cron or a daemon stdout and stderr may be closed (>&-): the job is done all the same."""
    exe = os.path.join(os.path.dirname(sys.executable), "invoicer")
    db = str(tmp_path / "c.db")
    made = subprocess.run([exe, "--db", db, "job", "create", "A create invoices", "--json"],
                          preexec_fn=_closing(1, 2), env=dict(os.environ, INVOICER_TZ="UTC"))
    assert made.returncode == 0
    listed = subprocess.run([exe, "--db", db, "job", "list", "--json"], capture_output=True, text=True)
    assert [job["name"] for job in json.loads(listed.stdout)["jobs"]] == ["A create invoices"]


def test_an_import_from_a_closed_standard_input_is_one_line_exit_1(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "invoicer")
    done = subprocess.run([exe, "--db", str(tmp_path / "c.db"), "transaction", "import", "-"],
                          preexec_fn=_closing(0), capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "standard input is closed" in done.stderr


def test_a_command_imports_only_what_it_needs(tmp_path):
    """`job list` loads neither pydantic (Typer's coercion, replaced for text and flags) nor
    the modules of the other commands: a small command costs little beyond its libraries."""
    db = str(tmp_path / "book.db")
    probe = ("import json, sys\nfrom invoicer.cli.app import app\n"
             "try:\n    app(['--db', sys.argv[1], 'job', 'list', '--json'])\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'dateutil', 'invoicer'))))")
    done = subprocess.run([sys.executable, "-c", probe, db], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "invoicer.cli.job" in loaded
    unneeded = {"pydantic", "invoicer.cli.contract", "invoicer.cli.transaction", "invoicer.book",
                "invoicer.imports", "invoicer.explain", "invoicer.invoices", "dateutil.rrule"}
    assert unneeded.isdisjoint(loaded), unneeded & set(loaded)


def test_text_options_reach_the_command_as_given(inv):
    """Text options skip Typer's coercion: values with spaces, unicode, leading dashes via
    =, or that look like numbers arrive unchanged."""
    line = inv.line("C-1", "Design")
    added = inv.ok("transaction", "add", line, "--date", "2026-11-01", "--amount", "007.50",
                   "--description=  -- 出張 0x10 ")
    assert added["amount"] == "7.50" and added["description"] == "-- 出張 0x10"


@pytest.mark.sqlite_only  # a usage error, refused before the store is opened
def test_single_commands_offer_no_shell_completion_install(inv):
    """Only the root installs shell completion: `run-once --install-completion` is a usage error."""
    assert "--install-completion" not in inv("run-once", "--help").stdout
    assert inv("run-once", "--show-completion", "bash").exit_code == 2


def test_emoji_codes_in_names_are_shown_as_typed(inv):
    added = inv("contract", "add-line", "Go :rocket:", "--name", "A :star:", "--customer", "X",
                "--billing-method", "time-and-material")
    assert added.exit_code == 0 and ":rocket:" in added.stdout and "\U0001F680" not in added.stdout
    assert ":star:" in inv("contract", "list").stdout
