"""`invoicer customer ...`: the records of the customers that contracts name."""

from typing import Annotated

import typer

from invoicer import parties, render
from invoicer.cli.common import Json, group, store

app = group("Customers' records: address, VAT id, payment terms, for their invoices.")

Name = Annotated[str, typer.Argument(metavar="NAME", help="The customer, as contracts name it with --customer.")]


def _option(name: str, metavar: str = "TEXT", text: str | None = None):
    return Annotated[str | None, typer.Option(name, metavar=metavar, help=text)]


@app.command("set")
def set_(
    ctx: typer.Context,
    name: Name,
    country: _option("--country", "CC", "ISO 3166-1 alpha-2 code, any case.") = None,
    street: _option("--street") = None,
    city: _option("--city") = None,
    postcode: _option("--postcode") = None,
    vat_id: _option("--vat-id", "ID", "With its two-letter country prefix (EL for Greece).") = None,
    legal_id: _option("--legal-id", "ID") = None,
    email: _option("--email", "ADDRESS") = None,
    electronic_address: _option("--electronic-address", "SCHEME:ID", "Peppol EAS scheme, e.g. 9930:DE123456789.") = None,
    payment_terms_days: _option("--payment-terms-days", "N", "0-365 days; else the seller's, else 30.") = None,
    reference: _option("--reference", "TEXT", "The buyer's reference (purchase order, cost centre).") = None,
    json_output: Json = False,
) -> None:
    """Create or change a customer's record; changes only the options given.

    Example: invoicer customer set Fabrikam --country FR --vat-id FR40303265045 --payment-terms-days 14
    """
    customer = parties.set_customer(
        store(ctx), name, country=country, street=street, city=city, postcode=postcode, vat_id=vat_id,
        legal_id=legal_id, email=email, electronic_address=electronic_address,
        payment_terms_days=payment_terms_days, reference=reference)
    _print(customer, json_output)


@app.command("list")
def list_(ctx: typer.Context, json_output: Json = False) -> None:
    """Every customer's record, by name.

    Example: invoicer customer list --json
    """
    found = parties.list_customers(store(ctx))
    if json_output:
        render.emit({"customers": [render.customer_json(c) for c in found]})
    else:
        render.show_customers(found)


@app.command("show")
def show(ctx: typer.Context, name: Name, json_output: Json = False) -> None:
    """One customer's record (exit 1 if it has none).

    Example: invoicer customer show Fabrikam --json
    """
    _print(parties.show_customer(store(ctx), name), json_output)


def _print(customer, json_output: bool) -> None:
    if json_output:
        render.emit(render.customer_json(customer))
    else:
        render.show_party(customer)
