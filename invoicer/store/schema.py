"""The schema and its numbered migrations, the checks of a file's identity and version, and
its health (doctor)."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from invoicer import clock
from invoicer.errors import DatabaseFileError
from invoicer.store.connection import PAGE_SIZE, Connection, _said

if TYPE_CHECKING:
    from sqlite_utils import Database

APPLICATION_ID = 0x494E5643  # "INVC": marks a file as an invoicer database


def _m001_initial(db: "Database") -> None:
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


def _m002_parties_and_tax(db: "Database") -> None:
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


def _m003_skip_spans(db: "Database") -> None:
    """A skip record stands for every run date of a run at which a line was passed over for
    one reason (with one detail): from run_date to last_run_date, `count` of them. A
    catch-up of centuries writes a record a line, not one a run date."""
    db.execute("ALTER TABLE run_skips ADD COLUMN last_run_date TEXT")
    db.execute("ALTER TABLE run_skips ADD COLUMN count INTEGER NOT NULL DEFAULT 1")
    db.execute("UPDATE run_skips SET last_run_date = run_date")
    db.execute("CREATE INDEX run_skips_by_line ON run_skips(line_id, run_date)")


def _m004_corrections(db: "Database") -> None:
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


def _m005_hand_over(db: "Database") -> None:
    """When each document was handed over by an `invoice export --new`, by format."""
    db.execute(
        """CREATE TABLE hand_overs (
               invoice_id INTEGER NOT NULL REFERENCES invoices(id),
               format TEXT NOT NULL,
               handed_over_at TEXT NOT NULL,
               PRIMARY KEY (invoice_id, format)
           ) STRICT""")


def _m006_transaction_refs(db: "Database") -> None:
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


def _m007_billing_split(db: "Database") -> None:
    """Several customers on one contract (spec section 10): the splits, a contract's (no
    line) and a line's own, in the order named, percents in hundredths; the shares of each
    item billed by a split, one per customer, each on its customer's invoice line (none:
    billable again, to that customer alone); each invoice's customer; and the customer a
    transaction returned from a share is billed to alone."""
    for statement in (
        """CREATE TABLE splits (
            contract_id INTEGER NOT NULL REFERENCES contracts(id),
            line_id INTEGER REFERENCES contract_lines(id),
            position INTEGER NOT NULL,
            customer TEXT NOT NULL,
            percent INTEGER NOT NULL CHECK (percent > 0 AND percent <= 10000),
            rounding INTEGER NOT NULL CHECK (rounding IN (0, 1))
        ) STRICT""",
        "CREATE UNIQUE INDEX splits_in_order ON splits(contract_id, coalesce(line_id, 0), position)",
        "CREATE UNIQUE INDEX splits_customer_once ON splits(contract_id, coalesce(line_id, 0), customer)",
        "CREATE INDEX splits_by_line ON splits(line_id) WHERE line_id IS NOT NULL",
        """CREATE TABLE shares (
            kind TEXT NOT NULL CHECK (kind IN ('t', 'm')),
            item_id INTEGER NOT NULL,
            customer TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            invoice_line_id INTEGER REFERENCES invoice_lines(id)
        ) STRICT""",
        "CREATE UNIQUE INDEX shares_by_item ON shares(kind, item_id, customer)",
        "CREATE INDEX shares_by_invoice_line ON shares(invoice_line_id) WHERE invoice_line_id IS NOT NULL",
        "CREATE INDEX shares_billable ON shares(kind, item_id) WHERE invoice_line_id IS NULL",
        "ALTER TABLE invoices ADD COLUMN customer TEXT",
        "UPDATE invoices SET customer = (SELECT c.customer FROM contracts c WHERE c.id = invoices.contract_id)",
        "CREATE INDEX invoices_by_customer ON invoices(customer)",
        "ALTER TABLE transactions ADD COLUMN customer TEXT",
        # A cancelled invoice's copy of a share keeps the whole item's amount beside it.
        "ALTER TABLE cancelled_items ADD COLUMN item_amount INTEGER",
    ):
        db.execute(statement)


def _m008_returned_shares(db: "Database") -> None:
    """A share a confirmed credit note returned is its customer's for good: billed again to
    that customer alone, never merged back into one item with the other shares."""
    db.execute("ALTER TABLE shares ADD COLUMN returned INTEGER NOT NULL DEFAULT 0 CHECK (returned IN (0, 1))")


def _m009_no_index_of_due_dates(db: "Database") -> None:
    """The date schedules' index by next run date goes: every run moved each due
    schedule's entry in it, and a daily run finds its due schedules as fast without it."""
    db.execute("DROP INDEX date_schedules_due")


