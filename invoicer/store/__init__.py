"""The only package that speaks SQL. `Store` is one open database: the transactions every
command runs in (connection), the schema and its migrations (schema), and the reads and
writes of each area, one module each: the batch job (jobs), the book one row at a time
(book), many rows at a time (imports), the invoice run's set-based statements (runs),
invoices and credit notes (invoices), and the run's invoices as the JSON text
`run-once --json` prints (run_json). Rows become the model's records in rows.

Money is stored as integer minor units, dates as ISO text, moments as UTC ISO text."""

from invoicer.store.book import Book
from invoicer.store.connection import Behind, busy_timeout
from invoicer.store.imports import Imports, NamedDateSchedules
from invoicer.store.invoices import Invoices
from invoicer.store.jobs import Jobs
from invoicer.store.move import MoveOut
from invoicer.store.rows import schedule_from_row
from invoicer.store.run_json import RunJson
from invoicer.store.runs import Runs
from invoicer.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, Schema


class Store(Schema, Jobs, Book, Imports, Invoices, Runs, RunJson, MoveOut):
    """One open SQLite file. Use `writing()` or `reading()` around each command."""


def open_store(target: str) -> Store:
    """The store of --db: a PostgreSQL server for a postgresql:// URI, else an SQLite file.
    psycopg is imported only for a server."""
    if target.startswith(("postgresql://", "postgres://")):
        from invoicer.store.postgres_store import PostgresStore

        return PostgresStore(target)
    return Store(target)


__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "Behind", "NamedDateSchedules", "Store",
           "busy_timeout", "open_store", "schedule_from_row"]
