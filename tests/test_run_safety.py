"""The invoice run is safe to call late, twice, or twice at the same moment, and to kill
(SPEC 1 and 4.2, 4.7): real `invoicer` processes on a real database file, no mocks.

The big book (100 time-and-material lines on a monthly schedule, 100 000 transactions
imported from a generated CSV, a fixed-price line with milestones) makes a run that holds
the database for about a second, long enough for eight processes to collide and for a
SIGKILL to land in the middle of it. What it must bill is computed here from the CSV."""

import csv
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

JOB = "Project operations create invoices"
# The installed command, next to the interpreter running the tests (the venv's bin).
INVOICER = shutil.which("invoicer", path=str(Path(sys.executable).parent)) or shutil.which("invoicer")

RUN_DATE = "2024-06-01"
CONTRACTS = 20
LINES_PER_CONTRACT = 5
TRANSACTIONS = 100_000


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICER_")}
    env.update(INVOICER_TZ="UTC", INVOICER_NOW="2026-11-24T10:00:00", NO_COLOR="1", **extra)
    return env


def invoicer(db, *args, env=None, check=True) -> subprocess.CompletedProcess:
    """`invoicer --db DB ARGS --json` in its own process."""
    done = subprocess.run([INVOICER, "--db", str(db), *map(str, args), "--json"], capture_output=True,
                          text=True, env=env or environment(), timeout=300)
    if check:
        assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
    return done


def ok(db, *args, env=None):
    return json.loads(invoicer(db, *args, env=env).stdout)


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def write_csv(path: Path, header: list[str], rows) -> Path:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def set_up_job(db) -> None:
    ok(db, "job", "create", JOB)
    ok(db, "job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")


def assert_sleeping(document: dict, run_date: str, next_due: str) -> None:
    """SPEC 6: a sleeping call's document."""
    expected = {"status": "sleeping", "run_date": run_date, "next_due": next_due, "invoices": [], "skipped": []}
    assert {key: document.get(key) for key in expected} == expected, document


def assert_clean_conflict(done: subprocess.CompletedProcess) -> None:
    """Exit 3 with one line of JSON on stderr, nothing on stdout, no raw sqlite error."""
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "database is locked" not in done.stderr.lower()
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    error = json.loads(done.stderr)["error"]
    assert error["code"] and error["message"], error


# The big book --------------------------------------------------------------------------

class BigBook:
    """The database file of the big book, and what a run for RUN_DATE must make of it."""

    def __init__(self, folder: Path):
        self.path = folder / "big.db"
        rng = random.Random(20240601)
        names = [(f"C-{c:03d}", f"L{n}") for c in range(CONTRACTS) for n in range(LINES_PER_CONTRACT)]
        contracts = [(c, n, f"Customer {c}", "time-and-material", "", "") for c, n in names]
        contracts.append(("FP-1", "Licence", "Customer FP", "fixed-price", "1000.00", ""))
        schedules = [(c, n, "monthly", "2024-01-01", "", "", "", "") for c, n in names]
        # Milestones: on time on 2024-03-15 and 2024-05-31; one not ready; one in the future.
        schedules += [("FP-1", "Licence", "", "", "Kick-off", "2024-03-15", "250.00", "yes"),
                      ("FP-1", "Licence", "", "", "Design", "2024-05-31", "300.00", "true"),
                      ("FP-1", "Licence", "", "", "Build", "2024-05-20", "200.00", "no"),
                      ("FP-1", "Licence", "", "", "Go-live", "2024-06-02", "250.00", "1")]
        transactions = []
        # SPEC 4.3: monthly run dates 2024-01-01, 02-01, ...; a transaction dated in month m
        # is billed on the run date of the first of month m + 1 (the cut-off is the day before).
        self.expected = defaultdict(int)  # (contract, invoice run date) -> cents
        self.total = 0
        for _ in range(TRANSACTIONS):
            contract, line = rng.choice(names)
            month, day = rng.randint(1, 5), rng.randint(1, 28)
            amount = rng.randint(1, 100_000)
            transactions.append((contract, line, f"2024-{month:02d}-{day:02d}", money(amount)))
            self.expected[(contract, f"2024-{month + 1:02d}-01")] += amount
            self.total += amount
        self.expected[("FP-1", "2024-03-15")] += 25_000
        self.expected[("FP-1", "2024-05-31")] += 30_000
        self.total += 55_000

        set_up_job(self.path)
        ok(self.path, "contract", "import", write_csv(
            folder / "contracts.csv",
            ["contract", "name", "customer", "billing_method", "amount", "not_to_exceed"], contracts))
        ok(self.path, "schedule", "import", write_csv(
            folder / "schedules.csv",
            ["contract", "line", "frequency", "start", "milestone", "date", "amount", "ready"], schedules))
        started = time.monotonic()
        assert ok(self.path, "transaction", "import", write_csv(
            folder / "transactions.csv", ["contract", "line", "date", "amount"], transactions)) == {
            "imported": TRANSACTIONS, "unchanged": 0}
        self.import_seconds = time.monotonic() - started

    def expected_invoices(self) -> list[tuple]:
        """(number, contract, run date, total): numbered by run date, then contract name."""
        keys = sorted(self.expected, key=lambda k: (k[1], k[0]))
        return [(f"INV-{n:06d}", c, d, money(self.expected[(c, d)])) for n, (c, d) in enumerate(keys, start=1)]

    def copy(self, folder: Path) -> Path:
        """A copy of the book's file (WAL checkpointed into it first)."""
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        target = folder / "book.db"
        shutil.copyfile(self.path, target)
        return target


