"""Confirming a month-end: `invoicer invoice confirm --all` over the drafts of one run.

Builds bench.py's book (N contracts, 2 time-and-material lines each, K transactions a
line), runs the month-end, then times `invoice confirm --all` (one transaction, a few
statements whatever N) against its floor, the same confirmation as one bare UPDATE on a
copy, and the same command with `--json` (which prints every invoice confirmed). Checks
that every draft is confirmed, issued today and due 30 days later.

usage: python bench/confirm.py [--contracts N] [--per-line K]
"""

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import EXE, JOB, RUN_DATE, compile_package, invoicer, run_measured, write_book  # noqa: E402

TODAY = "2026-11-24"  # bench.ENV's clock
DUE = "2026-12-24"


def floor(db: Path) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE invoices SET status = 'confirmed', issue_date = ?, due_date = ? WHERE status = 'draft'",
                 [TODAY, DUE])
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def check(db: Path, expected: int) -> None:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT status, issue_date, due_date, count(*) FROM invoices GROUP BY 1, 2, 3").fetchall()
    conn.close()
    if rows != [("confirmed", TODAY, DUE, expected)]:
        sys.exit(f"expected {expected} invoices confirmed on {TODAY}, due {DUE}; got {rows}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--per-line", type=int, default=5)
    args = parser.parse_args()
    if not EXE:
        sys.exit("no invoicer: install the project first (pip install -e .)")
    compile_package()
    work = Path(tempfile.mkdtemp(prefix="invoicer-confirm-bench-"))
    try:
        write_book(work, args.contracts, args.per_line)
        db = work / "book.db"
        invoicer(db, "job", "create", JOB)
        for kind in ("contract", "schedule", "transaction"):
            invoicer(db, kind, "import", str(work / f"{kind}s.csv"))
        invoicer(db, "job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
        invoicer(db, "run-once", "--date", RUN_DATE)
        sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        copy, as_json = work / "floor.db", work / "json.db"
        shutil.copyfile(db, copy)
        shutil.copyfile(db, as_json)
        floor_s = floor(copy)
        seconds, peak = run_measured(db, "invoice", "confirm", "--all")
        check(db, args.contracts)
        json_s, json_peak = run_measured(as_json, "invoice", "confirm", "--all", "--json")
        check(as_json, args.contracts)
        print(f"{'drafts':>8} {'confirm --all s':>15} {'floor s':>8} {'ratio':>6} {'peak MiB':>8} "
              f"{'with --json s':>13} {'peak MiB':>8}")
        print(f"{args.contracts:>8,} {seconds:>15.2f} {floor_s:>8.2f} {seconds / floor_s:>6.1f} {peak:>8.0f} "
              f"{json_s:>13.2f} {json_peak:>8.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
