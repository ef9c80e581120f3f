"""What every command shares: the --json option, the database the root option chose, and
the Typer classes invoicer's groups and commands are made of."""

import os
import re
from typing import Annotated

import typer
from typer._click import exceptions as click  # Typer 0.29 vendors click
from typer._click.core import ParameterSource
from typer.core import TyperCommand, TyperGroup

from invoicer.store import Store, open_store
from invoicer.values import typed_text

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")]


# ctx.meta key of the stores a command opened: Ctrl-C's message says whether one committed.
STORES = "invoicer.stores"


def store(ctx: typer.Context) -> Store:
    """The database of --db, else $INVOICER_DB, else ./invoicer.db (a file, or a
    postgresql:// URI); created on first use."""
    root = ctx.find_root()
    # An empty --db is refused where every typed text is (_refuse_bad_text); an empty
    # $INVOICER_DB is taken as unset, as shells do.
    path = root.params.get("db") or os.environ.get("INVOICER_DB") or "invoicer.db"
    opened = open_store(path)
    ctx.meta.setdefault(STORES, []).append(opened)
    return opened


class _AsGiven:
    """The coercion of a text option or argument, or of a flag: Click's value as is (text,
    or True/False/None). Typer would build a pydantic TypeAdapter instead, whose import
    (~50 ms) is half the time of a small command. Every option and argument of invoicer
    is text (one, or a repeatable list of them) or a flag; invoicer.values parses them,
    and its errors name their field."""

    @staticmethod
    def coerce(value, param, ctx):
        return value


class _ValuesAsGiven:
    """Mixin of invoicer's commands and groups: gives their text parameters and flags (and
    --help) the _AsGiven coercion before parsing. Typer keeps a parameter's coercion in
    `_runtime_param`, built on first use; should a later Typer name it otherwise, this does
    nothing and Typer's own coercion runs: slower, the same values."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        params = self.get_params(ctx)
        for param in params:
            annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
            if getattr(param, "_runtime_param", False) is None and \
                    (annotation is str or annotation == list[str]
                     or (annotation is bool and getattr(param, "is_flag", False))):
                param._runtime_param = _AsGiven
        _refuse_both_of_a_pair(ctx, params, args)
        rest = super().parse_args(ctx, args)
        if not ctx.resilient_parsing:
            _refuse_bad_text(ctx, params)
        return rest


# Options whose empty value the spec itself reads as none (section 11: "an empty
# description as none"): valid Unicode still, but may be empty.
EMPTY_MEANS_NONE = {"description"}


def _refuse_bad_text(ctx: typer.Context, params: list) -> None:
    """One rule for every text a user types, whatever the command (values.typed_text): an
    empty value, or one that is not valid Unicode, is refused before the command runs."""
    for param in params:
        value = ctx.params.get(param.name)
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        # A repeatable option or an argument of several values (NUMBER ...) holds a tuple.
        for text in (value,) if isinstance(value, str) else value if isinstance(value, (tuple, list)) else ():
            if isinstance(text, str):
                typed_text(text, _field(param), option=getattr(param, "param_type_name", "") == "option",
                           empty_is_none=param.name in EMPTY_MEANS_NONE)


def _field(param) -> str:
    """How messages name a parameter: an option by its name (--not-to-exceed: not_to_exceed),
    an argument by its metavar (LINE_ID: line_id)."""
    if getattr(param, "param_type_name", "") == "option" and param.opts:
        return param.opts[0].lstrip("-").replace("-", "_")
    return re.sub(r"[^0-9A-Za-z_]", "", param.metavar or "").lower() or param.name


def _refuse_both_of_a_pair(ctx: typer.Context, params: list, args: list[str]) -> None:
    """Click keeps the last of --active --inactive: a contradiction is refused instead. Only
    options count: not an option's value, nor what follows --."""
    pairs = [p for p in params if getattr(p, "secondary_opts", None)]
    if not pairs or "--help" in args:
        return
    takes_value = {opt for p in params if getattr(p, "opts", None) and not getattr(p, "is_flag", True)
                   for opt in p.opts}
    given, skip = set(), False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            break
        elif arg in takes_value:
            skip = True
        else:
            given.add(arg)
    for param in pairs:
        if not given.isdisjoint(param.opts) and not given.isdisjoint(param.secondary_opts):
            raise click.UsageError(f"{param.opts[0]} and {param.secondary_opts[0]} contradict each other; "
                                   "give one", ctx=ctx)


class Command(_ValuesAsGiven, TyperCommand):
    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        # Arguments read as the help names them: CONTRACT, LINE_ID.
        for param in self.params:
            if param.param_type_name == "argument":
                param.metavar = (param.metavar or param.name).strip("[]").upper()

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        """The usage line: a required argument as CONTRACT, an optional one as [LINE_ID]
        (Typer 0.29 would print {contract} and [[LINE_ID]])."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(param.metavar if param.required else f"[{param.metavar}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class Group(_ValuesAsGiven, TyperGroup):
    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        # A group's help may name its commands as "{commands}": then it names every one.
        if self.help and "{commands}" in self.help:
            self.help = self.help.replace("{commands}", ", ".join(self.commands))


class Typer(typer.Typer):
    """A command group whose commands are invoicer Commands."""

    def __init__(self, **settings):
        super().__init__(cls=settings.pop("cls", Group), **settings)

    def command(self, name: str | None = None, **settings):
        return super().command(name, cls=settings.pop("cls", Command), **settings)


def group(help_text: str) -> Typer:
    return Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)