@pytest.fixture(scope="module")
def big_book(tmp_path_factory):
    return BigBook(tmp_path_factory.mktemp("big"))


def invoice_facts(invoices: list[dict]) -> list[tuple]:
    return [(i["number"], i["contract"], i["run_date"], i["total"]) for i in invoices]


def assert_billed_exactly_once(db, book: BigBook) -> None:
    """Every transaction and ready milestone due is on exactly one invoice; nothing twice."""
    invoices = ok(db, "invoice", "list")["invoices"]
    assert invoice_facts(invoices) == book.expected_invoices()
    assert all(i["status"] == "draft" for i in invoices)
    assert sum(int(i["total"].replace(".", "")) for i in invoices) == book.total
    assert sum(l.get("transactions", 0) for i in invoices for l in i["lines"]) == TRANSACTIONS
    assert ok(db, "transaction", "list", "--unbilled")["transactions"] == []
    runs = ok(db, "run", "list")["runs"]
    assert [r["run_date"] for r in runs] == [RUN_DATE]
    assert runs[0]["invoices"] == [i["number"] for i in invoices]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


# (1) eight runs at the same moment ---------------------------------------------------------

@pytest.mark.parametrize("busy_timeout", [None, "0.05"], ids=["default-wait", "short-wait"])
def test_eight_runs_started_together_make_the_invoices_exactly_once(big_book, tmp_path, busy_timeout):
    db = big_book.copy(tmp_path)
    env = environment(**({"INVOICER_BUSY_TIMEOUT": busy_timeout} if busy_timeout else {}))
    outputs, processes = [], []
    for n in range(8):
        out, err = open(tmp_path / f"out{n}", "w+"), open(tmp_path / f"err{n}", "w+")
        outputs.append((out, err))
        processes.append(subprocess.Popen([INVOICER, "--db", str(db), "run-once", "--date", RUN_DATE, "--json"],
                                          stdout=out, stderr=err, text=True, env=env))
    results = []
    for process, (out, err) in zip(processes, outputs):
        process.wait(timeout=300)
        out.seek(0)
        err.seek(0)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out.read(), err.read()))
        out.close()
        err.close()

    completed, sleeping = [], []
    for done in results:
        if done.returncode == 3:
            assert_clean_conflict(done)
            continue
        assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
        assert done.stderr == ""
        document = json.loads(done.stdout)
        assert document["run_date"] == RUN_DATE
        (completed if document["status"] == "completed" else sleeping).append(document)
    assert len(completed) == 1, [r.returncode for r in results]
    assert invoice_facts(completed[0]["invoices"]) == big_book.expected_invoices()
    for document in sleeping:
        assert_sleeping(document, RUN_DATE, "2024-06-02")
    assert_billed_exactly_once(db, big_book)


