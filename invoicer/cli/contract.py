"""`invoicer contract ...`: contracts and their lines."""

from typing import Annotated

import typer
from typer._click import exceptions as click  # Typer 0.29 vendors click: its exceptions live here

from invoicer import book, imports, render, splits
from invoicer.cli.common import Json, group, store
from invoicer.cli.progress import imported
from invoicer.values import parse_id

app = group("Project contracts and their lines.")

TaxCategory = Annotated[str | None, typer.Option(
    "--tax-category", metavar="CODE",
    help="S, Z, E, AE, K, G or O (EN 16931); without one the line takes the seller's.")]
TaxRate = Annotated[str | None, typer.Option("--tax-rate", metavar="PERCENT",
                                             help="e.g. 19 or 5.5; S needs one above 0, O none.")]
TaxExemptionReason = Annotated[str | None, typer.Option(
    "--tax-exemption-reason", metavar="TEXT", help="Required for E; not for S or Z.")]


@app.command("add-line")
def add_line(
    ctx: typer.Context,
    contract: Annotated[str, typer.Argument(help="The contract; created with its first line.")],
    name: Annotated[str, typer.Option("--name", help="The line's name.")],
    customer: Annotated[str, typer.Option("--customer", help="The contract's customer.")],
    billing_method: Annotated[str, typer.Option("--billing-method", help="fixed-price or time-and-material.")],
    amount: Annotated[str | None, typer.Option("--amount", help="The line's value (required for fixed-price).")] = None,
    not_to_exceed: Annotated[str | None, typer.Option("--not-to-exceed", help="Cap on what a time-and-material line bills.")] = None,
    project: Annotated[str | None, typer.Option("--project")] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="ISO 4217 code (default USD).")] = None,
    tax_category: TaxCategory = None,
    tax_rate: TaxRate = None,
    tax_exemption_reason: TaxExemptionReason = None,
    json_output: Json = False,
) -> None:
    """Add a line to a contract; prints the line's id.

    Example: invoicer contract add-line C-100 --name Design --customer Fabrikam --billing-method time-and-material
    """
    line = book.add_line(store(ctx), contract, name, customer, billing_method, amount, not_to_exceed, project, currency,
                         tax_category, tax_rate, tax_exemption_reason)
    if json_output:
        render.emit(render.line_json(line))
    else:
        render.say(f"added line {line.id}: {line.contract} / {line.name} ({line.billing_method})")


