"""The seller and the customers' records (SPEC section 8): every option, every check, and
`set` changing only what it is given."""

import re
from pathlib import Path

import pytest

from invoicer import parties
from tests.conftest import dump

SELLER = ["--name", "Contoso GmbH", "--country", "de", "--street", "Hauptstr. 1", "--city", "Berlin",
          "--postcode", "10115", "--vat-id", "DE123456789", "--tax-registration", "12/345/67890",
          "--legal-id", "HRB 12345", "--email", "billing@contoso.example",
          "--electronic-address", "0088:5790000435968", "--iban", "de89 3704 0044 0532 0130 00",
          "--bic", "deutdeff", "--payment-terms-days", "14", "--tax-category", "S", "--tax-rate", "19"]

SELLER_KEYS = ["name", "country", "street", "city", "postcode", "vat_id", "tax_registration", "legal_id", "email",
               "electronic_address", "iban", "bic", "payment_terms_days", "tax_category", "tax_rate"]
CUSTOMER_KEYS = ["name", "country", "street", "city", "postcode", "vat_id", "legal_id", "email",
                 "electronic_address", "payment_terms_days", "reference"]


def refused(inv, *args, field: str):
    """exit 1, one JSON error naming the field, and the database as it was."""
    inv.ok("seller", "show")  # the database exists: its schema is not what is compared
    before = dump(inv)
    result = inv(*args, "--json")
    assert result.exit_code == 1, (args, result.stdout, result.stderr)
    assert result.stdout == ""
    assert re.search(field, result.error["message"], re.I), result.error["message"]
    assert dump(inv) == before
    return result.error["message"]


def test_seller_show_before_any_set_is_every_key_null(inv):
    assert inv.ok("seller", "show") == dict.fromkeys(SELLER_KEYS)


def test_seller_set_with_every_option_prints_what_seller_show_prints(inv):
    printed = inv.ok("seller", "set", *SELLER)
    assert list(printed) == SELLER_KEYS
    assert printed == inv.ok("seller", "show") == {
        "name": "Contoso GmbH", "country": "DE", "street": "Hauptstr. 1", "city": "Berlin", "postcode": "10115",
        "vat_id": "DE123456789", "tax_registration": "12/345/67890", "legal_id": "HRB 12345",
        "email": "billing@contoso.example", "electronic_address": "0088:5790000435968",
        "iban": "DE89370400440532013000", "bic": "DEUTDEFF", "payment_terms_days": 14,
        "tax_category": "S", "tax_rate": "19.00"}


def test_seller_set_changes_only_the_options_given(inv):
    inv.ok("seller", "set", *SELLER)
    before = inv.ok("seller", "show")
    after = inv.ok("seller", "set", "--city", "Hamburg")
    assert after == {**before, "city": "Hamburg"}


def test_seller_set_without_an_option_is_refused(inv):
    refused(inv, "seller", "set", field="give what to set")


def test_seller_show_human_output_lists_the_values(inv):
    inv.ok("seller", "set", *SELLER)
    shown = inv("seller", "show")
    assert shown.exit_code == 0 and "Contoso GmbH" in shown.stdout and "DE89370400440532013000" in shown.stdout


