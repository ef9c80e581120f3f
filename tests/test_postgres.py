"""What is the server's own (spec section 12), on a throwaway cluster (tests/pgcluster.py):
a server that cannot be reached or refuses the login, a schema `invoicer` that is not
invoicer's or is newer than the code, a fresh database given its schema, writers that wait
for each other's advisory lock and give up after INVOICER_BUSY_TIMEOUT, a connection cut
in the middle of a command; and, with real processes, eight `run-once` at the same moment,
a `run-once` killed with SIGKILL mid-way, and `job run-workflow` raced from two "hosts"
(TCP and the Unix socket). Last, the two schemas, SQLite's and the server's, held to the
same tables, columns and indexes.

The other sections' behaviours run on both stores through conftest's `inv` fixture (the
modules of POSTGRES_MODULES); the ones of test_database.py and test_faults.py that are not
about the SQLite file itself (busy, interrupted, refused opening...) have their server
counterparts here."""

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import psycopg
import pytest

from invoicer.store import postgres
from invoicer.store.postgres_schema import INITIAL_VERSION
from invoicer.store.schema import SCHEMA_VERSION
from tests import pgcluster
from tests.conftest import JOB, NOW, Invoicer, dump

INVOICER = shutil.which("invoicer", path=str(Path(sys.executable).parent)) or shutil.which("invoicer")
OTHER_JOB = "Backup create invoices"


# helpers -------------------------------------------------------------------------------------

# What the races and kills did, printed at the end of the module.
REPORT: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    if REPORT:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print("\n[test_postgres] " + "\n[test_postgres] ".join(REPORT))


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICER_", "PG"))}
    env.update(INVOICER_TZ="UTC", INVOICER_NOW=NOW, NO_COLOR="1")
    env.update(extra)
    return env


def argv(uri: str, *args) -> list[str]:
    base = [INVOICER] if INVOICER else [sys.executable, "-m", "invoicer"]
    return [*base, "--db", uri, *map(str, args)]


def cli(uri: str, *args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`invoicer --db URI ARGS` in its own process, as cron on an operator's host runs it."""
    return subprocess.run(argv(uri, *args), env=environment(**(env or {})), capture_output=True, text=True,
                          timeout=timeout)


def ok(uri: str, *args, env: dict | None = None) -> dict:
    done = cli(uri, *args, "--json", env=env)
    assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr[-2000:])
    return json.loads(done.stdout)


def one_line(stderr: str) -> str:
    """The error's one line, checked: no traceback, nothing raw."""
    assert stderr.strip(), "an error must say what went wrong on stderr"
    assert len(stderr.strip().splitlines()) == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    return stderr.strip()


def message_of(result, as_json: bool) -> str:
    """The message of a failed command (a conftest Result or a CompletedProcess), its shape checked."""
    stdout = result.stdout
    stderr = result.stderr
    assert stdout == "", stdout
    line = one_line(stderr)
    if not as_json:
        return line
    document = json.loads(line)
    assert set(document) == {"error"} and set(document["error"]) == {"code", "message"}, document
    return document["error"]["message"]


