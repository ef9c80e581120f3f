"""The only module that speaks SQL: the schema and its migrations, the transactions every
command runs in, and the reads and writes of the book, the batch job and the invoice run.

Money is stored as integer minor units, dates as ISO text, moments as UTC ISO text."""

import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from sqlite_utils import Database

from invoicer import clock
from invoicer.errors import Conflict, DatabaseFileError, InvoicerError, NotFound
from invoicer.model import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    FIXED_PRICE,
    Customer,
    DateSchedule,
    Instance,
    Invoice,
    InvoiceLine,
    Job,
    Line,
    Milestone,
    RefHolder,
    Run,
    Seller,
    Skip,
    Transaction,
)
from invoicer.money import from_minor
from invoicer.tax import breakdown, rate_from_store, rate_to_store, seller_reason

APPLICATION_ID = 0x494E5643  # "INVC": marks a file as an invoicer database
DEFAULT_BUSY_TIMEOUT_SECONDS = 10.0


def busy_timeout() -> float:
    """How long a command waits for a busy database: $INVOICER_BUSY_TIMEOUT seconds."""
    text = os.environ.get("INVOICER_BUSY_TIMEOUT")
    if text is None:
        return DEFAULT_BUSY_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise InvoicerError(f"INVOICER_BUSY_TIMEOUT: {text!r} is not a number of seconds (0 to 86400)")
    return seconds


def _m001_initial(db: Database) -> None:
    for statement in _SCHEMA_1.split(";\n"):
        if statement.strip():
            db.execute(statement)


