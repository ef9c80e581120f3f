"""A book moved whole from an SQLite file to a PostgreSQL server (`invoicer migrate-to`):
the file's rows read table by table in one read transaction, written to the server with
COPY in one write transaction, ids and their high-water marks kept."""

from collections.abc import Iterator

from invoicer.errors import DatabaseFileError
from invoicer.store.connection import Connection
from invoicer.store.postgres_schema import TABLES

# Tables the schema fills itself: the target's migrations record its own schema; the
# counters are the file's (copied over the target's zeros).
_OWN = {"migrations"}
_REPLACED = {"counters"}


class MoveOut(Connection):
    """The SQLite file's side: its rows, in an order the foreign keys allow."""

    def book_tables(self) -> Iterator[tuple[str, list[str], Iterator[tuple]]]:
        """(table, columns, rows) of every table but the schema's own, parents first."""
        for table in TABLES:
            if table in _OWN:
                continue
            columns = [row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")]
            quoted = ", ".join(f'"{c}"' for c in columns)
            yield table, columns, iter(self.conn.execute(f"SELECT {quoted} FROM {table} ORDER BY rowid"))

    def high_water_marks(self) -> dict[str, int]:
        """Each AUTOINCREMENT table's highest id ever given (a deleted row's id stays used)."""
        return dict(self.conn.execute("SELECT name, seq FROM sqlite_sequence"))


class MoveIn(Connection):
    """The server's side: an empty book takes the rows, then its identities go past them."""

    def refuse_unless_empty(self) -> None:
        held = [table for table in TABLES if table not in _OWN | _REPLACED
                and self.conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]]
        if held:
            raise DatabaseFileError(f"{self.path} already holds a book (rows in {', '.join(held[:3])}"
                                    f"{', ...' if len(held) > 3 else ''}); a book moves only into an empty one: "
                                    "nothing was copied")

    def copy_rows(self, table: str, columns: list[str], rows: Iterator[tuple]) -> int:
        if table in _REPLACED:
            self.conn.execute(f"DELETE FROM {table}")
        quoted = ", ".join(f'"{c}"' for c in columns)
        count = 0
        with self.conn.raw.cursor().copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def move_identities_past(self, marks: dict[str, int]) -> None:
        """Each identity column's next value: past the highest id the file ever gave."""
        for table in TABLES:
            if self.conn.execute(
                    """SELECT 1 FROM information_schema.columns WHERE table_schema = 'invoicer'
                        AND table_name = ? AND column_name = 'id' AND is_identity = 'YES'""", [table]).fetchone():
                highest = max(marks.get(table, 0),
                              self.conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
                # is_called false: the next id is 1 itself (bools go to the server as 0/1, so as text)
                self.conn.execute(f"SELECT setval(pg_get_serial_sequence('invoicer.{table}', 'id'), ?, "
                                  f"{'true' if highest else 'false'})", [max(highest, 1)])