@app.command("set-line")
def set_line(
    ctx: typer.Context,
    line_id: Annotated[str, typer.Argument(metavar="LINE_ID")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    amount: Annotated[str | None, typer.Option("--amount")] = None,
    not_to_exceed: Annotated[str | None, typer.Option("--not-to-exceed")] = None,
    no_not_to_exceed: Annotated[bool, typer.Option("--no-not-to-exceed", help="Remove the cap.")] = False,
    project: Annotated[str | None, typer.Option("--project")] = None,
    no_project: Annotated[bool, typer.Option("--no-project", help="Remove the project.")] = False,
    tax_category: TaxCategory = None,
    tax_rate: TaxRate = None,
    tax_exemption_reason: TaxExemptionReason = None,
    json_output: Json = False,
) -> None:
    """Correct a line; a tax change applies to invoices made from now on.

    Example: invoicer contract set-line 2 --amount 1300 --tax-category S --tax-rate 19
    """
    line = book.set_line(store(ctx), parse_id(line_id, "line_id"), name, amount, not_to_exceed,
                         no_not_to_exceed, project, tax_category, tax_rate, tax_exemption_reason,
                         clear_project=no_project)
    if json_output:
        render.emit(render.line_json(line))
    else:
        render.say(f"updated line {line.id}")
        render.show_lines([line])


@app.command("close-line")
def close_line(ctx: typer.Context, line_id: Annotated[str, typer.Argument(metavar="LINE_ID")],
               json_output: Json = False) -> None:
    """Close a line: not billed, not reported, takes no new transaction or schedule.

    Example: invoicer contract close-line 3
    """
    _print_line(book.close_line(store(ctx), parse_id(line_id, "line_id"), True), "closed", json_output)


@app.command("reopen-line")
def reopen_line(ctx: typer.Context, line_id: Annotated[str, typer.Argument(metavar="LINE_ID")],
                json_output: Json = False) -> None:
    """Reopen a closed line: the run dates that passed meanwhile are caught up.

    Example: invoicer contract reopen-line 3
    """
    _print_line(book.close_line(store(ctx), parse_id(line_id, "line_id"), False), "reopened", json_output)


def _print_line(line, done: str, json_output: bool) -> None:
    if json_output:
        render.emit(render.line_json(line))
    else:
        render.say(f"{done} line {line.id}: {line.contract} / {line.name}")


@app.command("list")
def list_(ctx: typer.Context, json_output: Json = False) -> None:
    """Every contract line.

    Example: invoicer contract list --json
    """
    lines = book.list_lines(store(ctx))
    if json_output:
        render.emit({"lines": [render.line_json(line) for line in lines]})
    else:
        render.show_lines(lines)


@app.command("show")
def show(ctx: typer.Context, contract: Annotated[str, typer.Argument()], json_output: Json = False) -> None:
    """One contract and its lines.

    Example: invoicer contract show C-100
    """
    _show_contract(*splits.show(store(ctx), contract), json_output)


def _show_contract(lines, found: dict, json_output: bool) -> None:
    if json_output:
        render.emit(render.contract_json(lines, found))
    else:
        render.say(f"Contract {lines[0].contract} for {lines[0].customer} ({lines[0].currency})")
        render.show_lines(lines)
        render.show_splits(lines, found)


@app.command("split")
def split(
    ctx: typer.Context,
    contract: Annotated[str, typer.Argument(help="The contract.")],
    customers: Annotated[list[str] | None, typer.Option(
        "--customer", metavar="NAME=PERCENT",
        help="A customer and its percent (two decimals at most); repeat it, the percents make 100.")] = None,
    rounding: Annotated[str | None, typer.Option(
        "--rounding", metavar="NAME",
        help="Who takes the rounding difference (default: the contract's customer if in the split, "
             "else the first named).")] = None,
    line: Annotated[str | None, typer.Option(
        "--line", metavar="LINE_ID", help="Set that line's own split, which comes before the contract's.")] = None,
    none: Annotated[bool, typer.Option("--none", help="Remove the split (with --line, the line's own).")] = False,
    json_output: Json = False,
) -> None:
    """Split a contract's billing between customers: each invoice run bills each one its share.

    Example: invoicer contract split C-100 --customer Fabrikam=60 --customer Contoso=40 --rounding Fabrikam
    """
    if none and (customers or rounding is not None):
        raise click.UsageError("--none removes the split: give it without --customer and --rounding", ctx=ctx)
    if not none and not customers:
        raise click.UsageError("give the split's customers (--customer NAME=PERCENT, twice or more), or --none",
                               ctx=ctx)
    owner = f"line {line}" if line is not None else f"contract {contract}"
    if none:
        removed, lines, found = splits.remove_split(store(ctx), contract, line)
        if not json_output:
            render.say(f"removed the split of {owner}" if removed else f"{owner} has no split of its own: nothing to remove")
    else:
        lines, found = splits.set_split(store(ctx), contract, customers, rounding, line)
        if not json_output:
            render.say(f"split of {owner}: " + render.split_text(found.get(int(line) if line is not None else None, ())))
    if json_output:
        render.emit(render.contract_json(lines, found))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="CSV with a header row, or JSON Lines; - for stdin.")],
    json_output: Json = False,
) -> None:
    """Import contract lines: contract,name,customer,billing_method,amount,not_to_exceed,project,currency,
    tax_category,tax_rate,tax_exemption_reason.

    Example: invoicer contract import examples/contracts.csv
    """
    imported(store(ctx), file, imports.import_contracts, json_output)
