"""`invoicer explain`: whether and why a line would be billed on a date."""

from typing import Annotated

import typer

from invoicer import explain as explaining, render
from invoicer.cli.common import Json, store
from invoicer.values import parse_date, parse_id


def explain(
    ctx: typer.Context,
    line_id: Annotated[str, typer.Argument(metavar="LINE_ID")],
    date: Annotated[str | None, typer.Option("--date", help="The run date to explain (default: today).")] = None,
    json_output: Json = False,
) -> None:
    """Say whether and why a line would be billed on a date: its schedule or milestones,
    next run date, cut-off, unbilled transactions and not-to-exceed headroom.

    Example: invoicer explain 1 --date 2026-12-01
    """
    found = explaining.explain(store(ctx), parse_id(line_id, "line_id"),
                               parse_date(date, "date") if date is not None else None)
    if not json_output:
        for sentence in found.sentences:
            render.say(sentence)
        return
    render.emit(render.explanation_json(found))