@pytest.mark.parametrize("option, value, field", [
    ("--country", "DEU", "country"),
    ("--country", "XX", "country"),
    ("--country", "", "country"),
    ("--vat-id", "123456789", "vat_id"),
    ("--vat-id", "GR123456789", "vat_id"),  # Greece's VAT prefix is EL
    ("--vat-id", "QQ123456789", "vat_id"),
    ("--vat-id", "DE", "vat_id"),
    ("--iban", "DE89370400440532013001", "iban"),  # check digits fail
    ("--iban", "DE8937040044", "iban"),
    ("--iban", "1289370400440532013000", "iban"),
    ("--bic", "DEUTDEF", "bic"),
    ("--bic", "DEUTDEFF5", "bic"),
    ("--bic", "DEUT1EFF", "bic"),
    ("--email", "billing.contoso.example", "email"),
    ("--email", "a@b@c", "email"),
    ("--email", "a b@c.example", "email"),
    ("--electronic-address", "5790000435968", "electronic_address"),
    ("--electronic-address", "88:5790000435968", "electronic_address"),
    ("--electronic-address", "1234:5790000435968", "electronic_address"),  # not an EAS code
    ("--electronic-address", "0088:", "electronic_address"),
    ("--payment-terms-days", "366", "payment_terms_days"),
    ("--payment-terms-days", "-1", "payment_terms_days"),
    ("--payment-terms-days", "1.5", "payment_terms_days"),
    ("--tax-rate", "19.125", "tax_rate"),
    ("--tax-rate", "100.01", "tax_rate"),
    ("--tax-category", "XX", "tax_category"),
])
def test_a_bad_seller_value_is_refused_naming_its_option(inv, option, value, field):
    inv.ok("seller", "set", *SELLER)
    refused(inv, "seller", "set", "--name", "Changed", option, value, field=field)


def test_seller_values_are_normalised_as_stored(inv):
    got = inv.ok("seller", "set", "--country", "fr", "--iban", "fr14 2004 1010 0505 0001 3m02 606",
                 "--bic", "bnpafrpp", "--vat-id", "el094014201")
    assert (got["country"], got["iban"], got["bic"], got["vat_id"]) == \
        ("FR", "FR1420041010050500013M02606", "BNPAFRPP", "EL094014201")


def test_valid_identifiers_are_taken(inv):
    for option, value in [("--electronic-address", "9930:DE123456789"), ("--bic", "DEUTDEFF500"),
                          ("--payment-terms-days", "0"), ("--payment-terms-days", "365"),
                          ("--iban", "GB82 WEST 1234 5698 7654 32"), ("--vat-id", "XI123456789"),
                          ("--country", "gr")]:
        inv.ok("seller", "set", option, value)


def test_seller_tax_category_E_is_refused(inv):
    message = refused(inv, "seller", "set", "--tax-category", "E", "--tax-rate", "0", field="tax_category")
    assert "reason" in message


def test_seller_tax_rate_alone_is_checked_against_the_stored_category(inv):
    inv.ok("seller", "set", "--tax-category", "S", "--tax-rate", "19")
    refused(inv, "seller", "set", "--tax-rate", "0", field="tax_rate")
    assert inv.ok("seller", "set", "--tax-rate", "7")["tax_rate"] == "7.00"
    inv.ok("seller", "set", "--tax-category", "Z")
    refused(inv, "seller", "set", "--tax-rate", "5", field="tax_rate")


def test_seller_tax_category_alone_is_checked_against_the_stored_rate(inv):
    refused(inv, "seller", "set", "--tax-category", "S", field="rate above 0")
    inv.ok("seller", "set", "--tax-category", "Z")
    refused(inv, "seller", "set", "--tax-category", "S", field="rate above 0")  # the stored rate is 0
    inv.ok("seller", "set", "--tax-category", "S", "--tax-rate", "19")
    assert inv.ok("seller", "set", "--tax-category", "S")["tax_rate"] == "19.00"
    # A category of rate 0 left without a rate has 0; O has none.
    assert inv.ok("seller", "set", "--tax-category", "k")["tax_rate"] == "0.00"
    got = inv.ok("seller", "set", "--tax-category", "O")
    assert (got["tax_category"], got["tax_rate"]) == ("O", None)
    refused(inv, "seller", "set", "--tax-rate", "0", field="tax_rate")  # O takes no rate


def test_a_tax_rate_without_any_category_is_refused(inv):
    refused(inv, "seller", "set", "--tax-rate", "19", field="needs a tax category")