def test_a_run_that_cannot_get_the_database_is_a_clean_conflict_and_writes_nothing(big_book, tmp_path):
    db = big_book.copy(tmp_path)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        started = time.monotonic()
        done = invoicer(db, "run-once", "--date", RUN_DATE, env=environment(INVOICER_BUSY_TIMEOUT="0.5"),
                        check=False)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_clean_conflict(done)
    assert waited >= 0.5  # it waited for the busy database before giving up
    assert ok(db, "run", "list")["runs"] == []
    assert ok(db, "invoice", "list")["invoices"] == []
    assert ok(db, "run-once", "--date", RUN_DATE)["status"] == "completed"
    assert_billed_exactly_once(db, big_book)


# (2) a run killed midway -----------------------------------------------------------------

def holds_write_lock(db: Path) -> bool:
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def wal_size(db: Path) -> int:
    wal = Path(f"{db}-wal")
    return wal.stat().st_size if wal.exists() else 0


def start_run(db: Path, folder: Path) -> tuple[subprocess.Popen, Path]:
    out = folder / "killed.out"
    with open(out, "w") as handle:
        process = subprocess.Popen([INVOICER, "--db", str(db), "run-once", "--date", RUN_DATE, "--json"],
                                   stdout=handle, stderr=subprocess.STDOUT, env=environment())
    return process, out


def test_a_run_killed_midway_leaves_nothing_and_the_next_run_bills_everything_once(big_book, tmp_path):
    # Measure: how long a whole run holds the database for writing.
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    db = big_book.copy(calibration)
    process, out = start_run(db, calibration)
    while not holds_write_lock(db) and process.poll() is None:
        time.sleep(0.002)
    locked_at = time.monotonic()
    assert process.wait(timeout=300) == 0, out.read_text()
    holding = time.monotonic() - locked_at
    whole_run = json.loads(out.read_text())
    assert invoice_facts(whole_run["invoices"]) == big_book.expected_invoices()

    # Kill -9: once the run has started writing pages to the WAL, else at a fraction of the
    # time it holds the database. A run that finished first is tried again on a fresh copy.
    attempts = [("wal", 0.0), ("wal", 0.05), ("time", 0.5), ("time", 0.25), ("time", 0.75), ("time", 0.1)]
    killed = None
    for n, (trigger, delay) in enumerate(attempts):
        folder = tmp_path / f"attempt{n}"
        folder.mkdir()
        db = big_book.copy(folder)
        process, out = start_run(db, folder)
        while not holds_write_lock(db) and process.poll() is None:
            time.sleep(0.002)
        locked_at = time.monotonic()
        if trigger == "wal":
            while wal_size(db) < 64 * 1024 and process.poll() is None \
                    and time.monotonic() - locked_at < 2 * holding:
                time.sleep(0.001)
            time.sleep(delay * holding)
        else:
            time.sleep(delay * holding)
        if process.poll() is not None:
            continue  # it finished before the kill
        written = wal_size(db)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
        killed = (n, trigger, delay, written)
        break
    assert killed, "every run finished before it could be killed"
    assert out.read_text() == ""  # it never got to say it completed

    # Nothing half-written: the file is sound and holds no trace of the killed run.
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    assert ok(db, "run", "list")["runs"] == [], killed
    assert ok(db, "invoice", "list")["invoices"] == [], killed
    assert ok(db, "job", "status")["jobs"][0]["last_end"] is None
    unbilled = ok(db, "transaction", "list", "--unbilled")["transactions"]
    assert len(unbilled) == TRANSACTIONS, killed

    # The next run bills everything, once, exactly as an unbroken run did.
    again = ok(db, "run-once", "--date", RUN_DATE)
    assert again == whole_run
    assert_billed_exactly_once(db, big_book)
    assert_sleeping(ok(db, "run-once", "--date", RUN_DATE), RUN_DATE, "2024-06-02")


# (3) a rerun of the same day -----------------------------------------------------------------

