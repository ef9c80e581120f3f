"""`invoicer seller ...`: the one company that issues the book's invoices."""

from typing import Annotated

import typer

from invoicer import parties, render
from invoicer.cli.common import Json, group, store

app = group("The seller: the company that issues the book's invoices.")


def _option(name: str, metavar: str = "TEXT", text: str | None = None):
    return Annotated[str | None, typer.Option(name, metavar=metavar, help=text)]


@app.command("set")
def set_(
    ctx: typer.Context,
    name: _option("--name") = None,
    country: _option("--country", "CC", "ISO 3166-1 alpha-2 code, any case.") = None,
    street: _option("--street") = None,
    city: _option("--city") = None,
    postcode: _option("--postcode") = None,
    vat_id: _option("--vat-id", "ID", "With its two-letter country prefix (EL for Greece).") = None,
    tax_registration: _option("--tax-registration", "ID") = None,
    legal_id: _option("--legal-id", "ID", "The company's registration number.") = None,
    email: _option("--email", "ADDRESS") = None,
    electronic_address: _option("--electronic-address", "SCHEME:ID", "Peppol EAS scheme, e.g. 0088:5790000435968.") = None,
    iban: _option("--iban", "IBAN", "ISO 13616; its check digits are verified.") = None,
    bic: _option("--bic", "BIC", "ISO 9362: 8 or 11 characters.") = None,
    payment_terms_days: _option("--payment-terms-days", "N", "Default payment terms, 0-365 days.") = None,
    tax_category: _option("--tax-category", "CODE", "Default tax of lines without one: S, Z, AE, K, G or O.") = None,
    tax_rate: _option("--tax-rate", "PERCENT", "e.g. 19 or 5.5.") = None,
    json_output: Json = False,
) -> None:
    """Set the seller's details; changes only the options given.

    Example: invoicer seller set --name "Contoso GmbH" --country DE --vat-id DE123456789 --tax-category S --tax-rate 19
    """
    seller = parties.set_seller(
        store(ctx), name=name, country=country, street=street, city=city, postcode=postcode, vat_id=vat_id,
        tax_registration=tax_registration, legal_id=legal_id, email=email, electronic_address=electronic_address,
        iban=iban, bic=bic, payment_terms_days=payment_terms_days, tax_category=tax_category, tax_rate=tax_rate)
    _print(seller, json_output)


@app.command("show")
def show(ctx: typer.Context, json_output: Json = False) -> None:
    """The seller's details (null where unset).

    Example: invoicer seller show --json
    """
    _print(parties.show_seller(store(ctx)), json_output)


def _print(seller, json_output: bool) -> None:
    if json_output:
        render.emit(render.seller_json(seller))
    else:
        render.show_party(seller)
