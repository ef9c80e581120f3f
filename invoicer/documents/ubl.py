"""A document as a UBL 2.1 Invoice or CreditNote, Peppol BIS Billing 3.0 (EN 16931).

Elements are written in the order the UBL 2.1 schemas give them; the business terms
(BT-n) of EN 16931 are named where the mapping is not obvious."""

from lxml.etree import Element, SubElement, tostring

from invoicer.documents import Document, Party
from invoicer.documents.names import Names

CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
ROOT = {
    False: ("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "Invoice"),
    True: ("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2", "CreditNote"),
}
CREDIT_TRANSFER = "58"  # UNTDID 4461: SEPA credit transfer
UNIT = "C62"  # UN/ECE rec. 20: one (a unit)



def render(doc: Document) -> bytes:
    credit = doc.credit_note
    namespace, name = ROOT[credit]
    root = Element(f"{{{namespace}}}{name}", nsmap={None: namespace, "cac": CAC, "cbc": CBC})
    _text(root, "CustomizationID", CUSTOMIZATION)
    _text(root, "ProfileID", PROFILE)
    _text(root, "ID", doc.number)
    _text(root, "IssueDate", doc.issue_date.isoformat())
    if not credit and doc.due_date:
        _text(root, "DueDate", doc.due_date.isoformat())
    _text(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", doc.type_code)
    if doc.reason:
        _text(root, "Note", doc.reason)
    _text(root, "DocumentCurrencyCode", doc.currency)
    _text(root, "BuyerReference", doc.customer.reference or doc.contract)  # BT-10
    start, end = doc.period
    period = _node(root, "InvoicePeriod")
    _text(period, "StartDate", start.isoformat())
    _text(period, "EndDate", end.isoformat())
    if doc.credits:
        reference = _node(_node(root, "BillingReference"), "InvoiceDocumentReference")
        _text(reference, "ID", doc.credits)
        if doc.credits_issue_date:
            _text(reference, "IssueDate", doc.credits_issue_date.isoformat())
    _text(_node(root, "ContractDocumentReference"), "ID", doc.contract)  # BT-12
    outside_vat = any(line.tax_category == "O" for line in doc.lines)
    _party(_node(root, "AccountingSupplierParty"), doc.seller, outside_vat, seller=True)
    _party(_node(root, "AccountingCustomerParty"), doc.customer, outside_vat, seller=False)
    _delivery(root, doc.customer)
    if doc.seller.iban:
        means = _node(root, "PaymentMeans")
        _text(means, "PaymentMeansCode", CREDIT_TRANSFER)
        if credit and doc.due_date:
            _text(means, "PaymentDueDate", doc.due_date.isoformat())
        _text(means, "PaymentID", doc.number)
        account = _node(means, "PayeeFinancialAccount")
        _text(account, "ID", doc.seller.iban)
        if doc.seller.bic:
            _text(_node(account, "FinancialInstitutionBranch"), "ID", doc.seller.bic)
    if doc.payment_terms:
        _text(_node(root, "PaymentTerms"), "Note", doc.payment_terms)
    taxes = _node(root, "TaxTotal")
    _amount(taxes, "TaxAmount", doc, doc.tax_total)
    for group in doc.tax:
        subtotal = _node(taxes, "TaxSubtotal")
        _amount(subtotal, "TaxableAmount", doc, group.taxable)
        _amount(subtotal, "TaxAmount", doc, group.amount)
        _tax_category(subtotal, "TaxCategory", group.category, group.rate, group.exemption_reason)
    totals = _node(root, "LegalMonetaryTotal")
    _amount(totals, "LineExtensionAmount", doc, doc.total)
    _amount(totals, "TaxExclusiveAmount", doc, doc.total)
    _amount(totals, "TaxInclusiveAmount", doc, doc.total_with_tax)
    _amount(totals, "PayableAmount", doc, doc.total_with_tax)
    for number, line in enumerate(doc.lines, start=1):
        entry = _node(root, "CreditNoteLine" if credit else "InvoiceLine")
        _text(entry, "ID", str(number))
        _text(entry, "CreditedQuantity" if credit else "InvoicedQuantity", "1", unitCode=UNIT)
        _amount(entry, "LineExtensionAmount", doc, line.amount)
        item = _node(entry, "Item")
        if line.items:
            _text(item, "Description", "\n".join(
                f"{i.date.isoformat()} {i.text} {doc.money(i.amount)}" for i in line.items))
        _text(item, "Name", line.name)
        _text(_node(item, "SellersItemIdentification"), "ID", str(line.id))
        _tax_category(item, "ClassifiedTaxCategory", line.tax_category, line.tax_rate, None)
        _amount(_node(entry, "Price"), "PriceAmount", doc, line.amount)
    return tostring(root, encoding="UTF-8", xml_declaration=True)


def _party(parent: Element, party: Party, outside_vat: bool, seller: bool) -> None:
    node = _node(parent, "Party")
    if party.electronic_address:
        scheme, _, identifier = party.electronic_address.partition(":")
        _text(node, "EndpointID", identifier, schemeID=scheme)
    _text(_node(node, "PartyName"), "Name", party.name)
    address = _node(node, "PostalAddress")
    _address(address, party)
    # An invoice outside the scope of VAT names no VAT id of either party (BR-O-02 to -04).
    if party.vat_id and not outside_vat:
        scheme = _node(node, "PartyTaxScheme")
        _text(scheme, "CompanyID", party.vat_id)
        _text(_node(scheme, "TaxScheme"), "ID", "VAT")
    if seller and party.tax_registration:  # BT-32, a tax scheme other than VAT
        scheme = _node(node, "PartyTaxScheme")
        _text(scheme, "CompanyID", party.tax_registration)
        _text(_node(scheme, "TaxScheme"), "ID", "TAX")
    legal = _node(node, "PartyLegalEntity")
    _text(legal, "RegistrationName", party.name)
    if party.legal_id:
        _text(legal, "CompanyID", party.legal_id)
    if party.email:
        _text(_node(node, "Contact"), "ElectronicMail", party.email)


def _address(address: Element, party: Party) -> None:
    for tag, value in (("StreetName", party.street), ("CityName", party.city), ("PostalZone", party.postcode)):
        if value:
            _text(address, tag, value)
    _text(_node(address, "Country"), "IdentificationCode", party.country)


def _delivery(root: Element, customer: Party) -> None:
    """The customer's address, as far as its record has it, is the deliver-to address."""
    location = _node(_node(root, "Delivery"), "DeliveryLocation")
    _address(_node(location, "Address"), customer)


def _tax_category(parent: Element, tag: str, category: str, rate, reason: str | None) -> None:
    node = _node(parent, tag)
    _text(node, "ID", category)
    if category != "O":
        _text(node, "Percent", f"{rate:.2f}")
    if reason:
        _text(node, "TaxExemptionReason", reason)
    _text(_node(node, "TaxScheme"), "ID", "VAT")


def _node(parent: Element, tag: str) -> Element:
    return SubElement(parent, _CAC[tag])


def _text(parent: Element, tag: str, value: str, **attributes) -> Element:
    element = SubElement(parent, _CBC[tag], attributes)
    element.text = value
    return element


_CAC, _CBC = Names(CAC), Names(CBC)


def _amount(parent: Element, tag: str, doc: Document, amount) -> None:
    _text(parent, tag, doc.money(amount), currencyID=doc.currency)
