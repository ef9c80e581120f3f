"""The store on a PostgreSQL server (spec section 12): the connection, its transactions and
its failures in the tool's words, and the schema `invoicer`, created and versioned.

The area modules (book, jobs, runs, ...) are shared by both stores: their SQL is written
once, in what SQLite and PostgreSQL both take, and where the two differ it asks
`self.sql` (dialect.py) for the fragment. What this module translates on the way to the
server is only the mechanics: `?` and `:name` placeholders, SQLite's `temp.` schema,
group_concat (string_agg: every use joins text), IS between values (IS NOT DISTINCT FROM),
the type INTEGER (BIGINT: SQLite's integers are 64-bit, PostgreSQL's INTEGER 32), and
planner hints PostgreSQL does not have.

Every writing transaction holds one transaction-level advisory lock: writers take turns
across hosts as they do on one SQLite file (BEGIN IMMEDIATE), so every rule that holds
for one holds for the other. Waits are bounded by INVOICER_BUSY_TIMEOUT (lock_timeout),
then exit 3."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Self

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader
from psycopg.types.numeric import IntDumper

from invoicer import clock
from invoicer.errors import Conflict, DatabaseFileError, InputError, InvoicerError
from invoicer.store.connection import Connection, busy_timeout
from invoicer.store.dialect import POSTGRESQL
from invoicer.store.postgres_schema import INITIAL, INITIAL_VERSION

SCHEMA = "invoicer"
# COMMENT ON SCHEMA: marks a schema named invoicer as invoicer's.
MARK = "invoicer ledger"
# The advisory lock every writing transaction holds ("INVC" as a 32-bit number).
WRITER_LOCK = 0x494E5643

URI_PREFIXES = ("postgresql://", "postgres://")


def is_uri(target: str) -> bool:
    return target.startswith(URI_PREFIXES)


# user:password@ of a URI: up to its last @ before the path (libpq stops at the first /).
_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:@/]*):([^/]*)@")


def shown(uri: str) -> str:
    """The URI as messages show it: never the password. Said by pattern, not parsed: a
    URI too malformed to parse must not show it either."""
    return _PASSWORD.sub(r"\1@", uri)


def _hidden(text: str, uri: str) -> str:
    """`text` (libpq's reason, which may quote the URI it could not read) without the URI's password."""
    found = _PASSWORD.match(uri)
    text = text.replace(uri, shown(uri))
    if found and found.group(2):
        text = text.replace(found.group(2), "***")
    try:
        password = psycopg.conninfo.conninfo_to_dict(uri).get("password")
    except psycopg.Error:
        password = None
    return text.replace(password, "***") if password else text


def _where(uri: str) -> str:
    """host, port and database of a URI, for a message."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(uri)
    except psycopg.ProgrammingError:
        return shown(uri)
    return (f"host {info.get('host') or 'localhost'}, port {info.get('port') or 5432}, "
            f"database {info.get('dbname') or info.get('user') or '(default)'}")


class _NumericAsInt(Loader):
    """numeric -> int when whole: PostgreSQL sums BIGINT columns as numeric, where SQLite
    gives an integer; every number invoicer stores is an integer."""

    def load(self, data) -> int | Decimal:
        text = bytes(data).decode()
        return Decimal(text) if "." in text or "N" in text else int(text)


class _BoolAsInt(Loader):
    """boolean -> 1 or 0, as SQLite gives a comparison's result."""

    def load(self, data) -> int:
        return 1 if bytes(data) == b"t" else 0


class _BoolDumper(IntDumper):
    """True and False are sent as 1 and 0: flags are INTEGER columns, as on SQLite."""

    def dump(self, obj) -> bytes:
        return b"1" if obj else b"0"


# Outside string literals, identifiers and comments: a placeholder, a PostgreSQL cast (kept),
# a named parameter, a percent sign (psycopg's own placeholder character).
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"[^"]*"|--[^\n]*|::|\?|:([A-Za-z_]\w*)|%""")


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's statement text as psycopg takes it for PostgreSQL."""

    def one(match: re.Match) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return token.replace("%", "%%")  # a literal's percent signs too

    sql = _TOKENS.sub(one, sql)
    sql = re.sub(r"\bgroup_concat\(", "string_agg(", sql)  # of text, as every use is
    # SQLite's IS and IS NOT compare any two values, NULL or not.
    sql = re.sub(r"\bIS NOT (?!NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", "IS DISTINCT FROM ", sql)
    sql = re.sub(r"\bIS (?!NOT\b|NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", "IS NOT DISTINCT FROM ", sql)
    sql = re.sub(r"\bINDEXED BY \w+", "", sql)
    sql = re.sub(r"\bWITHOUT ROWID\b", "", sql)
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)  # a temp table's columns, a CAST: 64 bits, as SQLite's
    sql = re.sub(r"\btemp\.", "pg_temp.", sql)
    # An index is made in its table's schema: it takes no schema name.
    return re.sub(r"\b(CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?)pg_temp\.", r"\1", sql)


