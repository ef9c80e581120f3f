"""`invoicer invoice ...`: the draft invoices the run made."""

from typing import Annotated

import typer

from invoicer import invoices, render
from invoicer.cli.common import Json, group, store
from invoicer.values import choice

app = group("Invoices: {commands}.")

Number = Annotated[str, typer.Argument(metavar="NUMBER", help="e.g. INV-000001")]


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="draft|confirmed|cancelled")] = None,
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    customer: Annotated[str | None, typer.Option("--customer", metavar="NAME")] = None,
    run_from: Annotated[str | None, typer.Option("--from", metavar="DATE", help="Run dates from DATE on.")] = None,
    run_to: Annotated[str | None, typer.Option("--to", metavar="DATE", help="Run dates up to DATE.")] = None,
    json_output: Json = False,
) -> None:
    """Invoices in creation order, with their totals by currency.

    Example: invoicer invoice list --status draft --customer Fabrikam --from 2026-11-01 --to 2026-11-30
    """
    found = invoices.list_invoices(store(ctx), status, contract, customer, run_from, run_to)
    totals = invoices.totals(found)
    if json_output:
        render.emit({"invoices": [render.invoice_json(i) for i in found], "totals": render.totals_json(totals)})
    else:
        render.show_invoices(found, totals)


@app.command("show")
def show(ctx: typer.Context, number: Number, json_output: Json = False) -> None:
    """One invoice with its lines and what each bills.

    Example: invoicer invoice show INV-000001
    """
    _print(invoices.show(store(ctx), number), json_output)


@app.command("confirm")
def confirm(ctx: typer.Context, number: Number, json_output: Json = False) -> None:
    """Confirm a draft: a confirmed invoice never changes.

    Example: invoicer invoice confirm INV-000001
    """
    _print(invoices.confirm(store(ctx), number), json_output)


@app.command("cancel")
def cancel(ctx: typer.Context, number: Number, json_output: Json = False) -> None:
    """Cancel a draft: what it billed becomes billable again.

    Example: invoicer invoice cancel INV-000002
    """
    _print(invoices.cancel(store(ctx), number), json_output)


def _print(invoice, json_output: bool) -> None:
    if json_output:
        render.emit(render.invoice_json(invoice, details=True))
    else:
        render.show_invoice(invoice)


@app.command("export")
def export(
    ctx: typer.Context,
    number: Annotated[str | None, typer.Argument(metavar="[NUMBER]", help="One invoice; or --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every invoice (with --status/--contract to narrow).")] = False,
    status: Annotated[str | None, typer.Option("--status", help="draft|confirmed|cancelled")] = None,
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    format_: Annotated[str, typer.Option("--format", help="csv (one row per invoice line) or json.")] = "csv",
    json_output: Json = False,
) -> None:
    """Hand invoices to an accounting system, on stdout.

    Example: invoicer invoice export --all --status confirmed --format csv > invoices.csv
    """
    format_ = choice(format_, ("csv", "json"), "format")
    found = invoices.export(store(ctx), number, all_, status, contract, "json" if json_output else format_)
    if json_output or format_ == "json":
        render.emit({"invoices": [render.invoice_json(i, details=True) for i in found]})
    else:
        render.invoice_csv(found)
