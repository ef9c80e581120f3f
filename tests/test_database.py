"""The database (spec section 1) and the error rules of section 6: which file is used, its
schema and migrations, files that are not ours or too new, a busy database, and how
errors and usage mistakes are reported."""

import json
import os
import sqlite3
import subprocess
import sys
import time

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from invoicer.cli.app import app

from tests.conftest import JOB, NOW

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

OTHER_JOB = "Backup create invoices"


def cli(*args, cwd, env=None, input=None):
    """`invoicer ARGS` in a child process, as cron or a shell would run it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INVOICER_")}
    environment.update(INVOICER_NOW=NOW, INVOICER_TZ="UTC", NO_COLOR="1")
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "invoicer", *map(str, args)], cwd=cwd,
                          env=environment, input=input, capture_output=True, text=True, timeout=60)


def job_names(db, cwd=None):
    """The jobs of one database file, read in-process (quicker than a child process)."""
    listed = CliRunner().invoke(app, ["--db", str(db), "job", "list", "--json"],
                                env={"INVOICER_NOW": NOW, "INVOICER_TZ": "UTC"})
    assert listed.exit_code == 0, listed.stderr
    return [job["name"] for job in json.loads(listed.stdout)["jobs"]]


def assert_one_line_error(stderr):
    assert stderr.strip(), "expected an error message on stderr"
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr


def assert_json_error(stdout, stderr):
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    document = json.loads(stderr)
    assert set(document) == {"error"}
    assert set(document["error"]) == {"code", "message"}
    assert isinstance(document["error"]["code"], str) and document["error"]["code"]
    assert isinstance(document["error"]["message"], str) and document["error"]["message"]
    return document["error"]


def snapshot(folder):
    """Every file of the folder, with its bytes: a refused file must stay as it was, and
    no -wal/-shm/-journal may appear beside it."""
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """A real invoicer database with one job, written and closed by a finished process."""
    path = tmp_path_factory.mktemp("template") / "book.db"
    made = cli("--db", path, "job", "create", JOB, "--json", cwd=path.parent)
    assert made.returncode == 0, made.stderr
    assert os.listdir(path.parent) == ["book.db"]
    return path.read_bytes()


@pytest.fixture
def make_invoicer_db(template_db):
    def make(path):
        path.write_bytes(template_db)
        return path
    return make


# choosing the file --------------------------------------------------------------------------

def test_without_db_option_or_env_the_database_is_invoicer_db_in_the_current_directory(tmp_path):
    result = cli("job", "create", JOB, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "invoicer.db").is_file()
    assert job_names(tmp_path / "invoicer.db", tmp_path) == [JOB]


def test_invoicer_db_environment_variable_is_used_when_no_db_option(tmp_path):
    (tmp_path / "books").mkdir()
    result = cli("job", "create", JOB, "--json", cwd=tmp_path, env={"INVOICER_DB": "books/main.db"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "books" / "main.db").is_file()
    assert not (tmp_path / "invoicer.db").exists()
    assert job_names(tmp_path / "books" / "main.db", tmp_path) == [JOB]


def test_db_option_wins_over_invoicer_db_environment_variable(tmp_path):
    result = cli("--db", "chosen.db", "job", "create", JOB, "--json", cwd=tmp_path,
                 env={"INVOICER_DB": str(tmp_path / "env.db")})
    assert result.returncode == 0, result.stderr
    assert job_names(tmp_path / "chosen.db", tmp_path) == [JOB]
    assert not (tmp_path / "invoicer.db").exists()
    if (tmp_path / "env.db").exists():
        assert job_names(tmp_path / "env.db", tmp_path) == []


def test_the_chosen_database_is_the_one_read_back(tmp_path):
    # Two books side by side: each command sees only the one it was pointed at.
    assert cli("--db", "a.db", "job", "create", JOB, cwd=tmp_path).returncode == 0
    assert cli("job", "create", OTHER_JOB, cwd=tmp_path, env={"INVOICER_DB": "b.db"}).returncode == 0
    assert job_names(tmp_path / "a.db", tmp_path) == [JOB]
    assert job_names(tmp_path / "b.db", tmp_path) == [OTHER_JOB]


# schema and migrations ----------------------------------------------------------------------

def test_database_is_created_with_its_schema_on_first_use(tmp_path):
    result = cli("job", "list", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"jobs": []}
    with sqlite3.connect(tmp_path / "invoicer.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "migrations" in tables
    assert len(tables) > 1


def _example_book(folder: Path) -> Path:
    """folder/book.db with the job and the examples' contracts, schedules and transactions."""
    db = folder / "book.db"
    assert cli("--db", db, "job", "create", JOB, cwd=folder).returncode == 0
    for kind, name in (("contract", "contracts.csv"), ("schedule", "schedules.csv"), ("transaction", "transactions.jsonl")):
        assert cli("--db", db, kind, "import", EXAMPLES / name, cwd=folder).returncode == 0
    return db


