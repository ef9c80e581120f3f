"""Shared fixtures: a CLI runner bound to a fresh database and a fixed clock, and a small
book of contracts built in a few lines."""

import itertools
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from invoicer.cli.app import app

JOB = "Project operations create invoices"
NOW = "2026-11-24T10:00:00"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)

    @property
    def error(self):
        return json.loads(self.stderr)["error"]


class Invoicer:
    """Runs `invoicer --db DB ...` in-process, as a user would type it."""

    def __init__(self, db, monkeypatch, cluster=None, made=None, folder=None):
        self.db = str(db)
        self.postgres = self.db.startswith("postgresql://")
        # Where a test writes the files it gives a command: the SQLite file's folder, or
        # the test's tmp_path on PostgreSQL.
        self.dir = Path(folder) if folder is not None else Path(self.db).parent
        self.monkeypatch = monkeypatch
        self.runner = CliRunner()
        self.cluster = cluster  # PostgreSQL's: where another() makes its books
        self.made = [] if made is None else made  # the databases another() made, dropped after the test

    def another(self, path) -> "Invoicer":
        """A new, empty book on the same store: the SQLite file `path`, or a new database of
        the test cluster (dropped after the test), for a test that builds several books."""
        if not self.postgres:
            return Invoicer(path, self.monkeypatch)
        uri = _new_database(self.cluster)
        self.made.append(uri)
        return Invoicer(uri, self.monkeypatch, self.cluster, self.made, Path(path).parent)

    def at(self, moment: str) -> "Invoicer":
        """Set the clock (INVOICER_NOW): an ISO date-time or date."""
        self.monkeypatch.setenv("INVOICER_NOW", moment)
        return self

    def __call__(self, *args, input=None) -> Result:
        result = self.runner.invoke(app, ["--db", self.db, *map(str, args)], input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args, input=None):
        """Run a command with --json, assert it succeeded, return its document."""
        result = self(*args, "--json", input=input)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return result.json

    def line(self, contract, name, method="time-and-material", customer="Fabrikam", *extra) -> int:
        return self.ok("contract", "add-line", contract, "--name", name, "--customer", customer,
                       "--billing-method", method, *extra)["id"]

    def setup_job(self, workflow="ProcessRunCaller"):
        self.ok("job", "create", JOB)
        return self.ok("job", "run-workflow", JOB, "--workflow", workflow)