class _Link:
    """A psycopg connection behind the few calls the store makes of sqlite3's."""

    def __init__(self, conn: psycopg.Connection):
        self.raw = conn

    def execute(self, sql: str, params=()):
        cursor = self.raw.cursor()
        # Parameters always, none as an empty list: psycopg then reads every %% as %.
        cursor.execute(translate(sql), params if params else [])
        return cursor

    def executemany(self, sql: str, rows):
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), list(rows))
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _said(error: psycopg.Error, where: str, timeout: float) -> InvoicerError | None:
    """What a failure of the server means for the user. None: not one a user can act on."""
    if isinstance(error, pg_errors.LockNotAvailable):
        return Conflict(f"another process is using {where}; gave up waiting after {timeout:g} s "
                        "(INVOICER_BUSY_TIMEOUT), try again")
    if isinstance(error, pg_errors.NumericValueOutOfRange):
        return InvoicerError("the amounts to add up exceed what invoicer can hold "
                             "(9,223,372,036,854,775,807 minor units); nothing was written")
    if isinstance(error, pg_errors.DiskFull):
        return DatabaseFileError(f"the server's disk is full ({where}); nothing was written")
    if isinstance(error, pg_errors.InsufficientPrivilege):
        return DatabaseFileError(f"the server refused: {_reason(error)} ({where}); nothing was written")
    if isinstance(error, psycopg.DataError) and "NUL" in str(error):
        # psycopg's own refusal, before sending: no text on a server holds NUL, so nothing
        # is named so (on a file, such a name is simply not found).
        return InputError("a text given holds a NUL character (\\x00), which no PostgreSQL text can hold: "
                          "nothing has that name, and nothing was written")
    if isinstance(error, psycopg.OperationalError):
        return DatabaseFileError(f"lost the connection to the server ({where}): {_reason(error)}; "
                                 "nothing was written")
    return None


def _reason(error: psycopg.Error) -> str:
    """The server's reason, on one line."""
    text = (error.diag.message_primary if getattr(error, "diag", None) and error.diag.message_primary
            else str(error)) or type(error).__name__
    return " ".join(text.split())


