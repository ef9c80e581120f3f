"""Shared fixtures: a CLI runner bound to a fresh database and a fixed clock, and a small
book of contracts built in a few lines."""

import json
import sqlite3
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from invoicer.cli.app import app

JOB = "Project operations create invoices"
NOW = "2026-11-24T10:00:00"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)

    @property
    def error(self):
        return json.loads(self.stderr)["error"]


class Invoicer:
    """Runs `invoicer --db DB ...` in-process, as a user would type it."""

    def __init__(self, db, monkeypatch):
        self.db = str(db)
        self.monkeypatch = monkeypatch
        self.runner = CliRunner()

    def at(self, moment: str) -> "Invoicer":
        """Set the clock (INVOICER_NOW): an ISO date-time or date."""
        self.monkeypatch.setenv("INVOICER_NOW", moment)
        return self

    def __call__(self, *args, input=None) -> Result:
        result = self.runner.invoke(app, ["--db", self.db, *map(str, args)], input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args, input=None):
        """Run a command with --json, assert it succeeded, return its document."""
        result = self(*args, "--json", input=input)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return result.json

    def line(self, contract, name, method="time-and-material", customer="Fabrikam", *extra) -> int:
        return self.ok("contract", "add-line", contract, "--name", name, "--customer", customer,
                       "--billing-method", method, *extra)["id"]

    def setup_job(self, workflow="ProcessRunCaller"):
        self.ok("job", "create", JOB)
        return self.ok("job", "run-workflow", JOB, "--workflow", workflow)


def dump(inv) -> str:
    """The whole book as SQL text: what a refused command must leave as it was."""
    conn = sqlite3.connect(inv.db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def inv(tmp_path, monkeypatch):
    monkeypatch.setenv("INVOICER_TZ", "UTC")
    monkeypatch.setenv("INVOICER_NOW", NOW)
    monkeypatch.delenv("INVOICER_DB", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return Invoicer(tmp_path / "book.db", monkeypatch)