def dump(inv) -> str:
    """The whole book as text: what a refused command must leave as it was."""
    if inv.postgres:
        return _dump_postgres(inv.db)
    conn = sqlite3.connect(inv.db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def query(inv, sql: str, params=()) -> list[tuple]:
    """The rows of a read-only query of the book, on either store (SQLite's placeholders)."""
    if inv.postgres:
        import psycopg

        from invoicer.store.postgres import translate

        with psycopg.connect(inv.db, options="-c search_path=invoicer") as conn:
            return conn.execute(translate(sql), list(params) or None).fetchall()
    conn = sqlite3.connect(f"file:{inv.db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def write(inv, sql: str, params=()) -> None:
    """Run one statement on the book behind invoicer's back, on either store (SQLite's
    placeholders): what an older invoicer or another tool left there."""
    if inv.postgres:
        import psycopg

        from invoicer.store.postgres import translate

        with psycopg.connect(inv.db, options="-c search_path=invoicer") as conn:
            conn.execute(translate(sql), list(params) or None)
        return
    conn = sqlite3.connect(inv.db)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


@dataclass
class Frozen:
    """A PostgreSQL book's rows, table by table, and its sequences: what restore() puts back."""
    tables: list[tuple[str, list[tuple]]]
    sequences: list[tuple[str, int | None]]


def freeze(uri: str) -> Frozen:
    import psycopg

    with psycopg.connect(uri) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'invoicer' ORDER BY tablename")]
        return Frozen([(t, conn.execute(f'SELECT * FROM invoicer."{t}"').fetchall()) for t in tables],
                      conn.execute("SELECT sequencename, last_value FROM pg_sequences "
                                   "WHERE schemaname = 'invoicer'").fetchall())


def restore(uri: str, frozen: Frozen) -> None:
    """Put a database of the test cluster back as freeze() saw a book of the same schema, in
    one transaction: a fraction of a new database's cost, for a property test's examples."""
    import psycopg

    with psycopg.connect(uri) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")  # no foreign-key checks meanwhile
        for table, rows in frozen.tables:
            conn.execute(f'DELETE FROM invoicer."{table}"')
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                conn.cursor().executemany(
                    f'INSERT INTO invoicer."{table}" OVERRIDING SYSTEM VALUE VALUES ({marks})', rows)
        for name, last in frozen.sequences:
            if last is None:
                conn.execute("SELECT setval(%s, (SELECT start_value FROM pg_sequences WHERE schemaname = 'invoicer' "
                             "AND sequencename = %s), false)", [f"invoicer.{name}", name])
            else:
                conn.execute("SELECT setval(%s, %s)", [f"invoicer.{name}", last])


def _dump_postgres(uri: str) -> str:
    """Every row of every table of the schema invoicer, in a set order, and the sequences."""
    import psycopg

    with psycopg.connect(uri) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'invoicer' ORDER BY tablename")]
        text = []
        for table in tables:
            rows = conn.execute(f'SELECT * FROM invoicer."{table}"').fetchall()
            text += [f"{table}: {row!r}" for row in sorted(rows, key=repr)]
        text += [f"sequence {name}: {value}" for name, value in conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'invoicer' ORDER BY 1")]
        return "\n".join(text)


# The test modules whose `inv` tests run on both stores: every module of behaviour. Not
# here: the file's own (test_faults, test_run_safety, test_quickstart, ...) and the
# server's (test_postgres, test_migrate). Property modules run fewer examples on the
# server (examples()); test_import_properties and test_fuzz have a PostgreSQL variant of
# each property, with fewer examples.
POSTGRES_MODULES: set[str] = {
    "test_jobs", "test_schedules", "test_habits", "test_explain", "test_doctor", "test_run", "test_run_output",
    "test_parties", "test_corrections", "test_exports", "test_documents", "test_tax", "test_split",
    "test_run_properties", "test_correction_properties", "test_split_properties", "test_book", "test_clock",
    "test_money", "test_messages", "test_cli", "test_typed_values", "test_imports", "test_repeatable_imports",
    "test_database", "test_import_properties", "test_fuzz",
}

STORES = ("sqlite", "postgresql")


def examples(inv: Invoicer, count: int) -> int:
    """How many examples a property test tries on the store of `inv`: `count` on a file, a
    quarter of it (at least 5) on PostgreSQL, where an example costs four to five times as
    much. The server runs the same statements as the file, translated: the file's examples
    search the rules, the server's check that the translation keeps them. (Set inside the
    test, with hypothesis's @given on an inner function: settings are fixed when applied.)"""
    return max(5, count // 4) if inv.postgres else count


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: a test of the SQLite file itself, not run on PostgreSQL")
    config.addinivalue_line("markers", "postgresql_only: a test's PostgreSQL variant (fewer examples, say)")


def pytest_terminal_summary(terminalreporter):
    """Without PostgreSQL, one line at the end says that its half was skipped and how to
    install it (each test's skip alone shows as an `s`, its reason only with -rs)."""
    from tests import pgcluster

    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if pgcluster.HOW_TO_INSTALL in str(getattr(report, "longrepr", ""))]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests on PostgreSQL skipped: {pgcluster.HOW_TO_INSTALL}",
                                    yellow=True)


def pytest_generate_tests(metafunc):
    if "inv" in metafunc.fixturenames:
        both = metafunc.module.__name__.rpartition(".")[2] in POSTGRES_MODULES \
            and not metafunc.definition.get_closest_marker("sqlite_only")
        if metafunc.definition.get_closest_marker("postgresql_only"):
            metafunc.parametrize("inv", STORES[1:], indirect=True)
            return
        metafunc.parametrize("inv", STORES if both else STORES[:1], indirect=True)


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway cluster for the session (a worker's, under xdist). Without PostgreSQL
    the tests on it are skipped, with one line saying how to install it; where
    INVOICER_TEST_POSTGRES=required (CI), they fail instead."""
    from tests import pgcluster

    if pgcluster.server_binaries() is None:
        if os.environ.get("INVOICER_TEST_POSTGRES") == "required":
            pytest.fail(pgcluster.HOW_TO_INSTALL)
        pytest.skip(pgcluster.HOW_TO_INSTALL)
    cluster = pgcluster.start()
    # Each test's database is a copy of one with the schema made: made once, not a test.
    import psycopg

    from invoicer.store import open_store

    with psycopg.connect(cluster.uri, autocommit=True) as admin:
        admin.execute("CREATE DATABASE book_template")
    open_store(cluster.uri_of("book_template")).close()
    _remember_template(cluster)
    yield cluster
    _template.pop(cluster.port, None)
    _emptied.pop(cluster.port, None)
    cluster.stop()


_databases = itertools.count(1)
# Databases a test was done with, emptied back to the template's state: the next test's,
# for a tenth of the cost of CREATE DATABASE and DROP DATABASE (the cluster's, by its port).
_emptied: dict[int, list[str]] = {}
_template: dict[int, tuple[str, "Frozen"]] = {}

# What a test could change of a database but its rows and sequences: its schemas, their
# relations, columns, indexes, constraints, privileges, functions, triggers, settings.
# A database whose shape differs from the template's is dropped, never reused.
_SHAPE = """
SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT 'n ' || nspname || ' ' || coalesce(obj_description(oid, 'pg_namespace'), '') || ' ' || coalesce(nspacl::text, '')
    FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
  UNION ALL
  SELECT 'c ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '') || ' ' ||
         coalesce(pg_get_indexdef(c.oid), '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'a ' || a.attrelid::regclass::text || ' ' || a.attnum::text || ' ' || a.attname || ' ' || a.atttypid::text || ' ' ||
         a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE n.nspname = 'invoicer' AND a.attnum > 0
  UNION ALL
  SELECT 'k ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname LIKE 'pg\\_%'
                                                  OR nspname = 'information_schema')
  UNION ALL
  SELECT 's ' || seqrelid::regclass::text || ' ' || seqstart::text || ' ' || seqincrement::text || ' ' || seqmax::text || ' ' || seqcycle::text
    FROM pg_sequence
  UNION ALL
  SELECT 't ' || tgrelid::regclass::text || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT 'p ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'g ' || setrole || ' ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT 'd ' || coalesce(datacl::text, '') FROM pg_database WHERE datname = current_database()
) shape(x)"""


def _remember_template(cluster) -> None:
    import psycopg

    uri = cluster.uri_of("book_template")
    with psycopg.connect(uri) as conn:
        shape = conn.execute(_SHAPE).fetchone()[0]
    _template[cluster.port] = (shape, freeze(uri))


def _new_database(cluster) -> str:
    """The URI of a new database of the test cluster, with invoicer's schema and nothing
    in it (as a new SQLite file is after its first command): one a test emptied, or a new one."""
    import psycopg

    if _emptied.get(cluster.port):
        return _emptied[cluster.port].pop()
    name = f"book_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(cluster.uri, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE book_template")
    return cluster.uri_of(name)


def _drop_database(cluster, uri: str) -> None:
    """Done with a database: emptied for the next test if it has the template's shape
    still, else dropped."""
    import psycopg

    if cluster.port in _template and _emptied_back(uri, *_template[cluster.port]):
        _emptied.setdefault(cluster.port, []).append(uri)
        return
    with psycopg.connect(cluster.uri, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {uri.rpartition('/')[2]} WITH (FORCE)")


def _emptied_back(uri: str, shape: str, template: "Frozen") -> bool:
    """Whether the database at `uri` was put back to the template's rows and sequences: its
    connections ended (as DROP ... WITH (FORCE) would), each table whose rows are not the
    template's truncated (a new file, as a new database's) and given the template's rows,
    the sequences set as the template's. False, and nothing done, if its shape is not the
    template's."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        if conn.execute(_SHAPE).fetchone()[0] != shape:
            return False
        held = {t for (t,) in conn.execute(" UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM invoicer.\"{t}\")" for t, _ in template.tables))}
        kept = {t: sorted(rows, key=repr) for t, rows in template.tables if rows}  # the template's own rows
        changed = [t for t, _ in template.tables if (t in held) != (t in kept) or t in held and sorted(
            conn.execute(f'SELECT * FROM invoicer."{t}"').fetchall(), key=repr) != kept[t]]
        with conn.transaction():
            if changed:
                conn.execute("TRUNCATE " + ", ".join(f'invoicer."{t}"' for t in changed) + " CASCADE")
            for t, rows in template.tables:
                if rows and not conn.execute(f'SELECT EXISTS (SELECT 1 FROM invoicer."{t}")').fetchone()[0]:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    conn.cursor().executemany(
                        f'INSERT INTO invoicer."{t}" OVERRIDING SYSTEM VALUE VALUES ({marks})', rows)
            conn.execute("SELECT " + ", ".join(
                f"setval('invoicer.\"{name}\"', {last})" if last is not None else
                f"setval('invoicer.\"{name}\"', (SELECT seqstart FROM pg_sequence WHERE seqrelid = "
                f"'invoicer.\"{name}\"'::regclass), false)" for name, last in template.sequences))
    return True