def test_customer_set_creates_the_record_then_changes_only_the_options_given(inv):
    made = inv.ok("customer", "set", "Fabrikam", "--country", "fr", "--street", "1 rue de la Paix", "--city", "Paris",
                  "--postcode", "75002", "--vat-id", "FR40303265045", "--legal-id", "303265045",
                  "--email", "ap@fabrikam.example", "--electronic-address", "0009:30326504500034",
                  "--payment-terms-days", "10", "--reference", "PO-4711")
    assert list(made) == CUSTOMER_KEYS
    assert made == {"name": "Fabrikam", "country": "FR", "street": "1 rue de la Paix", "city": "Paris",
                    "postcode": "75002", "vat_id": "FR40303265045", "legal_id": "303265045",
                    "email": "ap@fabrikam.example", "electronic_address": "0009:30326504500034",
                    "payment_terms_days": 10, "reference": "PO-4711"}
    assert inv.ok("customer", "show", "Fabrikam") == made
    changed = inv.ok("customer", "set", "Fabrikam", "--reference", "PO-4712")
    assert changed == {**made, "reference": "PO-4712"}


def test_customer_list_lists_every_record_by_name(inv):
    inv.ok("customer", "set", "Northwind", "--country", "US")
    inv.ok("customer", "set", "Fabrikam")
    listed = inv.ok("customer", "list")
    assert [c["name"] for c in listed["customers"]] == ["Fabrikam", "Northwind"]
    assert listed["customers"][0] == dict.fromkeys(CUSTOMER_KEYS) | {"name": "Fabrikam"}
    assert "Northwind" in inv("customer", "list").stdout


def test_customer_show_of_a_customer_without_a_record_is_exit_1(inv):
    inv.line("C-1", "Design", customer="Tailspin")
    refused(inv, "customer", "show", "Tailspin", field="no record")


@pytest.mark.parametrize("option, value, field", [
    ("--country", "FRA", "country"),
    ("--vat-id", "123", "vat_id"),
    ("--email", "nobody", "email"),
    ("--electronic-address", "0009-303265045", "electronic_address"),
    ("--payment-terms-days", "400", "payment_terms_days"),
])
def test_a_bad_customer_value_is_refused_naming_its_option(inv, option, value, field):
    refused(inv, "customer", "set", "Fabrikam", "--city", "Paris", option, value, field=field)
    assert inv("customer", "show", "Fabrikam", "--json").exit_code == 1  # no record was created


def test_a_customer_needs_no_record_to_be_billed(inv):
    inv.setup_job()
    line = inv.line("C-1", "Design", customer="No Record Ltd")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-11-01")
    inv.ok("transaction", "add", line, "--date", "2026-10-05", "--amount", "100")
    run = inv.ok("run-once", "--date", "2026-11-01")
    assert [i["total"] for i in run["invoices"]] == ["100.00"]


def test_iban_check_digits_are_the_iso_13616_mod_97():
    assert parties.parse_iban("NL91 ABNA 0417 1643 00") == "NL91ABNA0417164300"
    for wrong in ("NL92ABNA0417164300", "NL91ABNA0417164301"):
        with pytest.raises(Exception, match="check digits"):
            parties.parse_iban(wrong)


def _shared_einvoice() -> Path | None:
    here = Path(__file__).resolve().parent
    for base in (here.parent, *here.parents):
        candidate = base / "shared" / "einvoice" / "EN16931-UBL-validation.xslt"
        if candidate.exists():
            return candidate
    return None


def test_the_eas_codes_are_those_the_en16931_artefacts_check():
    """The EAS list is copied from the CEN/TC 434 validation artefacts (BR-CL-25): when they
    are at hand, the copy must be theirs."""
    artefact = _shared_einvoice()
    if artefact is None:
        pytest.skip("the EN 16931 validation artefacts (shared/einvoice) are not beside this checkout")
    text = artefact.read_text(encoding="utf-8")
    rule = text[text.index('<xsl:template match="cbc:EndpointID[@schemeID]"'):]
    listed = re.search(r"contains\(' ([^']*)'", rule).group(1).split()
    assert parties.EAS_CODES == {code for code in listed if code.isdigit() and len(code) == 4}


# due dates and the parties an issued invoice keeps ------------------------------------------

