"""The EN 16931 checker of ../shared/einvoice (validate.py), for the tests of e-invoices.
It needs saxonche and xmlschema (the test extras) and the shared folder beside the
checkout; without either, the tests that use it are skipped with the reason."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

VALIDATE = Path(__file__).resolve().parents[1].parent / "shared" / "einvoice" / "validate.py"
_OUTCOME = re.compile(r"^(?P<path>.+?): (?P<rest>.*)$")


def unavailable() -> str | None:
    if not VALIDATE.exists():
        return f"the EN 16931 artefacts are not at {VALIDATE} (../shared/einvoice beside the checkout)"
    missing = [m for m in ("saxonche", "xmlschema", "facturx") if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not installed (pip install -e '.[test]')" if missing else None


def validate(paths) -> dict[str, str]:
    """Each file's outcome: 'ok', else what validate.py printed of it. One run for all of
    them: the checker takes seconds to start."""
    why = unavailable()
    if why:
        pytest.skip(why)
    paths = [str(p) for p in paths]
    run = subprocess.run([sys.executable, str(VALIDATE), *paths], capture_output=True, text=True, timeout=600)
    outcome: dict[str, str] = {}
    current = None
    for line in (run.stdout + run.stderr).splitlines():
        match = _OUTCOME.match(line)
        if match and match["path"] in paths:
            current = match["path"]
            outcome[current] = "ok" if match["rest"].startswith("ok") else match["rest"]
        elif current and line.strip():
            outcome[current] = outcome[current] + " | " + line.strip()
    for path in paths:
        outcome.setdefault(path, f"not reported (exit {run.returncode}): {run.stdout[-500:]} {run.stderr[-500:]}")
    return outcome
