"""The store on a PostgreSQL server: the same areas as the SQLite file's Store, over
postgres.PostgresSchema's connection and schema.

One area is its own here: the run's invoices as the JSON text `run-once --json` prints.
SQLite builds that text itself (run_json), in SQL no other database takes; here each
invoice is read as its record and written as render.invoice_json's text, a batch of
invoices at a time (tests/test_run_output.py holds both to the same text)."""

import json
from collections.abc import Iterator

from invoicer.store.book import Book
from invoicer.store.imports import Imports
from invoicer.store.invoices import Invoices
from invoicer.store.jobs import Jobs
from invoicer.store.move import MoveIn
from invoicer.store.postgres import PostgresSchema
from invoicer.store.run_json import RunJson
from invoicer.store.rows import TRANSACTION_COLUMNS
from invoicer.store.runs import Runs

# Invoices read at a time for run-once --json: what is held of a month-end at once.
DOCUMENTS_BATCH = 500


class PostgresStore(PostgresSchema, Jobs, Book, Imports, Invoices, Runs, RunJson, MoveIn):
    """One connection to the server. Use `writing()` or `reading()` around each command."""

    def add_transactions(self, rows: list[tuple]) -> None:
        """Imports.add_transactions by COPY: the rows streamed in the server's own format, in
        order (ids follow the file), not a statement of thousands of VALUES that the client
        quotes value by value."""
        self.copy_rows("transactions", [*TRANSACTION_COLUMNS.split(", "), "ref"], rows)

    def invoice_documents(self, run_id: int, dry_run: bool = False) -> Iterator[str]:
        """Each invoice the run made as render.invoice_json's text, in creation order, read
        as iterated, DOCUMENTS_BATCH invoices at a time (a dry run's with no number and
        status "dry-run"). Read after the run's commit, the batches are read in one
        snapshot of the book, as SQLite's one statement reads."""
        from invoicer import render

        own = not self.conn.in_transaction
        if own:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            after = 0
            while True:
                batch = self.conn.execute(
                    "SELECT id, number FROM invoices WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?",
                    [run_id, after, DOCUMENTS_BATCH]).fetchall()
                if not batch:
                    return
                after = batch[-1][0]
                for invoice in self.iter_invoices(run_id=run_id, numbers=[number for _, number in batch]):
                    if dry_run:
                        invoice = invoice._replace(number=None, status="dry-run")
                    yield json.dumps(render.invoice_json(invoice), ensure_ascii=False, separators=(",", ":"))
        finally:
            if own:
                self._rollback()