_SCHEMA_1 = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    job_type TEXT NOT NULL,
    frequency TEXT NOT NULL,
    active INTEGER NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE TABLE workflow_instances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL UNIQUE REFERENCES jobs(id),
    workflow TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'stopped')),
    started_at TEXT NOT NULL,
    stopped_at TEXT
) STRICT;
CREATE UNIQUE INDEX one_running_instance ON workflow_instances(state) WHERE state = 'running';
CREATE TABLE contracts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    customer TEXT NOT NULL,
    currency TEXT NOT NULL
) STRICT;
CREATE TABLE contract_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id INTEGER NOT NULL REFERENCES contracts(id),
    name TEXT NOT NULL,
    billing_method TEXT NOT NULL CHECK (billing_method IN ('fixed-price', 'time-and-material')),
    amount INTEGER,
    not_to_exceed INTEGER,
    project TEXT,
    processed_through TEXT,
    UNIQUE (contract_id, name)
) STRICT;
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    contract_id INTEGER NOT NULL REFERENCES contracts(id),
    run_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'confirmed', 'cancelled')),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    created_at TEXT NOT NULL,
    changed_at TEXT
) STRICT;
CREATE INDEX invoices_by_run ON invoices(run_id);
CREATE INDEX invoices_by_contract ON invoices(contract_id, run_date);
CREATE TABLE invoice_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id INTEGER NOT NULL REFERENCES invoices(id),
    line_id INTEGER NOT NULL REFERENCES contract_lines(id),
    name TEXT NOT NULL,
    amount INTEGER NOT NULL,
    items INTEGER NOT NULL
) STRICT;
CREATE INDEX invoice_lines_by_invoice ON invoice_lines(invoice_id);
CREATE INDEX invoice_lines_by_line ON invoice_lines(line_id);
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line_id INTEGER NOT NULL REFERENCES contract_lines(id),
    kind TEXT NOT NULL CHECK (kind IN ('dates', 'milestone')),
    frequency TEXT,
    rrule TEXT,
    dates TEXT,
    start TEXT,
    "end" TEXT,
    next_run_date TEXT,
    name TEXT,
    date TEXT,
    amount INTEGER,
    percent TEXT,
    ready INTEGER,
    invoice_line_id INTEGER REFERENCES invoice_lines(id)
) STRICT;
CREATE UNIQUE INDEX one_date_schedule_per_line ON schedules(line_id) WHERE kind = 'dates';
CREATE INDEX milestones_by_line ON schedules(line_id) WHERE kind = 'milestone';
CREATE INDEX date_schedules_due ON schedules(next_run_date) WHERE kind = 'dates';
CREATE INDEX milestones_unbilled ON schedules(date) WHERE kind = 'milestone' AND invoice_line_id IS NULL;
CREATE INDEX milestones_by_invoice_line ON schedules(invoice_line_id) WHERE invoice_line_id IS NOT NULL;
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line_id INTEGER NOT NULL REFERENCES contract_lines(id),
    date TEXT NOT NULL,
    amount INTEGER NOT NULL,
    type TEXT NOT NULL,
    quantity TEXT,
    description TEXT,
    invoice_line_id INTEGER REFERENCES invoice_lines(id)
) STRICT;
CREATE INDEX transactions_unbilled ON transactions(line_id, date, id) WHERE invoice_line_id IS NULL;
CREATE INDEX transactions_by_invoice_line ON transactions(invoice_line_id) WHERE invoice_line_id IS NOT NULL;
CREATE TABLE cancelled_items (
    invoice_line_id INTEGER NOT NULL REFERENCES invoice_lines(id),
    item_id INTEGER NOT NULL,
    date TEXT NOT NULL,
    amount INTEGER NOT NULL,
    type TEXT,
    quantity TEXT,
    description TEXT,
    name TEXT,
    percent TEXT
) STRICT;
CREATE INDEX cancelled_items_by_invoice_line ON cancelled_items(invoice_line_id);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id INTEGER REFERENCES workflow_instances(id),
    workflow TEXT,
    run_date TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    forced INTEGER NOT NULL
) STRICT;
CREATE INDEX runs_by_date ON runs(run_date);
CREATE INDEX runs_by_instance ON runs(instance_id, ended_at);
CREATE TABLE run_skips (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    line_id INTEGER NOT NULL REFERENCES contract_lines(id),
    reason TEXT NOT NULL,
    run_date TEXT,
    detail TEXT
) STRICT;
CREATE INDEX run_skips_by_run ON run_skips(run_id);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('invoice_number', 0)
"""


def _m002_parties_and_tax(db: Database) -> None:
    """The seller and the customers' records; each contract line's own tax and each invoice
    line's tax as it was when invoiced (rates in hundredths of a percent); and the parties
    as they were when an invoice was confirmed (JSON, for its documents)."""
    for statement in _SCHEMA_2.split(";\n"):
        if statement.strip():
            db.execute(statement)


_SCHEMA_2 = """
CREATE TABLE seller (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT, country TEXT, street TEXT, city TEXT, postcode TEXT, vat_id TEXT, tax_registration TEXT,
    legal_id TEXT, email TEXT, electronic_address TEXT, iban TEXT, bic TEXT,
    payment_terms_days INTEGER, tax_category TEXT, tax_rate INTEGER
) STRICT;
CREATE TABLE customers (
    name TEXT PRIMARY KEY,
    country TEXT, street TEXT, city TEXT, postcode TEXT, vat_id TEXT, legal_id TEXT, email TEXT,
    electronic_address TEXT, payment_terms_days INTEGER, reference TEXT
) STRICT;
ALTER TABLE contract_lines ADD COLUMN tax_category TEXT;
ALTER TABLE contract_lines ADD COLUMN tax_rate INTEGER;
ALTER TABLE contract_lines ADD COLUMN tax_exemption_reason TEXT;
ALTER TABLE invoice_lines ADD COLUMN tax_category TEXT;
ALTER TABLE invoice_lines ADD COLUMN tax_rate INTEGER;
ALTER TABLE invoice_lines ADD COLUMN tax_exemption_reason TEXT;
ALTER TABLE invoices ADD COLUMN parties TEXT
"""

def _m003_skip_spans(db: Database) -> None:
    """A skip record stands for every run date of a run at which a line was passed over for
    one reason (with one detail): from run_date to last_run_date, `count` of them. A
    catch-up of centuries writes a record a line, not one a run date."""
    db.execute("ALTER TABLE run_skips ADD COLUMN last_run_date TEXT")
    db.execute("ALTER TABLE run_skips ADD COLUMN count INTEGER NOT NULL DEFAULT 1")
    db.execute("UPDATE run_skips SET last_run_date = run_date")
    db.execute("CREATE INDEX run_skips_by_line ON run_skips(line_id, run_date)")


def _m004_corrections(db: Database) -> None:
    """Section 7: credit notes, issue and due dates, run undo, closed lines. The invoices
    table is rebuilt (SQLite's way to drop a NOT NULL): a credit note has no run."""
    sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'invoices'").fetchone()
    for statement in _SCHEMA_4.split(";\n"):
        if statement.strip():
            db.execute(statement)
    if sequence:  # AUTOINCREMENT's high-water mark: numbers and ids are never reused
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'invoices'")
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('invoices', ?)", [sequence[0]])


_SCHEMA_4 = """
CREATE TABLE invoices_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    contract_id INTEGER NOT NULL REFERENCES contracts(id),
    run_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'confirmed', 'cancelled')),
    run_id INTEGER REFERENCES runs(id),
    created_at TEXT NOT NULL,
    changed_at TEXT,
    type TEXT NOT NULL DEFAULT 'invoice' CHECK (type IN ('invoice', 'credit-note')),
    credits_id INTEGER REFERENCES invoices(id),
    issue_date TEXT,
    due_date TEXT,
    write_off INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    parties TEXT,
    CHECK ((type = 'invoice') = (run_id IS NOT NULL)),
    CHECK ((type = 'credit-note') = (credits_id IS NOT NULL))
) STRICT;
INSERT INTO invoices_rebuilt (id, number, contract_id, run_date, status, run_id, created_at, changed_at, parties)
    SELECT id, number, contract_id, run_date, status, run_id, created_at, changed_at, parties FROM invoices;
DROP TABLE invoices;
ALTER TABLE invoices_rebuilt RENAME TO invoices;
CREATE INDEX invoices_by_run ON invoices(run_id);
CREATE INDEX invoices_by_contract ON invoices(contract_id, run_date);
CREATE INDEX invoices_drafts ON invoices(run_date) WHERE status = 'draft';
CREATE INDEX credit_notes_by_invoice ON invoices(credits_id) WHERE credits_id IS NOT NULL;
INSERT INTO counters (name, value) VALUES ('credit_note_number', 0);
CREATE TABLE credited_items (
    credit_line_id INTEGER NOT NULL REFERENCES invoice_lines(id),
    kind TEXT NOT NULL CHECK (kind IN ('t', 'm')),
    item_id INTEGER NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    source_line_id INTEGER NOT NULL REFERENCES invoice_lines(id),
    date TEXT NOT NULL,
    name TEXT,
    percent TEXT,
    PRIMARY KEY (credit_line_id, kind, item_id)
) STRICT;
CREATE INDEX credited_items_by_item ON credited_items(kind, item_id);
CREATE INDEX credited_items_by_source ON credited_items(source_line_id);
ALTER TABLE transactions ADD COLUMN returned_from INTEGER REFERENCES invoices(id);
ALTER TABLE contract_lines ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN undone_at TEXT;
CREATE TABLE run_moves (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    line_id INTEGER NOT NULL REFERENCES contract_lines(id),
    schedule_id INTEGER NOT NULL,
    processed_through TEXT,
    next_run_date TEXT,
    PRIMARY KEY (run_id, line_id)
) STRICT
"""

def _m005_hand_over(db: Database) -> None:
    """When each document was handed over by an `invoice export --new`, by format."""
    db.execute(
        """CREATE TABLE hand_overs (
               invoice_id INTEGER NOT NULL REFERENCES invoices(id),
               format TEXT NOT NULL,
               handed_over_at TEXT NOT NULL,
               PRIMARY KEY (invoice_id, format)
           ) STRICT""")


def _m006_transaction_refs(db: Database) -> None:
    """Repeatable imports (spec section 11): a transaction's ref, unique in the book; the
    refs of deleted transactions, with the values they had (a ref stays taken); and the
    SHA-256 of what each transaction import read."""
    for statement in (
        "ALTER TABLE transactions ADD COLUMN ref TEXT",
        # Partial: rows without a ref cost the import nothing here.
        "CREATE UNIQUE INDEX transactions_by_ref ON transactions(ref) WHERE ref IS NOT NULL",
        """CREATE TABLE deleted_refs (
            ref TEXT PRIMARY KEY,
            transaction_id INTEGER NOT NULL,
            line_id INTEGER NOT NULL REFERENCES contract_lines(id),
            date TEXT NOT NULL,
            amount INTEGER NOT NULL,
            type TEXT NOT NULL,
            quantity TEXT,
            description TEXT,
            deleted_at TEXT NOT NULL
        ) STRICT""",
        """CREATE TABLE transaction_imports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sha256 TEXT NOT NULL,
            rows INTEGER NOT NULL,
            imported_at TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX transaction_imports_by_sha256 ON transaction_imports(sha256)",
    ):
        db.execute(statement)


# Numbered migrations, applied in order; each one's number is recorded in `migrations`
# and in PRAGMA user_version. Append, never edit.
MIGRATIONS = [_m001_initial, _m002_parties_and_tax, _m003_skip_spans, _m004_corrections, _m005_hand_over, _m006_transaction_refs]
SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """One open database. Use `writing()` or `reading()` around each command."""

    def __init__(self, path: str):
        self.path = path
        self.busy_timeout = busy_timeout()
        self.committed = False  # whether a write transaction of this command was committed
        # Why this book can be read but not written here (a read-only folder, a full disk):
        # then writing() refuses with it, and reads use a read-only connection.
        self.cannot_write: str | None = None
        # Read before SQLite opens the file, never after: closing a descriptor of a file
        # drops every POSIX lock the process holds on it, SQLite's too.
        self.header = _header(path)
        if self.header.startswith(_SQLITE_MAGIC) and (self.header[18] > 2 or self.header[19] > 2):
            # SQLite would read it and call every write "read-only".
            raise DatabaseFileError(f"{path} is damaged: its header gives file format versions "
                                    f"{self.header[18]}/{self.header[19]}, which no SQLite writes "
                                    "(restore it from a backup)")
        try:
            self.conn = _connect(path, self.busy_timeout, self.header)
            self.db = Database(self.conn, execute_plugins=False, recursive_triggers=False)
            self._prepare()
        except _CannotWriteHere as reason:
            if hasattr(self, "conn"):
                self.conn.close()
            self.conn = _connect_read_only(path, self.busy_timeout, str(reason))
            self.db = Database(self.conn, execute_plugins=False, recursive_triggers=False)
            self.cannot_write = str(reason)
            self._prepare(read_only=True)

    def close(self) -> None:
        self.conn.close()

    # transactions --------------------------------------------------------------------

    @contextmanager
    def writing(self, rollback: bool = False) -> Iterator["Store"]:
        """One write transaction; `rollback=True` runs it and writes nothing (dry runs)."""
        if self.cannot_write:
            raise DatabaseFileError(f"{self.cannot_write}; nothing was written")
        with self._translated():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._refuse_if_damaged()
                yield self
            except BaseException:
                self._rollback()
                raise
            if rollback:
                self._rollback()
            else:
                self.conn.execute("COMMIT")
                self.committed = True

    @contextmanager
    def behind(self) -> Iterator["Behind"]:
        """Inserts run on a worker thread, in this transaction: SQLite works through one
        batch (Python's lock released) while the caller checks the next. Leaving the block
        waits for the last one; its error, if any, is raised then."""
        behind = Behind(self)
        # The worker needs Python's lock back each time SQLite is done; the checking thread
        # would hold it for up to 5 ms (the default) before handing it over.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        try:
            yield behind
            behind.settle()
        except BaseException:
            behind.cancel()
            raise
        finally:
            sys.setswitchinterval(switch)

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk, say): then the original error,
        # not "no transaction is active", is what the user must see.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _refuse_if_damaged(self, writing: bool = True) -> None:
        """Never write into a damaged ledger, nor read from one as if it were whole: a listing
        of the pages that survived would look complete. quick_check reads every page (about
        0.2 s for a book of a million transactions), where a command may touch only a few."""
        finding = self.conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if finding != "ok":
            raise DatabaseFileError(f"{self.path} is damaged ({finding}); "
                                    + ("nothing was written " if writing else "what it holds cannot be trusted ")
                                    + "(see `invoicer doctor`, and restore it from a backup)")

    @contextmanager
    def reading(self, checked: bool = True) -> Iterator["Store"]:
        """One read transaction; `checked=False` reads a damaged file too (doctor)."""
        with self._translated():
            self.conn.execute("BEGIN")
            try:
                if checked:
                    self._refuse_if_damaged(writing=False)
                yield self
            finally:
                self._rollback()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """sqlite3's failures, said as the user's problem; "database is locked" never raw."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            said = _said(error, self.path, self.busy_timeout, self.header)
            if said is None:
                raise
            if isinstance(said, _CannotWriteHere):
                said = DatabaseFileError(f"{said}; nothing was written")
            raise said from None

    # schema ----------------------------------------------------------------------------

    def _prepare(self, read_only: bool = False) -> None:
        with self._opening():
            app_id, version, objects = self._identity()
            if app_id == APPLICATION_ID and version == SCHEMA_VERSION:
                if not read_only:
                    self._ensure_wal()
                return
            self._check_identity(app_id, version, objects)
            if read_only:
                raise DatabaseFileError(f"{self.path} needs its schema upgraded, and {self.cannot_write}")
            # Off while migrating (it cannot change inside a transaction): a migration may
            # rebuild a table that others refer to; foreign_key_check below vouches for it.
            self.conn.execute("PRAGMA foreign_keys = OFF")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                app_id, version, objects = self._identity()
                self._check_identity(app_id, version, objects)
                if version == 0:
                    self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self.db.execute(
                        "CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT"
                    )
                for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                    migration(self.db)
                    self.db["migrations"].insert(
                        {"version": number, "name": migration.__name__, "applied_at": clock.stamp()}
                    )
                    self.db.execute(f"PRAGMA user_version = {number}")
                broken = self.conn.execute("PRAGMA foreign_key_check").fetchone()
                if broken:
                    raise DatabaseFileError(f"{self.path} is damaged: a row of {broken[0]} refers to a "
                                            f"missing row of {broken[2]}; nothing was migrated")
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            finally:
                self.conn.execute("PRAGMA foreign_keys = ON")
            if version == 0:
                self.conn.execute("PRAGMA journal_mode = WAL")

    def _ensure_wal(self) -> None:
        """Every open makes sure of the journal mode, not only the first: a first command
        killed between its schema and its switch to WAL left a rollback-journal book."""
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.conn.execute("PRAGMA journal_mode = WAL")

    @contextmanager
    def _opening(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise _said(error, self.path, self.busy_timeout, self.header, opening=True) from None

    def _identity(self) -> tuple[int, int, int]:
        app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        objects = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return app_id, version, objects

    def _check_identity(self, app_id: int, version: int, objects: int) -> None:
        if app_id == APPLICATION_ID:
            if version < 0 or (version == 0 and objects):
                raise DatabaseFileError(f"{self.path} is damaged: an invoicer database without a valid "
                                        "schema version (restore it from a backup)")
            if version > SCHEMA_VERSION:
                raise DatabaseFileError(
                    f"{self.path} was written by a newer invoicer (schema {version}; "
                    f"this one knows up to {SCHEMA_VERSION}): upgrade invoicer"
                )
        elif app_id != 0 or objects:
            raise DatabaseFileError(f"{self.path} is not an invoicer database")

    # jobs and workflow instances ---------------------------------------------------------

    def add_job(self, name: str, job_type: str, frequency: str, active: bool) -> Job:
        existing = self._one("SELECT name FROM jobs WHERE name = ?", [name])  # NOCASE: unique whatever the case
        if existing:
            alike = "" if existing["name"] == name else " (job names are unique whatever their case)"
            raise InvoicerError(f"name: a job named {existing['name']!r} already exists{alike}")
        self.db["jobs"].insert(
            {"name": name, "job_type": job_type, "frequency": frequency,
             "active": int(active), "created_at": clock.stamp()}
        )
        return self.job(name)

    def jobs(self) -> list[Job]:
        return [_job(row) for row in self._rows("SELECT * FROM jobs ORDER BY name")]

    def job(self, name: str) -> Job:
        row = self._one("SELECT * FROM jobs WHERE name = ?", [name])
        if row is None:
            raise NotFound(f"no job named {name!r} (see `invoicer job list`)")
        return _job(row)

    def set_job_active(self, job: Job, active: bool) -> None:
        self.db.execute("UPDATE jobs SET active = ? WHERE id = ?", [int(active), job.id])

    _INSTANCE = """
        SELECT w.*, j.name AS job_name, j.active AS job_active,
               (SELECT max(r.ended_at) FROM runs r
                 WHERE r.instance_id = w.id AND r.undone_at IS NULL) AS last_end
          FROM workflow_instances w JOIN jobs j ON j.id = w.job_id
    """

    def instance(self, job: Job) -> Instance | None:
        row = self._one(self._INSTANCE + " WHERE w.job_id = ?", [job.id])
        return _instance(row) if row else None

    def running_instance(self) -> Instance | None:
        row = self._one(self._INSTANCE + " WHERE w.state = 'running'", [])
        return _instance(row) if row else None

    def start_instance(self, job: Job, workflow: str) -> None:
        """A fresh start: a job's one instance row is (re)used, started now."""
        self.db.execute(
            """INSERT INTO workflow_instances (job_id, workflow, state, started_at)
               VALUES (?, ?, 'running', ?)
               ON CONFLICT (job_id) DO UPDATE SET workflow = excluded.workflow,
                   state = 'running', started_at = excluded.started_at, stopped_at = NULL""",
            [job.id, workflow, clock.stamp()],
        )

    def stop_instance(self, instance: Instance) -> None:
        self.db.execute(
            "UPDATE workflow_instances SET state = 'stopped', stopped_at = ? WHERE id = ?",
            [clock.stamp(), instance.id],
        )

    # contracts and lines --------------------------------------------------------------

    def contract(self, name: str) -> dict | None:
        return self._one("SELECT * FROM contracts WHERE name = ?", [name])

    def has_customer(self, customer: str) -> bool:
        return bool(self._one("SELECT 1 FROM contracts WHERE customer = ?", [customer]))

    def contracts_by_name(self, names: Iterable[str]) -> dict[str, dict]:
        """Many contracts in one query, by name; those that do not exist are left out."""
        rows = self._rows("""SELECT c.* FROM json_each(?) k CROSS JOIN contracts c WHERE c.name = k.value""",
                          [json.dumps(list(names))])
        return {row["name"]: row for row in rows}

    def add_lines(self, contracts: list[tuple], lines: list[tuple]) -> None:
        """Insert new contracts (name, customer, currency), then contract lines (contract
        name, name, billing method, amount, not to exceed, project, tax category, tax rate
        in hundredths, tax exemption reason), each in order, in one statement each: imports
        write a batch of thousands at a time."""
        if contracts:
            self.conn.execute(_insert_each("contracts", "name, customer, currency"), [json.dumps(contracts)])
        self.conn.execute(
            f"""INSERT INTO contract_lines (contract_id, name, billing_method, amount, not_to_exceed, project,
                                            tax_category, tax_rate, tax_exemption_reason)
                SELECT c.id, {_json_values(8, first=1, row="k.value")}
                  FROM json_each(?) k CROSS JOIN contracts c
                 WHERE c.name = json_extract(k.value, '$[0]') ORDER BY k.key""",
            [json.dumps(lines)])

    def update_line(self, line_id: int, changes: dict) -> None:
        if changes:
            self.db["contract_lines"].update(line_id, changes)

    # The fields of a Line, in its order: rows are made Lines positionally, as imports fetch
    # many at a time.
    _LINE_FIELDS = ("l.id, c.name, c.customer, c.currency, l.name, l.billing_method, l.amount, l.not_to_exceed, "
                    "l.project, l.tax_category, l.tax_rate, l.tax_exemption_reason, l.closed")
    _LINE = f"SELECT {_LINE_FIELDS} FROM contract_lines l JOIN contracts c ON c.id = l.contract_id"

    def line(self, line_id: int) -> Line:
        row = self.conn.execute(self._LINE + " WHERE l.id = ?", [line_id]).fetchone()
        if row is None:
            raise NotFound(f"line_id: no contract line with id {line_id} (see `invoicer contract list`)")
        return _line(row)

    def line_by_name(self, contract: str, name: str) -> Line:
        row = self.conn.execute(self._LINE + " WHERE c.name = ? AND l.name = ?", [contract, name]).fetchone()
        if row is None:
            raise NotFound(f"line: contract {contract!r} has no line named {name!r}")
        return _line(row)

    def lines_by_names(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Line]:
        """Many lines in one query, by (contract, line name); those that do not exist are left out."""
        rows = self.conn.execute(
            f"""SELECT {self._LINE_FIELDS}
                  FROM json_each(?) k CROSS JOIN contracts c CROSS JOIN contract_lines l
                 WHERE c.name = json_extract(k.value, '$[0]') AND l.contract_id = c.id
                   AND l.name = json_extract(k.value, '$[1]')""",
            [json.dumps(list(keys))])
        return {(line.contract, line.name): line for line in map(_line, rows)}

    def lines_by_ids(self, ids: Iterable[int]) -> dict[int, Line]:
        """Many lines in one query, by id; those that do not exist are left out."""
        rows = self.conn.execute(self._LINE + " WHERE l.id IN (SELECT value FROM json_each(?))",
                                 [json.dumps(list(ids))])
        return {line.id: line for line in map(_line, rows)}

    def line_exists(self, contract_id: int, name: str) -> bool:
        return bool(self._one("SELECT 1 FROM contract_lines WHERE contract_id = ? AND name = ?", [contract_id, name]))

    def lines(self, contract: str | None = None) -> list[Line]:
        where, params = ("WHERE c.name = ?", [contract]) if contract else ("", [])
        return [_line(row) for row in self.conn.execute(self._LINE + f" {where} ORDER BY c.name, l.id", params)]

    def unbilled_minor(self, line_id: int, through: date | None) -> tuple[int, int, int, int]:
        """(count, sum) of a line's unbilled transactions, and of those dated up to `through`."""
        row = self.conn.execute(
            """SELECT count(*), coalesce(sum(amount), 0),
                      count(*) FILTER (WHERE date <= :through), coalesce(sum(amount) FILTER (WHERE date <= :through), 0)
                 FROM transactions WHERE line_id = :line AND invoice_line_id IS NULL""",
            {"line": line_id, "through": _iso(through)}).fetchone()
        return row[0], row[1], row[2], row[3]

    def billed_minor(self, line_id: int) -> int:
        """What a line has billed on invoices not cancelled."""
        return self.conn.execute(f"SELECT {self._BILLED.format(line='?')}", [line_id]).fetchone()[0]

    # What the line named by {line} has billed on invoices not cancelled, less what its
    # confirmed credit notes credited (their lines are negative): what its not-to-exceed
    # limit counts.
    _BILLED = """coalesce((SELECT sum(il.amount) FROM invoice_lines il JOIN invoices i ON i.id = il.invoice_id
                          WHERE il.line_id = {line} AND i.status != 'cancelled'
                            AND (i.type = 'invoice' OR i.status = 'confirmed')), 0)"""

    # the parties ---------------------------------------------------------------------------

    _SELLER_COLUMNS = ", ".join(Seller._fields)
    _CUSTOMER_COLUMNS = ", ".join(Customer._fields)

    def seller(self) -> Seller:
        """The seller's record; every value None if it was never set."""
        row = self.conn.execute(f"SELECT {self._SELLER_COLUMNS} FROM seller WHERE id = 1").fetchone()
        return _seller(row) if row else Seller()

    def put_seller(self, seller: Seller) -> None:
        values = [*seller[:-1], rate_to_store(seller.tax_rate)]
        self.conn.execute(
            f"""INSERT INTO seller (id, {self._SELLER_COLUMNS}) VALUES (1, {", ".join("?" * len(values))})
                ON CONFLICT (id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in Seller._fields)}""",
            values)

    def customer(self, name: str) -> Customer | None:
        row = self.conn.execute(f"SELECT {self._CUSTOMER_COLUMNS} FROM customers WHERE name = ?", [name]).fetchone()
        return Customer(*row) if row else None

    def customers(self) -> list[Customer]:
        return [Customer(*row) for row in
                self.conn.execute(f"SELECT {self._CUSTOMER_COLUMNS} FROM customers ORDER BY name")]

    def put_customer(self, customer: Customer) -> None:
        self.conn.execute(
            f"""INSERT INTO customers ({self._CUSTOMER_COLUMNS}) VALUES ({", ".join("?" * len(customer))})
                ON CONFLICT (name) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in Customer._fields[1:])}""",
            list(customer))

    # The parties' records as an invoice's confirmation keeps them: JSON objects of their
    # columns as stored (a rate in hundredths), for the `parties` column of `invoices`.
    _PARTIES_SNAPSHOT = (
        "json_object('seller', CASE WHEN s.id IS NULL THEN NULL ELSE json_object("
        + ", ".join(f"'{c}', s.{c}" for c in Seller._fields) + ") END, "
        "'customer', CASE WHEN cu.name IS NULL THEN NULL ELSE json_object("
        + ", ".join(f"'{c}', cu.{c}" for c in Customer._fields) + ") END)")

    def invoice_parties(self, number: str) -> tuple[Seller, Customer | None]:
        """The seller's and the customer's records for an invoice: as they were when it was
        confirmed, for a confirmed (or since cancelled) one; as they are now for a draft."""
        row = self._one(
            """SELECT i.parties, c.customer FROM invoices i JOIN contracts c ON c.id = i.contract_id
                WHERE i.number = ?""", [number])
        if row is None:
            raise NotFound(f"number: no invoice {number!r} (see `invoicer invoice list`)")
        if row["parties"] is None:
            return self.seller(), self.customer(row["customer"])
        kept = json.loads(row["parties"])
        seller = Seller(**{**kept["seller"], "tax_rate": rate_from_store(kept["seller"]["tax_rate"])}) \
            if kept["seller"] else Seller()
        return seller, Customer(**kept["customer"]) if kept["customer"] else None

    # schedules and milestones ---------------------------------------------------------

    def processed_through(self, line_id: int) -> date | None:
        """The latest invoice run date processed for the line (kept when its schedule is
        replaced, so that run dates already processed are never run again)."""
        return _date(self._one("SELECT processed_through FROM contract_lines WHERE id = ?", [line_id])["processed_through"])

    def date_schedule(self, line_id: int) -> dict | None:
        return self._one("SELECT * FROM schedules WHERE line_id = ? AND kind = 'dates'", [line_id])

    def remove_schedule(self, schedule_id: int) -> None:
        self.db.execute("DELETE FROM schedules WHERE id = ?", [schedule_id])

    def add_date_schedule(self, line_id: int, schedule: DateSchedule, next_run_date: date | None) -> int:
        return self.conn.execute(f"INSERT INTO schedules ({_DATE_SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 _date_schedule_values(line_id, schedule, next_run_date)).lastrowid

    def add_date_schedules(self, rows: list[tuple[int, DateSchedule, date | None]]) -> None:
        """Insert many (line id, schedule, next run date), in order, in one statement."""
        self.conn.execute(_insert_each("schedules", _DATE_SCHEDULE_COLUMNS),
                          [json.dumps([_date_schedule_values(*row) for row in rows])])

    def add_named_date_schedules(self, named: "NamedDateSchedules") -> bool:
        """Insert date-based schedules for lines named by contract and line name, in order,
        in one statement, all or nothing: True if every row went in; False, and nothing
        written, if any row's line is missing, is not time-and-material, was run before (its
        first run date would not be the schedule's first), or has a date-based schedule (the
        unique index refuses it; one named twice too). Imports try this first: each line is
        looked up once, in SQLite. A batch it refuses goes through the rules row by row, which
        say why: those rules (book.NewDateSchedules) are the reference, this is their shortcut,
        and tests/test_import_properties.py holds the two to the same outcome."""
        self.conn.execute("SAVEPOINT named_date_schedules")
        try:
            # CROSS JOIN keeps the rows in the outer loop, in file order: ids follow the file.
            inserted = self.conn.execute(
                f"""INSERT INTO schedules ({_DATE_SCHEDULE_COLUMNS})
                    SELECT l.id, 'dates', {_json_values(6, first=2, row="k.value")}
                      FROM json_each(?) k
                      CROSS JOIN contracts c CROSS JOIN contract_lines l
                     WHERE c.name = json_extract(k.value, '$[0]')
                       AND l.contract_id = c.id AND l.name = json_extract(k.value, '$[1]')
                       AND l.billing_method = 'time-and-material' AND l.processed_through IS NULL
                       AND l.closed = 0""",
                [named.json]).rowcount
        except sqlite3.IntegrityError:
            inserted = -1
        if inserted != named.count:
            self.conn.execute("ROLLBACK TO named_date_schedules")
        self.conn.execute("RELEASE named_date_schedules")
        return inserted == named.count

    def last_schedule_id(self) -> int:
        """The highest schedule id so far: those a command adds are above it (AUTOINCREMENT)."""
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM schedules").fetchone()[0]

    def date_schedule_state(self, line_ids: Iterable[int]) -> dict[int, tuple[int | None, date | None,
                                                                               DateSchedule | None]]:
        """For many lines in one query: (the id of its date-based schedule or None, the
        latest run date processed for it or None, that schedule or None)."""
        rows = self._rows(
            """SELECT l.id AS line_id, s.id, l.processed_through, s.frequency, s.rrule, s.dates, s.start, s."end"
                 FROM json_each(?) k CROSS JOIN contract_lines l
                 LEFT JOIN schedules s ON s.line_id = l.id AND s.kind = 'dates'
                WHERE l.id = k.value""", [json.dumps(list(line_ids))])
        return {row["line_id"]: (row["id"], _date(row["processed_through"]),
                                 None if row["id"] is None else schedule_from_row(row)) for row in rows}

    def add_milestone(self, line_id: int, name: str, when: date, amount: int,
                      percent: Decimal | None, ready: bool) -> int:
        return self.conn.execute(
            """INSERT INTO schedules (line_id, kind, name, date, amount, percent, ready)
               VALUES (?, 'milestone', ?, ?, ?, ?, ?)""",
            [line_id, name, when.isoformat(), amount, None if percent is None else str(percent), int(ready)]).lastrowid

    def schedule_row(self, schedule_id: int) -> dict:
        row = self._one("SELECT * FROM schedules WHERE id = ?", [schedule_id])
        if row is None:
            raise NotFound(f"id: no schedule or milestone with id {schedule_id} (see `invoicer schedule list`)")
        return row

    def set_milestone_ready(self, milestone_id: int, ready: bool = True) -> None:
        self.db.execute("UPDATE schedules SET ready = ? WHERE id = ?", [int(ready), milestone_id])

    def milestone_totals(self, line_id: int) -> tuple[int, Decimal, int]:
        """(sum of amounts, sum of percents of percent milestones, sum of amounts of the others)."""
        rows = list(self._rows(
            "SELECT amount, percent FROM schedules WHERE line_id = ? AND kind = 'milestone'", [line_id]))
        total = sum(r["amount"] for r in rows)
        percents = sum((Decimal(r["percent"]) for r in rows if r["percent"] is not None), Decimal(0))
        fixed = sum(r["amount"] for r in rows if r["percent"] is None)
        return total, percents, fixed

    _MILESTONE = """
        SELECT m.*, i.number AS invoice, i.status AS invoice_status,
               (SELECT group_concat(cn.number, ',') FROM credited_items ci
                  JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                 WHERE ci.kind = 'm' AND ci.item_id = m.id AND cn.status != 'cancelled') AS credit_notes,
               EXISTS (SELECT 1 FROM credited_items ci
                         JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                        WHERE ci.kind = 'm' AND ci.item_id = m.id AND ci.source_line_id = m.invoice_line_id
                          AND cn.status = 'confirmed' AND cn.write_off = 1) AS written_off
          FROM schedules m
          LEFT JOIN invoice_lines il ON il.id = m.invoice_line_id
          LEFT JOIN invoices i ON i.id = il.invoice_id
         WHERE m.kind = 'milestone'
    """

    def milestones(self, line: Line) -> list[Milestone]:
        rows = self._rows(self._MILESTONE + " AND m.line_id = ? ORDER BY m.date, m.id", [line.id])
        return [_milestone(row, line) for row in rows]

    def milestones_named(self, line: Line, name: str) -> list[Milestone]:
        rows = self._rows(self._MILESTONE + " AND m.line_id = ? AND m.name = ? ORDER BY m.id", [line.id, name])
        return [_milestone(row, line) for row in rows]

    def milestone(self, milestone_id: int) -> Milestone:
        row = self._one(self._MILESTONE + " AND m.id = ?", [milestone_id])
        if row is None:
            raise NotFound(f"id: no milestone with id {milestone_id} (see `invoicer schedule list`)")
        return _milestone(row, self.line(row["line_id"]))

    def date_schedules(self, line_id: int | None) -> list[dict]:
        where, params = ("AND s.line_id = ?", [line_id]) if line_id else ("", [])
        return list(self._rows(
            f"""SELECT s.*, l.processed_through FROM schedules s
                  JOIN contract_lines l ON l.id = s.line_id
                 WHERE s.kind = 'dates' {where} ORDER BY s.line_id""", params))

    def invoices_by_run_date(self, line_id: int) -> dict[str, tuple[str, str]]:
        """run date -> (invoice number, status) of the line's invoices, drafts and confirmed
        over cancelled ones."""
        found: dict[str, tuple[str, str]] = {}
        for row in self._rows(
            """SELECT i.run_date, i.number, i.status FROM invoice_lines il
                 JOIN invoices i ON i.id = il.invoice_id
                WHERE il.line_id = ? AND i.type = 'invoice' ORDER BY i.status = 'cancelled' DESC, i.id""", [line_id]):
            found[row["run_date"]] = (row["number"], row["status"])
        return found

    def passed_run_dates(self, line_id: int) -> list[tuple[str, str]]:
        """The spans (first, last run date) in which Process steps (not undone) passed over
        run dates of the line without billing them (a run date in a span that was billed is
        invoiced)."""
        return [(row[0], row[1]) for row in self.conn.execute(
            """SELECT DISTINCT s.run_date, s.last_run_date FROM run_skips s JOIN runs r ON r.id = s.run_id
                WHERE s.line_id = ? AND s.run_date IS NOT NULL AND r.undone_at IS NULL
                ORDER BY s.run_date""", [line_id])]

    # transactions ---------------------------------------------------------------------

    _TRANSACTION_COLUMNS = "line_id, date, amount, type, quantity, description"

    def add_transaction(self, row: tuple) -> int:
        """Insert one (line_id, date, amount, type, quantity, description, ref) row."""
        return self.conn.execute(
            f"INSERT INTO transactions ({self._TRANSACTION_COLUMNS}, ref) VALUES (?, ?, ?, ?, ?, ?, ?)", row).lastrowid

    def update_transaction(self, transaction_id: int, row: tuple) -> None:
        """Set an unbilled transaction's (line_id, date, amount, type, quantity, description)."""
        self.conn.execute(
            """UPDATE transactions SET date = ?, amount = ?, type = ?, quantity = ?, description = ?
                WHERE id = ? AND line_id = ? AND invoice_line_id IS NULL""",
            [*row[1:6], transaction_id, row[0]])

    def add_transactions(self, rows: list[tuple]) -> None:
        """Insert many (line_id, date, amount, type, quantity, description, ref) rows, in
        order (a row without its ref has none)."""
        self.conn.execute(_insert_each("transactions", self._TRANSACTION_COLUMNS + ", ref"), [json.dumps(rows)])

    def ref_holders(self, refs: list[str]) -> dict[str, RefHolder]:
        """The transactions, live or deleted, that hold these refs, in one query: imports
        look up a batch's refs at once, as they look up its lines."""
        found = json.dumps(refs)
        rows = self.conn.execute(
            """SELECT t.ref, t.id, t.line_id, t.date, t.amount, t.type, t.quantity, t.description, NULL
                 FROM json_each(:refs) k CROSS JOIN transactions t WHERE t.ref = k.value
               UNION ALL
               SELECT d.ref, d.transaction_id, d.line_id, d.date, d.amount, d.type, d.quantity, d.description,
                      d.deleted_at
                 FROM json_each(:refs) k CROSS JOIN deleted_refs d WHERE d.ref = k.value""", {"refs": found})
        return {row[0]: RefHolder(*row[1:]) for row in rows}

    def last_transaction_id(self) -> int:
        """The highest transaction id so far: those a command adds are above it (AUTOINCREMENT)."""
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM transactions").fetchone()[0]

    def refs_added_between(self, after: int, before: int) -> int:
        """How many transactions with a ref have an id above `after` and below `before`."""
        return self.conn.execute("SELECT count(*) FROM transactions WHERE id > ? AND id < ? AND ref IS NOT NULL",
                                 [after, before]).fetchone()[0]

    def transaction_import(self, sha256: str) -> tuple[str, int] | None:
        """(when, how many rows) of the latest transaction import that read this content."""
        row = self.conn.execute(
            "SELECT imported_at, rows FROM transaction_imports WHERE sha256 = ? ORDER BY id DESC LIMIT 1",
            [sha256]).fetchone()
        return None if row is None else (row[0], row[1])

    def record_transaction_import(self, sha256: str, rows: int) -> None:
        self.conn.execute("INSERT INTO transaction_imports (sha256, rows, imported_at) VALUES (?, ?, ?)",
                          [sha256, rows, clock.stamp()])

    _TRANSACTION = """
        SELECT t.*, i.number AS invoice, rf.number AS returned_from,
               (SELECT group_concat(cn.number, ',') FROM credited_items ci
                  JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                 WHERE ci.kind = 't' AND ci.item_id = t.id AND cn.status != 'cancelled') AS credit_notes
          FROM transactions t
          LEFT JOIN invoice_lines il ON il.id = t.invoice_line_id
          LEFT JOIN invoices i ON i.id = il.invoice_id
          LEFT JOIN invoices rf ON rf.id = t.returned_from
    """

    def transaction(self, transaction_id: int) -> Transaction:
        row = self._one(self._TRANSACTION + " WHERE t.id = ?", [transaction_id])
        if row is None:
            raise NotFound(f"id: no transaction with id {transaction_id}")
        return _transaction(row, self.line(row["line_id"]))

    def transactions(self, line_id: int | None, unbilled: bool) -> Iterator[Transaction]:
        clauses, params = [], []
        if line_id:
            clauses.append("t.line_id = ?")
            params.append(line_id)
        if unbilled:
            clauses.append("t.invoice_line_id IS NULL")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        lines: dict[int, Line] = {}
        for row in self._rows(self._TRANSACTION + f" {where} ORDER BY t.date, t.id", params):
            line = lines.get(row["line_id"]) or lines.setdefault(row["line_id"], self.line(row["line_id"]))
            yield _transaction(row, line)

    def delete_transaction(self, transaction_id: int) -> None:
        # Its ref stays taken, with the values it had: a feed that sends it again finds it.
        self.conn.execute(
            """INSERT INTO deleted_refs (ref, transaction_id, line_id, date, amount, type, quantity, description,
                                         deleted_at)
               SELECT ref, id, line_id, date, amount, type, quantity, description, ? FROM transactions
                WHERE id = ? AND ref IS NOT NULL""", [clock.stamp(), transaction_id])
        self.db.execute("DELETE FROM transactions WHERE id = ?", [transaction_id])

    # invoices -------------------------------------------------------------------------

    _INVOICE = """
        SELECT i.*, c.name AS contract, c.customer, c.currency FROM invoices i
          JOIN contracts c ON c.id = i.contract_id
    """

    def invoice_row(self, number: str) -> dict:
        row = self._one(self._INVOICE + " WHERE i.number = ?", [number])
        if row is None:
            raise NotFound(f"number: no invoice {number!r} (see `invoicer invoice list`)")
        return row

    def invoices(self, *args, **filters) -> list[Invoice]:
        """Invoices and credit notes in creation order (see iter_invoices)."""
        return list(self.iter_invoices(*args, **filters))

    def iter_invoices(self, status: str | None = None, contract: str | None = None, run_id: int | None = None,
                      number: str | None = None, details: bool = False, first: int | None = None,
                      customer: str | None = None, run_from: date | None = None, run_to: date | None = None,
                      type_: str | None = None, chosen: bool = False,
                      numbers: list[str] | None = None) -> Iterator[Invoice]:
        """Invoices and credit notes in creation order, one at a time (only the `first`
        ones of a run, or of temp.chosen, if given; only those in temp.chosen, if `chosen`);
        run_from and run_to bound their run dates, both included."""
        clauses, params = [], []
        for column, value in (("i.status", status), ("c.name", contract), ("i.run_id", run_id),
                              ("i.number", number), ("c.customer", customer), ("i.type", type_)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        for clause, value in (("i.run_date >= ?", run_from), ("i.run_date <= ?", run_to)):
            if value is not None:
                clauses.append(clause)
                params.append(value.isoformat())
        if numbers is not None:
            clauses.append("i.number IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(numbers))
        if chosen:
            clauses.append("i.id IN (SELECT id FROM temp.chosen ORDER BY id LIMIT ?)")
            params.append(-1 if first is None else first)
        elif first is not None:
            clauses.append("i.id IN (SELECT id FROM invoices WHERE run_id = ? ORDER BY id LIMIT ?)")
            params += [run_id, first]
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        # One pass over invoices and their lines: a month-end reads 100,000 invoices here.
        cursor = self.conn.execute(
            f"""SELECT i.id, i.number, i.run_date, i.status, c.name, c.customer, c.currency,
                       i.type, cr.number, i.issue_date, i.due_date, i.write_off, i.reason,
                       il.id, il.line_id, il.amount, il.items, il.name, l.billing_method,
                       il.tax_category, il.tax_rate, il.tax_exemption_reason
                  FROM invoices i JOIN contracts c ON c.id = i.contract_id
                  JOIN invoice_lines il ON il.invoice_id = i.id
                  JOIN contract_lines l ON l.id = il.line_id
                  LEFT JOIN invoices cr ON cr.id = i.credits_id
                  {where} ORDER BY i.id, il.line_id""", params)
        for _, rows in groupby(cursor, key=itemgetter(0)):
            rows = list(rows)
            (_, number, run_date, state, contract_name, customer, currency,
             kind, credits, issued, due, write_off, reason) = rows[0][:13]
            lines = tuple(
                InvoiceLine(line_id=line_id, name=name, billing_method=method, amount=from_minor(amount, currency),
                            items=items,
                            details=tuple(self._details(il_id, line_id, name, number, state, kind)) if details else (),
                            tax_category=category, tax_rate=rate_from_store(rate), tax_exemption_reason=exemption)
                for *_, il_id, line_id, amount, items, name, method, category, rate, exemption in rows
            )
            yield Invoice(number=number, contract=contract_name, customer=customer,
                          run_date=date.fromisoformat(run_date), currency=currency, status=state, lines=lines,
                          tax=breakdown(lines, currency),
                          type=kind, credits=credits, issue_date=_date(issued), due_date=_date(due),
                          write_off=bool(write_off), reason=reason)

    # A milestone as an invoice or credit note held it, from a credited item's copy.
    _CREDITED_MILESTONE = """SELECT ci.item_id AS id, ci.date, {amount} AS amount, ci.name, ci.percent, 1 AS ready,
                                    src.number AS invoice, src.status AS invoice_status
                               FROM credited_items ci
                               JOIN invoice_lines sl ON sl.id = ci.source_line_id
                               JOIN invoices src ON src.id = sl.invoice_id"""
    # Where a transaction is billed now (None: unbilled, or deleted).
    _BILLED_ON = """(SELECT x.number FROM transactions t2 JOIN invoice_lines xl ON xl.id = t2.invoice_line_id
                      JOIN invoices x ON x.id = xl.invoice_id WHERE t2.id = {item})"""

    def _details(self, invoice_line_id: int, line_id: int, name: str, number: str, status: str,
                 kind: str = "invoice") -> Iterator:
        """What an invoice line billed: the live items, or for a cancelled invoice the copy
        kept when it was cancelled (its items may have been billed again, or deleted), each
        with the invoice it is on now. A credit note's line: the items it credits, each at
        minus the amount credited. The line carries the name it had when invoiced: an
        invoice never changes."""
        line = self.line(line_id)._replace(name=name)
        milestones = line.billing_method == FIXED_PRICE
        if kind == "credit-note" and milestones:
            sql = self._CREDITED_MILESTONE.format(amount="-ci.amount") + \
                " WHERE ci.credit_line_id = :il ORDER BY ci.date, ci.item_id"
        elif kind == "credit-note":
            sql = """SELECT t.id, t.line_id, t.date, -ci.amount AS amount, t.type, t.quantity, t.description,
                            src.number AS invoice, rf.number AS returned_from
                       FROM credited_items ci JOIN transactions t ON t.id = ci.item_id
                       JOIN invoice_lines sl ON sl.id = ci.source_line_id
                       JOIN invoices src ON src.id = sl.invoice_id
                       LEFT JOIN invoices rf ON rf.id = t.returned_from
                      WHERE ci.credit_line_id = :il ORDER BY ci.date, ci.item_id"""
        elif status == "cancelled" and milestones:
            sql = """SELECT c.item_id AS id, c.date, c.amount, c.name, c.percent, 1 AS ready,
                            i.number AS invoice, i.status AS invoice_status
                       FROM cancelled_items c LEFT JOIN schedules m ON m.id = c.item_id
                       LEFT JOIN invoice_lines il ON il.id = m.invoice_line_id
                       LEFT JOIN invoices i ON i.id = il.invoice_id
                      WHERE c.invoice_line_id = :il ORDER BY c.date, c.item_id"""
        elif status == "cancelled":
            sql = f"""SELECT item_id AS id, date, amount, type, quantity, description,
                             {self._BILLED_ON.format(item="item_id")} AS invoice
                        FROM cancelled_items WHERE invoice_line_id = :il ORDER BY date, item_id"""
        elif milestones:
            # Live ones, and those a confirmed credit note returned to the backlog.
            sql = f"""SELECT id, date, amount, name, percent, ready, invoice, invoice_status, written_off FROM (
                        SELECT m.id, m.date, m.amount, m.name, m.percent, m.ready, :number AS invoice,
                               :status AS invoice_status,
                               EXISTS (SELECT 1 FROM credited_items ci
                                         JOIN invoice_lines cl ON cl.id = ci.credit_line_id
                                         JOIN invoices cn ON cn.id = cl.invoice_id
                                        WHERE ci.kind = 'm' AND ci.item_id = m.id AND ci.source_line_id = :il
                                          AND cn.status = 'confirmed' AND cn.write_off = 1) AS written_off
                          FROM schedules m WHERE m.invoice_line_id = :il
                        UNION ALL
                        SELECT ci.item_id, ci.date, ci.amount, ci.name, ci.percent, 1, :number, :status, 0
                          FROM credited_items ci JOIN invoice_lines cl ON cl.id = ci.credit_line_id
                          JOIN invoices cn ON cn.id = cl.invoice_id
                         WHERE ci.source_line_id = :il AND ci.kind = 'm' AND cn.status = 'confirmed'
                           AND cn.write_off = 0)
                      ORDER BY date, id"""
        else:
            sql = """SELECT t.*, :number AS invoice, rf.number AS returned_from FROM transactions t
                       LEFT JOIN invoices rf ON rf.id = t.returned_from
                      WHERE t.invoice_line_id = :il ORDER BY t.date, t.id"""
        build = _milestone if milestones else _transaction
        return (build(row, line) for row in self._rows(sql, {"il": invoice_line_id, "number": number, "status": status}))

    def count_invoices(self, run_id: int) -> int:
        return self.conn.execute("SELECT count(*) FROM invoices WHERE run_id = ?", [run_id]).fetchone()[0]

    def set_invoice_status(self, invoice_id: int, status: str) -> None:
        self.db.execute("UPDATE invoices SET status = ?, changed_at = ? WHERE id = ?",
                        [status, clock.stamp(), invoice_id])

    def release_invoice_items(self, invoice_id: int) -> None:
        """A cancelled draft's transactions and milestones become billable again; the
        invoice keeps a record of what it held."""
        self._release_items("SELECT id FROM invoice_lines WHERE invoice_id = :invoice", {"invoice": invoice_id})

    def _release_items(self, lines: str, params: dict) -> None:
        """Release what the invoice lines `lines` selects hold, keeping a copy of it."""
        self.db.execute(
            f"""INSERT INTO cancelled_items (invoice_line_id, item_id, date, amount, type, quantity, description)
                SELECT invoice_line_id, id, date, amount, type, quantity, description
                  FROM transactions WHERE invoice_line_id IN ({lines})""", params)
        self.db.execute(
            f"""INSERT INTO cancelled_items (invoice_line_id, item_id, date, amount, name, percent)
                SELECT invoice_line_id, id, date, amount, name, percent
                  FROM schedules WHERE invoice_line_id IN ({lines})""", params)
        self.db.execute(f"UPDATE transactions SET invoice_line_id = NULL WHERE invoice_line_id IN ({lines})", params)
        self.db.execute(f"UPDATE schedules SET invoice_line_id = NULL WHERE invoice_line_id IN ({lines})", params)

    # confirming, in bulk ------------------------------------------------------------------

    def choose_numbers(self, numbers: list[str]) -> list[dict]:
        """Put the invoices named into temp.chosen; each number given, in order, with the
        id and status of its invoice (None: no such invoice)."""
        self._new_chosen()
        given = json.dumps(numbers)
        found = list(self._rows(
            """SELECT k.value AS number, i.id, i.status FROM json_each(?) k
                 LEFT JOIN invoices i ON i.number = k.value ORDER BY k.key""", [given]))
        self.db.execute("""INSERT OR IGNORE INTO temp.chosen SELECT i.id FROM json_each(?) k
                             JOIN invoices i ON i.number = k.value""", [given])
        return found

    def choose_drafts(self, contract_id: int | None, run_id: int | None, run_date: date | None,
                      type_: str | None) -> None:
        """Put every draft that all the filters given select into temp.chosen."""
        self._new_chosen()
        self.db.execute(
            """INSERT INTO temp.chosen SELECT id FROM invoices
                WHERE status = 'draft' AND (:contract IS NULL OR contract_id = :contract)
                  AND (:run IS NULL OR run_id = :run) AND (:run_date IS NULL OR run_date = :run_date)
                  AND (:type IS NULL OR type = :type)""",
            {"contract": contract_id, "run": run_id, "run_date": _iso(run_date), "type": type_})

    def _new_chosen(self) -> None:
        self.db.execute("DROP TABLE IF EXISTS temp.chosen")
        self.db.execute("CREATE TEMP TABLE chosen (id INTEGER PRIMARY KEY)")

    def count_chosen(self) -> int:
        return self.conn.execute("SELECT count(*) FROM temp.chosen").fetchone()[0]

    def chosen_issued_too_early(self, issue_date: date) -> dict | None:
        """The first chosen invoice that an issue date of `issue_date` would precede: its
        run date, or for a credit note the issue date of the invoice it corrects."""
        return self._one(
            """SELECT i.number, i.type, i.run_date, cr.number AS credits, cr.issue_date AS credits_issued
                 FROM temp.chosen ch JOIN invoices i ON i.id = ch.id LEFT JOIN invoices cr ON cr.id = i.credits_id
                WHERE (i.type = 'invoice' AND i.run_date > :issue) OR (i.type = 'credit-note' AND cr.issue_date > :issue)
                ORDER BY i.id LIMIT 1""", {"issue": issue_date.isoformat()})

    def confirm_chosen(self, issue_date: date) -> None:
        """Confirm the chosen drafts, issued on `issue_date`, due after their payment terms:
        the customer's record's, else the seller's, else 30 days (section 8), the one place
        they come from; each keeps both parties' records as they are now, for its documents.
        Then what their credit notes credit returns to the backlog."""
        self.db.execute(
            f"""UPDATE invoices SET status = 'confirmed', changed_at = :now, issue_date = :issue,
                       due_date = date(:issue, '+' || coalesce(cu.payment_terms_days, s.payment_terms_days,
                                                               {DEFAULT_PAYMENT_TERMS_DAYS}) || ' days'),
                       parties = {self._PARTIES_SNAPSHOT}
                  FROM temp.chosen ch JOIN invoices i ON i.id = ch.id JOIN contracts c ON c.id = i.contract_id
                  LEFT JOIN customers cu ON cu.name = c.customer
                  LEFT JOIN seller s ON s.id = 1
                 WHERE invoices.id = ch.id""",
            {"now": clock.stamp(), "issue": issue_date.isoformat()})
        # A run with a confirmed invoice can never be undone, nor any run before it.
        self.db.execute("""DELETE FROM run_moves WHERE run_id <= (SELECT max(run_id) FROM invoices
                             WHERE id IN (SELECT id FROM temp.chosen))""")

    # What the chosen credit notes (not written off) credit: transactions in the credit
    # notes' order and their details' order, with what each was billed.
    _RETURNING = """FROM temp.chosen ch
                    JOIN invoices cn ON cn.id = ch.id AND cn.type = 'credit-note' AND cn.write_off = 0
                    JOIN invoice_lines cl ON cl.invoice_id = cn.id
                    JOIN credited_items ci ON ci.credit_line_id = cl.id"""

    def chosen_credited_transactions(self) -> list[dict]:
        return list(self._rows(
            f"""SELECT cn.id AS credit_note, ci.amount AS credited, t.line_id, t.date, t.amount AS billed, t.type,
                       t.quantity, t.description
                  {self._RETURNING} JOIN transactions t ON t.id = ci.item_id
                 WHERE ci.kind = 't' ORDER BY cn.id, cl.line_id, ci.date, ci.item_id"""))

    def add_returned_transactions(self, rows: list[tuple]) -> None:
        """Insert (line_id, date, amount, type, quantity, description, returned_from) rows, in order."""
        if rows:
            self.conn.execute(_insert_each("transactions", self._TRANSACTION_COLUMNS + ", returned_from"),
                              [json.dumps(rows)])

    def return_chosen_milestones(self) -> None:
        """The milestones the chosen credit notes credit are ready to invoice again."""
        self.db.execute(
            f"""UPDATE schedules SET invoice_line_id = NULL, ready = 1
                  FROM (SELECT ci.item_id, ci.source_line_id {self._RETURNING} WHERE ci.kind = 'm') r
                 WHERE schedules.id = r.item_id AND schedules.invoice_line_id = r.source_line_id""")

    # credit notes -----------------------------------------------------------------------

    def invoice_items(self, invoice_id: int) -> list[dict]:
        """Every item the invoice billed, in its details' order, with what it billed and
        what its credit notes not cancelled credit of it: (kind, item_id, line_id,
        source_line_id, billed, credited, date, name, percent)."""
        credited = """coalesce((SELECT sum(ci.amount) FROM credited_items ci
                         JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                        WHERE cn.credits_id = :invoice AND cn.status != 'cancelled'
                          AND ci.kind = {kind} AND ci.item_id = {item}), 0)"""
        return list(self._rows(
            f"""SELECT * FROM (
                  SELECT 't' AS kind, t.id AS item_id, il.line_id, il.id AS source_line_id, t.amount AS billed,
                         {credited.format(kind="'t'", item="t.id")} AS credited, t.date, NULL AS name, NULL AS percent
                    FROM invoice_lines il JOIN transactions t ON t.invoice_line_id = il.id
                   WHERE il.invoice_id = :invoice
                  UNION ALL
                  SELECT 'm', m.id, il.line_id, il.id, m.amount, {credited.format(kind="'m'", item="m.id")},
                         m.date, m.name, m.percent
                    FROM invoice_lines il JOIN schedules m ON m.invoice_line_id = il.id
                   WHERE il.invoice_id = :invoice
                  UNION ALL
                  SELECT DISTINCT 'm', ci.item_id, il.line_id, il.id, ci.amount, ci.amount, ci.date, ci.name, ci.percent
                    FROM invoice_lines il JOIN credited_items ci ON ci.source_line_id = il.id AND ci.kind = 'm'
                    JOIN invoice_lines cl ON cl.id = ci.credit_line_id JOIN invoices cn ON cn.id = cl.invoice_id
                   WHERE il.invoice_id = :invoice AND cn.status = 'confirmed' AND cn.write_off = 0)
                ORDER BY line_id, date, item_id""", {"invoice": invoice_id}))

    def add_credit_note(self, invoice: dict, items: list[tuple], write_off: bool, reason: str | None) -> str:
        """A draft credit note for `invoice` (an invoice_row), in its own number series,
        crediting (kind, item_id, line_id, source_line_id, amount, date, name, percent)
        items: one line per contract line, at minus what it credits, with the tax its
        invoice line has."""
        value = self._one("SELECT value FROM counters WHERE name = 'credit_note_number'", [])["value"] + 1
        self.db.execute("UPDATE counters SET value = ? WHERE name = 'credit_note_number'", [value])
        number = f"CRN-{value:06d}"
        note_id = self.conn.execute(
            """INSERT INTO invoices (number, contract_id, run_date, status, run_id, created_at, type, credits_id,
                                     write_off, reason)
               VALUES (?, ?, ?, 'draft', NULL, ?, 'credit-note', ?, ?, ?)""",
            [number, invoice["contract_id"], invoice["run_date"], clock.stamp(), invoice["id"], int(write_off),
             reason]).lastrowid
        by_line: dict[int, list[tuple]] = {}
        for item in items:
            by_line.setdefault(item[2], []).append(item)
        for line_id in sorted(by_line):
            credited = by_line[line_id]
            credit_line = self.conn.execute(
                """INSERT INTO invoice_lines (invoice_id, line_id, name, amount, items, tax_category, tax_rate,
                                              tax_exemption_reason)
                   SELECT ?, il.line_id, il.name, ?, ?, il.tax_category, il.tax_rate, il.tax_exemption_reason
                     FROM invoice_lines il WHERE il.id = ?""",
                [note_id, -sum(i[4] for i in credited), len(credited), credited[0][3]]).lastrowid
            self.conn.executemany(
                """INSERT INTO credited_items (credit_line_id, kind, item_id, amount, source_line_id, date, name, percent)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [(credit_line, kind, item_id, amount, source, when, name, percent)
                 for kind, item_id, _, source, amount, when, name, percent in credited])
        return number

    # run undo ---------------------------------------------------------------------------

    def run_row(self, run_id: int) -> dict:
        row = self._one("SELECT * FROM runs WHERE id = ?", [run_id])
        if row is None:
            raise NotFound(f"run_id: no run with id {run_id} (see `invoicer run list`)")
        return row

    def latest_run_id(self) -> int | None:
        """The run `run undo` may take back: the latest one not undone."""
        return self.conn.execute("SELECT max(id) FROM runs WHERE undone_at IS NULL").fetchone()[0]

    def first_confirmed_of_run(self, run_id: int) -> str | None:
        row = self._one("SELECT number FROM invoices WHERE run_id = ? AND status = 'confirmed' ORDER BY id LIMIT 1",
                        [run_id])
        return row and row["number"]

    def undo_run(self, run_id: int) -> list[dict]:
        """Cancel the run's drafts (what they billed becomes billable again), put each line
        it moved back where it stood, and mark it undone. Returns the lines whose date
        schedule was replaced since (line_id, processed_through, and the schedule's row):
        their next run date is the caller's to work out."""
        params = {"run": run_id, "now": clock.stamp()}
        self._release_items(
            """SELECT il.id FROM invoice_lines il JOIN invoices i ON i.id = il.invoice_id
                WHERE i.run_id = :run AND i.status = 'draft'""", params)
        self.db.execute("UPDATE invoices SET status = 'cancelled', changed_at = :now WHERE run_id = :run AND status = 'draft'",
                        params)
        self.db.execute(
            """UPDATE contract_lines SET processed_through = m.processed_through
                 FROM run_moves m WHERE m.run_id = :run AND contract_lines.id = m.line_id""", params)
        self.db.execute(
            """UPDATE schedules SET next_run_date = m.next_run_date
                 FROM run_moves m WHERE m.run_id = :run AND schedules.id = m.schedule_id""", params)
        replaced = list(self._rows(
            """SELECT s.*, m.processed_through FROM run_moves m
                 JOIN schedules s ON s.line_id = m.line_id AND s.kind = 'dates' AND s.id != m.schedule_id
                WHERE m.run_id = :run""", params))
        self.db.execute("DELETE FROM run_moves WHERE run_id = :run", params)
        self.db.execute("UPDATE runs SET undone_at = :now WHERE id = :run", params)
        return replaced

    def set_next_run_date(self, schedule_id: int, next_run_date: date | None) -> None:
        self.db.execute("UPDATE schedules SET next_run_date = ? WHERE id = ?", [_iso(next_run_date), schedule_id])

    # closed lines -----------------------------------------------------------------------

    def set_line_closed(self, line_id: int, closed: bool) -> None:
        self.db.execute("UPDATE contract_lines SET closed = ? WHERE id = ?", [int(closed), line_id])

    # hand-over to accounting --------------------------------------------------------------

    def handed_over(self, numbers: list[str], fmt: str) -> set[str]:
        """The numbers among `numbers` that an `export --new` in FMT handed over before."""
        return {row[0] for row in self.conn.execute(
            """SELECT i.number FROM json_each(?) n JOIN invoices i ON i.number = n.value
                 JOIN hand_overs h ON h.invoice_id = i.id AND h.format = ?""", [json.dumps(numbers), fmt])}

    def record_hand_over(self, numbers: list[str], fmt: str, stamp: str) -> None:
        self.conn.execute(
            """INSERT INTO hand_overs (invoice_id, format, handed_over_at)
               SELECT i.id, ?, ? FROM json_each(?) n JOIN invoices i ON i.number = n.value""",
            [fmt, stamp, json.dumps(numbers)])

    def hand_overs(self, number: str) -> dict[str, datetime]:
        """{format: when} of one document's hand-overs."""
        return {fmt: clock.from_stamp(at) for fmt, at in self.conn.execute(
            """SELECT h.format, h.handed_over_at FROM hand_overs h JOIN invoices i ON i.id = h.invoice_id
                WHERE i.number = ? ORDER BY h.format""", [number])}

    # the invoice run --------------------------------------------------------------------

    def has_run_for(self, run_date: date) -> bool:
        return bool(self._one("SELECT 1 FROM runs WHERE run_date = ? AND undone_at IS NULL", [run_date.isoformat()]))

    def latest_run_date(self) -> date | None:
        """The latest run date of a Process step not undone (an undone run is none)."""
        row = self._one("SELECT max(run_date) AS latest FROM runs WHERE undone_at IS NULL", [])
        return _date(row["latest"])

    def due_schedule_kinds(self, run_date: date) -> list[dict]:
        """The distinct (schedule, processed through) of the date-based schedules with a run
        date due by `run_date`: a book of 100,000 lines on one monthly schedule has one."""
        return list(self._rows(
            """SELECT DISTINCT s.frequency, s.rrule, s.dates, s.start, s."end", l.processed_through
                 FROM schedules s JOIN contract_lines l ON l.id = s.line_id
                WHERE s.kind = 'dates' AND s.next_run_date <= ? AND l.closed = 0""", [run_date.isoformat()]))

    def begin_run(self, instance: Instance | None, run_date: date, forced: bool) -> int:
        now = clock.stamp()
        return self.db["runs"].insert(
            {"instance_id": instance and instance.id, "workflow": instance and instance.workflow,
             "run_date": run_date.isoformat(),
             "started_at": now, "ended_at": now, "forced": int(forced)}
        ).last_pk

    def end_run(self, run_id: int) -> None:
        self.db.execute("UPDATE runs SET ended_at = ? WHERE id = ?", [clock.stamp(), run_id])

    def stage_due_run_dates(self, run_date: date, plans: list[tuple[dict, Iterable[tuple[str, str]], str | None]],
                            run_id: int | None = None) -> None:
        """Load the run's due (line, run date, cut-off) rows and move each due schedule on,
        recording where each stood before in `run_moves` (what `run undo` puts back).
        A plan is (a schedule kind from `due_schedule_kinds`, its pending (run date, cut-off)
        pairs in order, read as a stream, and its next run date after this run)."""
        for table in ("plan", "plan_dates", "due_schedules", "due"):
            self.db.execute(f"DROP TABLE IF EXISTS temp.{table}")
        self.db.execute(
            """CREATE TEMP TABLE plan (id INTEGER PRIMARY KEY, frequency TEXT, rrule TEXT, dates TEXT, start TEXT,
                   "end" TEXT, processed_through TEXT, through TEXT, next_run_date TEXT)""")
        self.db.execute("CREATE TEMP TABLE plan_dates (plan_id INTEGER, run_date TEXT, cutoff TEXT)")
        for number, (kind, pending, following) in enumerate(plans, start=1):
            self.conn.executemany("INSERT INTO temp.plan_dates VALUES (?, ?, ?)",
                                  ((number, day, cutoff) for day, cutoff in pending))
            # Processed through the last pending run date, or as far as before.
            self.conn.execute(
                """INSERT INTO temp.plan VALUES (?, ?, ?, ?, ?, ?, ?,
                       coalesce((SELECT max(run_date) FROM temp.plan_dates WHERE plan_id = ?), ?), ?)""",
                [number, kind["frequency"], kind["rrule"], kind["dates"], kind["start"], kind["end"],
                 kind["processed_through"], number, kind["processed_through"], following])
        self.db.execute(
            """CREATE TEMP TABLE due_schedules AS
               SELECT s.id AS schedule_id, s.line_id, p.id AS plan_id
                 FROM schedules s JOIN contract_lines l ON l.id = s.line_id
                 JOIN temp.plan p ON s.frequency IS p.frequency AND s.rrule IS p.rrule AND s.dates IS p.dates
                      AND s.start IS p.start AND s."end" IS p."end" AND l.processed_through IS p.processed_through
                WHERE s.kind = 'dates' AND s.next_run_date <= ? AND l.closed = 0""", [run_date.isoformat()])
        if run_id is not None:
            self.db.execute(
                """INSERT INTO run_moves (run_id, line_id, schedule_id, processed_through, next_run_date)
                   SELECT ?, ds.line_id, ds.schedule_id, l.processed_through, s.next_run_date
                     FROM temp.due_schedules ds JOIN schedules s ON s.id = ds.schedule_id
                     JOIN contract_lines l ON l.id = ds.line_id""", [run_id])
        self.db.execute(
            "CREATE TEMP TABLE due (line_id INTEGER, run_date TEXT, cutoff TEXT, PRIMARY KEY (line_id, run_date)) WITHOUT ROWID")
        self.db.execute(
            """INSERT INTO temp.due SELECT ds.line_id, pd.run_date, pd.cutoff
                 FROM temp.due_schedules ds JOIN temp.plan_dates pd ON pd.plan_id = ds.plan_id
                ORDER BY ds.line_id, pd.run_date""")
        self.db.execute(
            """UPDATE schedules SET next_run_date = p.next_run_date
                 FROM temp.due_schedules ds JOIN temp.plan p ON p.id = ds.plan_id
                WHERE schedules.id = ds.schedule_id""")
        self.db.execute(
            """UPDATE contract_lines SET processed_through = p.through
                 FROM temp.due_schedules ds JOIN temp.plan p ON p.id = ds.plan_id
                WHERE contract_lines.id = ds.line_id""")

    def stage_billable(self, run_date: date, latest_run_date: date | None) -> None:
        """Every item this run may bill, each with its invoice run date: unbilled
        transactions on or before a due run date's cut-off (the earliest such run date),
        and ready milestones dated on or before the run date."""
        for table in ("due_lines", "billable", "held"):
            self.db.execute(f"DROP TABLE IF EXISTS temp.{table}")
        self.db.execute("CREATE TEMP TABLE held (line_id INTEGER NOT NULL, item_id INTEGER NOT NULL, date TEXT NOT NULL)")
        self.db.execute("CREATE INDEX temp.held_by_line ON held (line_id, date)")
        self.db.execute(
            """CREATE TEMP TABLE due_lines AS
               SELECT line_id, count(*) AS n, min(run_date) AS first_run_date, max(cutoff) AS last_cutoff
                 FROM temp.due GROUP BY line_id""")
        self.db.execute(
            """CREATE TEMP TABLE billable (line_id INTEGER NOT NULL, run_date TEXT NOT NULL, kind TEXT NOT NULL,
                   item_id INTEGER NOT NULL, date TEXT NOT NULL, amount INTEGER NOT NULL,
                   PRIMARY KEY (line_id, run_date, kind, item_id)) WITHOUT ROWID""")
        self.db.execute(
            """INSERT INTO temp.billable (kind, item_id, line_id, run_date, date, amount)
               SELECT 't', t.id, t.line_id,
                      CASE WHEN d.n = 1 THEN d.first_run_date
                           ELSE (SELECT min(x.run_date) FROM temp.due x
                                  WHERE x.line_id = t.line_id AND x.cutoff >= t.date) END,
                      t.date, t.amount
                 FROM temp.due_lines d
                 JOIN contract_lines l ON l.id = d.line_id AND l.billing_method = 'time-and-material'
                 JOIN transactions t ON t.line_id = d.line_id
                WHERE t.invoice_line_id IS NULL AND t.date <= d.last_cutoff""")
        self.db.execute(
            """INSERT INTO temp.billable (kind, item_id, line_id, run_date, date, amount)
               SELECT 'm', m.id, m.line_id,
                      CASE WHEN (:latest IS NULL OR m.date > :latest)
                                -- a milestone a confirmed credit note returned is late
                                AND NOT EXISTS (SELECT 1 FROM credited_items ci
                                                 WHERE ci.kind = 'm' AND ci.item_id = m.id)
                           THEN m.date ELSE :run_date END,
                      m.date, m.amount
                 FROM schedules m JOIN contract_lines l ON l.id = m.line_id AND l.billing_method = 'fixed-price'
                WHERE m.kind = 'milestone' AND m.invoice_line_id IS NULL AND m.ready = 1
                  AND m.date <= :run_date AND l.closed = 0""",
            {"latest": _iso(latest_run_date), "run_date": run_date.isoformat()})

    def lines_over_cap(self) -> list[tuple[int, int]]:
        """(line id, headroom) of the capped lines whose billable transactions add up to
        more than what their not-to-exceed limit has left."""
        rows = self._rows(
            f"""SELECT b.line_id, l.not_to_exceed - {self._BILLED.format(line='b.line_id')} AS headroom,
                      sum(b.amount) AS wanted
                 FROM temp.billable b JOIN contract_lines l ON l.id = b.line_id
                WHERE b.kind = 't' AND l.not_to_exceed IS NOT NULL
                GROUP BY b.line_id HAVING wanted > headroom""")
        return [(row["line_id"], row["headroom"]) for row in rows]

    def billable_transactions(self, line_id: int) -> list[tuple[int, int]]:
        """(transaction id, amount) in billing order: by transaction date, then entry."""
        return [(row["item_id"], row["amount"]) for row in self._rows(
            "SELECT item_id, amount FROM temp.billable WHERE kind = 't' AND line_id = ? ORDER BY date, item_id",
            [line_id])]

    def hold_transactions(self, line_id: int, transaction_ids: Iterable[int]) -> None:
        """Move transactions the not-to-exceed limit holds back out of the billable items."""
        held = [(line_id, i) for i in transaction_ids]
        self.conn.executemany(
            """INSERT INTO temp.held SELECT line_id, item_id, date FROM temp.billable
                WHERE line_id = ? AND kind = 't' AND item_id = ?""", held)
        self.conn.executemany("DELETE FROM temp.billable WHERE line_id = ? AND kind = 't' AND item_id = ?", held)

    def write_invoices(self, run_id: int) -> None:
        """One invoice per contract and invoice run date, numbered in order of run date,
        then contract name; one invoice line per contract line; each item linked to it."""
        now = clock.stamp()
        base = self._one("SELECT value FROM counters WHERE name = 'invoice_number'", [])["value"]
        self.db.execute(
            """INSERT INTO invoices (number, contract_id, run_date, status, run_id, created_at)
               SELECT printf('INV-%06d', :base + row_number() OVER (ORDER BY k.run_date, c.name)),
                      k.contract_id, k.run_date, 'draft', :run_id, :now
                 FROM (SELECT DISTINCT l.contract_id, b.run_date FROM temp.billable b
                         JOIN contract_lines l ON l.id = b.line_id) k
                 JOIN contracts c ON c.id = k.contract_id
                ORDER BY k.run_date, c.name""",
            {"base": base, "run_id": run_id, "now": now})
        self.db.execute(
            "UPDATE counters SET value = value + (SELECT count(*) FROM invoices WHERE run_id = ?) WHERE name = 'invoice_number'",
            [run_id])
        # Each invoice line keeps the tax its contract line has now, else the seller's.
        seller = self.seller()
        self.db.execute(
            """INSERT INTO invoice_lines (invoice_id, line_id, name, amount, items,
                                          tax_category, tax_rate, tax_exemption_reason)
               SELECT i.id, b.line_id, l.name, sum(b.amount), count(*),
                      coalesce(l.tax_category, :seller_category),
                      CASE WHEN l.tax_category IS NULL THEN :seller_rate ELSE l.tax_rate END,
                      CASE WHEN l.tax_category IS NULL THEN :seller_reason ELSE l.tax_exemption_reason END
                 FROM temp.billable b
                 JOIN contract_lines l ON l.id = b.line_id
                 JOIN invoices i ON i.run_id = :run_id AND i.contract_id = l.contract_id AND i.run_date = b.run_date
                GROUP BY i.id, b.line_id ORDER BY i.id, b.line_id""",
            {"run_id": run_id, "seller_category": seller.tax_category, "seller_rate": rate_to_store(seller.tax_rate),
             "seller_reason": seller_reason(seller.tax_category)})
        self.db.execute("DROP TABLE IF EXISTS temp.placed")
        self.db.execute(
            """CREATE TEMP TABLE placed (line_id INTEGER, run_date TEXT, invoice_line_id INTEGER,
                                          PRIMARY KEY (line_id, run_date)) WITHOUT ROWID""")
        self.db.execute(
            """INSERT INTO temp.placed SELECT il.line_id, i.run_date, il.id
                 FROM invoices i JOIN invoice_lines il ON il.invoice_id = i.id WHERE i.run_id = ?""", [run_id])
        for kind, table in (("t", "transactions"), ("m", "schedules")):
            self.db.execute(
                f"""UPDATE {table} SET invoice_line_id = p.invoice_line_id
                      FROM temp.billable b JOIN temp.placed p ON p.line_id = b.line_id AND p.run_date = b.run_date
                     WHERE b.kind = '{kind}' AND {table}.id = b.item_id""")

    # Why a line is passed over, as (line_id, reason, run_date, detail) rows. These need
    # only the book, so `doctor` forecasts them too; run them after the items are linked.
    _STANDING_SKIPS = (
        # A time-and-material line needs a date-based invoice schedule.
        """SELECT l.id, 'no-schedule', NULL, NULL FROM contract_lines l
            WHERE l.billing_method = 'time-and-material' AND l.closed = 0
              AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.line_id = l.id AND s.kind = 'dates')""",
        # A fixed-price line needs milestones.
        """SELECT l.id, 'no-milestones', NULL, NULL FROM contract_lines l
            WHERE l.billing_method = 'fixed-price' AND l.closed = 0
              AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.line_id = l.id AND s.kind = 'milestone')""",
        """SELECT m.line_id, 'milestone-not-ready', :run_date,
                  group_concat(m.name || ' (' || m.date || ')', ', ')
             FROM schedules m JOIN contract_lines l ON l.id = m.line_id AND l.closed = 0
            WHERE m.kind = 'milestone' AND m.invoice_line_id IS NULL AND m.ready = 0 AND m.date <= :run_date
            GROUP BY m.line_id""",
        # Unbilled transactions on a line whose schedule has no run date left.
        """SELECT s.line_id, 'schedule-ended', NULL,
                  count(*) || ' unbilled transaction(s) and no invoice run date left'
             FROM schedules s JOIN transactions t ON t.line_id = s.line_id AND t.invoice_line_id IS NULL
             JOIN contract_lines l ON l.id = s.line_id AND l.closed = 0
            WHERE s.kind = 'dates' AND s.next_run_date IS NULL
            GROUP BY s.line_id""",
    )
    # ... and those that only this run's staged items tell.
    _RUN_SKIPS = (
        # A run date with nothing to bill, and nothing held back by the limit either.
        """SELECT d.line_id, 'no-transactions', d.run_date, NULL FROM temp.due d
             JOIN contract_lines l ON l.id = d.line_id AND l.billing_method = 'time-and-material'
            WHERE NOT EXISTS (SELECT 1 FROM temp.billable b
                               WHERE b.line_id = d.line_id AND b.run_date = d.run_date)
              AND NOT EXISTS (SELECT 1 FROM temp.held h WHERE h.line_id = d.line_id AND h.date <= d.cutoff)""",
        # Each run date at which a held-back transaction was waiting, as a daily run would say.
        """SELECT d.line_id, 'over-not-to-exceed', d.run_date,
                  count(*) || ' transaction(s) held back by the not-to-exceed limit'
             FROM temp.held h JOIN temp.due d ON d.line_id = h.line_id AND h.date <= d.cutoff
            GROUP BY d.line_id, d.run_date""",
    )

    def write_skips(self, run_id: int, run_date: date) -> None:
        """The lines batch invoicing passed over in this run, and why: one record a line,
        reason and detail, with the first and last run date it covers and their count."""
        params = {"run_id": run_id, "run_date": run_date.isoformat()}
        for select in self._STANDING_SKIPS + self._RUN_SKIPS:
            self.db.execute(
                f"""WITH k (line_id, reason, run_date, detail) AS ({select})
                    INSERT INTO run_skips (run_id, line_id, reason, run_date, detail, last_run_date, count)
                    SELECT :run_id, line_id, reason, min(run_date), detail, max(run_date), count(*)
                      FROM k GROUP BY line_id, reason, detail""",
                params)

    def standing_skips(self, run_date: date) -> list[Skip]:
        """The lines a run for `run_date` would pass over whatever it stages."""
        union = " UNION ALL ".join(f"SELECT * FROM ({select})" for select in self._STANDING_SKIPS)
        return [
            Skip(line_id=r[0], contract=r[5], name=r[4], reason=r[1], run_date=_date(r[2]), detail=r[3],
                 last_run_date=_date(r[2]))
            for r in self.conn.execute(
                f"""WITH k (line_id, reason, run_date, detail) AS ({union})
                    SELECT k.*, l.name, c.name FROM k
                      JOIN contract_lines l ON l.id = k.line_id JOIN contracts c ON c.id = l.contract_id
                     ORDER BY c.name, k.line_id""", {"run_date": run_date.isoformat()})
        ]

    def run_skips(self, run_id: int) -> list[Skip]:
        return [
            Skip(line_id=r["line_id"], contract=r["contract"], name=r["name"], reason=r["reason"],
                 run_date=_date(r["run_date"]), detail=r["detail"], last_run_date=_date(r["last_run_date"]),
                 count=r["count"])
            for r in self._rows(
                """SELECT s.*, l.name, c.name AS contract FROM run_skips s
                     JOIN contract_lines l ON l.id = s.line_id JOIN contracts c ON c.id = l.contract_id
                    WHERE s.run_id = ? ORDER BY c.name, s.line_id, s.run_date""", [run_id])
        ]

    # health -----------------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        found = [row[0] for row in self.conn.execute("PRAGMA integrity_check")]
        found += [f"foreign key: {row[0]} row {row[1]} -> {row[2]}" for row in self.conn.execute("PRAGMA foreign_key_check")]
        return [] if found == ["ok"] else [f for f in found if f != "ok"]

    def count_closed_lines(self) -> int:
        return self.conn.execute("SELECT count(*) FROM contract_lines WHERE closed = 1").fetchone()[0]

    def count_undone_runs(self) -> int:
        return self.conn.execute("SELECT count(*) FROM runs WHERE undone_at IS NOT NULL").fetchone()[0]

    def running_instances(self) -> int:
        return self.conn.execute("SELECT count(*) FROM workflow_instances WHERE state = 'running'").fetchone()[0]

    def run(self, run_id: int) -> Run:
        found = self.runs(run_id=run_id)
        if not found:
            raise NotFound(f"run_id: no run with id {run_id} (see `invoicer run list`)")
        return found[0]

    def runs(self, limit: int | None = None, run_id: int | None = None) -> list[Run]:
        if run_id is not None:
            rows = list(self._rows("SELECT * FROM runs WHERE id = ?", [run_id]))
        else:
            rows = list(self._rows(
                "SELECT * FROM runs ORDER BY id DESC" + (" LIMIT ?" if limit else ""), [limit] if limit else []))
        return [
            Run(id=r["id"], run_date=date.fromisoformat(r["run_date"]),
                started_at=clock.from_stamp(r["started_at"]), ended_at=clock.from_stamp(r["ended_at"]),
                forced=bool(r["forced"]), workflow=r["workflow"], undone=r["undone_at"] is not None,
                invoices=tuple(x["number"] for x in self._rows(
                    "SELECT number FROM invoices WHERE run_id = ? ORDER BY id", [r["id"]])),
                skipped=tuple(self.run_skips(r["id"])))
            for r in reversed(rows)
        ]

    # helpers ------------------------------------------------------------------------------

    def _rows(self, sql: str, params=()) -> Iterator[dict]:
        # sqlite3 directly: sqlite-utils' query() costs ~20 µs a call, felt on imports.
        cursor = self.conn.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row))

    def _one(self, sql: str, params) -> dict | None:
        return next(self._rows(sql, params), None)


class NamedDateSchedules:
    """Date-based schedules for Store.add_named_date_schedules: row i is (contract, line
    name, index in `schedules` of its (schedule, first run date)). Made into JSON here, by
    the checking thread, so that the worker thread only runs SQLite."""

    def __init__(self, rows: list[tuple[str, str, int]], schedules: list[tuple[DateSchedule, date | None]]):
        values = [_date_schedule_values(None, schedule, first)[2:] for schedule, first in schedules]
        self.count = len(rows)
        self.json = json.dumps([(contract, name, *values[index]) for contract, name, index in rows])


class Behind:
    """One insert at a time on a worker thread (see Store.behind). Whoever uses the
    connection next calls settle() first: it waits for the insert, and raises its error
    or returns its result."""

    def __init__(self, store: Store):
        self.store = store
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.result = None
        # Held by the worker while it inserts; taken for good by cancel().
        self.lock = threading.Lock()
        self.cancelled = False

    def run(self, insert: Callable, *args) -> None:
        """Run insert(*args), a Store method, on the worker thread, once the one before has ended."""
        self.settle()
        self.thread = threading.Thread(target=self._run, args=(insert, args), name="invoicer-insert")
        self.thread.start()

    def _run(self, insert: Callable, args: tuple) -> None:
        with self.lock:
            if self.cancelled:
                return
            try:
                self.result = insert(*args)
            except BaseException as error:  # raised in the caller's thread, by settle()
                self.error = error

    def settle(self) -> object:
        """Wait for the insert under way, if any; raise its error, or return its result (once)."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        result, self.result = self.result, None
        return result

    def cancel(self) -> None:
        """Before a rollback: wait for the insert under way, and let none start after it.
        Ctrl-C does not cut this short (it is raised once the wait is over): an insert
        running after the rollback would be committed on its own."""
        interrupted = None
        while True:
            try:
                self.lock.acquire()
                break
            except KeyboardInterrupt as interruption:
                interrupted = interruption
        self.cancelled = True
        self.lock.release()
        if interrupted is not None:
            raise interrupted


def _connect(path: str, timeout: float, header: bytes) -> sqlite3.Connection:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DatabaseFileError(f"cannot open {path}: the directory {folder} does not exist")
    if os.path.isdir(path):
        raise DatabaseFileError(f"cannot open {path}: it is a directory")
    if not os.path.exists(path) and not os.access(folder, os.W_OK):
        raise DatabaseFileError(f"cannot create {path}: the directory {folder} is not writable")
    try:
        # Not bound to its thread: bulk imports insert a batch on a worker thread while the
        # next is checked (Store.behind); the connection is never used by two at once.
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as error:
        raise _said(error, path, timeout, header, opening=True) from None
    return conn


def _connect_read_only(path: str, timeout: float, reason: str) -> sqlite3.Connection:
    """A book that cannot be written here, opened for reading: as SQLite's read-only
    connection where its -wal and -shm files exist; else, when the file holds the whole
    book (no write-ahead log with content beside it), as an immutable file. Immutable
    means SQLite takes no locks: what it reads is the file as it is."""
    from urllib.parse import quote

    uri = "file:" + quote(os.path.abspath(path))
    wal = f"{path}-wal"
    modes = ["?mode=ro"] + ([] if os.path.exists(wal) and os.path.getsize(wal) else ["?mode=ro&immutable=1"])
    for mode in modes:
        try:
            conn = sqlite3.connect(uri + mode, uri=True, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.DatabaseError:
            continue
    raise DatabaseFileError(f"cannot read {path}: {reason}")


class _CannotWriteHere(DatabaseFileError):
    """The book cannot be written where it is (a read-only folder, a full disk); it may
    still be read."""


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _said(error: sqlite3.DatabaseError, path: str, timeout: float, header: bytes,
          opening: bool = False) -> InvoicerError | None:
    """What a failure of SQLite means for the user, in the tool's words (one home for all
    of them: opening the file, reading, writing). None: not one a user can act on. `header`:
    the file's first 100 bytes, read before SQLite opened it."""
    name = getattr(error, "sqlite_errorname", "") or ""
    message = str(error)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in message or "busy" in message:
        return Conflict(f"another process is using {path}; gave up waiting after {timeout:g} s "
                        "(INVOICER_BUSY_TIMEOUT), try again")
    if "integer overflow" in message:
        return InvoicerError("the amounts to add up exceed what invoicer can hold "
                             "(9,223,372,036,854,775,807 minor units); nothing was written")
    if name == "SQLITE_FULL" or "disk is full" in message or (name.startswith("SQLITE_IOERR") and _disk_full(path)):
        return _CannotWriteHere(f"the disk is full: cannot write to {path} (free some space, then try again)")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in message \
            or "not a database" in message or "unsupported file format" in message:
        if header.startswith(_SQLITE_MAGIC) or "malformed" in message:
            return DatabaseFileError(f"{path} is damaged ({message}): restore it from a backup")
        return DatabaseFileError(f"{path} is not an invoicer database (not an SQLite file)")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or "readonly" in message \
            or "read-only" in message or "unable to open" in message:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.exists(path) and not _can_create_in(folder):
            return DatabaseFileError(f"cannot create {path}: the directory {folder} is not writable")
        if os.path.exists(path) and not _can_create_in(folder):
            return _CannotWriteHere(
                f"cannot write to {path}: its folder {folder} is read-only, and SQLite's write-ahead log "
                f"needs to create {os.path.basename(path)}-wal and -shm beside it")
        if os.path.exists(path) and not os.access(path, os.W_OK) or "readonly" in message:
            return DatabaseFileError(f"{path} is read-only: cannot write to it")
    if name.startswith("SQLITE_IOERR") or "I/O" in message:
        return DatabaseFileError(f"cannot {'open' if opening else 'read or write'} {path}: "
                                 f"a disk I/O error ({name or message})")
    return DatabaseFileError(f"cannot open {path}: {message}") if opening else None


def _header(path: str) -> bytes:
    """The file's first 100 bytes (zeros where there are none). Only before SQLite opens it."""
    try:
        with open(path, "rb") as file:
            return file.read(100).ljust(100, b"\x00")
    except OSError:
        return bytes(100)


def _disk_full(path: str) -> bool:
    """Whether the file system holding `path` has no room left: SQLite reports a full disk
    met while growing its shared-memory file as an I/O error."""
    try:
        found = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 64 * 1024


def _can_create_in(folder: str) -> bool:
    """Whether a file can be made in `folder` (os.access does not know chattr +i, nor a
    read-only mount, and says yes to root)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


_DATE_SCHEDULE_COLUMNS = 'line_id, kind, frequency, rrule, dates, start, "end", next_run_date'


def _date_schedule_values(line_id: int, schedule: DateSchedule, next_run_date: date | None) -> tuple:
    return (line_id, "dates", schedule.frequency, schedule.rrule,
            ",".join(d.isoformat() for d in schedule.dates) or None,
            _iso(schedule.start), _iso(schedule.end), _iso(next_run_date))


def _json_values(count: int, first: int = 0, row: str = "value") -> str:
    """The values of a row given as a JSON array, for SELECT: json_extract, not ->>, which
    needs SQLite 3.38."""
    return ", ".join(f"json_extract({row}, '$[{i}]')" for i in range(first, first + count))


def _insert_each(table: str, columns: str) -> str:
    """Insert the rows of a JSON array (the one parameter) in order, in one statement: how
    imports write a batch of thousands. A fifth faster than executemany, which binds each
    row's parameters one by one."""
    return (f"INSERT INTO {table} ({columns}) SELECT {_json_values(columns.count(',') + 1)} "
            "FROM json_each(?) ORDER BY key")


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _job(row: dict) -> Job:
    return Job(id=row["id"], name=row["name"], job_type=row["job_type"], frequency=row["frequency"],
               active=bool(row["active"]))


def _instance(row: dict) -> Instance:
    return Instance(id=row["id"], job_id=row["job_id"], job_name=row["job_name"],
                    job_active=bool(row["job_active"]), workflow=row["workflow"],
                    running=row["state"] == "running", started_at=clock.from_stamp(row["started_at"]),
                    last_end=clock.from_stamp(row["last_end"]))


def _line(row: tuple) -> Line:
    """A Line from a row of Store._LINE."""
    (line_id, contract, customer, currency, name, billing_method, amount, not_to_exceed, project,
     tax_category, tax_rate, tax_exemption_reason, closed) = row
    return Line(line_id, contract, customer, currency, name, billing_method,
                None if amount is None else from_minor(amount, currency),
                None if not_to_exceed is None else from_minor(not_to_exceed, currency), project,
                tax_category, rate_from_store(tax_rate), tax_exemption_reason, bool(closed))


def _seller(row: tuple) -> Seller:
    *values, rate = row
    return Seller(*values, rate_from_store(rate))


def _milestone(row: dict, line: Line) -> Milestone:
    return Milestone(
        id=row["id"], line=line, name=row["name"], date=date.fromisoformat(row["date"]),
        amount=from_minor(row["amount"], line.currency),
        percent=None if row["percent"] is None else Decimal(row["percent"]),
        ready=bool(row["ready"]), invoice=row["invoice"], invoice_status=row["invoice_status"],
        written_off=bool(row.get("written_off")), credit_notes=_numbers(row.get("credit_notes")),
    )


def _transaction(row: dict, line: Line) -> Transaction:
    return Transaction(
        id=row["id"], line=line, date=date.fromisoformat(row["date"]),
        amount=from_minor(row["amount"], line.currency), type=row["type"],
        quantity=None if row["quantity"] is None else Decimal(row["quantity"]),
        description=row["description"], invoice=row["invoice"], returned_from=row.get("returned_from"),
        credit_notes=_numbers(row.get("credit_notes")), ref=row.get("ref"),
    )


def _numbers(text: str | None) -> tuple[str, ...]:
    return tuple(sorted(set(text.split(",")))) if text else ()


def schedule_from_row(row: dict) -> DateSchedule:
    return DateSchedule(
        frequency=row["frequency"], rrule=row["rrule"],
        dates=tuple(date.fromisoformat(d) for d in row["dates"].split(",")) if row["dates"] else (),
        start=_date(row["start"]), end=_date(row["end"]),
    )

