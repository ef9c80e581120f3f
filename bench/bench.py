"""Month-end at scale, measured against its floor.

Builds a book of N contracts (2 time-and-material lines each, a monthly schedule, K
transactions a line) through the public import commands, times `invoicer run-once` on
it, and times the floor on a copy of the same database: the same month-end run written
as bare set-based SQL in one SQLite transaction. Checks that every invoice and total is
right, and prints the figures as ratios against the floor measured in the same run.

The transaction import is timed twice on the same book: without refs, and with a ref on
every row (spec section 11: the ref lookup a batch, the unique index), then that file
again (every row unchanged).

usage: python bench/bench.py [--contracts N] [--per-line K] [--repeat R] [--scaling]
"""

import argparse
import json
import os
import re
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
SHARED_FLOOR = HERE.parent.parent / "shared" / "bench" / "floor.py"
EXE = shutil.which("invoicer", path=str(HERE.parent / ".venv" / "bin")) or shutil.which("invoicer")
JOB = "Bench create invoices"
RUN_DATE = "2026-11-01"
ENV = dict(os.environ, INVOICER_TZ="UTC", INVOICER_NOW="2026-11-24T10:00:00", NO_COLOR="1")


def invoicer(db: Path, *args: str) -> str:
    proc = subprocess.run([EXE, "--db", str(db), *args], capture_output=True, text=True, env=ENV)
    if proc.returncode:
        sys.exit(f"invoicer {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


# Forks and runs the command given, waits, and writes its figures to the report file.
# Measured from this small process, not from the bench: a child forked from a large
# process starts with the parent's resident memory as its own peak (Linux keeps the
# high-water mark across exec), which would hide invoicer's.
_MEASURE = """import os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    out.write(f"{time.perf_counter() - start} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime} {status}")
"""


def run_measured(db: Path | str, *args: str, out: Path | None = None, folder: Path | None = None) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one `invoicer` process, from its own rusage; its stdout
    to the file `out` (as cron's redirection to a log), else discarded. `db`: a file, or a
    server's URI (then `folder` holds the report, else the file's folder does)."""
    report = (folder or Path(db).parent) / "measured.txt"
    with open(out or os.devnull, "wb") as stdout:
        proc = subprocess.run([sys.executable, "-c", _MEASURE, str(report), EXE, "--db", str(db), *args],
                              stdout=stdout, stderr=subprocess.PIPE, env=ENV)
    seconds, peak_kib, _, status = report.read_text().split()
    if proc.returncode or int(status):
        sys.exit(f"invoicer {' '.join(args)} failed: {proc.stderr.decode().strip()}")
    return float(seconds), int(peak_kib) / 1024


def shared_floor(folder: Path, contracts: int, per_line: int) -> float:
    """run_s of ../shared/bench/floor.py: it builds its own book of the same shape, then
    times the month-end alone."""
    db = folder / "shared-floor.db"
    done = subprocess.run([sys.executable, str(SHARED_FLOOR), str(db), str(contracts), str(per_line)],
                          capture_output=True, text=True, check=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    found = re.search(r"run_s=([0-9.]+)", done.stdout)
    if found is None:
        sys.exit(f"floor.py printed no run_s: {done.stdout.strip()}")
    return float(found.group(1))


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
    conn.execute("PRAGMA temp.page_size = 16384")  # as invoicer's connections (store/connection.py)
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


def printed_totals(out: Path, per_line: int, dry: bool = False) -> dict[str, int]:
    """Each contract's total in cents, from the JSON document `run-once --json` printed;
    checks that every invoice has its two lines, each with its transactions, and adds up."""
    with open(out, encoding="utf-8") as printed:
        document = json.load(printed)
    status = "dry-run" if dry else "completed"
    if document["status"] != status or document["skipped"]:
        sys.exit(f"run-once --json: status {document['status']}, {len(document['skipped'])} lines skipped")
    found = {}
    for invoice in document["invoices"]:
        lines, total = invoice["lines"], _cents(invoice["total"])
        if [line["transactions"] for line in lines] != [per_line, per_line] \
                or invoice["status"] != ("dry-run" if dry else "draft") or (invoice["number"] is None) != dry \
                or total != sum(_cents(line["amount"]) for line in lines) or invoice["total_with_tax"] != invoice["total"]:
            sys.exit(f"run-once --json printed a wrong invoice: {invoice}")
        found[invoice["contract"]] = total
    return found


def _cents(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    return int(whole) * 100 + int(cents)


def checked_totals(found: list[dict[str, int]], expected: dict[str, int], what: str) -> int:
    """How many invoices were checked, once every set of contract totals `found` is the
    book's `expected` one; else the bench stops, naming `what` was compared."""
    if any(totals != expected for totals in found):
        sys.exit(f"wrong totals: {what} do not all bill every contract's transactions exactly")
    return len(found[0])


def fresh_copy(source: Path, copy: Path) -> Path:
    for suffix in ("-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, copy)
    return copy


def month_end(contracts: int, per_line: int, work: Path, repeat: int = 1) -> dict:
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
    turns: dict[str, list[float]] = {}
    out = book / "run-once.json"
    for turn in range(repeat):
        measured = {"shared_floor_s": shared_floor(book, contracts, per_line)}
        cron = fresh_copy(db, book / "cron.db")
        measured["cron_s"], measured["cron_peak_mib"] = run_measured(cron, "run-once", "--date", RUN_DATE, "--json",
                                                                     out=out)
        copy = fresh_copy(db, book / "floor.db")
        measured["floor_s"] = floor(copy)
        table = fresh_copy(db, book / "table.db")
        measured["run_s"], measured["run_peak_mib"] = run_measured(table, "run-once", "--date", RUN_DATE,
                                                                   out=book / "run-once.txt")
        # The dry run and explain roll back: the book before the run serves every turn.
        measured["dry_s"], measured["dry_peak_mib"] = run_measured(db, "run-once", "--date", RUN_DATE, "--dry-run",
                                                                   "--json", out=book / "dry-run.json")
        measured["explain_s"], measured["explain_peak_mib"] = run_measured(db, "explain", "1", "--date", RUN_DATE,
                                                                           "--json", out=book / "explain.json")
        if turn == 0:
            figures["invoices_checked"] = checked_totals(
                [totals(table), totals(copy), totals(cron), printed_totals(out, per_line),
                 printed_totals(book / "dry-run.json", per_line, dry=True)],
                expected, "invoicer (table, --json, --dry-run --json) and the floor")
        for key, value in measured.items():
            turns.setdefault(key, []).append(value)
    figures.update({key: statistics.median(values) for key, values in turns.items()})
    # Ratios turn by turn, each against the floor measured beside it, then their median;
    # the cron path's by turn too, for how far one turn's machine differs from the next.
    for path in ("cron", "dry", "explain"):
        figures[f"{path}_ratios"] = [s / f for s, f in zip(turns[f"{path}_s"], turns["shared_floor_s"])]
        figures[f"{path}_ratio"] = statistics.median(figures[f"{path}_ratios"])
    figures["run_ratio"] = statistics.median(r / f for r, f in zip(turns["run_s"], turns["floor_s"]))
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
    parser.add_argument("--contracts", type=int, nargs="+", default=[10_000], metavar="N",
                        help="one book of each size (default 10,000 contracts)")
    parser.add_argument("--per-line", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="turns of the timed runs on each book; medians shown")
    parser.add_argument("--scaling", action="store_true", help="also run at 10x fewer and 100x fewer transactions")
    args = parser.parse_args()
    if not EXE:
        sys.exit("no invoicer: install the project first (pip install -e .)")
    compile_package()
    work = Path(tempfile.mkdtemp(prefix="invoicer-bench-"))
    try:
        sizes = list(args.contracts)
        if args.scaling:
            sizes = sorted({max(1, n // d) for n in sizes for d in (100, 10, 1)})
        print(f"{'transactions':>12} {'--json s':>8} {'floor.py s':>10} {'ratio':>6} {'peak MiB':>8} "
              f"{'table s':>7} {'own floor s':>11} {'ratio':>6} {'peak MiB':>8} {'invoices ok':>11} {'load':>5}")
        for n in sizes:
            f = month_end(n, args.per_line, work, args.repeat)
            print(f"{f['transactions']:>12,} {f['cron_s']:>8.2f} {f['shared_floor_s']:>10.2f} {f['cron_ratio']:>6.2f} "
                  f"{f['cron_peak_mib']:>8.0f} {f['run_s']:>7.2f} {f['floor_s']:>11.2f} {f['run_ratio']:>6.2f} "
                  f"{f['run_peak_mib']:>8.0f} {f['invoices_checked']:>11,} {os.getloadavg()[0]:>5.1f}")
            print(f"{'':>12} run-once --dry-run --json {f['dry_s']:.2f} s, {f['dry_ratio']:.2f} x floor.py "
                  f"({f['dry_peak_mib']:.0f} MiB), explain --json {f['explain_s']:.2f} s, "
                  f"{f['explain_ratio']:.2f} x ({f['explain_peak_mib']:.0f} MiB)")
            print(f"{'':>12} --json / floor.py turn by turn: {' '.join(f'{r:.2f}' for r in f['cron_ratios'])}")
            print(f"{'':>12} transaction import {f['transaction_import_rows_per_s']:,.0f} rows/s, "
                  f"contract import {f['contract_import_rows_per_s']:,.0f} rows/s, "
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
