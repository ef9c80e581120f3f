"""`invoicer migrate-to URI`: move the book of --db (an SQLite file) to a PostgreSQL server."""

from typing import Annotated

import typer

from invoicer import moving, render
from invoicer.cli.common import STORES, Json, store


def migrate_to(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(metavar="URI", help="postgresql://USER@HOST:PORT/DBNAME (password: PGPASSWORD or ~/.pgpass).")],
    json_output: Json = False,
) -> None:
    """Copy the whole book of --db (an SQLite file) into the schema `invoicer` of a
    PostgreSQL database, which must hold no book yet: every contract, invoice, run and
    job, ids and numbers kept, in one transaction. The file is left as it was; point
    --db (or INVOICER_DB) at the URI afterwards.

    Example: invoicer --db book.db migrate-to postgresql://invoicer@db.example.com:5432/billing
    """
    moving.refuse_target(uri)
    source = store(ctx)
    target = moving.open_target(uri)
    ctx.meta.setdefault(STORES, []).append(target)
    copied = moving.migrate(source, target)
    if json_output:
        render.emit({"migrated_to": target.path, "tables": copied})
    else:
        render.table(None, ["table", "rows"], [[table, count] for table, count in copied.items() if count])
        render.say(f"Moved {sum(copied.values())} rows to {target.path}; point --db or INVOICER_DB at it now.")
