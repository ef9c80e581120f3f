"""`invoicer migrate-to URI`: a book moved from its SQLite file to a PostgreSQL server,
whole or not at all. The file is read in one snapshot and left as it was; the server's
schema `invoicer` must hold no book yet."""

from invoicer.errors import InputError
from invoicer.store import Store, open_store


def refuse_target(uri: str) -> None:
    if not uri.startswith(("postgresql://", "postgres://")):
        raise InputError(f"uri: {uri!r} is not a PostgreSQL connection URI (postgresql://USER@HOST:PORT/DBNAME)")


def migrate(source: Store, target) -> dict[str, int]:
    """Copy every row of `source` (an SQLite file's store) into `target` (an empty
    PostgreSQL store), in one transaction of each; the rows copied, by table."""
    if not isinstance(source, Store):
        raise InputError("--db: migrate-to moves a book from an SQLite file; this --db is a server already")
    copied = {}
    with source.reading(), target.writing():
        target.refuse_unless_empty()
        for table, columns, rows in source.book_tables():
            copied[table] = target.copy_rows(table, columns, rows)
        target.move_identities_past(source.high_water_marks())
    return copied


def open_target(uri: str):
    refuse_target(uri)
    return open_store(uri)