class PostgresConnection(Connection):
    """One connection to the server, and the transactions every command runs in."""

    sql = POSTGRESQL
    integrity_errors = (psycopg.IntegrityError,)

    def __init__(self, uri: str):
        self.path = shown(uri)
        self.where = _where(uri)
        self.busy_timeout = busy_timeout()
        self.committed = False
        self.cannot_write = None
        self.header = b""
        try:
            raw = psycopg.connect(uri, autocommit=True, cursor_factory=psycopg.ClientCursor,
                                  connect_timeout=max(1, round(self.busy_timeout)) if self.busy_timeout else 10,
                                  options=f"-c search_path={SCHEMA}")
        except psycopg.Error as error:
            raise DatabaseFileError(f"cannot connect to the server ({self.where}): "
                                    f"{_hidden(_reason(error), uri)}") from None
        raw.adapters.register_loader("numeric", _NumericAsInt)
        raw.adapters.register_loader("bool", _BoolAsInt)
        raw.adapters.register_dumper(bool, _BoolDumper)
        self.conn = _Link(raw)
        self._db = self.conn  # Connection.db: the server's link takes sqlite-utils' calls
        self._prepare()

    def close(self) -> None:
        self.conn.close()

    def _begin_writing(self) -> None:
        self.conn.execute("BEGIN")
        if self.busy_timeout:
            # lock_timeout 0 would mean "wait for ever"; the least wait is a millisecond.
            self.conn.execute(f"SET LOCAL lock_timeout = '{max(1, round(self.busy_timeout * 1000))}ms'")
            self.conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITER_LOCK])
        elif not self.conn.execute("SELECT pg_try_advisory_xact_lock(?)", [WRITER_LOCK]).fetchone()[0]:
            raise pg_errors.LockNotAvailable("the writer's lock is held")

    @contextmanager
    def writing(self, rollback: bool = False, linked_by_joins: bool = False) -> Iterator[Self]:
        """One write transaction; `rollback=True` runs it and writes nothing (dry runs).
        The server checks every reference, `linked_by_joins` or not.
        A transaction rolled back leaves the ids' sequences where they were too (as
        SQLite's AUTOINCREMENT marks roll back): a dry run takes no run id."""
        with self._translated():
            self._begin_writing()
            sequences = self._sequences()
            try:
                yield self
            except BaseException:
                self._rollback(sequences)
                raise
            if rollback:
                self._rollback(sequences)
            else:
                self.conn.execute("COMMIT")
                self.committed = True

    def _sequences(self) -> dict[str, int | None]:
        """The last value of each sequence of the schema (None: none taken yet)."""
        return dict(self.conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = ?", [SCHEMA]).fetchall())

    def _put_back(self, before: dict[str, int | None]) -> None:
        """Set the sequences this transaction moved back where they were, before its
        rollback: setval is not undone by one, and the writer's lock, held until then,
        keeps every other writer from taking a value meanwhile. A transaction a failed
        statement aborted can run nothing more: its sequences stay moved (gaps, never
        duplicates)."""
        if self.conn.raw.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
            return
        for name, last in self._sequences().items():
            if last != before.get(name):
                if before.get(name) is None:
                    self.conn.execute("SELECT setval(?, (SELECT start_value FROM pg_sequences "
                                      "WHERE schemaname = ? AND sequencename = ?), false)", [name, SCHEMA, name])
                else:
                    self.conn.execute("SELECT setval(?, ?)", [name, before[name]])

    def imported(self, *tables: str) -> None:
        """The server plans by its statistics of each table, which autovacuum refreshes only
        a while after a bulk write: the next import's joins on a table just filled were
        planned for a table of one row (a schedule import of 2,000 rows after its contract
        import took 3 s, matching every line by name alone). ANALYZE samples at most 30,000
        rows a table, in this transaction (it sees its rows)."""
        self.conn.execute(f"ANALYZE {', '.join(tables)}")

    def _ids_taken(self) -> dict[str, int | None]:
        return self._sequences()

    def _ids_put_back(self, taken: dict[str, int | None]) -> None:
        """A rollback to a savepoint leaves the sequences moved, as a rollback does: the ids
        an insert refused whole took are taken back, as SQLite's are (the writer's lock is
        held: no other writer took one meanwhile)."""
        self._put_back(taken)

    @contextmanager
    def reading(self, checked: bool = True) -> Iterator[Self]:
        """One read transaction, one snapshot of the book."""
        with self._translated():
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                yield self
            finally:
                self._rollback()

    def _rollback(self, sequences: dict[str, int | None] | None = None) -> None:
        if not self.conn.raw.closed and self.conn.in_transaction:
            try:
                if sequences is not None:
                    self._put_back(sequences)
                self.conn.execute("ROLLBACK")
            except psycopg.OperationalError:
                pass  # the connection is gone, and its transaction with it

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            said = _said(error, self.where, self.busy_timeout)
            if said is None:
                raise
            raise said from None

    def max_parameters(self) -> int:
        return 30_000  # values interpolated by psycopg's client-side cursor: a statement's size, not a limit

    def changes(self, cursor) -> int:
        return cursor.rowcount

    def _refuse_if_damaged(self, writing: bool = True) -> None:
        """The server keeps its pages whole itself (and says so, failing a statement)."""


class PostgresSchema(PostgresConnection):
    """The schema `invoicer`: created on first use, versioned in its `migrations` table."""

    def _identity(self) -> tuple[bool, str | None, int]:
        """(whether the schema exists, its comment, its version: 0 without migrations)."""
        row = self.conn.execute(
            """SELECT obj_description(n.oid, 'pg_namespace'),
                      to_regclass(? || '.migrations') IS NOT NULL
                 FROM pg_namespace n WHERE n.nspname = ?""", [SCHEMA, SCHEMA]).fetchone()
        if row is None:
            return False, None, 0
        comment, has_migrations = row
        version = self.conn.execute("SELECT coalesce(max(version), 0) FROM migrations").fetchone()[0] \
            if has_migrations else 0
        return True, comment, version

    def _check_identity(self, exists: bool, comment: str | None, version: int) -> None:
        if not exists:
            return
        if comment != MARK:
            raise DatabaseFileError(f"the schema {SCHEMA!r} of {self.path} is not invoicer's "
                                    "(its comment does not mark it as an invoicer ledger); nothing was touched")
        from invoicer.store.schema import SCHEMA_VERSION

        if version > SCHEMA_VERSION:
            raise DatabaseFileError(
                f"{self.path} was written by a newer invoicer (schema {version}; "
                f"this one knows up to {SCHEMA_VERSION}): upgrade invoicer")

    def _prepare(self, read_only: bool = False) -> None:
        from invoicer.store.schema import SCHEMA_VERSION

        with self._translated():
            exists, comment, version = self._identity()
            self._check_identity(exists, comment, version)
            if exists and version == SCHEMA_VERSION:
                return
            self._begin_writing()
            try:
                exists, comment, version = self._identity()
                self._check_identity(exists, comment, version)
                if not exists:
                    self.conn.execute(f"CREATE SCHEMA {SCHEMA}")
                    self.conn.raw.execute(f"COMMENT ON SCHEMA {SCHEMA} IS '{MARK}'")  # as is: not translated
                if version == 0:
                    for statement in INITIAL.split(";\n"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.conn.execute("INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                      [INITIAL_VERSION, f"initial (schema {INITIAL_VERSION})", clock.stamp()])
                    version = INITIAL_VERSION
                for number, migration in enumerate(POSTGRES_MIGRATIONS[version - INITIAL_VERSION:],
                                                   start=version + 1):
                    migration(self.conn)
                    self.conn.execute("INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                      [number, migration.__name__, clock.stamp()])
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    INTEGRITY_CHECKED = "kept by the server (it checks every constraint as it writes; nothing to scan)"

    def integrity_problems(self) -> list[str]:
        """The server checks every constraint as it writes; nothing for invoicer to scan."""
        return []

    def count_closed_lines(self) -> int:
        return self.conn.execute("SELECT count(*) FROM contract_lines WHERE closed = 1").fetchone()[0]

    def count_undone_runs(self) -> int:
        return self.conn.execute("SELECT count(*) FROM runs WHERE undone_at IS NOT NULL").fetchone()[0]


def _m009_no_index_of_due_dates(conn) -> None:
    """schema._m009_no_index_of_due_dates: the same index goes here too."""
    conn.execute("DROP INDEX date_schedules_due")


def _m010_unbilled_by_line(conn) -> None:
    """schema._m010_unbilled_by_line."""
    conn.execute("DROP INDEX transactions_unbilled")
    conn.execute("CREATE INDEX transactions_unbilled ON transactions(line_id) WHERE invoice_line_id IS NULL")


def _m011_billed_by_line(conn) -> None:
    """schema._m011_billed_by_line."""
    conn.execute("DROP INDEX transactions_by_invoice_line")
    conn.execute("CREATE INDEX transactions_by_line ON transactions(line_id)")


def _m012_invoice_lines_by_invoice_and_line(conn) -> None:
    """schema._m012_invoice_lines_by_invoice_and_line."""
    conn.execute("DROP INDEX invoice_lines_by_invoice")
    conn.execute("CREATE INDEX invoice_lines_by_invoice ON invoice_lines(invoice_id, line_id)")


# Migrations after INITIAL_VERSION, in order: the PostgreSQL side of each SQLite migration
# from 9 on. Append, never edit; SCHEMA_VERSION - INITIAL_VERSION of them.
POSTGRES_MIGRATIONS: list = [_m009_no_index_of_due_dates, _m010_unbilled_by_line, _m011_billed_by_line,
                             _m012_invoice_lines_by_invoice_and_line]
