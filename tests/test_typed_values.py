"""One rule for every text a user types on the command line, whatever the command (spec
sections 3 and 6: "Bad values give exit 1 naming the field"): a value that is not valid
Unicode (bytes that are not UTF-8, a lone surrogate) and an empty value are refused,
exit 1, one line naming the field, nothing written. Checked on every option and argument
of every command, found by walking the command tree, so that a new command is covered."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from invoicer.cli.app import COMMANDS, app
from invoicer.cli.common import EMPTY_MEANS_NONE
from tests.conftest import JOB, dump

EXE = Path(sys.executable).with_name("invoicer")


def _leaves(command, path=()):
    if hasattr(command, "commands"):
        for name in command.commands:
            yield from _leaves(command.commands[name], (*path, name))
    else:
        yield path, command


def _root():
    return typer.main.get_command(app)


def text_parameters():
    """(command path, parameter) for every text option and argument of every command."""
    found = []
    for name in COMMANDS:
        for path, command in _leaves(_root().commands[name], (name,)):
            for param in command.params:
                is_flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
                if not is_flag and param.name not in ("help",):
                    found.append((path, command, param))
    return found


def field_of(param) -> str:
    if param.param_type_name == "option":
        return param.opts[0].lstrip("-").replace("-", "_")
    return "".join(c for c in (param.metavar or "") if c.isalnum() or c == "_").lower() or param.name


def command_line(path, command, tested, value) -> list[str]:
    """The command with `value` for the tested parameter and a plain value for every other
    required one, so that it parses."""
    args = list(path)
    for param in command.params:
        given = value if param is tested else ("1" if param.required else None)
        if given is None:
            continue
        args += [given] if param.param_type_name == "argument" else [param.opts[0], given]
    return args


CASES = text_parameters()
IDS = [f"{' '.join(path)} {p.opts[0] if p.param_type_name == 'option' else p.name}" for path, _, p in CASES]


def test_the_walk_finds_the_commands_and_their_text_parameters():
    names = {" ".join(path) for path, _, _ in CASES}
    assert {"job update", "job create", "contract add-line", "invoice show", "transaction import",
            "run-once", "explain"} <= names
    assert len(CASES) > 40


TEMPLATE: list[bytes] = []


@pytest.fixture
def book(inv):
    """A book with a job, a line and a transaction; built once, copied for each test."""
    if not TEMPLATE:
        inv.setup_job()
        line = inv.line("C-100", "Design")
        inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10")
        conn = sqlite3.connect(inv.db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        TEMPLATE.append(Path(inv.db).read_bytes())
    else:
        Path(inv.db).write_bytes(TEMPLATE[0])
    return inv


def assert_refused(inv, args, field, words):
    before = dump(inv)
    for extra in (["--json"], []):
        result = inv(*args, *extra)
        assert result.exit_code == 1, (args, result)
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        message = json.loads(result.stderr)["error"]["message"] if extra else result.stderr
        assert message.startswith(f"{field}: ") or f" {field}: " in message, (field, message)
        assert words in message, message
    assert dump(inv) == before


# Each parameter gets one of the values, in turn: every value meets many parameters.
NOT_UNICODE = ["\udc80", "Design\udcff", "\ud800 x"]  # bytes 0x80, 0xff (surrogateescape'd); a lone surrogate
EMPTY = ["", "  ", "\t"]


# A typed text is refused as the command line is parsed (cli.common._refuse_bad_text),
# before the command opens its store: the same on both, and a copied file is quickest.
@pytest.mark.sqlite_only
@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_text_that_is_not_valid_unicode_is_refused_naming_the_field_on_every_command(book, n):
    path, command, param = CASES[n]
    value = NOT_UNICODE[n % len(NOT_UNICODE)]
    assert_refused(book, command_line(path, command, param, value), field_of(param), "not valid Unicode")


# A typed text is refused as the command line is parsed (cli.common._refuse_bad_text),
# before the command opens its store: the same on both, and a copied file is quickest.
@pytest.mark.sqlite_only
@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_an_empty_value_is_a_bad_value_on_every_command_never_an_absent_one(book, n):
    path, command, param = CASES[n]
    if param.name in EMPTY_MEANS_NONE:
        pytest.skip("the spec reads an empty description as none (section 11)")
    value = EMPTY[n % len(EMPTY)]
    assert_refused(book, command_line(path, command, param, value), field_of(param), "must not be empty")


def test_the_job_named_by_bytes_that_are_not_utf8_is_refused_from_a_real_command_line(tmp_path):
    """What a shell passes for $'\\x80': a byte Python hands over as a lone surrogate."""
    db = tmp_path / "book.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICER_")}
    env.update(INVOICER_TZ="UTC", INVOICER_NOW="2026-11-24T10:00:00")
    base = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "invoicer"]
    created = subprocess.run([*base, "--db", str(db), "job", "create", JOB], env=env, capture_output=True)
    assert created.returncode == 0, created.stderr
    for args in ([b"job", b"update", b"\x80", b"--inactive"], [b"invoice", b"list", b"--contract", b"C\xff"],
                 [b"contract", b"add-line", b"C\xc3", b"--name", b"x", b"--customer", b"y",
                  b"--billing-method", b"time-and-material"]):
        result = subprocess.run([*base, "--db", str(db), *args], env=env, capture_output=True)
        assert result.returncode == 1, result
        assert b"Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert b"not valid Unicode" in result.stderr


@pytest.mark.sqlite_only  # an empty --db names no store: refused before one is opened
def test_an_empty_db_option_is_refused_not_taken_as_the_default_file(inv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INVOICER_DB", str(tmp_path / "other.db"))
    result = inv.runner.invoke(app, ["--db", "", "job", "list"])
    assert result.exit_code == 1 and "db: must not be empty" in result.stderr
    assert not (tmp_path / "invoicer.db").exists() and not (tmp_path / "other.db").exists()


def test_an_empty_project_is_refused_and_no_project_removes_it(inv):
    assert_refused(inv, ["contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
                         "--billing-method", "time-and-material", "--project", ""], "project", "must not be empty")
    line = inv.line("C-100", "Design", "time-and-material", "Fabrikam", "--project", "Apollo")
    assert_refused(inv, ["contract", "set-line", line, "--project", " "], "project", "must not be empty")
    assert inv.ok("contract", "set-line", line, "--no-project")["project"] is None
    both = inv("contract", "set-line", line, "--project", "Gemini", "--no-project")
    assert both.exit_code == 1 and "project" in both.stderr
    assert inv.ok("contract", "set-line", line, "--project", "Gemini")["project"] == "Gemini"


def test_an_option_left_out_keeps_its_default(inv):
    """The rule is for values typed: a default (--job-type None, --frequency Daily) is not
    checked as if it had been typed."""
    assert inv.ok("job", "create", JOB)["job_type"] == "None"
