"""The connection to one SQLite file and the transactions every command runs in; every
failure of SQLite said in the tool's words."""

import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Self

from invoicer.errors import Conflict, DatabaseFileError, InvoicerError
from invoicer.store.dialect import SQLITE

if TYPE_CHECKING:
    from sqlite_utils import Database

DEFAULT_BUSY_TIMEOUT_SECONDS = 10.0
SQLITE_CONFIG_MEMSTATUS = 9  # sqlite3.h
_allocations_counted = True


def stop_counting_allocations() -> None:
    """Turn off SQLite's count of the memory it allocates (SQLITE_CONFIG_MEMSTATUS), before
    the process opens its first connection: the count takes a lock shared by every
    connection at each allocation, and invoicer never reads it. Python's sqlite3 has no
    call for it, so ctypes calls SQLite's own functions in the library the sqlite3 module
    uses; only on Linux on x86-64 and ARM64, where a variadic C function takes an int as
    any other. Elsewhere nothing changes but speed. tests/test_database.py fails if this
    stops working."""
    global _allocations_counted
    import platform

    if not _allocations_counted or sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        return
    _allocations_counted = False
    import _sqlite3
    import ctypes

    try:
        library = ctypes.CDLL(_sqlite3.__file__)
        # SQLite takes its configuration only while shut down, and makes itself ready again
        # at the first connection.
        if library.sqlite3_shutdown() == 0:
            library.sqlite3_config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0))
            library.sqlite3_initialize()
    except (OSError, AttributeError):
        pass


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


# Bytes a page, for a new book and every connection's temporary tables: four times SQLite's
# default, so that a month-end reads and rewrites a quarter as many pages (bench/NOTES.md).
# A book keeps the size it was made with; but a VACUUM on a connection would rewrite it at
# this size (the pragma sets that too): invoicer runs none.
PAGE_SIZE = 16384


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
        conn.execute(f"PRAGMA temp.page_size = {PAGE_SIZE}")  # before the first temporary table
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


class Connection:
    """One open database and the transactions every command runs in: an SQLite file here,
    a server in postgres.PostgresConnection."""

    sql = SQLITE  # the fragments where the dialects differ
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

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
        self._db: "Database | None" = None
        self._checkpoint: threading.Thread | None = None
        try:
            self.conn = _connect(path, self.busy_timeout, self.header)
            self._prepare()
        except _CannotWriteHere as reason:
            if hasattr(self, "conn"):
                self.conn.close()
            self.conn = _connect_read_only(path, self.busy_timeout, str(reason))
            self._db = None
            self.cannot_write = str(reason)
            self._prepare(read_only=True)

    @property
    def db(self) -> "Database":
        """sqlite-utils' Database over the connection, made when first asked for: importing
        sqlite-utils is a third of invoicer's start-up, and the daily run (runs, jobs) does
        without it, on the connection itself."""
        if self._db is None:
            from sqlite_utils import Database

            self._db = Database(self.conn, execute_plugins=False, recursive_triggers=False)
        return self._db

    def _prepare(self, read_only: bool = False) -> None:
        """Create or migrate the schema: schema.Schema's."""
        raise NotImplementedError

    def close(self) -> None:
        try:
            if self._checkpoint is not None:
                self._checkpoint.join()
        finally:
            self.conn.close()

    def _commit_checkpointed_aside(self) -> None:
        """Commit without SQLite's checkpoint at the commit (a month-end's log is 100 MB to
        copy into the file), and run it on a connection and thread of its own while the
        command prints; close() waits for it. The commit is as durable: the log is synced."""
        if self._checkpoint is not None:
            self._checkpoint.join()  # an earlier commit's
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            self.conn.execute("COMMIT")
            self.committed = True
        finally:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_AUTOCHECKPOINT_PAGES}")
        self._checkpoint = threading.Thread(target=_checkpoint, args=(self.path, self.busy_timeout),
                                            name="invoicer-checkpoint", daemon=True)
        self._checkpoint.start()

    def imported(self, *tables: str) -> None:
        """An import filled these tables. Nothing to do on a file: SQLite plans by its
        indexes, not by statistics of the tables' sizes."""

    @contextmanager
    def writing(self, rollback: bool = False, linked_by_joins: bool = False) -> Iterator[Self]:
        """One write transaction; `rollback=True` runs it and writes nothing (dry runs).

        `linked_by_joins=True`: every reference the transaction writes is a join's, to a
        row it read or wrote in this transaction (the invoice run's set-based statements),
        so SQLite's check of each one, a lookup per row written (a million at a month-end,
        a tenth to a quarter of the run's time), is left out. Every other command's writes
        are checked; tests and `doctor` (PRAGMA foreign_key_check) hold the run to it.
        Such a transaction's damage check reads the book beside it (_CheckAside), on the
        machine's other core, instead of before it: a month-end's writes need not wait for
        a read of every page."""
        if self.cannot_write:
            raise DatabaseFileError(f"{self.cannot_write}; nothing was written")
        with self._translated(), self._references_checked(not linked_by_joins):
            self.conn.execute("BEGIN IMMEDIATE")
            aside = None
            try:
                aside = _CheckAside(self) if linked_by_joins and self._in_wal_mode() else None
                if aside is None:
                    self._refuse_if_damaged()
                yield self
                if aside is not None:
                    aside.refuse_if_damaged()
            except BaseException:
                self._rollback()
                if aside is not None:
                    # A damaged book may make the transaction fail first: the damage is what
                    # the user must hear of.
                    aside.refuse_if_damaged()
                raise
            if rollback:
                self._rollback()
            elif aside is None:
                self.conn.execute("COMMIT")
                self.committed = True
            else:
                self._commit_checkpointed_aside()

    @contextmanager
    def _references_checked(self, checked: bool) -> Iterator[None]:
        """Foreign keys enforced (as the connection opens) or not, for one transaction: set
        before it begins (inside one the pragma is a no-op), and back on after it, failed or not."""
        if checked:
            yield
            return
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

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
        self._refuse_finding(self.conn.execute("PRAGMA quick_check(1)").fetchone()[0], writing)

    def _refuse_finding(self, finding: str, writing: bool = True) -> None:
        if finding != "ok":
            raise DatabaseFileError(f"{self.path} is damaged ({finding}); "
                                    + ("nothing was written " if writing else "what it holds cannot be trusted ")
                                    + "(see `invoicer doctor`, and restore it from a backup)")

    def _in_wal_mode(self) -> bool:
        return self.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    @contextmanager
    def reading(self, checked: bool = True) -> Iterator[Self]:
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

    def max_parameters(self) -> int:
        """How many parameters a statement may bind."""
        return self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def changes(self, cursor) -> int:
        """How many rows the statement of `cursor` wrote: changes(), not rowcount, which
        sqlite3 does not give for a statement that starts with WITH."""
        return self.conn.execute("SELECT changes()").fetchone()[0]

    def _rows(self, sql: str, params=()) -> Iterator[dict]:
        # sqlite3 directly: sqlite-utils' query() costs ~20 µs a call, felt on imports.
        cursor = self.conn.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row))

    def _one(self, sql: str, params) -> dict | None:
        return next(self._rows(sql, params), None)


_WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


def _pragma_aside(path: str, timeout: float, pragma: str) -> tuple:
    """The first row of one PRAGMA, run on a connection of its own (another thread's)."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        return conn.execute(f"PRAGMA {pragma}").fetchone()
    finally:
        conn.close()


def _checkpoint(path: str, timeout: float) -> None:
    """Copy the write-ahead log into the database file, as far as no reader needs it."""
    try:
        _pragma_aside(path, timeout, "wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        # Nothing is lost: the log holds what the checkpoint did not copy, and the next
        # commit's checkpoint, or the next command's opening, meets what stopped this one.
        pass


class _CheckAside:
    """The damage check of a write transaction just begun (PRAGMA quick_check(1)), run on a
    connection of its own, on a thread, while the transaction works. In write-ahead-log
    mode the check reads the book as the transaction found it: it starts before the
    transaction commits (refuse_if_damaged waits for it), the transaction's own writes are
    not committed, and no other can commit while it holds the write lock. SQLite lets go
    of Python's lock while it reads, so the two run on two cores."""

    def __init__(self, store: Connection):
        self.store = store
        self.finding: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._check, name="invoicer-check", daemon=True)
        self.thread.start()

    def _check(self) -> None:
        try:
            self.finding = _pragma_aside(self.store.path, self.store.busy_timeout, "quick_check(1)")[0]
        except BaseException as error:  # raised in the transaction's thread, by refuse_if_damaged
            self.error = error

    def refuse_if_damaged(self) -> None:
        """Wait for the check; raise if it found the book damaged, or could not read it.
        Called again (the transaction failing after a check that passed), it passes."""
        self.thread.join()
        error, finding = self.error, self.finding
        self.error, self.finding = None, "ok"
        if isinstance(error, sqlite3.DatabaseError):
            said = _said(error, self.store.path, self.store.busy_timeout, self.store.header)
            raise said or DatabaseFileError(f"cannot check {self.store.path}: {error}; nothing was written")
        if error is not None:
            raise error
        self.store._refuse_finding(finding)


class Behind:
    """One insert at a time on a worker thread (see Store.behind). Whoever uses the
    connection next calls settle() first: it waits for the insert, and raises its error
    or returns its result."""

    def __init__(self, store: "Connection"):
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