def _invoiced(inv, customer="Fabrikam", contract="C-1", start="2026-03-01", run_date="2026-03-31"):
    """A draft for `customer`, run for `run_date`; its number."""
    if not inv.ok("job", "list")["jobs"]:
        inv.setup_job()
    line = inv.line(contract, "Work", "time-and-material", customer)
    inv.ok("schedule", "add", line, "--dates", run_date)
    inv.ok("transaction", "add", line, "--date", start, "--amount", "100")
    (made,) = inv.ok("run-once", "--date", run_date)["invoices"]
    return made["number"]


def test_a_draft_has_no_issue_or_due_date(inv):
    number = _invoiced(inv)
    shown = inv.ok("invoice", "show", number)
    assert (shown["issue_date"], shown["due_date"]) == (None, None)


def test_invoiced_march_31_with_14_days_terms_is_due_april_14(inv):
    """The Finance docs' example: the customer's record's terms."""
    inv.at("2026-04-02T10:00:00")
    inv.ok("customer", "set", "Fabrikam", "--payment-terms-days", "14")
    inv.ok("seller", "set", "--payment-terms-days", "45")
    number = _invoiced(inv)
    confirmed = inv.ok("invoice", "confirm", number, "--issue-date", "2026-03-31")
    assert (confirmed["issue_date"], confirmed["due_date"]) == ("2026-03-31", "2026-04-14")


def test_due_date_takes_the_sellers_terms_when_the_customer_has_none_else_30_days(inv):
    inv.at("2026-04-02T10:00:00")
    first = _invoiced(inv, customer="No Record Ltd", contract="C-1")
    inv.ok("customer", "set", "Terms Unset Ltd", "--city", "Paris")  # a record without terms
    second = _invoiced(inv, customer="Terms Unset Ltd", contract="C-2", run_date="2026-03-30")
    inv.ok("invoice", "confirm", first)
    assert inv.ok("invoice", "show", first)["due_date"] == "2026-05-02"  # 2026-04-02 + 30
    inv.ok("seller", "set", "--payment-terms-days", "0")
    inv.ok("invoice", "confirm", second)
    assert inv.ok("invoice", "show", second)["due_date"] == "2026-04-02"  # the seller's 0 days
    # A later change of terms does not move a confirmed invoice's due date.
    inv.ok("seller", "set", "--payment-terms-days", "60")
    assert inv.ok("invoice", "show", first)["due_date"] == "2026-05-02"


def test_a_confirmed_invoice_keeps_the_parties_as_they_were_and_a_draft_shows_them_as_they_are(inv):
    from invoicer.parties import invoice_parties
    from invoicer.store import open_store

    inv.ok("seller", "set", *SELLER)
    inv.ok("customer", "set", "Fabrikam", "--city", "Paris", "--vat-id", "FR40303265045")
    confirmed = _invoiced(inv, contract="C-1")
    draft = _invoiced(inv, contract="C-2", run_date="2026-03-30")
    inv.ok("invoice", "confirm", confirmed)
    inv.ok("seller", "set", "--name", "Contoso AG", "--tax-rate", "20")
    inv.ok("customer", "set", "Fabrikam", "--city", "Lyon")
    store = open_store(inv.db)
    try:
        seller, customer = invoice_parties(store, confirmed)
        assert seller.name == "Contoso GmbH" and str(seller.tax_rate) == "19.00" and seller.payment_terms_days == 14
        assert seller.iban == "DE89370400440532013000"
        assert customer.name == "Fabrikam" and customer.city == "Paris" and customer.vat_id == "FR40303265045"
        seller, customer = invoice_parties(store, draft)
        assert (seller.name, str(seller.tax_rate), customer.city) == ("Contoso AG", "20.00", "Lyon")
    finally:
        store.close()


def test_the_parties_of_a_customer_without_a_record_are_the_seller_and_none(inv):
    from invoicer.parties import invoice_parties
    from invoicer.store import open_store

    number = _invoiced(inv, customer="No Record Ltd")
    inv.ok("invoice", "confirm", number)
    store = open_store(inv.db)
    try:
        seller, customer = invoice_parties(store, number)
        assert seller.name is None and customer is None
    finally:
        store.close()