def _with_pages_of(db: Path, size: int) -> None:
    """The book rewritten with pages of `size` bytes, as one made with them (back in WAL)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for statement in ("PRAGMA journal_mode = DELETE", f"PRAGMA page_size = {size}", "VACUUM",
                          "PRAGMA journal_mode = WAL"):
            conn.execute(statement).fetchall()
        assert conn.execute("PRAGMA page_size").fetchone() == (size,)
    finally:
        conn.close()


def test_a_new_book_and_its_temporary_tables_have_pages_of_16_kib(tmp_path):
    """A month-end rewrites every page its transactions sit on: at 16 KiB a page, a
    quarter as many (README, the decisions)."""
    from invoicer.store import Store

    assert cli("job", "list", cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "invoicer.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone() == (16384,)
    store = Store(str(tmp_path / "invoicer.db"))
    try:
        store.conn.execute("CREATE TEMP TABLE scratch (x)")
        store.conn.execute("INSERT INTO temp.scratch VALUES (1)")
        assert store.conn.execute("PRAGMA temp.page_size").fetchone() == (16384,)
    finally:
        store.close()


def test_a_book_made_with_smaller_pages_keeps_them_and_bills_as_before(tmp_path):
    """A book made before its pages were 16 KiB is not rewritten (that is a VACUUM of the
    whole file): it keeps its pages and works as it did."""
    db = _example_book(tmp_path)
    assert cli("--db", db, "job", "run-workflow", JOB, "--workflow", "ProcessRunCaller", cwd=tmp_path).returncode == 0
    _with_pages_of(db, 4096)
    # The day after the workflow began: its Process step, the month-end of 2026-12-01.
    result = cli("--db", db, "run-once", "--json", cwd=tmp_path, env={"INVOICER_NOW": "2026-12-01T06:00:00"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["invoices"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA page_size").fetchone() == (4096,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("args, field", [
    (["--db", "book\x00.db", "job", "list"], "db"),
    (["--db", "postgresql://me@local\x00host:5432/books", "job", "list"], "db"),
    (["migrate-to", "postgresql://me@local\x00host:5432/books"], "uri"),
    (["invoice", "export", "--all", "--format", "pdf", "--out", "out\x00"], "out"),
    (["transaction", "import", "rows\x00.csv"], "file"),
    (["contract", "show", "C-100\x00"], "contract"),
])
def test_a_typed_text_holding_a_nul_character_is_refused_in_one_line(args, field, tmp_path, monkeypatch):
    """No shell passes one, but a script calling invoicer in process can: refused before the
    command runs, its field named, exit 1, nothing made. A path gave Python's "embedded null
    byte" traceback; libpq cut a URI at it, and would have connected where it was not told."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*args, "--json"], env={"INVOICER_NOW": NOW, "INVOICER_TZ": "UTC"})
    assert result.exit_code == 1, result.output
    assert json.loads(result.stderr)["error"]["message"] == \
        f"{field}: holds a NUL character (\\x00), which no command line can carry"
    assert list(tmp_path.iterdir()) == []


