"""Month-end at scale on PostgreSQL, measured against its own floor.

The book of bench.py (N contracts, 2 time-and-material lines each, a monthly schedule, K
transactions a line), imported through the public commands into a throwaway cluster
(durable: fsync on, as the SQLite bench's synchronous=FULL); `invoicer run-once --json`
timed on a copy of it (CREATE DATABASE ... TEMPLATE), as cron calls it; and the floor on
another copy: the same month-end as bare set-based SQL (bench.FLOOR, in PostgreSQL's words)
in one transaction from one connection. Checks that every invoice and total is right, and
prints the figures as ratios against the floor measured in the same turn.

usage: python bench/postgres.py [--contracts N] [--per-line K] [--repeat R]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import bench  # noqa: E402  (bench.py beside this file)
from tests import pgcluster  # noqa: E402

FLOOR = [statement.replace("printf('INV-%06d', row_number() OVER (ORDER BY c.name))",
                           "'INV-' || lpad(CAST(row_number() OVER (ORDER BY c.name) AS TEXT), 6, '0')")
                  .replace("temp.billable", "billable")
                  .replace("GROUP BY i.id, b.line_id", "GROUP BY i.id, b.line_id, b.name")  # the server's rule
                  .replace(":run_date", "%(run_date)s")
         for statement in bench.FLOOR]


def floor(uri: str) -> float:
    with psycopg.connect(uri, options="-c search_path=invoicer") as conn:
        start = time.perf_counter()
        for statement in FLOOR:
            conn.execute(statement, {"run_date": bench.RUN_DATE})
        conn.commit()
        return time.perf_counter() - start


def totals(uri: str) -> dict[str, int]:
    with psycopg.connect(uri, options="-c search_path=invoicer") as conn:
        rows = conn.execute(
            """SELECT c.name, CAST(sum(il.amount) AS BIGINT) FROM invoices i JOIN contracts c ON c.id = i.contract_id
                 JOIN invoice_lines il ON il.invoice_id = i.id WHERE i.status = 'draft' GROUP BY c.name""").fetchall()
        unbilled = conn.execute("SELECT count(*) FROM transactions WHERE invoice_line_id IS NULL").fetchone()[0]
    if unbilled:
        sys.exit(f"{unbilled} transactions left unbilled")
    return dict(rows)


def month_end(cluster: pgcluster.Cluster, contracts: int, per_line: int, work: Path, repeat: int) -> dict:
    folder = work / f"book-{contracts}x{per_line}"
    folder.mkdir()
    expected = bench.write_book(folder, contracts, per_line)
    transactions = contracts * 2 * per_line
    admin = psycopg.connect(cluster.uri, autocommit=True)
    admin.execute("CREATE DATABASE book")
    book = cluster.uri_of("book")
    bench.invoicer(book, "job", "create", bench.JOB)
    figures = {"contracts": contracts, "transactions": transactions}
    for kind, rows in (("contract", contracts * 2), ("schedule", contracts * 2), ("transaction", transactions)):
        start = time.perf_counter()
        bench.invoicer(book, kind, "import", str(folder / f"{kind}s.csv"))
        figures[f"{kind}_import_rows_per_s"] = rows / (time.perf_counter() - start)
    bench.invoicer(book, "job", "run-workflow", bench.JOB, "--workflow", "ProcessRunCaller")
    turns: dict[str, list[float]] = {}
    out = folder / "run-once.json"
    for turn in range(repeat):
        for copy in ("cron", "floor"):
            admin.execute(f"DROP DATABASE IF EXISTS {copy}")
            admin.execute(f"CREATE DATABASE {copy} TEMPLATE book")
        measured = {"floor_s": floor(cluster.uri_of("floor"))}
        measured["cron_s"], measured["cron_peak_mib"] = bench.run_measured(
            cluster.uri_of("cron"), "run-once", "--date", bench.RUN_DATE, "--json", out=out, folder=folder)
        if turn == 0:
            figures["invoices_checked"] = bench.checked_totals(
                [totals(cluster.uri_of("cron")), totals(cluster.uri_of("floor")), bench.printed_totals(out, per_line)],
                expected, "invoicer (book, --json) and the floor")
        for key, value in measured.items():
            turns.setdefault(key, []).append(value)
    admin.close()
    figures.update({key: statistics.median(values) for key, values in turns.items()})
    figures["cron_ratio"] = statistics.median(c / f for c, f in zip(turns["cron_s"], turns["floor_s"]))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000, metavar="N")
    parser.add_argument("--per-line", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="turns of the timed runs; medians shown")
    args = parser.parse_args()
    if not bench.EXE:
        sys.exit("no invoicer: install the project first (pip install -e .)")
    bench.compile_package()
    cluster = pgcluster.start(fast=False)
    work = Path(tempfile.mkdtemp(prefix="invoicer-bench-pg-"))
    try:
        f = month_end(cluster, args.contracts, args.per_line, work, args.repeat)
        print(f"{'transactions':>12} {'--json s':>8} {'floor s':>8} {'ratio':>6} {'peak MiB':>8} "
              f"{'invoices ok':>11} {'load':>5}")
        print(f"{f['transactions']:>12,} {f['cron_s']:>8.2f} {f['floor_s']:>8.2f} {f['cron_ratio']:>6.2f} "
              f"{f['cron_peak_mib']:>8.0f} {f['invoices_checked']:>11,} {os.getloadavg()[0]:>5.1f}")
        print(f"{'':>12} transaction import {f['transaction_import_rows_per_s']:,.0f} rows/s, "
              f"contract import {f['contract_import_rows_per_s']:,.0f} rows/s, "
              f"schedule import {f['schedule_import_rows_per_s']:,.0f} rows/s")
    finally:
        cluster.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
