"""`invoicer run-once` (what cron calls daily) and `invoicer run list`."""

from typing import Annotated

import typer

from invoicer import billing, invoices, render
from invoicer.cli.common import Json, group, store
from invoicer.values import parse_date, parse_id

runs = group("The record of every Process step; undo the latest.")


def run_once(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option("--date", help="The day the run is for (default: today).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what the run would create; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Run a Process step even while sleeping.")] = False,
    allow_future: Annotated[bool, typer.Option("--allow-future", help="Allow a real run for a date after today.")] = False,
    json_output: Json = False,
) -> None:
    """Run the invoice job once: a Process step unless the Sleep step has not ended.

    Example (crontab): 5 0 * * * INVOICER_DB=/srv/book.db invoicer run-once --json
    """
    run_date = parse_date(date, "date") if date is not None else None
    result = billing.run_once(store(ctx), run_date, dry_run=dry_run, force=force, allow_future=allow_future,
                              shown=None if json_output else render.SHOWN_ROWS + 1, as_json=json_output)
    if json_output:
        render.emit_run_result(result)
    else:
        render.show_run_result(result)


@runs.command("list")
def list_(ctx: typer.Context, json_output: Json = False) -> None:
    """Every Process step: when, for which date, what it made and skipped.

    Example: invoicer run list
    """
    found = invoices.list_runs(store(ctx))
    if json_output:
        render.emit({"runs": [render.run_json(r) for r in found]})
    else:
        render.show_runs(found)


@runs.command("show")
def show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(metavar="RUN_ID")],
         json_output: Json = False) -> None:
    """One Process step: when, for which date, the invoices it made and every line it skipped.

    Example: invoicer run show 3
    """
    run, made = invoices.show_run(store(ctx), parse_id(run_id, "run_id"))
    if json_output:
        render.emit(render.run_json(run))
    else:
        render.show_run(run, made)
@runs.command("undo")
def undo(ctx: typer.Context, run_id: Annotated[str, typer.Argument(metavar="RUN_ID")], json_output: Json = False) -> None:
    """Take back the latest run while its invoices are drafts: they are cancelled, its run dates open again.

    Example: invoicer run undo 12
    """
    run = invoices.undo_run(store(ctx), run_id)
    if json_output:
        render.emit(render.run_json(run))
    else:
        render.say(f"run {run.id} (run date {run.run_date}) undone: {len(run.invoices)} invoice(s) cancelled, "
                   "its run dates open again")
