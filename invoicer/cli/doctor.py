"""`invoicer doctor`: check a database and what the next run will pass over."""

import typer

from invoicer import doctor as checks, render
from invoicer.cli.common import Json, store


def doctor(ctx: typer.Context, json_output: Json = False) -> None:
    """Check the database (integrity, schema, one workflow instance, stalled workflow) and
    list the lines batch invoicing will skip and why; exits non-zero when something needs
    an operator (5 stalled, 4 not configured, 1 anything else).

    Example: invoicer doctor --json
    """
    report = checks.examine(store(ctx))
    if json_output:
        render.emit({"ok": report.exit_code == 0,
                     "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in report.checks],
                     "skipped": [render.skip_json(s) for s in report.skipped]})
    else:
        render.table(None, ["check", "", "finding"],
                     [[c.name, "ok" if c.ok else "NEEDS AN OPERATOR", c.message] for c in report.checks],
                     wrap=["finding"])
        render.show_skips(report.skipped)
    if report.exit_code:
        raise typer.Exit(report.exit_code)
