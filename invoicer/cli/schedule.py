"""`invoicer schedule ...`: date-based invoice schedules and milestones."""

from functools import partial
from typing import Annotated

import typer

from invoicer import book, imports, render
from invoicer.cli.common import Json, group, store
from invoicer.cli.progress import imported
from invoicer.values import parse_id

app = group("Invoice schedules: date-based (time-and-material lines) and milestones (fixed-price lines).")

Opt = typer.Option


@app.command("add")
def add(
    ctx: typer.Context,
    line_id: Annotated[str, typer.Argument(metavar="LINE_ID")],
    frequency: Annotated[str | None, Opt("--frequency", help="daily|weekly|biweekly|semimonthly|monthly|quarterly")] = None,
    rrule: Annotated[str | None, Opt("--rrule", help="An RFC 5545 rule, e.g. FREQ=MONTHLY;BYMONTHDAY=7,-1")] = None,
    dates: Annotated[str | None, Opt("--dates", help="Explicit run dates: DATE[,DATE...]")] = None,
    start: Annotated[str | None, Opt("--start", help="Billing start date.")] = None,
    end: Annotated[str | None, Opt("--end", help="Requested delivery date: no run date after it.")] = None,
    replace: Annotated[bool, Opt("--replace", help="Replace the line's date-based schedule.")] = False,
    milestone: Annotated[str | None, Opt("--milestone", help="A milestone's name (fixed-price lines).")] = None,
    date: Annotated[str | None, Opt("--date", help="The milestone's date.")] = None,
    amount: Annotated[str | None, Opt("--amount", help="The milestone's amount.")] = None,
    percent: Annotated[str | None, Opt("--percent", help="The milestone's share of the line's value.")] = None,
    ready: Annotated[bool, Opt("--ready", help="Ready to invoice.")] = False,
    allow_past: Annotated[bool, Opt("--allow-past", help="Accept a first run date more than 10 years ago.")] = False,
    json_output: Json = False,
) -> None:
    """Add a date-based schedule to a time-and-material line, or a milestone to a fixed-price line.

    Examples: invoicer schedule add 1 --frequency monthly --start 2026-01-31;
    invoicer schedule add 2 --milestone Kick-off --date 2026-02-01 --percent 25 --ready
    """
    added = book.add_schedule(
        store(ctx), parse_id(line_id, "line_id"), frequency=frequency, rrule=rrule, dates=dates, start=start,
        end=end, replace=replace, milestone=milestone, milestone_date=date, amount=amount, percent=percent,
        ready=ready, allow_past=allow_past)
    if added.milestone:
        m = added.milestone
        if json_output:
            render.emit(render.milestone_json(m))
        else:
            render.say(f"added milestone {m.id} to line {m.line.id}: {m.name} on {m.date}, "
                       f"{render.format_amount(m.amount, m.line.currency)} {m.line.currency}"
                       f"{'' if m.ready else ' (not ready to invoice)'}")
    else:
        entry = added.schedule
        if json_output:
            render.emit(render.schedule_json(entry))
        else:
            render.say(f"added schedule {entry.id} to line {entry.line.id}: {render.schedules.describe(entry.schedule)}; "
                       f"next run date {render.iso(entry.next_run_date) or '-'}")


@app.command("ready")
def ready(ctx: typer.Context, milestone_id: Annotated[str, typer.Argument(metavar="MILESTONE_ID")],
          is_ready: Annotated[bool, Opt("--ready/--not-ready", help="--not-ready sets a milestone not invoiced back.")] = True,
          json_output: Json = False) -> None:
    """Mark a milestone ready to invoice (or, with --not-ready, not ready again).

    Example: invoicer schedule ready 3
    """
    m = book.mark_ready(store(ctx), parse_id(milestone_id, "milestone_id"), is_ready)
    if json_output:
        render.emit(render.milestone_json(m))
    else:
        render.say(f"milestone {m.id} ({m.name}) is {'ready' if m.ready else 'not ready'} to invoice")


@app.command("remove")
def remove(ctx: typer.Context, schedule_id: Annotated[str, typer.Argument(metavar="ID")],
           json_output: Json = False) -> None:
    """Remove a milestone not invoiced, or a line's date-based schedule.

    Example: invoicer schedule remove 3
    """
    removed = book.remove_schedule(store(ctx), parse_id(schedule_id, "id"))
    if json_output:
        render.emit(removed)
    else:
        render.say(f"removed {'milestone' if removed['kind'] == 'milestone' else 'schedule'} {removed['id']}")


@app.command("list")
def list_(ctx: typer.Context, line_id: Annotated[str | None, typer.Argument(metavar="[LINE_ID]")] = None,
          json_output: Json = False) -> None:
    """Each invoice run date and milestone, with its status.

    Example: invoicer schedule list 1
    """
    listing = book.list_schedules(store(ctx), parse_id(line_id, "line_id") if line_id is not None else None)
    if json_output:
        render.emit(render.schedule_listing_json(listing))
    else:
        render.show_schedules(listing.schedules, listing.milestones, listing.shortfalls)


@app.command("import")
def import_(ctx: typer.Context, file: Annotated[str, typer.Argument(metavar="FILE")],
            allow_past: Annotated[bool, Opt("--allow-past", help="Accept first run dates more than 10 years ago.")] = False,
            json_output: Json = False) -> None:
    """Import schedules and milestones: line_id|contract,line, then frequency,start,end |
    rrule,start,end | dates (;-separated) | milestone,date,amount|percent,ready.

    Example: invoicer schedule import examples/schedules.csv
    """
    imported(store(ctx), file, partial(imports.import_schedules, allow_past=allow_past), json_output)
