"""The `invoicer` command: assembles the command groups, and is the one place where
failures become a line on stderr and an exit code."""

import sys
from typing import Annotated

import typer
from typer._click import exceptions as click  # Typer 0.29 vendors click: its exceptions live here
from typer.exceptions import Abort
from typer.core import TyperGroup

from invoicer.cli import contract, doctor, explain, invoice, job, run, schedule, transaction
from invoicer.errors import InvoicerError
from invoicer.render import error

USAGE_EXIT = 2


class InvoicerGroup(TyperGroup):
    """Runs the command, and turns what went wrong into one line (or one JSON error)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in args
        try:
            code = super().main(args=args, prog_name=prog_name or "invoicer", complete_var=complete_var,
                                standalone_mode=False, **extra)
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
            error("interrupted", "interrupted", as_json)
            code = 130
        except BrokenPipeError:
            code = 1
        sys.stdout.flush()
        if standalone_mode:
            sys.exit(code if isinstance(code, int) else 0)
        return code


app = typer.Typer(
    cls=InvoicerGroup,
    help="Recurring invoice creation for project contracts: the \"create invoices\" batch job, over one SQLite file.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    db: Annotated[str | None, typer.Option("--db", metavar="PATH",
                                           help="The database file (default: $INVOICER_DB, else ./invoicer.db).")] = None,
) -> None:
    """Recurring invoice creation for project contracts, over one SQLite file."""


app.add_typer(job.app, name="job")
app.add_typer(contract.app, name="contract")
app.add_typer(schedule.app, name="schedule")
app.add_typer(transaction.app, name="transaction")
app.add_typer(invoice.app, name="invoice")
app.add_typer(run.runs, name="run")
app.command("run-once")(run.run_once)
app.command("doctor")(doctor.doctor)
app.command("explain")(explain.explain)


def main() -> None:
    app()
