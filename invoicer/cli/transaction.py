"""`invoicer transaction ...`: unbilled actuals on time-and-material lines."""

from typing import Annotated

import typer

from invoicer import book, imports, render
from invoicer.cli.common import Json, group, store
from invoicer.cli.progress import imported
from invoicer.values import parse_id

app = group("Transactions (unbilled actuals) on time-and-material lines.")


@app.command("add")
def add(
    ctx: typer.Context,
    line_id: Annotated[str, typer.Argument(metavar="LINE_ID")],
    date: Annotated[str, typer.Option("--date", help="The transaction date (YYYY-MM-DD).")],
    amount: Annotated[str, typer.Option("--amount")],
    type_: Annotated[str, typer.Option("--type", help="time|expense|material|fee")] = "time",
    quantity: Annotated[str | None, typer.Option("--quantity")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="Its id in the system it comes from; unique in the book.")] = None,
    json_output: Json = False,
) -> None:
    """Record an unbilled transaction, ready to invoice. With --ref, a transaction that
    holds the ref with the same values is printed, not added again.

    Example: invoicer transaction add 1 --date 2026-11-03 --amount 1200 --type time --quantity 8 --ref TS-1042
    """
    t, added = book.record_transaction(store(ctx), parse_id(line_id, "line_id"), date, amount, type_, quantity,
                                       description, ref)
    if json_output:
        render.emit(render.transaction_json(t))
    elif added:
        render.say(f"added transaction {t.id} on line {t.line.id}: {t.date} "
                   f"{render.format_amount(t.amount, t.line.currency)} {t.line.currency}")
    else:
        render.say(f"transaction {t.id} holds ref {t.ref!r} with these values: nothing added")


@app.command("set")
def set_(
    ctx: typer.Context,
    transaction_id: Annotated[str, typer.Argument(metavar="ID")],
    date: Annotated[str | None, typer.Option("--date", help="The transaction date (YYYY-MM-DD).")] = None,
    amount: Annotated[str | None, typer.Option("--amount")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="time|expense|material|fee")] = None,
    quantity: Annotated[str | None, typer.Option("--quantity")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    json_output: Json = False,
) -> None:
    """Correct an unbilled transaction in place (a billed one: cancel its draft invoice first).

    Example: invoicer transaction set 7 --amount 1250 --date 2026-11-04
    """
    t = book.set_transaction(store(ctx), parse_id(transaction_id, "id"), date, amount, type_, quantity, description)
    if json_output:
        render.emit(render.transaction_json(t))
    else:
        render.show_transactions([t])


@app.command("list")
def list_(
    ctx: typer.Context,
    line: Annotated[str | None, typer.Option("--line", metavar="LINE_ID")] = None,
    unbilled: Annotated[bool, typer.Option("--unbilled", help="Only transactions not billed yet.")] = False,
    json_output: Json = False,
) -> None:
    """Transactions, billed or not.

    Example: invoicer transaction list --line 1 --unbilled
    """
    items = book.list_transactions(store(ctx), parse_id(line, "line") if line is not None else None, unbilled)
    if json_output:
        render.emit({"transactions": [render.transaction_json(t) for t in items]})
    else:
        render.show_transactions(items)


@app.command("delete")
def delete(ctx: typer.Context, transaction_id: Annotated[str, typer.Argument(metavar="ID")],
           json_output: Json = False) -> None:
    """Delete an unbilled transaction.

    Example: invoicer transaction delete 7
    """
    t = book.delete_transaction(store(ctx), parse_id(transaction_id, "id"))
    if json_output:
        render.emit(render.transaction_json(t) | {"deleted": True})
    else:
        render.say(f"deleted transaction {t.id}")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE")],
    again: Annotated[bool, typer.Option("--again", help="Import content imported before once more.")] = False,
    json_output: Json = False,
) -> None:
    """Import transactions: line_id|contract,line, date,amount,type,quantity,description,ref.

    A row whose ref the book holds with the same values is unchanged. Content imported
    before is refused unless --again, or every row has a ref.

    Example: invoicer transaction import examples/transactions.jsonl
    """
    imported(store(ctx), file, imports.import_transactions, json_output, again=again)