def test_a_rerun_sleeps_and_force_bills_only_what_became_billable_since(tmp_path):
    db = tmp_path / "book.db"
    ok(db, "contract", "import", write_csv(
        tmp_path / "contracts.csv", ["contract", "name", "customer", "billing_method", "amount"],
        [("Alder", "Consulting", "Northwind", "time-and-material", ""),
         ("Maple", "Licence", "Tailspin", "fixed-price", "1000")]))
    ok(db, "schedule", "import", write_csv(
        tmp_path / "schedules.csv", ["contract", "line", "frequency", "start", "milestone", "date", "amount", "ready"],
        [("Alder", "Consulting", "monthly", "2024-01-01", "", "", "", ""),
         ("Maple", "Licence", "", "", "Kick-off", "2024-02-10", "400", "yes"),
         ("Maple", "Licence", "", "", "Go-live", "2024-02-20", "600", "no")]))
    ok(db, "transaction", "import", write_csv(
        tmp_path / "transactions.csv", ["contract", "line", "date", "amount"],
        [("Alder", "Consulting", "2024-02-05", "100"), ("Alder", "Consulting", "2024-02-29", "50"),
         ("Alder", "Consulting", "2024-03-01", "25")]))  # dated on the run date: after the cut-off
    set_up_job(db)
    go_live = next(s["id"] for s in ok(db, "schedule", "list")["schedules"] if s.get("name") == "Go-live")

    first = ok(db, "run-once", "--date", "2024-03-01")
    assert first["status"] == "completed"
    # Kick-off on its own date (no earlier Process step); Consulting's 2024-03-01 run date
    # bills what is dated up to 2024-02-29.
    assert invoice_facts(first["invoices"]) == [("INV-000001", "Maple", "2024-02-10", "400.00"),
                                                ("INV-000002", "Alder", "2024-03-01", "150.00")]
    before = (ok(db, "invoice", "list"), ok(db, "run", "list"), ok(db, "transaction", "list"))

    # Run again for the same day: sleeping, nothing billed, no run recorded.
    assert_sleeping(ok(db, "run-once", "--date", "2024-03-01"), "2024-03-01", "2024-03-02")
    assert (ok(db, "invoice", "list"), ok(db, "run", "list"), ok(db, "transaction", "list")) == before

    # Since then: Go-live became ready; a transaction dated 2024-02-15 was entered late (its
    # line's 2024-03-01 run date is already processed, so it waits for 2024-04-01).
    ok(db, "schedule", "ready", go_live)
    late = ok(db, "transaction", "add", first["invoices"][1]["lines"][0]["line_id"], "--date", "2024-02-15",
              "--amount", "75")["id"]
    forced = ok(db, "run-once", "--date", "2024-03-01", "--force")
    assert forced["status"] == "completed"
    # Go-live was passed over by the first Process step: late, billed with that step's date.
    assert invoice_facts(forced["invoices"]) == [("INV-000003", "Maple", "2024-03-01", "600.00")]
    unbilled = {t["id"]: (t["date"], t["amount"]) for t in ok(db, "transaction", "list", "--unbilled")["transactions"]}
    assert sorted(unbilled.values()) == [("2024-02-15", "75.00"), ("2024-03-01", "25.00")] and late in unbilled
    runs = ok(db, "run", "list")["runs"]
    assert [(r["run_date"], r["invoices"]) for r in runs] == [
        ("2024-03-01", ["INV-000001", "INV-000002"]), ("2024-03-01", ["INV-000003"])]

    # Forced again at once: nothing became billable, nothing is billed.
    assert ok(db, "run-once", "--date", "2024-03-01", "--force")["invoices"] == []

    # The next run date bills the waiting transactions; a cancelled draft's milestone is
    # billed again by a forced run, late, with that run's date.
    nxt = ok(db, "run-once", "--date", "2024-04-01")
    assert invoice_facts(nxt["invoices"]) == [("INV-000004", "Alder", "2024-04-01", "100.00")]
    assert_sleeping(ok(db, "run-once", "--date", "2024-04-01"), "2024-04-01", "2024-04-02")
    assert ok(db, "invoice", "cancel", "INV-000001")["status"] == "cancelled"
    again = ok(db, "run-once", "--date", "2024-04-01", "--force")
    assert invoice_facts(again["invoices"]) == [("INV-000005", "Maple", "2024-04-01", "400.00")]

    live = [i for i in ok(db, "invoice", "list")["invoices"] if i["status"] != "cancelled"]
    assert [(i["number"], i["total"]) for i in live] == [
        ("INV-000002", "150.00"), ("INV-000003", "600.00"), ("INV-000004", "100.00"), ("INV-000005", "400.00")]
    assert ok(db, "transaction", "list", "--unbilled")["transactions"] == []
    milestones = [s for s in ok(db, "schedule", "list")["schedules"] if s["kind"] == "milestone"]
    assert sorted((m["name"], m["invoice"]) for m in milestones) == [("Go-live", "INV-000003"),
                                                                     ("Kick-off", "INV-000005")]