def admin(cluster, database: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(cluster.uri_of(database), autocommit=True)


def database_name(uri: str) -> str:
    return uri.rsplit("/", 1)[1].split("?")[0]


def rows(uri: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(uri) as conn:
        return conn.execute(sql, params).fetchall()


def book_rows(uri: str) -> str:
    """The book's rows (dump), without the sequences: a rolled-back insert has used up its
    id on the server (sequences are not transactional), a gap no command shows."""
    return "\n".join(line for line in dump(Store(uri)).splitlines() if not line.startswith("sequence "))


class Store:
    """What conftest.dump needs of an Invoicer."""

    def __init__(self, uri: str):
        self.db = uri
        self.postgres = True


@pytest.fixture
def pg(postgres_db, monkeypatch) -> Invoicer:
    """The CLI in-process, on a fresh database with the schema (conftest's `inv`, server only)."""
    for name in [n for n in os.environ if n.startswith("PG")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("INVOICER_TZ", "UTC")
    monkeypatch.setenv("INVOICER_NOW", NOW)
    monkeypatch.delenv("INVOICER_DB", raising=False)
    monkeypatch.delenv("INVOICER_BUSY_TIMEOUT", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return Invoicer(postgres_db, monkeypatch)


@pytest.fixture
def new_database(postgres_cluster):
    """Makes databases of the test cluster (plain ones, without the schema, unless a
    template is given) and drops them after the test."""
    made = []

    def make(template: str | None = None) -> str:
        name = f"plain_{os.getpid()}_{len(made)}_{random.randrange(10**6)}"
        with admin(postgres_cluster) as conn:
            conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        made.append(name)
        return postgres_cluster.uri_of(name)

    yield make
    with admin(postgres_cluster) as conn:
        for name in made:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def holder_of_the_writers_lock(uri: str) -> psycopg.Connection:
    """Another connection, holding the lock every writing transaction takes (a session lock:
    the same lock as the transactions' pg_advisory_xact_lock)."""
    holder = psycopg.connect(uri, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", [postgres.WRITER_LOCK])
    return holder


def writer_lock_holders(uri: str, waiting: bool = False) -> list[int]:
    """The server pids holding the writers' lock (or, `waiting`, waiting for it)."""
    found = rows(uri, """SELECT pid FROM pg_locks
                          WHERE locktype = 'advisory' AND objid = %s AND granted = %s
                            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
                 [postgres.WRITER_LOCK, not waiting])
    return [pid for (pid,) in found]


def wait_for(condition, process: subprocess.Popen | None = None, limit: float = 120, step: float = 0.005):
    """Poll until condition() is true (its value), or the process ended (None)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            return condition() or None
        time.sleep(step)
    raise AssertionError("waited in vain")


# (1) a server that cannot be reached, a login refused ------------------------------------------

def _assert_names_the_server(message: str, port: int, database: str) -> None:
    assert "host 127.0.0.1" in message and f"port {port}" in message and f"database {database}" in message, message


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_server_that_cannot_be_reached_is_one_line_naming_it_and_exit_1(as_json, pg):
    port = pgcluster._free_port()  # nothing listens there
    uri = f"postgresql://invoicer@127.0.0.1:{port}/billing"
    result = Invoicer(uri, pg.monkeypatch)("job", "list", *(["--json"] if as_json else []))
    assert result.exit_code == 1
    message = message_of(result, as_json)
    _assert_names_the_server(message, port, "billing")
    assert "cannot connect" in message and "refused" in message.lower(), message


def test_a_server_that_does_not_answer_is_given_up_after_the_busy_timeout(pg):
    """Something listens on the port but never speaks: the wait for the server's answer is
    bounded (by INVOICER_BUSY_TIMEOUT, at least a second), then one line and exit 1."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        pg.monkeypatch.setenv("INVOICER_BUSY_TIMEOUT", "1")
        started = time.monotonic()
        result = Invoicer(f"postgresql://invoicer@127.0.0.1:{port}/billing", pg.monkeypatch)("job", "create", JOB)
        seconds = time.monotonic() - started
    assert result.exit_code == 1
    message = message_of(result, False)
    _assert_names_the_server(message, port, "billing")
    assert "timeout" in message.lower(), message
    assert seconds < 15, f"gave up only after {seconds:.1f} s"


def test_a_database_that_does_not_exist_is_one_line_with_the_servers_reason(pg, postgres_cluster):
    for as_json in (False, True):
        result = Invoicer(postgres_cluster.uri_of("no_such_book"), pg.monkeypatch)(
            "contract", "list", *(["--json"] if as_json else []))
        assert result.exit_code == 1
        message = message_of(result, as_json)
        _assert_names_the_server(message, postgres_cluster.port, "no_such_book")
        assert 'database "no_such_book" does not exist' in message, message


def _login_cases(cluster, database: str):
    """(name, URI, environment, what the server says): logins of the password role refused."""
    role = pgcluster.PASSWORD_ROLE
    wrong = "Wr0ng-" + cluster.password[::-1]
    plain = f"postgresql://{role}@127.0.0.1:{cluster.port}/{database}"
    return [
        ("wrong PGPASSWORD", plain, {"PGPASSWORD": wrong}, wrong, "password authentication failed"),
        ("wrong password in the URI", f"postgresql://{role}:{wrong}@127.0.0.1:{cluster.port}/{database}", {},
         wrong, "password authentication failed"),
        ("no password", plain, {}, cluster.password, "no password supplied"),
    ]


def test_a_refused_login_is_one_line_with_the_servers_reason_and_never_the_password(postgres_db, postgres_cluster):
    """Real processes, text and --json: the password typed (wrong) and the real one appear
    nowhere in what the command prints."""
    database = database_name(postgres_db)
    for name, uri, env, secret, reason in _login_cases(postgres_cluster, database):
        for extra in ((), ("--json",)):
            done = cli(uri, "job", "create", JOB, *extra, env=env)
            assert done.returncode == 1, (name, done.stdout, done.stderr)
            message = message_of(done, bool(extra))
            _assert_names_the_server(message, postgres_cluster.port, database)
            assert reason in message, (name, message)
            for text in (secret, postgres_cluster.password):
                assert text not in done.stdout and text not in done.stderr, (name, done.stderr)
    assert rows(postgres_db, "SELECT count(*) FROM invoicer.jobs") == [(0,)]


def test_pgpassword_and_pgpass_are_libpqs_own_and_log_in(postgres_db, postgres_cluster, tmp_path):
    role = pgcluster.PASSWORD_ROLE
    uri = f"postgresql://{role}@127.0.0.1:{postgres_cluster.port}/{database_name(postgres_db)}"
    made = cli(uri, "job", "create", JOB, "--json", env={"PGPASSWORD": postgres_cluster.password})
    assert made.returncode == 0, made.stderr
    # ~/.pgpass: libpq's file in the home folder, readable by its owner alone.
    (tmp_path / ".pgpass").write_text(f"127.0.0.1:{postgres_cluster.port}:*:{role}:{postgres_cluster.password}\n")
    (tmp_path / ".pgpass").chmod(0o600)
    listed = cli(uri, "job", "list", "--json", env={"HOME": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    assert [j["name"] for j in json.loads(listed.stdout)["jobs"]] == [JOB]
    assert postgres_cluster.password not in made.stdout + made.stderr + listed.stdout + listed.stderr


def test_a_password_in_the_uri_is_never_shown_by_any_message(pg, postgres_db, postgres_cluster):
    """A URI that carries its password (libpq takes it): logged in, the messages that name
    the book (a refused write, a busy book, a newer schema) never show the password."""
    role = pgcluster.PASSWORD_ROLE
    secret = postgres_cluster.password
    uri = f"postgresql://{role}:{secret}@127.0.0.1:{postgres_cluster.port}/{database_name(postgres_db)}"
    book = Invoicer(uri, pg.monkeypatch)
    assert book.ok("job", "create", JOB)["name"] == JOB
    seen = [book("job", "create", JOB), book("job", "create", JOB, "--json")]
    holder = holder_of_the_writers_lock(postgres_db)
    try:
        pg.monkeypatch.setenv("INVOICER_BUSY_TIMEOUT", "0")
        seen += [book("contract", "add-line", "C-1", "--name", "Design", "--customer", "F",
                      "--billing-method", "time-and-material", *extra) for extra in ((), ("--json",))]
    finally:
        holder.close()
    with admin(postgres_cluster, database_name(postgres_db)) as conn:
        conn.execute("INSERT INTO invoicer.migrations VALUES (%s, 'from the future', '2030-01-01')",
                     [SCHEMA_VERSION + 1])
    seen += [book("job", "list"), book("job", "list", "--json")]
    # Malformed: libpq quotes the URI it could not read in its reason.
    seen += [Invoicer(f"postgresql://{role}:{secret}@[::1:{postgres_cluster.port}/x", pg.monkeypatch)("job", "list"),
             Invoicer(f"postgresql://{role}:{secret}@127.0.0.1:{postgres_cluster.port}/x?nonsense=1",
                      pg.monkeypatch)("job", "list")]
    assert [r.exit_code for r in seen] == [1, 1, 3, 3, 1, 1, 1, 1], [(r.exit_code, r.stderr) for r in seen]
    for result in seen:
        one_line(result.stderr)
        assert secret not in result.stdout + result.stderr, result.stderr


# (2) the schema's identity ---------------------------------------------------------------------

WRITE = ("contract", "add-line", "C-1", "--name", "Design", "--customer", "F", "--billing-method",
         "time-and-material")


def schema_objects(uri: str) -> list[tuple]:
    """Everything in the schema invoicer: its comment, its tables, their rows."""
    found = rows(uri, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'invoicer'")
    tables = [t for (t,) in rows(uri, "SELECT tablename FROM pg_tables WHERE schemaname = 'invoicer' ORDER BY 1")]
    return found + [(t, rows(uri, f'SELECT * FROM invoicer."{t}"')) for t in tables]


@pytest.mark.parametrize("comment", [None, "the warehouse schema"], ids=["unmarked", "marked-otherwise"])
def test_a_schema_invoicer_that_is_not_invoicers_is_refused_and_nothing_is_touched(comment, pg, new_database):
    uri = new_database()
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA invoicer")
        conn.execute("CREATE TABLE invoicer.jobs (id int, what text)")
        conn.execute("INSERT INTO invoicer.jobs VALUES (1, 'the warehouse''s own')")
        if comment:
            conn.execute(f"COMMENT ON SCHEMA invoicer IS '{comment}'")
    before = schema_objects(uri)
    book = Invoicer(uri, pg.monkeypatch)
    for args in (("job", "list"), ("job", "create", JOB), WRITE, ("run-once",)):
        for extra in ((), ("--json",)):
            result = book(*args, *extra)
            assert result.exit_code == 1, (args, result.exit_code, result.stderr)
            message = message_of(result, bool(extra))
            assert "not invoicer's" in message and database_name(uri) in message, message
    assert schema_objects(uri) == before


def test_a_schema_newer_than_the_code_is_refused_naming_the_upgrade_and_nothing_is_touched(pg):
    pg.ok("job", "create", JOB)
    with psycopg.connect(pg.db, autocommit=True) as conn:
        conn.execute("INSERT INTO invoicer.migrations VALUES (%s, 'from the future', '2030-01-01')",
                     [SCHEMA_VERSION + 1])
    before = dump(pg)
    for args in (("job", "list"), ("job", "create", OTHER_JOB), WRITE, ("doctor",)):
        for extra in ((), ("--json",)):
            result = pg(*args, *extra)
            assert result.exit_code == 1, (args, result.exit_code, result.stderr)
            message = message_of(result, bool(extra))
            assert "newer invoicer" in message and "upgrade invoicer" in message, message
            assert f"schema {SCHEMA_VERSION + 1}" in message, message
    assert dump(pg) == before


def test_a_fresh_database_gets_the_schema_on_its_first_command(pg, new_database):
    uri = new_database()  # CREATE DATABASE: no schema invoicer
    assert rows(uri, "SELECT count(*) FROM pg_namespace WHERE nspname = 'invoicer'") == [(0,)]
    book = Invoicer(uri, pg.monkeypatch)
    assert book.ok("job", "create", JOB)["id"] == 1
    assert rows(uri, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'invoicer'") \
        == [(postgres.MARK,)]
    assert rows(uri, "SELECT max(version) FROM invoicer.migrations") == [(SCHEMA_VERSION,)]
    assert [j["name"] for j in book.ok("job", "list")["jobs"]] == [JOB]
    assert book.ok("contract", "list") == {"lines": []}


def test_the_schema_version_of_the_server_is_the_codes():
    """Every SQLite migration has its server counterpart."""
    assert INITIAL_VERSION + len(postgres.POSTGRES_MIGRATIONS) == SCHEMA_VERSION


def test_concurrent_first_commands_on_a_fresh_database_each_succeed_or_exit_3(new_database):
    """Eight processes, each the first command on the same new database: one makes the
    schema, the others wait for it and then write; none may fail otherwise."""
    uri = new_database()
    env = environment(INVOICER_BUSY_TIMEOUT="30")
    processes = [subprocess.Popen(argv(uri, "contract", "add-line", f"C-{n}", "--name", "Design", "--customer", "F",
                                       "--billing-method", "time-and-material", "--json"),
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for n in range(8)]
    codes = []
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        codes.append(process.returncode)
        assert process.returncode in (0, 3), stderr
        if process.returncode:
            one_line(stderr)
    assert len(ok(uri, "contract", "list")["lines"]) == codes.count(0)
    assert codes.count(0) >= 1
    assert rows(uri, "SELECT version FROM invoicer.migrations ORDER BY 1") == \
        [(v,) for v in range(INITIAL_VERSION, SCHEMA_VERSION + 1)]


# (3) a busy book: another writer holds the lock ------------------------------------------------

BUSY_WRITES = {
    "job-create": ("job", "create", OTHER_JOB),
    "run-workflow": ("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller"),
    "contract-add-line": WRITE,
    "run-once": ("run-once", "--date", "2026-11-20"),
}


@pytest.fixture
def busy(pg):
    """A book with a job (and OTHER_JOB's name free), whose writers' lock another connection holds."""
    pg.ok("job", "create", JOB)
    holder = holder_of_the_writers_lock(pg.db)
    yield pg, holder
    holder.close()


@pytest.mark.parametrize("command", list(BUSY_WRITES))
def test_a_write_waits_the_busy_timeout_then_exits_3_with_one_line(command, busy):
    pg, holder = busy
    if command == "run-once":
        holder.execute("SELECT pg_advisory_unlock(%s)", [postgres.WRITER_LOCK])
        pg.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
        holder.execute("SELECT pg_advisory_lock(%s)", [postgres.WRITER_LOCK])
    before = dump(pg)
    pg.monkeypatch.setenv("INVOICER_BUSY_TIMEOUT", "1.5")
    for extra in ((), ("--json",)):
        started = time.monotonic()
        result = pg(*BUSY_WRITES[command], *extra)
        seconds = time.monotonic() - started
        assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
        message = message_of(result, bool(extra))
        if extra:
            assert json.loads(result.stderr)["error"]["code"] == "conflict"
        assert "another process" in message and "INVOICER_BUSY_TIMEOUT" in message and "1.5 s" in message, message
        assert "canceling statement" not in message and "lock timeout" not in message, message  # never raw
        assert 1.5 <= seconds < 1.5 + 10, f"gave up after {seconds:.2f} s with a 1.5 s busy timeout"
    assert dump(pg) == before


def test_a_busy_timeout_of_0_exits_3_at_once(busy):
    pg, _ = busy
    pg.monkeypatch.setenv("INVOICER_BUSY_TIMEOUT", "0")
    started = time.monotonic()
    pg.ok("job", "list")  # what a command costs here without waiting: connecting, reading
    baseline = time.monotonic() - started
    started = time.monotonic()
    result = pg(*WRITE, "--json")
    seconds = time.monotonic() - started
    assert result.exit_code == 3, result.stderr
    assert "another process" in message_of(result, True)
    assert seconds < baseline + 0.5, f"{seconds:.2f} s with INVOICER_BUSY_TIMEOUT=0 (a read: {baseline:.2f} s)"


def test_reads_are_not_blocked_by_a_writer(busy):
    pg, _ = busy
    pg.monkeypatch.setenv("INVOICER_BUSY_TIMEOUT", "0")
    for args in (("job", "list"), ("job", "status"), ("contract", "list"), ("schedule", "list"),
                 ("transaction", "list"), ("invoice", "list"), ("run", "list"), ("customer", "list"),
                 ("doctor",)):
        result = pg(*args, "--json")
        # doctor finds no running workflow in this book (exit 4): what it says, not a wait
        assert result.exit_code == (4 if args == ("doctor",) else 0), (args, result.exit_code, result.stderr)
        json.loads(result.stdout)


def test_a_busy_book_is_waited_for_and_the_write_succeeds_when_freed_in_time(busy):
    pg, holder = busy
    child = subprocess.Popen(argv(pg.db, "job", "create", OTHER_JOB, "--json"),
                             env=environment(INVOICER_BUSY_TIMEOUT="60"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: writer_lock_holders(pg.db, waiting=True), child), "the write never waited"
    holder.execute("SELECT pg_advisory_unlock(%s)", [postgres.WRITER_LOCK])
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert json.loads(stdout)["name"] == OTHER_JOB
    assert sorted(j["name"] for j in pg.ok("job", "list")["jobs"]) == sorted([JOB, OTHER_JOB])


def test_a_busy_run_once_exits_3_and_bills_nothing(busy):
    pg, holder = busy
    holder.execute("SELECT pg_advisory_unlock(%s)", [postgres.WRITER_LOCK])
    pg.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
    line = pg.line("C-1", "Design")
    pg.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
    pg.ok("transaction", "add", line, "--date", "2026-10-03", "--amount", "120.00")
    holder.execute("SELECT pg_advisory_lock(%s)", [postgres.WRITER_LOCK])
    done = cli(pg.db, "run-once", "--date", "2026-11-01", "--json", env={"INVOICER_BUSY_TIMEOUT": "0.5"})
    assert done.returncode == 3, done.stderr
    assert "another process" in message_of(done, True)
    holder.execute("SELECT pg_advisory_unlock(%s)", [postgres.WRITER_LOCK])
    assert pg.ok("run", "list")["runs"] == []
    assert pg.ok("invoice", "list")["invoices"] == []
    assert len(pg.ok("run-once", "--date", "2026-11-01")["invoices"]) == 1


# (4) the connection cut in the middle of a command ---------------------------------------------

def _terminate(uri: str, pid: int) -> None:
    assert rows(uri, "SELECT pg_terminate_backend(%s)", [pid]) == [(True,)]


def test_a_connection_cut_while_the_command_waits_for_the_lock_is_one_line_and_nothing_written(busy):
    pg, _ = busy
    before = dump(pg)
    for extra in ((), ("--json",)):
        child = subprocess.Popen(argv(pg.db, *WRITE, *extra), env=environment(INVOICER_BUSY_TIMEOUT="120"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        (pid,) = wait_for(lambda: writer_lock_holders(pg.db, waiting=True), child)
        _terminate(pg.db, pid)
        stdout, stderr = child.communicate(timeout=120)
        assert child.returncode == 1, (child.returncode, stderr)
        message = message_of(subprocess.CompletedProcess(child.args, 1, stdout, stderr), bool(extra))
        assert "lost the connection" in message and "nothing was written" in message, message
        _assert_names_the_server(message, int(pg.db.split(":")[-1].split("/")[0]), database_name(pg.db))
    assert dump(pg) == before


def _contracts_csv(path: Path, count: int) -> Path:
    with open(path, "w") as out:
        out.write("contract,name,customer,billing_method\n")
        for n in range(count):
            out.write(f"K-{n // 10:05d},Line {n % 10},Client {n // 10},time-and-material\n")
    return path


def test_a_connection_cut_in_the_middle_of_an_import_is_one_line_and_nothing_half_written(pg, tmp_path):
    pg.ok("job", "create", JOB)
    contracts = _contracts_csv(tmp_path / "contracts.csv", 30_000)
    before = book_rows(pg.db)
    child = subprocess.Popen(argv(pg.db, "contract", "import", contracts), env=environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holders = wait_for(lambda: writer_lock_holders(pg.db), child, step=0.001)
    assert holders, "the import ended before it was seen writing"
    # Once it has written into contract_lines (its lock on the table says so), a bit later.
    assert wait_for(lambda: rows(pg.db, """SELECT 1 FROM pg_locks WHERE pid = %s AND mode = 'RowExclusiveLock'
                                             AND relation = 'invoicer.contract_lines'::regclass""", holders),
                    child, step=0.001), "the import ended before it was seen writing"
    time.sleep(0.2)
    if child.poll() is not None:
        pytest.fail("the import finished before its connection could be cut")
    _terminate(pg.db, holders[0])
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 1, (child.returncode, stdout, stderr[-2000:])
    assert stdout == ""
    message = one_line(stderr)
    assert "lost the connection" in message and "nothing was written" in message, message
    assert book_rows(pg.db) == before
    assert pg.ok("contract", "import", contracts)["imported"] == 30_000


# the behaviours of test_database.py and test_faults.py that are not the file's own --------------

def test_invoicer_db_takes_a_uri_and_help_never_connects(pg):
    pg.monkeypatch.setenv("INVOICER_DB", pg.db)
    from typer.testing import CliRunner

    from invoicer.cli.app import app

    made = CliRunner().invoke(app, ["job", "create", JOB, "--json"])
    assert made.exit_code == 0, made.stderr
    assert [j["name"] for j in pg.ok("job", "list")["jobs"]] == [JOB]
    unreachable = Invoicer(f"postgresql://invoicer@127.0.0.1:{pgcluster._free_port()}/billing", pg.monkeypatch)
    for args in (("--help",), ("job", "--help"), ("run-once", "--help")):
        shown = unreachable(*args)
        assert shown.exit_code == 0 and "Usage" in shown.stdout, (args, shown.stderr)


def test_a_bad_busy_timeout_is_one_clear_line(pg):
    pg.monkeypatch.setenv("INVOICER_BUSY_TIMEOUT", "soon")
    result = pg("job", "list")
    assert result.exit_code == 1
    assert "INVOICER_BUSY_TIMEOUT" in message_of(result, False)


def test_a_first_command_while_another_holds_the_lock_exits_3_after_the_busy_timeout(pg, new_database):
    """A fresh database: the schema is made under the writers' lock, so a first command
    meeting another writer waits for it, and gives up as any write does."""
    uri = new_database()
    holder = holder_of_the_writers_lock(uri)
    try:
        pg.monkeypatch.setenv("INVOICER_BUSY_TIMEOUT", "0.5")
        for extra in ((), ("--json",)):
            started = time.monotonic()
            result = Invoicer(uri, pg.monkeypatch)("job", "list", *extra)
            seconds = time.monotonic() - started
            assert result.exit_code == 3, result.stderr
            assert "another process" in message_of(result, bool(extra))
            assert seconds >= 0.5
    finally:
        holder.close()
    assert rows(uri, "SELECT count(*) FROM pg_namespace WHERE nspname = 'invoicer'") == [(0,)]
    assert Invoicer(uri, pg.monkeypatch).ok("job", "list") == {"jobs": []}


def test_a_role_that_may_only_read_reads_and_a_write_says_the_server_refused(pg, postgres_cluster):
    """The server's counterpart of a book in a read-only folder: a role granted SELECT alone."""
    pg.ok("job", "create", JOB)
    pg.line("C-9", "Design")
    role = f"reader_{os.getpid()}_{random.randrange(10**6)}"
    database = database_name(pg.db)
    with admin(postgres_cluster, database) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA invoicer TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA invoicer TO {role}")
    try:
        before = dump(pg)
        reader = Invoicer(postgres_cluster.uri_of(database, role), pg.monkeypatch)
        for args in (("job", "list"), ("contract", "list"), ("invoice", "list"), ("run", "list")):
            result = reader(*args, "--json")
            assert result.exit_code == 0, (args, result.stderr)
        for extra in ((), ("--json",)):
            result = reader(*WRITE, *extra)
            assert result.exit_code == 1, (result.exit_code, result.stderr)
            message = message_of(result, bool(extra))
            assert "refused" in message and "permission denied" in message and "nothing was written" in message, \
                message
        assert dump(pg) == before
    finally:
        with admin(postgres_cluster, database) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("how", ["kill-9", "ctrl-c"])
def test_an_import_killed_or_interrupted_mid_way_leaves_nothing_of_it(how, pg, tmp_path):
    """kill -9 (the server rolls back what the dead client began) and Ctrl-C (the command
    rolls back, says so in one line, exit 130) in the middle of a contract import."""
    pg.ok("job", "create", JOB)
    contracts = _contracts_csv(tmp_path / "contracts.csv", 30_000)
    before = book_rows(pg.db)
    child = subprocess.Popen(argv(pg.db, "contract", "import", contracts, "--json"), env=environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holders = wait_for(lambda: writer_lock_holders(pg.db), child, step=0.001)
    assert holders and wait_for(lambda: rows(pg.db, """SELECT 1 FROM pg_locks WHERE pid = %s
                                                         AND relation = 'invoicer.contract_lines'::regclass
                                                         AND mode = 'RowExclusiveLock'""", holders),
                                child, step=0.001), "the import ended before it was seen writing"
    time.sleep(0.2)
    assert child.poll() is None, "the import finished before it could be stopped"
    child.send_signal(signal.SIGKILL if how == "kill-9" else signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    if how == "kill-9":
        assert child.returncode == -signal.SIGKILL
        wait_for(lambda: not writer_lock_holders(pg.db), limit=60)
    else:
        assert child.returncode == 130, (child.returncode, stderr[-2000:])
        error = json.loads(one_line(stderr))["error"]
        assert error["code"] == "interrupted" and "nothing was written" in error["message"], error
    assert stdout == ""
    assert book_rows(pg.db) == before
    assert pg.ok("contract", "import", contracts)["imported"] == 30_000


def test_run_once_during_an_import_exits_3_or_waits_and_bills_what_it_wrote(pg, tmp_path):
    """A transaction import holds the writers' lock: a run-once with a short busy timeout
    gives up in one line; one with a long timeout waits, then bills every imported row."""
    pg.setup_job()
    line = pg.line("C-1", "Design")
    pg.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
    count = 40_000
    with open(tmp_path / "transactions.csv", "w") as out:
        out.write("contract,line,date,amount,type\n")
        out.writelines(f"C-1,Design,2026-10-{1 + n % 28:02d},1.{n % 100:02d},time\n" for n in range(count))
    expected = sum(100 + n % 100 for n in range(count))
    importer = subprocess.Popen(argv(pg.db, "transaction", "import", tmp_path / "transactions.csv", "--json"),
                                env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: writer_lock_holders(pg.db), importer, step=0.001), "the import was never seen writing"
    short = cli(pg.db, "run-once", "--date", "2026-11-01", "--json", env={"INVOICER_BUSY_TIMEOUT": "0.3"})
    waiting = cli(pg.db, "run-once", "--date", "2026-11-01", "--json", env={"INVOICER_BUSY_TIMEOUT": "300"})
    _, import_err = importer.communicate(timeout=300)
    assert importer.returncode == 0, import_err[-2000:]
    if short.returncode == 3:  # else the import had ended before it asked: it billed all
        assert "another process" in message_of(short, True)
        assert waiting.returncode == 0, waiting.stderr[-2000:]
        (invoice,) = json.loads(waiting.stdout)["invoices"]
    else:
        assert short.returncode == 0, short.stderr[-2000:]
        (invoice,) = json.loads(short.stdout)["invoices"]
    REPORT.append(f"run-once during a transaction import: exit {short.returncode} with a 0.3 s busy timeout")
    assert int(invoice["total"].replace(".", "")) == expected
    assert pg.ok("transaction", "list", "--unbilled")["transactions"] == []


# (5) real processes racing: run-once x 8, run-once killed, run-workflow from two hosts ----------

RUN_DATE = "2024-06-01"
CONTRACTS = 200
LINES_PER_CONTRACT = 10
TRANSACTIONS = 40_000


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def write_csv(path: Path, header: list[str], data) -> Path:
    import csv

    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(data)
    return path


class BigBook:
    """2,000 time-and-material lines on a monthly schedule since January, 40,000 transactions
    from January to May, a fixed-price line with milestones: a run for RUN_DATE that holds
    the writers' lock long enough to collide with and to kill. Made as a file, moved to the
    server (migrate-to) as the database `big_book`; each test gets a copy. What the run
    must bill is computed here from the generated rows."""

    def __init__(self, cluster, folder: Path):
        rng = random.Random(20240601)
        names = [(f"C-{c:03d}", f"L{n}") for c in range(CONTRACTS) for n in range(LINES_PER_CONTRACT)]
        contracts = [(c, n, f"Customer {c}", "time-and-material", "") for c, n in names]
        contracts.append(("FP-1", "Licence", "Customer FP", "fixed-price", "1000.00"))
        schedules = [(c, n, "monthly", "2024-01-01", "", "", "", "") for c, n in names]
        schedules += [("FP-1", "Licence", "", "", "Kick-off", "2024-03-15", "250.00", "yes"),
                      ("FP-1", "Licence", "", "", "Design", "2024-05-31", "300.00", "true"),
                      ("FP-1", "Licence", "", "", "Build", "2024-05-20", "200.00", "no"),
                      ("FP-1", "Licence", "", "", "Go-live", "2024-06-02", "250.00", "1")]
        transactions = []
        self.expected = defaultdict(int)  # (contract, invoice run date) -> cents
        for _ in range(TRANSACTIONS):
            contract, line = rng.choice(names)
            month, day = rng.randint(1, 5), rng.randint(1, 28)
            amount = rng.randint(1, 100_000)
            transactions.append((contract, line, f"2024-{month:02d}-{day:02d}", money(amount)))
            self.expected[(contract, f"2024-{month + 1:02d}-01")] += amount
        self.expected[("FP-1", "2024-03-15")] += 25_000
        self.expected[("FP-1", "2024-05-31")] += 30_000
        self.total = sum(self.expected.values())

        file = folder / "big.db"
        ok(str(file), "job", "create", JOB)
        ok(str(file), "job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
        ok(str(file), "contract", "import", write_csv(folder / "contracts.csv",
                                                      ["contract", "name", "customer", "billing_method", "amount"],
                                                      contracts))
        ok(str(file), "schedule", "import", write_csv(
            folder / "schedules.csv", ["contract", "line", "frequency", "start", "milestone", "date", "amount", "ready"],
            schedules))
        ok(str(file), "transaction", "import", write_csv(folder / "transactions.csv",
                                                         ["contract", "line", "date", "amount"], transactions))
        self.cluster = cluster
        self.name = f"big_book_{os.getpid()}"
        with admin(cluster) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        ok(str(file), "migrate-to", cluster.uri_of(self.name))

    def expected_invoices(self) -> list[tuple]:
        """(number, contract, run date, total): numbered by run date, then contract name."""
        keys = sorted(self.expected, key=lambda k: (k[1], k[0]))
        return [(f"INV-{n:06d}", c, d, money(self.expected[(c, d)])) for n, (c, d) in enumerate(keys, start=1)]


@pytest.fixture(scope="module")
def big_book(postgres_cluster, tmp_path_factory):
    book = BigBook(postgres_cluster, tmp_path_factory.mktemp("big"))
    yield book
    with admin(postgres_cluster) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {book.name} WITH (FORCE)")


def invoice_facts(invoices: list[dict]) -> list[tuple]:
    return [(i["number"], i["contract"], i["run_date"], i["total"]) for i in invoices]


def assert_billed_exactly_once(uri: str, book: BigBook) -> None:
    """Every transaction and ready milestone due on exactly one invoice; no number twice."""
    invoices = ok(uri, "invoice", "list")["invoices"]
    assert invoice_facts(invoices) == book.expected_invoices()
    numbers = [i["number"] for i in invoices]
    assert len(numbers) == len(set(numbers))
    assert sum(int(i["total"].replace(".", "")) for i in invoices) == book.total
    assert sum(line.get("transactions", 0) for i in invoices for line in i["lines"]) == TRANSACTIONS
    assert ok(uri, "transaction", "list", "--unbilled")["transactions"] == []
    assert rows(uri, "SELECT count(*) FROM invoicer.transactions WHERE invoice_line_id IS NULL") == [(0,)]
    assert rows(uri, """SELECT count(*) FROM (SELECT t.id FROM invoicer.transactions t
                          JOIN invoicer.invoice_lines l ON l.id = t.invoice_line_id GROUP BY t.id
                          HAVING count(*) > 1) twice""") == [(0,)]
    runs = ok(uri, "run", "list")["runs"]
    assert [r["run_date"] for r in runs] == [RUN_DATE]
    assert runs[0]["invoices"] == numbers


def assert_sleeping(document: dict) -> None:
    expected = {"status": "sleeping", "run_date": RUN_DATE, "next_due": "2024-06-02", "invoices": [], "skipped": []}
    assert {key: document.get(key) for key in expected} == expected, document


def spawn(uri: str, folder: Path, name: str, *args, env: dict | None = None):
    out, err = folder / f"{name}.out", folder / f"{name}.err"
    with open(out, "w") as o, open(err, "w") as e:
        process = subprocess.Popen(argv(uri, *args), stdout=o, stderr=e, env=environment(**(env or {})))
    return process, out, err


def finished(process, out: Path, err: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    process.wait(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out.read_text(), err.read_text())


def test_eight_run_once_at_the_same_moment_make_one_set_of_invoices(big_book, new_database, tmp_path):
    uri = new_database(template=big_book.name)
    started = [spawn(uri, tmp_path, f"run{n}", "run-once", "--date", RUN_DATE, "--json",
                     env={"INVOICER_BUSY_TIMEOUT": "120"}) for n in range(8)]
    results = [finished(*s) for s in started]
    completed, sleeping = [], []
    for done in results:
        if done.returncode == 3:  # waited longer than its busy timeout: a clean conflict
            assert "another process" in message_of(done, True)
            continue
        assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
        assert done.stderr == ""
        document = json.loads(done.stdout)
        (completed if document["status"] == "completed" else sleeping).append(document)
    assert len(completed) == 1, [r.returncode for r in results]
    assert invoice_facts(completed[0]["invoices"]) == big_book.expected_invoices()
    for document in sleeping:
        assert_sleeping(document)
    REPORT.append(f"8 run-once at once: 1 completed ({len(completed[0]['invoices'])} invoices), "
                  f"{len(sleeping)} slept, {len(results) - 1 - len(sleeping)} exit 3")
    assert_billed_exactly_once(uri, big_book)


KILL_POINTS = (0.1, 0.5, 0.9)
MEASURED: dict = {}


def _whole_run(big_book, new_database, folder: Path) -> dict:
    """An uninterrupted run of a copy of the big book: what it printed, how long it held the lock."""
    if not MEASURED:
        uri = new_database(template=big_book.name)
        process, out, err = spawn(uri, folder, "whole", "run-once", "--date", RUN_DATE, "--json")
        assert wait_for(lambda: writer_lock_holders(uri), process, step=0.002), "never seen writing"
        locked_at = time.monotonic()
        while process.poll() is None and writer_lock_holders(uri):
            time.sleep(0.002)
        MEASURED["window"] = time.monotonic() - locked_at
        done = finished(process, out, err)
        assert done.returncode == 0, done.stderr[-2000:]
        MEASURED["document"] = json.loads(done.stdout)
        assert invoice_facts(MEASURED["document"]["invoices"]) == big_book.expected_invoices()
    return MEASURED


@pytest.mark.parametrize("point", KILL_POINTS, ids=[f"at-{int(p * 100)}pct" for p in KILL_POINTS])
def test_run_once_killed_mid_way_leaves_nothing_and_the_next_bills_what_it_would_have(point, big_book,
                                                                                      new_database, tmp_path):
    whole = _whole_run(big_book, new_database, tmp_path)
    fraction = point
    for attempt in range(5):
        uri = new_database(template=big_book.name)
        before = book_rows(uri)
        process, out, err = spawn(uri, tmp_path, f"killed{attempt}", "run-once", "--date", RUN_DATE, "--json")
        if not wait_for(lambda: writer_lock_holders(uri), process, step=0.002):
            fraction /= 2
            continue
        time.sleep(fraction * whole["window"])
        if process.poll() is not None:
            fraction /= 2  # it finished first: again, sooner
            continue
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
        if out.read_text():
            # It printed: its commit came before the kill (the JSON is written after it),
            # so it finished first after all: again, sooner.
            fraction /= 2
            continue
        break
    else:
        pytest.fail("the run always finished before the kill")
    # The server rolls the killed client's transaction back once it sees the connection gone.
    wait_for(lambda: not writer_lock_holders(uri), limit=60)
    assert book_rows(uri) == before, f"kill at {fraction:.2f} of the run left some of it"
    assert ok(uri, "run", "list")["runs"] == []
    assert ok(uri, "invoice", "list")["invoices"] == []
    REPORT.append(f"run-once killed {fraction * whole['window']:.2f} s into its {whole['window']:.2f} s "
                  f"hold of the writers' lock (attempt {attempt + 1}): nothing of it left")
    again = ok(uri, "run-once", "--date", RUN_DATE)
    assert invoice_facts(again["invoices"]) == invoice_facts(whole["document"]["invoices"])
    assert again == whole["document"]
    assert_billed_exactly_once(uri, big_book)
    assert_sleeping(ok(uri, "run-once", "--date", RUN_DATE))


def test_run_workflow_raced_from_two_hosts_leaves_exactly_one_running_instance(pg, postgres_cluster, tmp_path):
    """Two hosts' worth of operators (4 processes over TCP, 4 over the Unix socket), each
    starting one of two jobs' workflow at the same moment: one instance runs."""
    pg.ok("job", "create", JOB)
    pg.ok("job", "create", OTHER_JOB)
    database = database_name(pg.db)
    over_socket = f"postgresql://invoicer@/{database}?host={postgres_cluster.folder}&port={postgres_cluster.port}"
    started = []
    for n in range(8):
        uri, job = (pg.db, JOB) if n % 2 else (over_socket, OTHER_JOB)
        started.append(spawn(uri, tmp_path, f"start{n}", "job", "run-workflow", job, "--workflow", "ProcessRunCaller",
                             "--json", env={"INVOICER_BUSY_TIMEOUT": "120"}))
    results = [finished(*s) for s in started]
    codes = sorted(r.returncode for r in results)
    assert codes == [0] + [3] * 7, [(r.returncode, r.stderr) for r in results]
    for done in results:
        if done.returncode == 3:
            assert "running" in message_of(done, True)
    assert rows(pg.db, "SELECT count(*) FROM invoicer.workflow_instances WHERE state = 'running'") == [(1,)]
    running = [j for j in pg.ok("job", "list")["jobs"] if j.get("workflow")]
    assert len(running) == 1, running


# (6) one schema, two dialects --------------------------------------------------------------------

# Where the two schemas differ on purpose: jobs' names are unique whatever their case
# (SQLite: COLLATE NOCASE on the column; the server: a unique index on lower(name)), and
# SQLite's own bookkeeping of AUTOINCREMENT.
ONLY_ON_THE_SERVER = {"index": {"jobs_name_nocase"}}
ONLY_IN_THE_FILE = {"table": {"sqlite_sequence"}}


def _sqlite_schema(path: Path) -> dict:
    from invoicer.store import Store

    Store(str(path)).close()
    conn = sqlite3.connect(path)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        columns = {}
        for table in tables:
            columns[table] = [(name, _kind(kind), not notnull and not pk)
                              for _, name, kind, notnull, _, pk in conn.execute(f'PRAGMA table_info("{table}")')]
        indexes = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for _, name, unique, origin, partial in conn.execute(f'PRAGMA index_list("{table}")'):
                if origin == "c":  # made by CREATE INDEX (not a UNIQUE or PRIMARY KEY constraint)
                    indexes[name] = (table, bool(unique), bool(partial))
        return {"table": set(tables), "columns": columns, "index": indexes}
    finally:
        conn.close()


def _kind(declared: str) -> str:
    return "integer" if declared.upper() in ("INTEGER", "BIGINT") else declared.lower()


def _server_schema(uri: str) -> dict:
    tables = [t for (t,) in rows(uri, "SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'invoicer' ORDER BY 1")]
    columns = {}
    for table in tables:
        columns[table] = [(name, _kind(kind), nullable == "YES") for name, kind, nullable in rows(
            uri, """SELECT column_name, data_type, is_nullable FROM information_schema.columns
                     WHERE table_schema = 'invoicer' AND table_name = %s ORDER BY ordinal_position""", [table])]
    indexes = {}
    # Indexes of a constraint (primary key, UNIQUE) are the constraint's, as on SQLite.
    for name, table, unique, partial in rows(
            uri, """SELECT i.relname, t.relname, x.indisunique, x.indpred IS NOT NULL
                      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                      JOIN pg_namespace n ON n.oid = t.relnamespace
                     WHERE n.nspname = 'invoicer'
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"""):
        indexes[name] = (table, unique, partial)
    return {"table": set(tables), "columns": columns, "index": indexes}


def test_the_servers_schema_has_the_files_tables_columns_and_indexes(pg, new_database, tmp_path):
    file = _sqlite_schema(tmp_path / "fresh.db")
    uri = new_database()
    Invoicer(uri, pg.monkeypatch).ok("job", "list")  # its first command makes the schema
    server = _server_schema(uri)
    assert file["table"] - ONLY_IN_THE_FILE["table"] == server["table"]
    for table in sorted(server["table"]):
        assert server["columns"][table] == file["columns"][table], table
    server_indexes = {k: v for k, v in server["index"].items() if k not in ONLY_ON_THE_SERVER["index"]}
    assert server_indexes == file["index"]
    assert set(server["index"]) - set(file["index"]) == ONLY_ON_THE_SERVER["index"]


def test_a_transaction_import_on_the_server_holds_what_the_files_holds_id_for_id(pg, tmp_path):
    """The server takes an import's rows by COPY: every value arrives as the file's book
    holds it (text that COPY must escape, absent values, refs), in the file's order."""
    import csv

    rows = [["C-1", "Design", f"2026-10-{1 + n % 28:02d}", f"{n}.{n % 100:02d}", ("time", "expense")[n % 2],
             "" if n % 3 else "1.5", ["", "back\\slash", 'a "quote", a comma', "NULL", "\\N", "\\t", "é漢 😀"][n % 7],
             "" if n % 4 == 0 else f"TS-{n}"] for n in range(1, 12_001)]  # more than one batch of 5,000
    file = tmp_path / "tx.csv"
    with open(file, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["contract", "line", "date", "amount", "type", "quantity", "description", "ref"])
        writer.writerows(rows)
    books = [pg, Invoicer(tmp_path / "book.db", pg.monkeypatch)]
    for book in books:
        book.line("C-1", "Design")
        assert book.ok("transaction", "import", str(file)) == {"imported": 12_000, "unchanged": 0}
    server, the_file = (book.ok("transaction", "list")["transactions"] for book in books)
    assert server == the_file
    by_ref = {t["ref"]: t for t in server}
    assert [by_ref[r[7]]["description"] for r in rows[:7] if r[7]] == [r[6] or None for r in rows[:7] if r[7]]


def test_a_command_lets_its_connection_go_when_it_ends(pg):
    """In one process that runs many commands (a script, the test suite), each command's
    connection is closed when its output is written, not left to the process's end: a
    server counts its connections (max_connections), and a lingering one holds a
    database that is to be dropped."""
    pg.line("C-1", "Design")
    for args in (("contract", "list"), ("run-once", "--date", "2026-11-01"), ("contract", "show", "nope")):
        pg(*args)
        held = rows(pg.db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid != pg_backend_pid()")
        assert held == [(0,)], args


@pytest.mark.parametrize("args", [("invoice", "show", "INV-\x00"), ("customer", "show", "Fab\x00rikam"),
                                  ("contract", "show", "C-\x001")])
def test_a_name_with_nul_is_one_line_exit_1_as_on_a_file(pg, args):
    """PostgreSQL's text holds no NUL (psycopg refuses to send one): a lookup of such a name
    is refused in one line, as a file finds no such name; nothing is written."""
    pg.line("C-1", "Design")
    before = dump(pg)
    for extra in ((), ("--json",)):
        done = pg(*args, *extra)
        assert done.exit_code == 1 and "Traceback" not in done.stderr, done
        assert len(done.stderr.strip().splitlines()) == 1
    assert dump(pg) == before


def test_an_import_leaves_the_servers_statistics_of_what_it_filled(pg, tmp_path):
    """The next command's joins are planned for the tables as they are: each import
    ANALYZEs the tables it filled (without it the server took a 2,000-row table for one of
    none, and a schedule import after its contracts' matched every line by name alone)."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract,name,customer,billing_method\n"
                         + "".join(f"C-{n},Design,F,time-and-material\n" for n in range(300)))
    pg.ok("contract", "import", str(contracts))
    schedules = tmp_path / "schedules.csv"
    schedules.write_text("contract,line,frequency,start\n" + "".join(f"C-{n},Design,monthly,2026-11-01\n"
                                                                      for n in range(300)))
    pg.ok("schedule", "import", str(schedules))
    counted = dict(rows(pg.db, "SELECT relname, reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE n.nspname = 'invoicer' AND relname IN ('contracts', 'contract_lines', 'schedules')"))
    assert counted == {"contracts": 300, "contract_lines": 300, "schedules": 300}
