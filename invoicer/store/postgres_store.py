"""The store on a PostgreSQL server: the same areas as the SQLite file's Store, over
postgres.PostgresSchema's connection and schema."""

from invoicer.store.book import Book
from invoicer.store.imports import Imports
from invoicer.store.invoices import Invoices
from invoicer.store.jobs import Jobs
from invoicer.store.move import MoveIn
from invoicer.store.postgres import PostgresSchema
from invoicer.store.run_json import RunJson
from invoicer.store.runs import Runs


class PostgresStore(PostgresSchema, Jobs, Book, Imports, Invoices, Runs, RunJson, MoveIn):
    """One connection to the server. Use `writing()` or `reading()` around each command."""
