"""The README's first command: the quick start builds the example book and prints the
invoices the README shows."""

import os
import subprocess
import sys
from pathlib import Path

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
