"""Faults a real book meets (spec sections 1, 4.7 and 6), with real processes and real files,
no mocks: kill -9 in the middle of each bulk import and of `invoice confirm`; a `run-once`
while an import holds the database; database files that are read-only, missing, truncated,
corrupt or written by a newer schema.

After a kill the book must open, pass SQLite's integrity check, hold all or none of the
interrupted command (every table compared with the book before it and with the book an
uninterrupted run of the same command left), and the next `run-once` must bill every
transaction exactly once: the totals are checked against the generated files, not
against what the code printed."""

import hashlib
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
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

NOW = "2026-11-24T10:00:00"
JOB = "Project operations create invoices"
RUN_DATE = "2026-11-01"  # a past day for the fixed clock: a replay that runs at once
EXE = Path(sys.executable).with_name("invoicer")

# How far into the command's write transaction the kill lands, as a share of its measured length.
KILL_POINTS = (0.15, 0.5, 0.9)

# What the faults did, printed at the end of the module.
REPORT: list[str] = []


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICER_")}
    env.update(INVOICER_TZ="UTC", INVOICER_NOW=NOW, NO_COLOR="1")
    env.update(extra)
    return env


def argv(db, *args) -> list[str]:
    base = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "invoicer"]
    return [*base, "--db", str(db), *map(str, args)]


def cli(db, *args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv(db, *args), env=environment(**(env or {})), capture_output=True, text=True,
                          timeout=timeout, cwd=Path(db).parent if Path(db).parent.is_dir() else None)


def ok(db, *args) -> dict:
    result = cli(db, *args, "--json")
    assert result.returncode == 0, (args, result.returncode, result.stderr[-2000:])
    return json.loads(result.stdout)


def assert_one_clean_line(stderr: str) -> None:
    assert stderr.strip(), "an error must say what went wrong on stderr"
    assert len(stderr.strip().splitlines()) == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "database is locked" not in stderr.lower(), stderr


def json_error(result: subprocess.CompletedProcess) -> dict:
    assert result.stdout == "", "nothing on stdout on an error"
    assert_one_clean_line(result.stderr)
    document = json.loads(result.stderr)
    assert set(document) == {"error"}, document
    assert document["error"].get("code") and document["error"].get("message"), document
    return document["error"]


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    if REPORT:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print("\n[test_faults] " + "\n[test_faults] ".join(REPORT))


# the book, as files the imports read ---------------------------------------------------------

def cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def write_csv(path: Path, header: str, rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(header + "\n")
        for row in rows:
            out.write(",".join(row) + "\n")
    return path


@dataclass
class Transactions:
    """Generated transactions and what each contract must be billed for them, in cents."""

    rows: list = field(default_factory=list)
    expected: dict = field(default_factory=lambda: defaultdict(int))

    def add(self, contract: str, line: str, day: str, cents: int) -> None:
        self.rows.append((contract, line, day, cents_text(cents), "time"))
        self.expected[contract] += cents


def transactions_for(lines: list[tuple[str, str]], per_line: int, seed: int, month: str | None = None) -> Transactions:
    """Transactions dated before RUN_DATE, so that a run for RUN_DATE bills every one."""
    rng = random.Random(seed)
    made = Transactions()
    for k in range(per_line):
        for contract, line in lines:
            when = month or ("2026-09" if k % 2 else "2026-10")
            made.add(contract, line, f"{when}-{1 + rng.randrange(28):02d}", rng.randint(1, 900_000))
    return made


BASE_LINES = [(f"B-{c:04d}", name) for c in range(50) for name in ("Design", "Build")]


def build_base(db: Path, folder: Path, base_transactions: Transactions) -> None:
    """A configured book: the job and its ProcessRunCaller workflow, 50 contracts of two
    time-and-material lines on a monthly schedule, and their unbilled transactions."""
    ok(db, "job", "create", JOB)
    ok(db, "job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
    write_csv(folder / "base-contracts.csv", "contract,name,customer,billing_method",
              ((c, n, f"Customer {c}", "time-and-material") for c, n in BASE_LINES))
    write_csv(folder / "base-schedules.csv", "contract,line,frequency,start",
              ((c, n, "monthly", "2026-10-01") for c, n in BASE_LINES))
    write_csv(folder / "base-transactions.csv", "contract,line,date,amount,type", base_transactions.rows)
    for kind, name in (("contract", "contracts"), ("schedule", "schedules"), ("transaction", "transactions")):
        assert ok(db, kind, "import", folder / f"base-{name}.csv")["imported"] > 0


def settle(db: Path) -> None:
    """Fold the write-ahead log into the file, so that a copy of the file is the whole book."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


# looking at a book ---------------------------------------------------------------------------

def digests(db: Path) -> dict[str, tuple[int, str]]:
    """Every table: (row count, hash of its rows). With the clock fixed, two books that
    went through the same commands are equal here."""
    conn = sqlite3.connect(db)
    try:
        found = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                digest.update(repr(row).encode())
                count += 1
            found[table] = (count, digest.hexdigest())
        found["user_version"] = (conn.execute("PRAGMA user_version").fetchone()[0], "")
        return found
    finally:
        conn.close()


def _changed_counts(measured: "Measured", state: dict) -> str:
    """The row counts of the tables the command changes: before, after the kill, after a full run."""
    changed = [t for t in measured.after if measured.after[t] != measured.before.get(t)]
    return ", ".join(f"{t} {measured.before[t][0]}/{state[t][0]}/{measured.after[t][0]}" for t in changed)


def integrity(db: Path) -> list:
    conn = sqlite3.connect(db)
    try:
        return ([r[0] for r in conn.execute("PRAGMA integrity_check")],
                list(conn.execute("PRAGMA foreign_key_check")))
    finally:
        conn.close()


def holds_write_lock(db: Path) -> bool:
    """Whether some process is inside a write transaction on the book: a write lock that
    cannot be taken at once. (Taken and given back at once when free.)"""
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    finally:
        if probe.in_transaction:
            probe.execute("ROLLBACK")
        probe.close()
    return False


def wait_for_write_lock(db: Path, process: subprocess.Popen, limit: float = 60) -> float | None:
    """Seconds until the process holds the write lock; None if it ended first."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if process.poll() is not None:
            return None
        if holds_write_lock(db):
            return time.monotonic() - started
        time.sleep(0.002)
    raise AssertionError("the command never started writing")


def assert_billed_exactly_once(db: Path, expected: dict[str, int]) -> None:
    """Every transaction billed on exactly one live invoice, each contract for exactly the
    sum of its generated transactions; one invoice per contract and run date; and another
    Process step for the same day finds nothing left to bill."""
    assert ok(db, "transaction", "list", "--unbilled")["transactions"] == []
    invoices = ok(db, "invoice", "list")["invoices"]
    billed: dict[str, int] = defaultdict(int)
    seen = set()
    for invoice in invoices:
        assert invoice["status"] in ("draft", "confirmed"), invoice["number"]
        key = (invoice["contract"], invoice["run_date"])
        assert key not in seen, f"two invoices for contract {key[0]} and run date {key[1]}"
        seen.add(key)
        billed[invoice["contract"]] += int(Decimal(invoice["total"]) * 100)
    wanted = {c: v for c, v in expected.items() if v}
    assert dict(billed) == wanted, (
        f"{len(set(billed) ^ set(wanted))} contracts billed or not billed wrongly; "
        f"billed {sum(billed.values())} cents, expected {sum(wanted.values())}")
    again = ok(db, "run-once", "--date", RUN_DATE, "--force")
    assert again["status"] == "completed"
    assert again["invoices"] == [], "a second Process step billed again"


# the scenarios: a book, a command to interrupt, what it must bill afterwards -------------------

@dataclass
class Scenario:
    name: str
    template: Path          # the book before the command
    command: tuple          # the command to interrupt
    expected: dict          # cents per contract that the next run must have billed, command done
    retry: bool = True      # run the command again when the kill left none of it

    def fresh(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "book.db"
        shutil.copyfile(self.template, db)
        return db


@dataclass
class Measured:
    seconds: float          # the whole command, start to exit
    to_lock: float          # until it held the write lock
    window: float           # how long it held it
    before: dict
    after: dict


N_CONTRACT_ROWS = 120_000
N_SCHEDULE_ROWS = 40_000
N_TRANSACTION_ROWS = 120_000
N_BIG_INVOICE = 120_000


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory) -> dict[str, Scenario]:
    folder = tmp_path_factory.mktemp("faults")
    base_tx = transactions_for(BASE_LINES, per_line=10, seed=1)
    base = folder / "base.db"
    build_base(base, folder, base_tx)
    settle(base)
    made: dict[str, Scenario] = {}

    # contract import: lines with no schedule, so the next run bills just the base book.
    contracts = write_csv(folder / "contracts.csv", "contract,name,customer,billing_method,project",
                          ((f"K-{n // 100:05d}", f"Line {n % 100:03d}", f"Client {n // 100}",
                            "time-and-material", "Import") for n in range(N_CONTRACT_ROWS)))
    made["contract import"] = Scenario("contract import", base, ("contract", "import", contracts),
                                       dict(base_tx.expected))

    # transaction import: more actuals on the base lines; the next run bills them all.
    more = transactions_for(BASE_LINES, per_line=N_TRANSACTION_ROWS // len(BASE_LINES), seed=2)
    tx_file = write_csv(folder / "transactions.csv", "contract,line,date,amount,type", more.rows)
    expected = defaultdict(int, base_tx.expected)
    for contract, cents in more.expected.items():
        expected[contract] += cents
    made["transaction import"] = Scenario("transaction import", base, ("transaction", "import", tx_file),
                                          dict(expected))

    # schedule import: lines with actuals but no schedule yet; the schedules make them billable.
    unscheduled = folder / "unscheduled.db"
    shutil.copyfile(base, unscheduled)
    s_lines = [(f"S-{n // 100:04d}", f"Work {n % 100:03d}") for n in range(N_SCHEDULE_ROWS)]
    write_csv(folder / "s-contracts.csv", "contract,name,customer,billing_method",
              ((c, n, f"Client {c}", "time-and-material") for c, n in s_lines))
    s_tx = transactions_for(s_lines, per_line=1, seed=3)
    write_csv(folder / "s-transactions.csv", "contract,line,date,amount,type", s_tx.rows)
    ok(unscheduled, "contract", "import", folder / "s-contracts.csv")
    ok(unscheduled, "transaction", "import", folder / "s-transactions.csv")
    settle(unscheduled)
    schedules = write_csv(folder / "schedules.csv", "contract,line,frequency,start",
                          ((c, n, "monthly", "2026-10-01") for c, n in s_lines))
    expected = defaultdict(int, base_tx.expected)
    expected.update(s_tx.expected)
    made["schedule import"] = Scenario("schedule import", unscheduled, ("schedule", "import", schedules),
                                       dict(expected))

    # invoice confirm: a draft of many transactions, from a replayed run for 2026-10-01;
    # the base book's October actuals wait for the run for RUN_DATE.
    drafted = folder / "drafted.db"
    shutil.copyfile(base, drafted)
    ok(drafted, "contract", "add-line", "BIG", "--name", "Everything", "--customer", "Big Customer",
       "--billing-method", "time-and-material")
    big_line = [l["id"] for l in ok(drafted, "contract", "list")["lines"] if l["contract"] == "BIG"][0]
    ok(drafted, "schedule", "add", big_line, "--frequency", "monthly", "--start", "2026-10-01")
    big = transactions_for([("BIG", "Everything")], per_line=N_BIG_INVOICE, seed=4, month="2026-09")
    ok(drafted, "transaction", "import", write_csv(folder / "big.csv", "contract,line,date,amount,type", big.rows))
    first = ok(drafted, "run-once", "--date", "2026-10-01")
    (number,) = [i["number"] for i in first["invoices"] if i["contract"] == "BIG"]
    assert Decimal(ok(drafted, "invoice", "show", number)["total"]) * 100 == big.expected["BIG"]
    settle(drafted)
    expected = defaultdict(int, base_tx.expected)
    expected.update(big.expected)
    made["invoice confirm"] = Scenario("invoice confirm", drafted, ("invoice", "confirm", number), dict(expected))
    return made


MEASURED: dict[str, Measured] = {}


def measure(scenario: Scenario, folder: Path) -> Measured:
    """Run the command to its end on a copy of the book, timing how long it holds the write lock."""
    if scenario.name in MEASURED:
        return MEASURED[scenario.name]
    db = scenario.fresh(folder / "measured")
    before = digests(db)
    started = time.monotonic()
    process = subprocess.Popen(argv(db, *scenario.command, "--json"), env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    to_lock = wait_for_write_lock(db, process)
    locked_at = time.monotonic()
    while process.poll() is None and holds_write_lock(db):
        time.sleep(0.002)
    released = time.monotonic()
    stdout, stderr = process.communicate(timeout=300)
    seconds = time.monotonic() - started
    assert process.returncode == 0, stderr
    assert to_lock is not None, "the command ended before it was seen writing"
    after = digests(db)
    assert after != before
    measured = Measured(seconds, to_lock, released - locked_at, before, after)
    REPORT.append(f"{scenario.name}: uninterrupted {seconds:.2f} s, write lock after {to_lock:.2f} s "
                  f"held {measured.window:.2f} s; rows changed "
                  f"{ {t: after[t][0] - before[t][0] for t in after if after[t] != before[t]} }")
    MEASURED[scenario.name] = measured
    return measured


@pytest.mark.parametrize("point", KILL_POINTS, ids=[f"at-{int(p * 100)}pct" for p in KILL_POINTS])
@pytest.mark.parametrize("name", ["contract import", "schedule import", "transaction import", "invoice confirm"])
def test_kill_9_midway_leaves_all_or_none_and_the_next_run_bills_everything_once(name, point, scenarios,
                                                                                   tmp_path):
    scenario = scenarios[name]
    measured = measure(scenario, tmp_path)
    fraction = point
    for attempt in range(6):
        db = scenario.fresh(tmp_path / f"attempt-{attempt}")
        process = subprocess.Popen(argv(db, *scenario.command, "--json"), env=environment(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for_write_lock(db, process) is None:
            fraction /= 2  # it finished first: retry, killing sooner
            continue
        delay = fraction * measured.window
        time.sleep(delay)
        still_writing = holds_write_lock(db)
        if process.poll() is not None:
            fraction /= 2
            continue
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        break
    else:
        pytest.fail(f"{name} always finished before the kill")

    # The book opens, with the invoicer itself and with sqlite, and is whole.
    opened = cli(db, "run", "list", "--json")
    assert opened.returncode == 0, opened.stderr
    assert "Traceback" not in opened.stderr
    assert integrity(db) == (["ok"], [])

    # All or none of the interrupted command.
    state = digests(db)
    if state == measured.before:
        outcome = "none"
    elif state == measured.after:
        outcome = "all"
    else:
        changed = {t: (measured.before[t][0], state[t][0], measured.after[t][0])
                   for t in state if state[t] not in (measured.before.get(t), measured.after.get(t))}
        raise AssertionError(f"half-written: (rows before, after the kill, after a full run) {changed}")
    REPORT.append(f"{name}: kill -9 {delay:.2f} s into a {measured.window:.2f} s write "
                  f"({'lock held' if still_writing else 'lock already released'}), attempt {attempt + 1}: "
                  f"{outcome} of it; rows {_changed_counts(measured, state)}")

    # Done again, it ends as an uninterrupted run would (never twice).
    if outcome == "none" and scenario.retry:
        again = cli(db, *scenario.command, "--json")
        assert again.returncode == 0, again.stderr
        assert digests(db) == measured.after

    started = time.monotonic()
    run = ok(db, "run-once", "--date", RUN_DATE)
    assert run["status"] == "completed"
    assert_billed_exactly_once(db, scenario.expected)
    REPORT.append(f"{name}: run-once after the kill {time.monotonic() - started:.2f} s, "
                  f"{len(run['invoices'])} invoices, billed exactly once")


# a run while an import writes -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["contract import", "schedule import", "transaction import"])
def test_run_once_while_an_import_writes_waits_or_exits_3_with_one_clear_line(name, scenarios, tmp_path):
    scenario = scenarios[name]
    db = scenario.fresh(tmp_path)
    importer = subprocess.Popen(argv(db, *scenario.command, "--json"), env=environment(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for_write_lock(db, importer) is not None, "the import ended before it was seen writing"
    busy = {"INVOICER_BUSY_TIMEOUT": "0.3"}
    results = []
    for extra in ((), ("--json",)):
        started = time.monotonic()
        result = cli(db, "run-once", "--date", RUN_DATE, *extra, env=busy)
        results.append((extra, result, time.monotonic() - started))
    _, import_err = importer.communicate(timeout=300)
    assert importer.returncode == 0, import_err

    for extra, result, seconds in results:
        assert result.returncode in (0, 3), (result.returncode, result.stderr)
        assert "Traceback" not in result.stderr
        if result.returncode == 3:
            if extra:
                error = json_error(result)
                assert error["code"] and "database is locked" not in error["message"].lower()
            else:
                assert result.stdout == ""
                assert_one_clean_line(result.stderr)
            assert seconds < 8, f"gave up only after {seconds:.1f} s with a 0.3 s busy timeout"
        said = result.stderr.strip().replace(str(tmp_path), "<tmp>")
        REPORT.append(f"run-once {' '.join(extra)} during {name}: exit {result.returncode} after {seconds:.2f} s: "
                      f"{said[:160]}")
    final = ok(db, "run-once", "--date", RUN_DATE, "--force")
    assert final["status"] == "completed"
    assert_billed_exactly_once(db, scenario.expected)


def test_run_once_started_during_an_import_waits_for_it_and_bills_what_it_wrote(scenarios, tmp_path):
    scenario = scenarios["transaction import"]
    db = scenario.fresh(tmp_path)
    importer = subprocess.Popen(argv(db, *scenario.command, "--json"), env=environment(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for_write_lock(db, importer) is not None
    started = time.monotonic()
    run = cli(db, "run-once", "--date", RUN_DATE, "--json", env={"INVOICER_BUSY_TIMEOUT": "120"})
    seconds = time.monotonic() - started
    importer.communicate(timeout=300)
    assert importer.returncode == 0
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["status"] == "completed"
    # It could only write after the import's commit, so it saw and billed every imported row.
    total = sum(int(Decimal(i["total"]) * 100) for i in document["invoices"])
    assert total == sum(scenario.expected.values())
    REPORT.append(f"run-once with a 120 s busy timeout during the transaction import: waited, "
                  f"completed after {seconds:.2f} s, billed {len(document['invoices'])} invoices")
    assert_billed_exactly_once(db, scenario.expected)


# files that cannot be used -------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_book(tmp_path_factory) -> Path:
    """A configured book whose file is mostly transaction pages (20,000 of them), so that
    damage in the middle of the file lands in what the commands read."""
    folder = tmp_path_factory.mktemp("small")
    db = folder / "book.db"
    build_base(db, folder, transactions_for(BASE_LINES, per_line=200, seed=5))
    settle(db)
    return db


def _make_read_only(path: Path) -> None:
    path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        # chmod does not stop root: an immutable file or folder does, where chattr is allowed.
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True) if shutil.which("chattr") else None
        if made is None or made.returncode:
            pytest.skip("running as root, where chmod does not stop writes, and chattr +i is not available")


def _undo_read_only(path: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


def _really_read_only(path: Path) -> bool:
    try:
        if path.is_dir():
            probe = path / ".probe"
            probe.write_text("x")
            probe.unlink()
        else:
            with open(path, "r+b"):
                pass
    except OSError:
        return True
    return False


def _overwrite_middle(db: Path, fill) -> None:
    data = bytearray(db.read_bytes())
    size = len(data) // 10  # the middle tenth of the file
    start = len(data) // 2 - size // 2
    data[start:start + size] = fill(size)
    db.write_bytes(bytes(data))


def _newer_schema(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()


FILE_FAULTS = {
    "read-only-file": lambda db: [db],
    "read-only-folder": lambda db: [db.parent],
    "read-only-file-and-folder": lambda db: [db, db.parent],
    "missing-folder": None,
    "truncated-to-half": lambda db: db.write_bytes(db.read_bytes()[: db.stat().st_size // 2]),
    "middle-overwritten-with-0xff": lambda db: _overwrite_middle(db, lambda n: b"\xff" * n),
    "middle-overwritten-with-random-bytes": lambda db: _overwrite_middle(db, random.Random(7).randbytes),
    "newer-schema-user-version-999": _newer_schema,
    # A damaged header: SQLite itself calls the first "read-only", the others "not a database"
    # or a schema it cannot read; invoicer says the file is damaged.
    "header-write-version-3": lambda db: _overwrite_header(db, 18, b"\x03"),
    "header-page-size-3": lambda db: _overwrite_header(db, 16, b"\x00\x03"),
    "header-user-version-minus-1": lambda db: _overwrite_header(db, 60, b"\xff\xff\xff\xff"),
}
DAMAGED_HEADER = {"header-write-version-3", "header-page-size-3", "header-user-version-minus-1"}


def _overwrite_header(db: Path, offset: int, data: bytes) -> None:
    with open(db, "r+b") as file:
        file.seek(offset)
        file.write(data)

COMMANDS = {
    "transaction-list": ("transaction", "list"),
    "run-once": ("run-once", "--date", RUN_DATE),
    "transaction-add": ("transaction", "add", "1", "--date", "2026-10-05", "--amount", "10"),
    "contract-add-line": ("contract", "add-line", "NEW-1", "--name", "Design", "--customer", "New Customer",
                          "--billing-method", "time-and-material"),
    "invoice-list": ("invoice", "list"),
    "invoice-export": ("invoice", "export", "--all", "--format", "json"),
}
READING = {"transaction-list", "invoice-list", "invoice-export"}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fault", FILE_FAULTS)
def test_an_unusable_database_file_gives_exit_1_one_line_and_is_not_modified(fault, command, small_book, tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    db = folder / "book.db"
    read_only: list[Path] = []
    if fault == "missing-folder":
        db = tmp_path / "no-such-folder" / "book.db"
    else:
        shutil.copyfile(small_book, db)
        made = FILE_FAULTS[fault](db)
        if fault.startswith("read-only"):
            read_only = made
    before = db.read_bytes() if db.exists() else None
    try:
        for path in read_only:
            _make_read_only(path)
            if not _really_read_only(path):
                pytest.skip(f"{path} stays writable for this user even read-only")
        # The same command twice, with and without --json; the file is compared after each.
        outcomes = []
        for extra in (("--json",), ()):
            outcome = cli(db, *COMMANDS[command], *extra, timeout=120)
            outcomes.append((outcome, (db.read_bytes() if db.exists() else None) == before))
    finally:
        for path in reversed(read_only):
            _undo_read_only(path)

    (as_json, json_left_it), (as_text, text_left_it) = outcomes
    said = (as_text.stderr or as_json.stderr).strip().replace(str(tmp_path), "<tmp>")
    REPORT.append(f"{fault} / {command}: exit {as_json.returncode} and {as_text.returncode}, file "
                  f"{'unchanged' if json_left_it and text_left_it else 'MODIFIED'}: {said[:140]}")
    for outcome, _ in outcomes:
        assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    if fault.startswith("read-only") and command in READING:
        # A read-only book, or one in a read-only folder, is read where SQLite can read it.
        assert (as_json.returncode, as_text.returncode) == (0, 0), (as_json.stderr, as_text.stderr)
    else:
        assert (as_json.returncode, as_text.returncode) == (1, 1), (as_json.returncode, as_json.stdout[-300:],
                                                                    as_text.returncode, as_text.stdout[-300:])
    if as_json.returncode:
        json_error(as_json)
    if as_text.returncode:
        assert as_text.stdout == ""
        assert_one_clean_line(as_text.stderr)
    if fault == "missing-folder":
        assert not db.parent.exists(), "the missing folder was created"
    if fault in DAMAGED_HEADER or fault.startswith(("truncated", "middle")):
        assert "damaged" in json_error(as_json)["message"], as_json.stderr
    if fault.startswith("read-only") and command not in READING:
        assert "read-only" in json_error(as_json)["message"], as_json.stderr
    assert json_left_it and text_left_it, "the database file was modified"


def test_damage_the_run_does_not_read_is_found_by_the_check_beside_it_and_nothing_is_written(small_book, tmp_path):
    """The run's damage check reads every page on a connection of its own while the run
    works (store.connection._CheckAside): damage in a page that none of the run's
    statements reads (the root of the empty index of transaction refs) still stops it
    before its commit."""
    db = tmp_path / "book.db"
    shutil.copyfile(small_book, db)
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'transactions_by_ref'").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM transactions WHERE ref IS NOT NULL").fetchone() == (0,)
    conn.close()
    with open(db, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\x07")  # no b-tree page has type 7
    before = db.read_bytes()

    result = cli(db, "run-once", "--date", RUN_DATE, "--json")

    assert result.returncode == 1, (result.returncode, result.stdout[-300:])
    message = json_error(result)["message"]
    assert "is damaged" in message and "nothing was written" in message, message
    assert db.read_bytes() == before, "the damaged book was written to"


# a lock held while the book is opened ---------------------------------------------------------

OPEN_COMMANDS = {
    "job-list": ("job", "list"),
    "job-status": ("job", "status"),
    "invoice-list": ("invoice", "list"),
    "doctor": ("doctor",),
    "run-once": ("run-once", "--date", RUN_DATE),
    "contract-add-line": COMMANDS["contract-add-line"],
}


def _rollback_journal_book(folder: Path) -> Path:
    """A book whose journal is not WAL: what a first command killed between its schema and
    its switch to WAL leaves, and what concurrent first runs meet."""
    db = folder / "book.db"
    ok(db, "job", "create", JOB)
    settle(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    return db


@pytest.mark.parametrize("command", OPEN_COMMANDS)
def test_a_lock_held_while_the_book_is_opened_gives_exit_3_after_the_busy_timeout(command, tmp_path):
    """Another process in BEGIN EXCLUSIVE on a rollback-journal book: the command cannot even
    read the schema. Spec 1: waited for, then exit 3, never "database is locked" raw."""
    db = _rollback_journal_book(tmp_path)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for extra in (("--json",), ()):
            started = time.monotonic()
            result = cli(db, *OPEN_COMMANDS[command], *extra, env={"INVOICER_BUSY_TIMEOUT": "0.4"})
            seconds = time.monotonic() - started
            assert result.returncode == 3, (result.returncode, result.stderr)
            assert seconds >= 0.4, f"gave up after {seconds:.2f} s, before the busy timeout"
            message = json_error(result)["message"] if extra else result.stderr
            assert_one_clean_line(result.stderr)
            assert "another process" in message and "INVOICER_BUSY_TIMEOUT" in message, message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    REPORT.append(f"lock held at open / {command}: exit 3 after {seconds:.2f} s")


def test_a_new_file_locked_by_another_process_gives_exit_3(tmp_path):
    db = tmp_path / "book.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE being_made (x)")
    try:
        result = cli(db, "job", "list", "--json", env={"INVOICER_BUSY_TIMEOUT": "0.2"})
        assert result.returncode == 3, result.stderr
        json_error(result)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_concurrent_first_commands_on_a_new_file_each_succeed_or_exit_3(tmp_path):
    """Eight processes, each the first command on the same new file (which starts with a
    rollback journal until its schema is made): none may fail in any other way."""
    db = tmp_path / "book.db"
    env = environment(INVOICER_BUSY_TIMEOUT="5")
    processes = [subprocess.Popen(argv(db, "contract", "add-line", f"C-{n}", "--name", "Design", "--customer", "F",
                                       "--billing-method", "time-and-material", "--json"),
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for n in range(8)]
    codes = []
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        codes.append(process.returncode)
        assert process.returncode in (0, 3), stderr
        if process.returncode:
            assert_one_clean_line(stderr)
    assert len(ok(db, "contract", "list")["lines"]) == codes.count(0)
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    REPORT.append(f"8 concurrent first commands on a new file: exit codes {sorted(codes)}")


@pytest.mark.parametrize("at", range(1, 4))  # the statements before its write transaction
def test_a_schema_committed_while_a_first_command_reads_the_identity_is_not_a_foreign_file(at, tmp_path, monkeypatch):
    """The race behind the test above, made certain: another process commits the whole
    schema just before the `at`-th statement this opening runs. The file's identity must be
    read in one snapshot: read apart, it gave application_id 0 beside a table count > 0,
    and the opening called the book "not an invoicer database"."""
    from invoicer.store import Store, connection

    db = str(tmp_path / "book.db")
    connect = connection._connect
    made = []

    def connect_then_race(path, timeout, header):
        conn = connect(path, timeout, header)
        seen = []

        def before(statement):
            if statement.startswith("--"):
                return  # one run inside a statement (a pragma function's), not one of its own
            seen.append(statement)
            if len(seen) == at:
                made.append(subprocess.run(argv(db, "job", "list", "--json"), env=environment(),
                                           capture_output=True, text=True).returncode)

        conn.set_trace_callback(before)
        return conn

    monkeypatch.setattr(connection, "_connect", connect_then_race)
    store = Store(db)
    store.close()
    assert made == [0]
    assert ok(db, "job", "list") is not None


@pytest.mark.parametrize("command", ["job-list", "contract-add-line"])
def test_every_open_makes_sure_the_journal_is_wal(command, tmp_path):
    """A rollback-journal book (a first command killed before its switch to WAL) is put
    back in WAL by the next command, a read as much as a write."""
    db = _rollback_journal_book(tmp_path)
    result = cli(db, *OPEN_COMMANDS[command])
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


# Ctrl-C -------------------------------------------------------------------------------------

@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["text", "json"])
def test_ctrl_c_during_an_import_says_so_exits_130_and_writes_nothing(json_flag, scenarios, tmp_path):
    scenario = scenarios["transaction import"]
    db = scenario.fresh(tmp_path)
    before = digests(db)
    process = subprocess.Popen(argv(db, *scenario.command, *json_flag), env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for_write_lock(db, process) is not None, "the import ended before it was seen writing"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (process.returncode, stderr[-2000:])
    assert stdout == ""
    assert_one_clean_line(stderr)
    message = json.loads(stderr)["error"]["message"] if json_flag else stderr
    if json_flag:
        assert json.loads(stderr)["error"]["code"] == "interrupted"
    assert "interrupted" in message and "nothing was written" in message, message
    assert digests(db) == before
    REPORT.append(f"Ctrl-C during the transaction import: exit 130: {message.strip()[:100]}")


def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path):
    """However early the interrupt lands once invoicer's code runs (its libraries loading,
    the command line read), one line and exit 130, never a traceback. (Python's own start,
    before invoicer's first line, is out of its reach, hence the tolerance below.)"""
    db = tmp_path / "book.db"
    ok(db, "job", "create", JOB)
    seen = []
    for delay in (0.15, 0.2, 0.25, 0.3, 0.4, 0.5):
        process = subprocess.Popen(argv(db, "job", "list"), env=environment(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        if process.returncode == -signal.SIGINT and "invoicer/cli/app.py" not in stderr:
            continue  # still inside Python's own start-up, before invoicer's first line could run
        seen.append(process.returncode)
        assert process.returncode in (0, 130), (process.returncode, stderr)
        if process.returncode == 130:
            assert_one_clean_line(stderr)
            assert "interrupted" in stderr
    assert seen, "every interrupt landed in Python's own start-up"


# a book that cannot be written where it is: a read-only folder, a full disk --------------------

def test_a_book_in_a_read_only_folder_can_be_read_and_a_write_says_why_not(small_book, tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    db = folder / "book.db"
    shutil.copyfile(small_book, db)
    before = db.read_bytes()
    _make_read_only(folder)
    try:
        if not _really_read_only(folder):
            pytest.skip(f"{folder} stays writable for this user even read-only")
        for args in (("transaction", "list"), ("invoice", "list"), ("job", "status"), ("contract", "list")):
            result = cli(db, *args, "--json")
            assert result.returncode == 0, (args, result.stderr)
            json.loads(result.stdout)
        listed = ok(db, "transaction", "list")["transactions"]
        assert len(listed) == 20_000
        for args in (COMMANDS["contract-add-line"], COMMANDS["run-once"]):
            result = cli(db, *args, "--json")
            assert result.returncode == 1, result.stderr
            message = json_error(result)["message"]
            assert "read-only" in message and "-wal" in message and "nothing was written" in message, message
        REPORT.append(f"read-only folder: reads exit 0; a write: {message.replace(str(tmp_path), '<tmp>')[:160]}")
    finally:
        _undo_read_only(folder)
    assert db.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["book.db"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB file system of its own (tmpfs), so that filling it harms nothing else."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if not shutil.which("mount") or os.geteuid() != 0:
        pytest.skip("a full disk needs a file system of its own: mount -t tmpfs, as root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _contracts(path: Path, prefix: str, count: int) -> Path:
    return write_csv(path, "contract,name,customer,billing_method,project",
                     ((f"{prefix}-{n:06d}", "Design", f"Customer {n}", "time-and-material", "p" * 60)
                      for n in range(count)))


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system but `leave` bytes."""
    found = os.statvfs(folder)
    free = found.f_bavail * found.f_frsize
    with open(folder / f"filler-{len(list(folder.glob('filler*')))}", "wb") as out:
        out.write(b"\0" * max(0, free - leave))


def test_a_full_disk_says_the_disk_is_full_writes_nothing_and_the_book_survives(tiny_disk, tmp_path):
    db = tiny_disk / "book.db"
    ok(db, "job", "create", JOB)
    ok(db, "contract", "add-line", "C-1", "--name", "Design", "--customer", "F", "--billing-method",
       "time-and-material")
    settle(db)
    before = digests(db)
    # An import too big for what is left: the disk fills in the middle of its transaction.
    _fill(tiny_disk, leave=400_000)
    big = _contracts(tmp_path / "big.csv", "K", 20_000)
    for extra in (("--json",), ()):
        result = cli(db, "contract", "import", big, *extra)
        assert result.returncode == 1, (result.returncode, result.stderr[-500:])
        message = json_error(result)["message"] if extra else result.stderr
        assert_one_clean_line(result.stderr)
        assert "disk is full" in message and "nothing was written" in message, message
        assert "I/O error" not in message
    REPORT.append(f"full disk during an import: {message.strip().replace(str(tiny_disk), '<tiny>')[:140]}")
    assert digests(db) == before
    assert integrity(db) == (["ok"], [])
    # Nothing left at all, not even for the -wal and -shm files a command opens the book
    # with: reads still work, a write says the disk is full.
    settle(db)
    _fill(tiny_disk, leave=0)
    assert len(ok(db, "contract", "list")["lines"]) == 1
    small = cli(db, *COMMANDS["contract-add-line"], "--json")
    assert small.returncode == 1 and "disk is full" in json_error(small)["message"], small.stderr
    # Room again: the same import is done, whole.
    for filler in tiny_disk.glob("filler*"):
        filler.unlink()
    assert ok(db, "contract", "import", _contracts(tmp_path / "small.csv", "S", 500))["imported"] == 500
    assert integrity(db) == (["ok"], [])
