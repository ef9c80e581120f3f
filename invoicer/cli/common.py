"""What every command shares: the --json option, the database the root option chose, and
the Typer classes invoicer's groups and commands are made of."""

import os
from typing import Annotated

import typer
from typer._click import exceptions as click  # Typer 0.29 vendors click
from typer.core import TyperCommand, TyperGroup

from invoicer.store import Store

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")]


def store(ctx: typer.Context) -> Store:
    """The database of --db, else $INVOICER_DB, else ./invoicer.db; created on first use."""
    root = ctx.find_root()
    path = root.params.get("db") or os.environ.get("INVOICER_DB") or "invoicer.db"
    return Store(path)


class _AsGiven:
    """The coercion of a text option or argument, or of a flag: Click's value as is (text,
    or True/False/None). Typer would build a pydantic TypeAdapter instead, whose import
    (~50 ms) is half the time of a small command. Every option and argument of invoicer
    is text or a flag; invoicer.values parses them, and its errors name their field."""

    @staticmethod
    def coerce(value, param, ctx):
        return value


class _ValuesAsGiven:
    """Mixin of invoicer's commands and groups: gives their text parameters and flags (and
    --help) the _AsGiven coercion before parsing. Typer keeps a parameter's coercion in
    `_runtime_param`, built on first use; should a later Typer name it otherwise, this does
    nothing and Typer's own coercion runs: slower, the same values."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        for param in self.get_params(ctx):
            annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
            if getattr(param, "_runtime_param", False) is None and \
                    (annotation is str or (annotation is bool and getattr(param, "is_flag", False))):
                param._runtime_param = _AsGiven
            # Click keeps the last of --active --inactive; a contradiction is refused instead.
            if getattr(param, "secondary_opts", None) and not set(param.opts).isdisjoint(args) \
                    and not set(param.secondary_opts).isdisjoint(args):
                raise click.UsageError(f"{param.opts[0]} and {param.secondary_opts[0]} contradict each other; "
                                       "give one", ctx=ctx)
        return super().parse_args(ctx, args)


class Command(_ValuesAsGiven, TyperCommand):
    pass


class Group(_ValuesAsGiven, TyperGroup):
    pass


class Typer(typer.Typer):
    """A command group whose commands are invoicer Commands."""

    def __init__(self, **settings):
        super().__init__(cls=settings.pop("cls", Group), **settings)

    def command(self, name: str | None = None, **settings):
        return super().command(name, cls=settings.pop("cls", Command), **settings)


def group(help_text: str) -> Typer:
    return Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)
