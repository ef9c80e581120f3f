"""`invoicer invoice ...`: the draft invoices the run made."""

import sys
from typing import Annotated

import typer
from typer._click import exceptions as click  # Typer 0.29 vendors click

from invoicer import invoices, render
from invoicer.cli.common import Json, group, store
from invoicer.values import choice

app = group("Invoices: {commands}.")

Number = Annotated[str, typer.Argument(metavar="NUMBER", help="e.g. INV-000001")]


def _numbers_or_all(ctx: typer.Context, numbers: list[str] | None, all_: bool, narrow_all: str, *filters) -> list[str]:
    """The NUMBERs given (none with --all); a usage error, exit 2, for both or neither, or
    for NUMBERs with the `filters` that narrow --all (`narrow_all` says which they are)."""
    numbers = numbers or []
    if bool(numbers) == all_:
        raise click.UsageError("give invoice NUMBERs or --all, not both" if all_ else "give invoice NUMBERs or --all",
                               ctx=ctx)
    if numbers and any(f is not None for f in filters):
        raise click.UsageError(narrow_all, ctx=ctx)
    return numbers


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="draft|confirmed|cancelled")] = None,
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    customer: Annotated[str | None, typer.Option("--customer", metavar="NAME")] = None,
    run_from: Annotated[str | None, typer.Option("--from", metavar="DATE", help="Run dates from DATE on.")] = None,
    run_to: Annotated[str | None, typer.Option("--to", metavar="DATE", help="Run dates up to DATE.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="invoice|credit-note")] = None,
    json_output: Json = False,
) -> None:
    """Invoices and credit notes in creation order, with the totals by currency of those
    that stand (cancelled ones left out, unless --status cancelled lists them).

    Example: invoicer invoice list --status draft --customer Fabrikam --from 2026-11-01 --to 2026-11-30
    """
    found = invoices.list_invoices(store(ctx), status, contract, customer, run_from, run_to, type_)
    totals = invoices.totals(found, by_status=status is not None)
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
def confirm(
    ctx: typer.Context,
    numbers: Annotated[list[str] | None, typer.Argument(metavar="NUMBER", help="Drafts to confirm; or --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every draft the filters select.")] = False,
    contract: Annotated[str | None, typer.Option("--contract", help="With --all: of this contract.")] = None,
    run: Annotated[str | None, typer.Option("--run", metavar="RUN_ID", help="With --all: made by this run.")] = None,
    run_date: Annotated[str | None, typer.Option("--run-date", metavar="DATE", help="With --all: of this run date.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="With --all: invoice|credit-note.")] = None,
    issue_date: Annotated[str | None, typer.Option("--issue-date", metavar="DATE", help="Default: today.")] = None,
    json_output: Json = False,
) -> None:
    """Confirm drafts, all or nothing: a confirmed invoice never changes.

    Example: invoicer invoice confirm --all --run-date 2026-12-01
    """
    numbers = _numbers_or_all(ctx, numbers, all_, "--contract, --run, --run-date and --type go with --all",
                              contract, run, run_date, type_)
    found, count = invoices.confirm(store(ctx), numbers, all_, contract, run, run_date, type_, issue_date,
                                    shown=None if json_output else render.SHOWN_ROWS + 1)
    if len(numbers) == 1:
        _print(next(iter(found)), json_output)
    elif json_output:
        render.emit_list("invoices", (render.invoice_json(i) for i in found))
    else:
        found = list(found)
        render.say(f"confirmed {count} invoice(s)")
        if found:
            render.show_invoices(found[:render.SHOWN_ROWS])
            render.more(count, "`invoicer invoice list --status confirmed`")


@app.command("credit")
def credit(
    ctx: typer.Context,
    number: Number,
    transaction: Annotated[list[str] | None, typer.Option(
        "--transaction", metavar="ID[=AMOUNT]", help="Credit a transaction; =AMOUNT keeps AMOUNT billed.")] = None,
    milestone: Annotated[list[str] | None, typer.Option("--milestone", metavar="ID", help="Credit a milestone, in full.")] = None,
    write_off: Annotated[bool, typer.Option("--write-off", help="Nothing returns to the backlog.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT")] = None,
    json_output: Json = False,
) -> None:
    """A draft credit note for a confirmed invoice (all it still bills, or the items named).

    Example: invoicer invoice credit INV-000001 --transaction 12=800.00 --reason "rate was 80, not 100"
    """
    _print(invoices.credit(store(ctx), number, transaction or [], milestone or [], write_off, reason), json_output)


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
    numbers: Annotated[list[str] | None, typer.Argument(metavar="NUMBER...", help="Documents to export; or --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every document (with --status/--contract to narrow).")] = False,
    status: Annotated[str | None, typer.Option("--status", help="draft|confirmed|cancelled")] = None,
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    format_: Annotated[str, typer.Option(
        "--format", help="csv (one row per invoice line) or json, on stdout; pdf, ubl (UBL 2.1, Peppol BIS 3.0) "
                         "or facturx (PDF/A-3 with its CII XML), one file a document.")] = "csv",
    out: Annotated[str | None, typer.Option("--out", metavar="DIR",
                                            help="Where pdf, ubl and facturx files go (default: here).")] = None,
    new: Annotated[bool, typer.Option("--new", help="Only documents not handed over in this format before; "
                                                    "record them as handed over.")] = False,
    json_output: Json = False,
) -> None:
    """Hand documents to a customer or an accounting system.

    Example: invoicer invoice export --all --format ubl --new --out outbox/
    """
    from invoicer import exports

    numbers = _numbers_or_all(ctx, numbers, all_, "--status and --contract narrow --all; with NUMBERs, leave them out",
                              status, contract)
    format_ = choice(format_, exports.FORMATS, "format")
    if json_output and format_ == "csv":
        format_ = "json"  # --json prints the json export (and hands that over with --new)
    as_json = format_ == "json"

    def write(found) -> None:
        if as_json:
            render.emit({"invoices": [render.invoice_json(i, details=True) for i in found]})
        else:
            render.invoice_csv(found)
        sys.stdout.flush()  # the hand-over is recorded only once stdout has it all

    done = exports.export(store(ctx), numbers if not all_ else None, status, contract, format_, out, new, write)
    if done.fmt in exports.FILES:
        if json_output:
            render.emit({"files": list(done.files)})
        else:
            for path in done.files:
                print(path)
