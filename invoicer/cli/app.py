"""The `invoicer` command: assembles the command groups, and is the one place where
failures become a line on stderr and an exit code."""

import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Annotated

import typer
from typer._click import exceptions as click  # Typer 0.29 vendors click: its exceptions live here
from typer.exceptions import Abort

from invoicer.cli import _interrupted_while_starting
from invoicer.cli.common import STORES, Command, Group
from invoicer.errors import Interrupted, InvoicerError
from invoicer.render import error

USAGE_EXIT = 2
INTERRUPTED_EXIT = 130

# Where each command is, in the order --help lists them: a module is imported when its
# command runs, so a command costs its own imports, not every other command's.
COMMANDS = {
    "run-once": "invoicer.cli.run:run_once",
    "doctor": "invoicer.cli.doctor:doctor",
    "explain": "invoicer.cli.explain:explain",
    "job": "invoicer.cli.job:app",
    "contract": "invoicer.cli.contract:app",
    "schedule": "invoicer.cli.schedule:app",
    "transaction": "invoicer.cli.transaction:app",
    "invoice": "invoicer.cli.invoice:app",
    "run": "invoicer.cli.run:runs",
    "seller": "invoicer.cli.seller:app",
    "customer": "invoicer.cli.customer:app",
    "migrate-to": "invoicer.cli.migrate:migrate_to",
}


class _Commands(Mapping):
    """The root's commands by name, each built from its module on first use."""

    def __init__(self) -> None:
        self.built: dict[str, typer.core.TyperCommand] = {}

    def __getitem__(self, name: str):
        if name not in self.built:
            module, _, attribute = COMMANDS[name].partition(":")
            target = getattr(importlib.import_module(module), attribute)
            if isinstance(target, typer.Typer):
                command = typer.main.get_group(target)
            else:
                alone = typer.Typer(add_completion=False, rich_markup_mode=None)
                alone.command(name, cls=Command)(target)
                command = typer.main.get_command(alone)
            command.name = name
            self.built[name] = command
        return self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class InvoicerGroup(Group):
    """Runs the command, and turns what went wrong into one line (or one JSON error)."""

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        self.commands = _Commands()

    def invoke(self, ctx: typer.Context):
        stores = ctx.meta.setdefault(STORES, [])  # the meta of every context of the command
        try:
            try:
                return super().invoke(ctx)
            finally:
                # Its output is written by now: a server's connection is let go at once, not
                # when the process ends (the test suite runs thousands of commands in one).
                # A file's may wait a moment for the run's checkpoint: Ctrl-C then is said below.
                for store in stores:
                    store.close()
        except KeyboardInterrupt:
            # Typer would exit 130 in silence. The command's transaction has been rolled
            # back on the way here, unless it had committed (then only output was cut).
            if any(store.committed for store in stores):
                raise Interrupted("interrupted (Ctrl-C) after the command's changes were saved; "
                                  "its output may be incomplete") from None
            raise Interrupted("interrupted (Ctrl-C); nothing was written") from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in args
        # Started with a stream closed (>&- under cron or a daemon), the command still runs;
        # what it would print goes nowhere.
        for name in ("stdout", "stderr"):
            if getattr(sys, name) is None:
                setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            code = super().main(args=args, prog_name=prog_name or "invoicer", complete_var=complete_var,
                                standalone_mode=False, **extra)
            if code == INTERRUPTED_EXIT:  # Ctrl-C while the command line was read: Typer's Exit(130)
                error("interrupted (Ctrl-C) before the command started; nothing was written", "interrupted", as_json)
        except InvoicerError as failure:
            error(str(failure), failure.code, as_json)
            code = failure.exit_code
        except click.NoArgsIsHelpError as usage:
            click.echo(usage.ctx.get_help())
            code = USAGE_EXIT
        except click.UsageError as usage:
            hint = f" (see: invoicer {usage.ctx.command_path.partition(' ')[2]} --help)".replace("  ", " ") \
                if usage.ctx else ""
            if "--db" in usage.format_message():
                hint = " (--db goes before the command: invoicer --db PATH COMMAND ...)"
            error(usage.format_message() + hint, "usage", as_json)
            code = USAGE_EXIT
        except Abort:
            error("interrupted; nothing was written", "interrupted", as_json)
            code = INTERRUPTED_EXIT
        except BrokenPipeError:
            code = 1
        sys.stdout.flush()
        if standalone_mode:
            sys.exit(code if isinstance(code, int) else 0)
        return code


app = typer.Typer(
    cls=InvoicerGroup,
    help="Recurring invoice creation for project contracts: the \"create invoices\" batch job, over one SQLite file or a PostgreSQL server.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(asked: bool) -> None:
    if asked:
        from invoicer import __version__

        print(f"invoicer {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[str | None, typer.Option("--db", metavar="PATH",
                                           help="The database: a file, or a postgresql:// URI (default: $INVOICER_DB, else ./invoicer.db).")] = None,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Print invoicer's version and exit.")] = False,
) -> None:
    """Recurring invoice creation for project contracts, over one SQLite file or a PostgreSQL server."""


def main() -> None:
    """The `invoicer` command: a process of its own, that has opened no database yet."""
    from invoicer.store.connection import stop_counting_allocations

    stop_counting_allocations()
    app()
