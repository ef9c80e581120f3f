"""What every command shares: the --json option and the database the root option chose."""

import os
from typing import Annotated

import typer

from invoicer.store import Store

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")]


def store(ctx: typer.Context) -> Store:
    """The database of --db, else $INVOICER_DB, else ./invoicer.db; created on first use."""
    root = ctx.find_root()
    path = root.params.get("db") or os.environ.get("INVOICER_DB") or "invoicer.db"
    return Store(path)


def group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)
