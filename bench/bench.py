"""Month-end at scale, measured against its floor.

Builds a book of N contracts (2 time-and-material lines each, a monthly schedule, K
transactions a line) through the public import commands, times `invoicer run-once` on
it, and times the floor on a copy of the same database: the same month-end run written
as bare set-based SQL in one SQLite transaction. Checks that every invoice and total is
right, and prints the figures as ratios against the floor measured in the same run.

The transaction import is timed twice on the same book: without refs, and with a ref on
every row (spec section 11: the ref lookup a batch, the unique index), then that file
again (every row unchanged).

usage: python bench/bench.py [--contracts N] [--per-line K] [--scaling]
"""

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXE = shutil.which("invoicer", path=str(HERE.parent / ".venv" / "bin")) or shutil.which("invoicer")
JOB = "Bench create invoices"
RUN_DATE = "2026-11-01"
ENV = dict(os.environ, INVOICER_TZ="UTC", INVOICER_NOW="2026-11-24T10:00:00", NO_COLOR="1")


def invoicer(db: Path, *args: str) -> str:
    proc = subprocess.run([EXE, "--db", str(db), *args], capture_output=True, text=True, env=ENV)
    if proc.returncode:
        sys.exit(f"invoicer {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def run_measured(db: Path, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one `invoicer` process, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen([EXE, "--db", str(db), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        sys.exit(f"invoicer {' '.join(args)} failed: {proc.stderr.read().decode().strip()}")
    return seconds, usage.ru_maxrss / 1024


def write_book(folder: Path, contracts: int, per_line: int, seed: int = 7) -> dict[str, int]:
    """The book as import files; returns each contract's expected total in cents."""
    rng = random.Random(seed)
    expected: dict[str, int] = {}
    with open(folder / "contracts.csv", "w") as c, open(folder / "schedules.csv", "w") as s, \
            open(folder / "transactions.csv", "w") as t, open(folder / "transactions-refs.csv", "w") as r:
        c.write("contract,name,customer,billing_method\n")
        s.write("contract,line,frequency,start\n")
        t.write("contract,line,date,amount,type\n")
        r.write("contract,line,date,amount,type,ref\n")
        count = 0
        for n in range(contracts):
            contract = f"C-{n:07d}"
            for line in ("Design", "Build"):
                c.write(f"{contract},{line},Customer {n % 977},time-and-material\n")
                s.write(f"{contract},{line},monthly,{RUN_DATE}\n")
                for k in range(per_line):
                    cents = rng.randint(1, 500_000)
                    expected[contract] = expected.get(contract, 0) + cents
                    row = f"{contract},{line},2026-10-{1 + (k * 7 + n) % 31:02d},{cents // 100}.{cents % 100:02d},time"
                    t.write(row + "\n")
                    count += 1
                    r.write(f"{row},TS-{count:09d}\n")  # a timesheet system's entry id
    return expected


# The same month-end run in bare SQL, for this book (every line monthly, due on RUN_DATE):
# record the run, bill every transaction before the run date on one invoice per contract,
# and move each line's schedule on to its next run date.
FLOOR = [
    "INSERT INTO runs (instance_id, workflow, run_date, started_at, ended_at, forced) "
    "VALUES (NULL, 'floor', :run_date, 'now', 'now', 0)",
    """UPDATE contract_lines SET processed_through = :run_date
        WHERE id IN (SELECT line_id FROM schedules WHERE kind = 'dates' AND next_run_date <= :run_date)""",
    "UPDATE schedules SET next_run_date = '2026-12-01' WHERE kind = 'dates' AND next_run_date <= :run_date",
    """CREATE TEMP TABLE billable AS
       SELECT t.id, t.line_id, l.contract_id, l.name, t.amount FROM transactions t
         JOIN contract_lines l ON l.id = t.line_id
        WHERE t.invoice_line_id IS NULL AND t.date < :run_date""",
    """INSERT INTO invoices (number, contract_id, run_date, status, run_id, created_at)
       SELECT printf('INV-%06d', row_number() OVER (ORDER BY c.name)), c.id, :run_date, 'draft',
              (SELECT max(id) FROM runs), 'now'
         FROM (SELECT DISTINCT contract_id FROM temp.billable) k JOIN contracts c ON c.id = k.contract_id
        ORDER BY c.name""",
    """INSERT INTO invoice_lines (invoice_id, line_id, name, amount, items)
       SELECT i.id, b.line_id, b.name, sum(b.amount), count(*) FROM temp.billable b
         JOIN invoices i ON i.contract_id = b.contract_id AND i.run_date = :run_date
        GROUP BY i.id, b.line_id""",
    """UPDATE transactions SET invoice_line_id = il.id
         FROM temp.billable b JOIN invoice_lines il ON il.line_id = b.line_id
        WHERE transactions.id = b.id""",
]


def checkpointed(db: Path) -> None:
    """Write the WAL into the database file, so that a copy of the file is the whole book.
    The connection is closed before the file is copied: a copy that opens and closes the
    file in a process holding a connection drops that connection's POSIX locks (SQLite's
    "how to corrupt a database", 2.2.1)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def floor(db: Path) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for statement in FLOOR:
        conn.execute(statement, {"run_date": RUN_DATE})
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def totals(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        """SELECT c.name, sum(il.amount) FROM invoices i JOIN contracts c ON c.id = i.contract_id
             JOIN invoice_lines il ON il.invoice_id = i.id WHERE i.status = 'draft' GROUP BY c.name""").fetchall()
    unbilled = conn.execute("SELECT count(*) FROM transactions WHERE invoice_line_id IS NULL").fetchone()[0]
    conn.close()
    if unbilled:
        sys.exit(f"{unbilled} transactions left unbilled")
    return dict(rows)


def month_end(contracts: int, per_line: int, work: Path) -> dict:
    book = work / f"book-{contracts}x{per_line}"
    book.mkdir()
    expected = write_book(book, contracts, per_line)
    db = book / "book.db"
    transactions = contracts * 2 * per_line
    invoicer(db, "job", "create", JOB)
    figures = {"contracts": contracts, "transactions": transactions}
    with_refs = book / "refs.db"
    for kind, rows in (("contract", contracts * 2), ("schedule", contracts * 2), ("transaction", transactions)):
        if kind == "transaction":
            checkpointed(db)
            shutil.copyfile(db, with_refs)
        seconds, _ = run_measured(db, kind, "import", str(book / f"{kind}s.csv"))
        figures[f"{kind}_import_rows_per_s"] = rows / seconds
    # The same transactions, each with a ref, into a copy of the same book; then again.
    refs_file = str(book / "transactions-refs.csv")
    seconds, _ = run_measured(with_refs, "transaction", "import", refs_file)
    figures["refs_import_rows_per_s"] = transactions / seconds
    seconds, _ = run_measured(with_refs, "transaction", "import", refs_file)
    figures["refs_again_rows_per_s"] = transactions / seconds
    conn = sqlite3.connect(with_refs)
    held = conn.execute("SELECT count(*), count(DISTINCT ref) FROM transactions").fetchone()
    conn.close()
    if held != (transactions, transactions):
        sys.exit(f"the import with refs, twice, left {held[0]} transactions for {held[1]} refs "
                 f"({transactions} expected)")
    with_refs.unlink()
    invoicer(db, "job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
    checkpointed(db)
    copy = book / "floor.db"
    shutil.copyfile(db, copy)
    figures["floor_s"] = floor(copy)
    figures["run_s"], figures["run_peak_mib"] = run_measured(db, "run-once", "--date", RUN_DATE)
    got, floor_got = totals(db), totals(copy)
    if got != expected or floor_got != expected:
        sys.exit("wrong totals: invoicer and the floor do not both bill every contract's transactions exactly")
    figures["invoices_checked"] = len(got)
    shutil.rmtree(book)
    return figures


def small_command(work: Path, repeat: int = 21) -> tuple[float, float]:
    """Median seconds of `invoicer job list` on a small database, and of importing its
    libraries, measured in turns so that both see the same machine."""
    db = work / "small.db"
    invoicer(db, "job", "create", JOB)
    python = str(Path(EXE).parent / "python")
    commands = ([EXE, "--db", str(db), "job", "list"], [python, "-c", "import typer, rich.console, sqlite_utils"])
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for command, spent in zip(commands, times):
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, env=ENV, check=True)
            spent.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def compile_package() -> None:
    """Write invoicer's bytecode, as installing a wheel does: the libraries it is measured
    against have theirs, and an editable install under PYTHONDONTWRITEBYTECODE never would."""
    python = str(Path(EXE).parent / "python")
    folder = subprocess.run([python, "-c", "import invoicer; print(invoicer.__path__[0])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", folder], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--per-line", type=int, default=5)
    parser.add_argument("--scaling", action="store_true", help="also run at 10x fewer and 100x fewer transactions")
    args = parser.parse_args()
    if not EXE:
        sys.exit("no invoicer: install the project first (pip install -e .)")
    compile_package()
    work = Path(tempfile.mkdtemp(prefix="invoicer-bench-"))
    try:
        sizes = [args.contracts]
        if args.scaling:
            sizes = [max(1, args.contracts // 100), max(1, args.contracts // 10), args.contracts]
        print(f"{'transactions':>12} {'run-once s':>10} {'floor s':>8} {'ratio':>6} {'peak MiB':>8} "
              f"{'tx import rows/s':>16} {'invoices ok':>11}")
        for n in sizes:
            f = month_end(n, args.per_line, work)
            print(f"{f['transactions']:>12,} {f['run_s']:>10.2f} {f['floor_s']:>8.2f} "
                  f"{f['run_s'] / f['floor_s']:>6.2f} {f['run_peak_mib']:>8.0f} "
                  f"{f['transaction_import_rows_per_s']:>16,.0f} {f['invoices_checked']:>11,}")
            print(f"{'':>12} contract import {f['contract_import_rows_per_s']:,.0f} rows/s, "
                  f"schedule import {f['schedule_import_rows_per_s']:,.0f} rows/s")
            print(f"{'':>12} transaction import with a ref a row {f['refs_import_rows_per_s']:,.0f} rows/s, "
                  f"the same file again (all unchanged) {f['refs_again_rows_per_s']:,.0f} rows/s")
        small, imports = small_command(work)
        print(f"job list {small * 1000:.0f} ms vs importing typer+rich+sqlite_utils {imports * 1000:.0f} ms: "
              f"ratio {small / imports:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
