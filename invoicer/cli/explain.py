"""`invoicer explain`: whether and why a line would be billed on a date."""

from typing import Annotated

import typer

from invoicer import explain as explaining, render
from invoicer.cli.common import Json, store
from invoicer.money import format_amount
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
    cur, facts = found.line.currency, found.facts
    money = {k: format_amount(facts.get(k), cur)
             for k in ("unbilled_amount", "unbilled_by_cutoff_amount", "billed", "headroom")}
    render.emit({
        "line": render.line_json(found.line),
        "date": found.date.isoformat(),
        "billed": bool(found.billed),
        "invoices": [{"contract": invoice.contract, "run_date": invoice.run_date.isoformat(),
                      "amount": format_amount(amount, cur), "items": items} for invoice, amount, items in found.billed],
        "skipped": [render.skip_json(s) for s in found.skipped],
        "schedule": facts.get("schedule"),
        "processed_through": render._iso(facts.get("processed_through")),
        "next_run_date": render._iso(facts.get("next_run_date")),
        "cutoff": render._iso(facts.get("cutoff")),
        "unbilled": {"transactions": facts.get("unbilled"), "amount": money["unbilled_amount"],
                     "by_cutoff": facts.get("unbilled_by_cutoff"), "by_cutoff_amount": money["unbilled_by_cutoff_amount"]},
        "not_to_exceed": format_amount(found.line.not_to_exceed, cur),
        "billed_so_far": money["billed"],
        "headroom": money["headroom"],
        "milestones": [render.milestone_json(m) for m in facts.get("milestones", [])],
        "explanation": list(found.sentences),
    })