def _m010_unbilled_by_line(db: "Database") -> None:
    """Unbilled transactions indexed by line alone: a run deletes the entry of each one it
    bills, and staging reads each row (its amount, and its date) anyway."""
    db.execute("DROP INDEX transactions_unbilled")
    db.execute("CREATE INDEX transactions_unbilled ON transactions(line_id) WHERE invoice_line_id IS NULL")


def _m011_billed_by_line(db: "Database") -> None:
    """Transactions indexed by line, whole, in place of the index of the billed ones by
    invoice line: a run moved each transaction it billed into that index (a seventh of a
    month-end's time), and a line's entry is written once, when the transaction is added,
    imported or returned by a credit note. An invoice line's transactions are among its
    contract line's (rows.TRANSACTIONS_ON), found through that."""
    db.execute("DROP INDEX transactions_by_invoice_line")
    db.execute("CREATE INDEX transactions_by_line ON transactions(line_id)")


def _m012_invoice_lines_by_invoice_and_line(db: "Database") -> None:
    """An invoice's lines indexed by invoice and line: a run finds the invoice line of each
    of its groups of items (an invoice and a line) in the index alone, without reading the
    invoice's lines, and an invoice's lines are read in line order."""
    db.execute("DROP INDEX invoice_lines_by_invoice")
    db.execute("CREATE INDEX invoice_lines_by_invoice ON invoice_lines(invoice_id, line_id)")


# Numbered migrations, applied in order; each one's number is recorded in `migrations`
# and in PRAGMA user_version. Append, never edit.
MIGRATIONS = [_m001_initial, _m002_parties_and_tax, _m003_skip_spans, _m004_corrections, _m005_hand_over, _m006_transaction_refs,
              _m007_billing_split, _m008_returned_shares, _m009_no_index_of_due_dates,
              _m010_unbilled_by_line, _m011_billed_by_line, _m012_invoice_lines_by_invoice_and_line]


SCHEMA_VERSION = len(MIGRATIONS)


class Schema(Connection):
    """The schema: created and migrated on opening, versioned, and checked (doctor)."""

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
            if version == 0 and not objects:
                # A new book's pages (set before its first write; a no-op on a file another
                # process has just made a book of).
                self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
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
        """One statement, so one snapshot: read apart, a first command on a new file could see
        another's schema committed between its application_id (still 0) and its table count."""
        return self.conn.execute(
            "SELECT a.application_id, v.user_version, (SELECT count(*) FROM sqlite_master) "
            "FROM pragma_application_id() a, pragma_user_version() v"
        ).fetchone()

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

    # What doctor says when integrity_problems finds none.
    INTEGRITY_CHECKED = "PRAGMA integrity_check: ok"

    def integrity_problems(self) -> list[str]:
        found = [row[0] for row in self.conn.execute("PRAGMA integrity_check")]
        found += [f"foreign key: {row[0]} row {row[1]} -> {row[2]}" for row in self.conn.execute("PRAGMA foreign_key_check")]
        return [] if found == ["ok"] else [f for f in found if f != "ok"]

    def count_closed_lines(self) -> int:
        return self.conn.execute("SELECT count(*) FROM contract_lines WHERE closed = 1").fetchone()[0]

    def count_undone_runs(self) -> int:
        return self.conn.execute("SELECT count(*) FROM runs WHERE undone_at IS NOT NULL").fetchone()[0]