def test_the_readme_s_command_gives_an_older_book_16_kib_pages(tmp_path):
    """The decisions' one line for a book made with 4 KiB pages, run as the README gives it."""
    import re
    import shlex

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    command = re.search(r"`(python3 -c .*PRAGMA page_size = 16384.*)`\.", readme).group(1)
    assert cli("job", "create", JOB, cwd=tmp_path).returncode == 0
    _with_pages_of(tmp_path / "invoicer.db", 4096)
    argv = shlex.split(command)
    done = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "16384\n", done.stderr
    with sqlite3.connect(tmp_path / "invoicer.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone() == (16384,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert job_names(tmp_path / "invoicer.db") == [JOB]


def test_help_does_not_create_a_database(tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert not (tmp_path / "invoicer.db").exists()


def test_migrations_are_recorded_in_migrations_table_and_user_version(tmp_path):
    assert cli("job", "list", cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(tmp_path / "invoicer.db")
    versions = [row[0] for row in conn.execute("SELECT version FROM migrations ORDER BY version")]
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert versions == list(range(1, len(versions) + 1)) and versions
    assert user_version == versions[-1]


def test_migrations_are_applied_once_not_again_on_later_commands(tmp_path):
    assert cli("job", "list", cwd=tmp_path).returncode == 0
    assert cli("job", "create", JOB, cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(tmp_path / "invoicer.db")
    rows = conn.execute("SELECT version FROM migrations").fetchall()
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert len(rows) == len({r[0] for r in rows}) == user_version


# files that are not ours, or too new --------------------------------------------------------

def _text_file(path, _):
    path.write_text("contract,line,amount\nC-100,Design,1500.00\n")


def _other_apps_database(path, _=None, user_version=0):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Fabrikam')")
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()


def _other_apps_database_at_our_version(path, _):
    # Another tool that also uses user_version: the number alone must not make it ours.
    _other_apps_database(path, user_version=1)


def _newer_invoicer_database(path, make_invoicer_db):
    make_invoicer_db(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    return path


FOREIGN_FILES = {
    "text-file": _text_file,
    "other-apps-sqlite": _other_apps_database,
    "other-apps-sqlite-with-user-version-1": _other_apps_database_at_our_version,
    "newer-invoicer-schema": _newer_invoicer_database,
}


@pytest.mark.parametrize("command", [["job", "list"], ["job", "create", OTHER_JOB]],
                         ids=["reading", "writing"])
@pytest.mark.parametrize("kind", FOREIGN_FILES)
def test_foreign_or_newer_file_is_refused_with_exit_1_one_line_and_left_untouched(
        tmp_path, kind, command, make_invoicer_db):
    folder = tmp_path / "books"
    folder.mkdir()
    path = folder / "book.db"
    FOREIGN_FILES[kind](path, make_invoicer_db)
    before = snapshot(folder)
    assert list(before) == ["book.db"]
    result = cli("--db", path, *command, cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert_one_line_error(result.stderr)
    assert result.stdout == ""
    assert snapshot(folder) == before


@pytest.mark.parametrize("kind", FOREIGN_FILES)
def test_foreign_or_newer_file_error_with_json_is_an_error_document(tmp_path, kind, make_invoicer_db):
    path = tmp_path / "book.db"
    FOREIGN_FILES[kind](path, make_invoicer_db)
    result = cli("--db", path, "job", "list", "--json", cwd=tmp_path)
    assert result.returncode == 1
    error = assert_json_error(result.stdout, result.stderr)
    assert "book.db" in error["message"]


def test_newer_schema_error_says_the_file_is_from_a_newer_version(tmp_path, make_invoicer_db):
    path = _newer_invoicer_database(tmp_path / "book.db", make_invoicer_db)
    result = cli("--db", path, "job", "list", cwd=tmp_path)
    assert result.returncode == 1
    message = result.stderr.lower()
    assert "newer" in message or "999" in message


def test_not_an_invoicer_database_error_names_the_file(tmp_path):
    path = tmp_path / "their.db"
    _other_apps_database(path)
    result = cli("--db", path, "job", "list", cwd=tmp_path)
    assert result.returncode == 1
    assert "their.db" in result.stderr
    assert "invoicer" in result.stderr.lower()


def test_missing_directory_gives_one_clear_line_and_exit_1(tmp_path):
    path = tmp_path / "no-such-folder" / "book.db"
    result = cli("--db", path, "job", "create", JOB, cwd=tmp_path)
    assert result.returncode == 1
    assert_one_line_error(result.stderr)
    assert "no-such-folder" in result.stderr
    assert not (tmp_path / "no-such-folder").exists()


def test_missing_directory_with_json_is_an_error_document(tmp_path):
    result = cli("--db", tmp_path / "no-such-folder" / "book.db", "job", "list", "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert_json_error(result.stdout, result.stderr)


# a busy database ----------------------------------------------------------------------------

@pytest.fixture
def locked_db(tmp_path, make_invoicer_db):
    """A real invoicer database that another connection is writing to (BEGIN IMMEDIATE)."""
    path = make_invoicer_db(tmp_path / "book.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield path, holder
    holder.close()


BUSY = {"INVOICER_BUSY_TIMEOUT": "0.2"}


@pytest.mark.parametrize("command", [
    ["job", "create", OTHER_JOB],
    ["job", "run-workflow", JOB, "--workflow", "ProcessRunCaller"],
    ["contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
     "--billing-method", "time-and-material"],
], ids=["job-create", "run-workflow", "contract-add-line"])
def test_locked_database_makes_a_writing_command_exit_3_without_raw_sqlite_text(locked_db, command):
    path, holder = locked_db
    started = time.monotonic()
    result = cli("--db", path, *command, cwd=path.parent, env=BUSY)
    elapsed = time.monotonic() - started
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert_one_line_error(result.stderr)
    assert "database is locked" not in result.stderr.lower()
    assert elapsed < 8, "the wait must be bounded by INVOICER_BUSY_TIMEOUT"
    holder.execute("ROLLBACK")
    assert job_names(path, path.parent) == [JOB]  # nothing of the refused command was written


def test_locked_database_error_with_json_is_a_conflict_document(locked_db):
    path, _ = locked_db
    result = cli("--db", path, "job", "create", OTHER_JOB, "--json", cwd=path.parent, env=BUSY)
    assert result.returncode == 3
    error = assert_json_error(result.stdout, result.stderr)
    assert "database is locked" not in error["message"].lower()


def test_locked_run_once_exits_3_and_bills_nothing(locked_db):
    path, holder = locked_db
    holder.execute("ROLLBACK")
    started = cli("--db", path, "job", "run-workflow", JOB, "--workflow", "ProcessRunCaller", cwd=path.parent)
    assert started.returncode == 0, started.stderr
    holder.execute("BEGIN IMMEDIATE")
    result = cli("--db", path, "run-once", "--date", "2026-11-20", cwd=path.parent, env=BUSY)
    assert result.returncode == 3
    assert "database is locked" not in result.stderr.lower()
    holder.execute("ROLLBACK")
    runs = CliRunner().invoke(app, ["--db", str(path), "run", "list", "--json"], env={"INVOICER_TZ": "UTC"})
    assert json.loads(runs.stdout)["runs"] == []


def test_busy_database_is_waited_for_and_the_command_succeeds_when_freed_in_time(locked_db):
    path, holder = locked_db
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INVOICER_")}
    environment.update(INVOICER_NOW=NOW, INVOICER_TZ="UTC", INVOICER_BUSY_TIMEOUT="10")
    child = subprocess.Popen([sys.executable, "-m", "invoicer", "--db", str(path), "job", "create", OTHER_JOB],
                             cwd=path.parent, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    time.sleep(1.0)
    holder.execute("ROLLBACK")  # the other writer finishes well within the timeout
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    assert sorted(job_names(path, path.parent)) == sorted([JOB, OTHER_JOB])


# errors and usage ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, exit_code", [
    (["job", "create", "Nightly invoices"], 1),
    (["job", "run-workflow", JOB, "--workflow", "UpdateRoleUtilization"], 1),
    (["run-once"], 4),
    (["invoice", "show", "INV-999999"], 1),
])
def test_errors_with_json_put_only_the_error_document_on_stderr(inv, args, exit_code):
    inv.ok("job", "create", JOB)
    result = inv(*args, "--json")
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert_json_error(result.stdout, result.stderr)


def test_conflict_with_json_is_an_error_document_with_exit_3(inv):
    inv.setup_job()
    result = inv("job", "run-workflow", JOB, "--workflow", "ProcessRunner", "--json")
    assert result.exit_code == 3
    assert_json_error(result.stdout, result.stderr)


@pytest.mark.parametrize("args", [
    ["job", "create", "Nightly invoices"],
    ["run-once"],
    ["invoice", "show", "INV-999999"],
])
def test_errors_without_json_are_one_line_on_stderr_and_nothing_on_stdout(inv, args):
    result = inv(*args)
    assert result.exit_code != 0
    assert_one_line_error(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["job", "frobnicate"],
    ["job", "list", "--frobnicate"],
    ["run-once", "--frobnicate"],
    ["--frobnicate", "job", "list"],
], ids=["unknown-command", "unknown-subcommand", "unknown-option", "unknown-run-once-option", "unknown-root-option"])
@pytest.mark.sqlite_only  # a usage error is Click's, before the store is opened: the same on both
def test_usage_errors_exit_2_with_one_line(inv, args):
    result = inv(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert_one_line_error(result.stderr)
    assert result.stdout == ""


@pytest.mark.sqlite_only  # a usage error is Click's, before the store is opened: the same on both
def test_usage_error_with_json_is_an_error_document_with_exit_2(inv):
    result = inv("job", "list", "--frobnicate", "--json")
    assert result.exit_code == 2
    assert_json_error(result.stdout, result.stderr)


def test_usage_error_in_a_subprocess_has_no_traceback(tmp_path):
    result = cli("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line_error(result.stderr)


# --json on every command ---------------------------------------------------------------------

def _leaf_commands(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _leaf_commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def test_every_command_has_a_json_option():
    missing = [name for name, command in _leaf_commands(typer.main.get_command(app))
               if not any("--json" in p.opts for p in command.params)]
    assert missing == []


# One invocation of each command of the spec, with --json after its name. Whether it
# succeeds or is refused, it must parse (never exit 2) and speak JSON.
EVERY_COMMAND = [
    ["job", "create", JOB],
    ["job", "run-workflow", JOB, "--workflow", "ProcessRunCaller"],
    ["job", "status"],
    ["job", "status", JOB],
    ["job", "stop", JOB],
    ["job", "restart", JOB],
    ["job", "update", JOB, "--inactive"],
    ["job", "list"],
    ["contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
     "--billing-method", "time-and-material"],
    ["contract", "list"],
    ["contract", "show", "C-100"],
    ["contract", "set-line", "1", "--name", "Design 2"],
    ["contract", "import", "-"],
    ["schedule", "add", "1", "--frequency", "daily", "--start", "2026-11-01"],
    ["schedule", "list"],
    ["schedule", "list", "1"],
    ["schedule", "ready", "99"],
    ["schedule", "remove", "99"],
    ["schedule", "import", "-"],
    ["transaction", "add", "1", "--date", "2026-11-02", "--amount", "100"],
    ["transaction", "list"],
    ["transaction", "delete", "99"],
    ["transaction", "import", "-"],
    ["run-once"],
    ["run-once", "--date", "2026-11-20", "--dry-run"],
    ["run", "list"],
    ["invoice", "list"],
    ["invoice", "show", "INV-000001"],
    ["invoice", "confirm", "INV-000099"],
    ["invoice", "cancel", "INV-000099"],
]


def test_every_command_accepts_json_after_its_name(inv):
    for args in EVERY_COMMAND:
        stdin = "" if args[-1] == "-" else None
        result = inv(*args, "--json", input=stdin)
        assert result.exit_code != 2, (args, result.stderr)
        if result.exit_code in (0, 5):
            assert isinstance(json.loads(result.stdout), dict), args
        else:
            assert_json_error(result.stdout, result.stderr)


def test_a_bad_busy_timeout_is_one_clear_line(tmp_path):
    env = dict(os.environ, INVOICER_BUSY_TIMEOUT="abc", INVOICER_TZ="UTC")
    proc = subprocess.run([sys.executable, "-m", "invoicer", "--db", str(tmp_path / "b.db"), "job", "list"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "INVOICER_BUSY_TIMEOUT" in proc.stderr


def test_the_invoicer_command_turns_off_sqlites_count_of_its_allocations():
    """main() calls store.connection.stop_counting_allocations before any connection: the
    count's shared lock costs a month-end a tenth of its time. SQLite counts nothing once
    it is off (sqlite3_memory_used stays 0), as this checks through the library's public
    function; it fails when the hook stops working (Linux on x86-64 and ARM64, where it is made)."""
    import platform

    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("the allocation count is turned off on Linux on x86-64 and ARM64 only")
    probe = """
import ctypes, sqlite3, _sqlite3
import invoicer.cli.app as cli
cli.app = lambda: None  # main() without a command
cli.main()
conn = sqlite3.connect(":memory:")
conn.execute("CREATE TABLE t (x)")
conn.executemany("INSERT INTO t VALUES (?)", [("x" * 100,)] * 1000)
used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
used.restype = ctypes.c_int64
print(used())
"""
    counted = subprocess.run([sys.executable, "-c", probe.replace("cli.main()", "")], capture_output=True, text=True)
    uncounted = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert counted.returncode == 0 and uncounted.returncode == 0, counted.stderr + uncounted.stderr
    assert int(counted.stdout) > 100_000, "without main(), SQLite counts what it allocates"
    assert int(uncounted.stdout) == 0, "main() left SQLite counting its allocations"


def test_a_book_of_schema_8_is_upgraded_to_the_run_s_indexes_its_rows_kept(tmp_path):
    """Migration 9 drops date_schedules_due (every run moved each due schedule's entry in
    it); 10 keys the unbilled transactions' index by line alone; 11 indexes transactions
    by line, in place of the billed ones by invoice line; 12 indexes invoice lines by
    invoice and line. A book of schema 8 (made here
    from a new one, the indexes and version put back) is upgraded by its next command,
    and shows what it billed before as it did."""
    db = _example_book(tmp_path)
    # ProcessRunner: the invoice run at once, as the quick start does
    assert cli("--db", db, "job", "run-workflow", JOB, "--workflow", "ProcessRunner", cwd=tmp_path).returncode == 0
    shown = cli("--db", db, "invoice", "list", "--json", cwd=tmp_path).stdout
    numbers = [invoice["number"] for invoice in json.loads(shown)["invoices"]]
    held = {n: cli("--db", db, "invoice", "show", n, "--json", cwd=tmp_path).stdout for n in numbers}
    assert numbers and all(json.loads(text)["lines"] for text in held.values())

    def indexes() -> dict[str, str]:
        conn = sqlite3.connect(db)
        try:
            return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        finally:
            conn.close()

    unbilled = "CREATE INDEX transactions_unbilled ON transactions(line_id) WHERE invoice_line_id IS NULL"
    by_line = "CREATE INDEX transactions_by_line ON transactions(line_id)"
    by_invoice = "CREATE INDEX invoice_lines_by_invoice ON invoice_lines(invoice_id, line_id)"
    assert "date_schedules_due" not in indexes() and indexes()["transactions_unbilled"] == unbilled
    assert "transactions_by_invoice_line" not in indexes() and indexes()["transactions_by_line"] == by_line
    assert indexes()["invoice_lines_by_invoice"] == by_invoice
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX invoice_lines_by_invoice")
    conn.execute("CREATE INDEX invoice_lines_by_invoice ON invoice_lines(invoice_id)")
    conn.execute("CREATE INDEX date_schedules_due ON schedules(next_run_date) WHERE kind = 'dates'")
    conn.execute("DROP INDEX transactions_unbilled")
    conn.execute("CREATE INDEX transactions_unbilled ON transactions(line_id, date, id) WHERE invoice_line_id IS NULL")
    conn.execute("DROP INDEX transactions_by_line")
    conn.execute("CREATE INDEX transactions_by_invoice_line ON transactions(invoice_line_id) "
                 "WHERE invoice_line_id IS NOT NULL")
    conn.execute("DELETE FROM migrations WHERE version > 8")
    conn.execute("PRAGMA user_version = 8")
    conn.commit()
    conn.close()

    assert job_names(db) == [JOB]
    assert "date_schedules_due" not in indexes() and indexes()["transactions_unbilled"] == unbilled
    assert "transactions_by_invoice_line" not in indexes() and indexes()["transactions_by_line"] == by_line
    assert indexes()["invoice_lines_by_invoice"] == by_invoice
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone() == (12,)
    assert conn.execute("SELECT name FROM migrations WHERE version > 8 ORDER BY version").fetchall() == \
        [("_m009_no_index_of_due_dates",), ("_m010_unbilled_by_line",), ("_m011_billed_by_line",),
         ("_m012_invoice_lines_by_invoice_and_line",)]
    conn.close()
    assert {n: cli("--db", db, "invoice", "show", n, "--json", cwd=tmp_path).stdout for n in numbers} == held