@contextmanager
def another_book(inv: Invoicer) -> Iterator[Invoicer]:
    """The CLI on a new, empty book on the store of `inv`, gone when the block is left: a
    file in a new folder (in memory where there is one), or a new database of the test
    cluster. What a property test builds each example's book in."""
    if inv.postgres:
        uri = _new_database(inv.cluster)
        try:
            yield Invoicer(uri, inv.monkeypatch, inv.cluster, folder=inv.dir)
        finally:
            _drop_database(inv.cluster, uri)
        return
    tmp = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        yield Invoicer(os.path.join(folder, "book.db"), inv.monkeypatch)


@pytest.fixture
def postgres_db(postgres_cluster):
    """The URI of a new database of the test cluster (_new_database), dropped after the test."""
    uri = _new_database(postgres_cluster)
    yield uri
    _drop_database(postgres_cluster, uri)


@pytest.fixture
def inv(request, tmp_path, monkeypatch):
    monkeypatch.setenv("INVOICER_TZ", "UTC")
    monkeypatch.setenv("INVOICER_NOW", NOW)
    monkeypatch.delenv("INVOICER_DB", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    if getattr(request, "param", "sqlite") != "postgresql":
        yield Invoicer(tmp_path / "book.db", monkeypatch)
        return
    cluster = request.getfixturevalue("postgres_cluster")
    book = Invoicer(request.getfixturevalue("postgres_db"), monkeypatch, cluster, folder=tmp_path)
    yield book
    for uri in book.made:
        _drop_database(cluster, uri)
