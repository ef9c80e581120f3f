"""The README's first command: the quick start builds the example book and prints the
invoices the README shows."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart.sh"


def test_the_quick_start_prints_the_readme_invoice_on_its_own_clock(tmp_path):
    env = dict(os.environ, INVOICER_DB=str(tmp_path / "demo.db"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    for name in ("INVOICER_NOW", "INVOICER_TZ", "NO_COLOR"):
        env.pop(name, None)
    done = subprocess.run(["bash", str(QUICKSTART)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    # Not the machine's today: the invoices are the README's on any day it is run.
    assert "Its clock was 2026-11-24T09:00:00" in done.stdout
    assert "INV-000004" in done.stdout and "4810.45" in done.stdout
    assert "\x1b[" not in done.stdout  # piped: no terminal codes
    readme = (QUICKSTART.parent.parent / "README.md").read_text()
    assert "INV-000004  C-100  Fabrikam  run date 2026-11-01" in readme and "4810.45" in readme


@pytest.mark.parametrize("now, invoices", [("2026-09-15T09:00:00", 0), ("2026-10-16T09:00:00", 2),
                                           ("2027-06-01T09:00:00", None)])
def test_the_quick_start_runs_on_any_clock_the_readme_allows(tmp_path, now, invoices):
    env = dict(os.environ, INVOICER_DB=str(tmp_path / "demo.db"), INVOICER_NOW=now,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    for name in ("INVOICER_TZ", "NO_COLOR"):
        env.pop(name, None)
    done = subprocess.run(["bash", str(QUICKSTART)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"Its clock was {now}" in done.stdout
    made = subprocess.run(["invoicer", "invoice", "list", "--json"], capture_output=True, text=True, env=env)
    count = len(json.loads(made.stdout)["invoices"])
    if invoices is not None:
        assert count == invoices
    if now < "2026-11-01":
        assert "No invoice for C-100 and the run date 2026-11-01 yet" in done.stdout
    else:
        assert "4810.45" in done.stdout  # the README's invoice, whatever its number on that clock


def _cron_command(name: str) -> str:
    """The command of examples/crontab's line that runs `name`."""
    crontab = (QUICKSTART.parent / "crontab").read_text().splitlines()
    line = next(l for l in crontab if not l.startswith("#") and name in l)
    return line.split(None, 5)[5]


@pytest.mark.parametrize("code, alerted", [(0, False), (4, True), (3, True), (1, True)])
def test_the_crontab_alerts_on_every_failing_exit_of_run_once(tmp_path, code, alerted):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "invoicer").write_text(f"#!/bin/sh\necho '{{\"status\": \"x\"}}'\nexit {code}\n")
    (fake / "mail").write_text(f"#!/bin/sh\ncat > {tmp_path}/mailed\n")
    for program in fake.iterdir():
        program.chmod(0o755)
    (tmp_path / "log").mkdir()
    command = _cron_command("run-once").replace("/usr/local/bin/invoicer", str(fake / "invoicer")) \
        .replace("/var/log/invoicer", str(tmp_path / "log"))
    subprocess.run(["sh", "-c", command], env=dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}"),
                   check=False, timeout=30)
    assert (tmp_path / "mailed").exists() == alerted
    if alerted:
        assert f"exited {code}" in (tmp_path / "mailed").read_text()
    assert '"status"' in (tmp_path / "log" / "run-once.log").read_text()
