"""A document as UN/CEFACT Cross Industry Invoice XML (D16B), the EN 16931 profile of
Factur-X / ZUGFeRD: the XML a Factur-X PDF carries as factur-x.xml.

Elements are written in the order the Factur-X EN 16931 schema gives them."""

from datetime import date
from lxml.etree import Element, SubElement, tostring

from invoicer.documents import Document, Party
from invoicer.documents.names import Names

GUIDELINE = "urn:cen.eu:en16931:2017"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
CREDIT_TRANSFER = "58"
UNIT = "C62"

NAMESPACES = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}


def render(doc: Document) -> bytes:
    root = Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NAMESPACES)
    context = SubElement(root, f"{{{RSM}}}ExchangedDocumentContext")
    _text(_node(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", GUIDELINE)
    header = SubElement(root, f"{{{RSM}}}ExchangedDocument")
    _text(header, "ID", doc.number)
    _text(header, "TypeCode", doc.type_code)
    _date(_node(header, "IssueDateTime"), doc.issue_date)
    if doc.reason:
        _text(_node(header, "IncludedNote"), "Content", doc.reason)
    trade = SubElement(root, f"{{{RSM}}}SupplyChainTradeTransaction")
    for number, line in enumerate(doc.lines, start=1):
        item = _node(trade, "IncludedSupplyChainTradeLineItem")
        _text(_node(item, "AssociatedDocumentLineDocument"), "LineID", str(number))
        product = _node(item, "SpecifiedTradeProduct")
        _text(product, "SellerAssignedID", str(line.id))
        _text(product, "Name", line.name)
        if line.items:
            _text(product, "Description", "\n".join(
                f"{i.date.isoformat()} {i.text} {doc.money(i.amount)}" for i in line.items))
        _text(_node(_node(item, "SpecifiedLineTradeAgreement"), "NetPriceProductTradePrice"), "ChargeAmount",
              doc.money(line.amount))
        _text(_node(item, "SpecifiedLineTradeDelivery"), "BilledQuantity", "1", unitCode=UNIT)
        settlement = _node(item, "SpecifiedLineTradeSettlement")
        tax = _node(settlement, "ApplicableTradeTax")
        _text(tax, "TypeCode", "VAT")
        _text(tax, "CategoryCode", line.tax_category)
        if line.tax_category != "O":
            _text(tax, "RateApplicablePercent", f"{line.tax_rate:.2f}")
        _text(_node(settlement, "SpecifiedTradeSettlementLineMonetarySummation"), "LineTotalAmount",
              doc.money(line.amount))

    agreement = _node(trade, "ApplicableHeaderTradeAgreement")
    _text(agreement, "BuyerReference", doc.customer.reference or doc.contract)
    outside_vat = any(line.tax_category == "O" for line in doc.lines)
    _party(agreement, "SellerTradeParty", doc.seller, outside_vat, seller=True)
    _party(agreement, "BuyerTradeParty", doc.customer, outside_vat, seller=False)
    _text(_node(agreement, "ContractReferencedDocument"), "IssuerAssignedID", doc.contract)
    delivery = _node(trade, "ApplicableHeaderTradeDelivery")
    _address(_node(_node(delivery, "ShipToTradeParty"), "PostalTradeAddress"), doc.customer)

    settlement = _node(trade, "ApplicableHeaderTradeSettlement")
    _text(settlement, "PaymentReference", doc.number)
    _text(settlement, "InvoiceCurrencyCode", doc.currency)
    if doc.seller.iban:
        means = _node(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _text(means, "TypeCode", CREDIT_TRANSFER)
        _text(_node(means, "PayeePartyCreditorFinancialAccount"), "IBANID", doc.seller.iban)
        if doc.seller.bic:
            _text(_node(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", doc.seller.bic)
    for group in doc.tax:
        tax = _node(settlement, "ApplicableTradeTax")
        _text(tax, "CalculatedAmount", doc.money(group.amount))
        _text(tax, "TypeCode", "VAT")
        if group.exemption_reason:
            _text(tax, "ExemptionReason", group.exemption_reason)
        _text(tax, "BasisAmount", doc.money(group.taxable))
        _text(tax, "CategoryCode", group.category)
        if group.category != "O":
            _text(tax, "RateApplicablePercent", f"{group.rate:.2f}")
    start, end = doc.period
    period = _node(settlement, "BillingSpecifiedPeriod")
    _date(_node(period, "StartDateTime"), start)
    _date(_node(period, "EndDateTime"), end)
    if doc.payment_terms or doc.due_date:
        terms = _node(settlement, "SpecifiedTradePaymentTerms")
        if doc.payment_terms:
            _text(terms, "Description", doc.payment_terms)
        if doc.due_date:
            _date(_node(terms, "DueDateDateTime"), doc.due_date)
    totals = _node(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _text(totals, "LineTotalAmount", doc.money(doc.total))
    _text(totals, "TaxBasisTotalAmount", doc.money(doc.total))
    _text(totals, "TaxTotalAmount", doc.money(doc.tax_total), currencyID=doc.currency)
    _text(totals, "GrandTotalAmount", doc.money(doc.total_with_tax))
    _text(totals, "DuePayableAmount", doc.money(doc.total_with_tax))
    if doc.credits:
        reference = _node(settlement, "InvoiceReferencedDocument")
        _text(reference, "IssuerAssignedID", doc.credits)
        if doc.credits_issue_date:
            when = _node(reference, "FormattedIssueDateTime")
            SubElement(when, f"{{{QDT}}}DateTimeString", format="102").text = _yyyymmdd(doc.credits_issue_date)
    return tostring(root, encoding="UTF-8", xml_declaration=True)


def _party(parent: Element, tag: str, party: Party, outside_vat: bool, seller: bool) -> None:
    node = _node(parent, tag)
    _text(node, "Name", party.name)
    if party.legal_id:
        _text(_node(node, "SpecifiedLegalOrganization"), "ID", party.legal_id)
    if party.email:
        _text(_node(_node(node, "DefinedTradeContact"), "EmailURIUniversalCommunication"), "URIID", party.email)
    _address(_node(node, "PostalTradeAddress"), party)
    if party.electronic_address:
        scheme, _, identifier = party.electronic_address.partition(":")
        _text(_node(node, "URIUniversalCommunication"), "URIID", identifier, schemeID=scheme)
    # An invoice outside the scope of VAT names no VAT id of either party (BR-O-02 to -04).
    if party.vat_id and not outside_vat:
        _text(_node(node, "SpecifiedTaxRegistration"), "ID", party.vat_id, schemeID="VA")
    if seller and party.tax_registration:
        _text(_node(node, "SpecifiedTaxRegistration"), "ID", party.tax_registration, schemeID="FC")


def _address(address: Element, party: Party) -> None:
    for tag, value in (("PostcodeCode", party.postcode), ("LineOne", party.street), ("CityName", party.city)):
        if value:
            _text(address, tag, value)
    _text(address, "CountryID", party.country)


def _yyyymmdd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _date(parent: Element, day: date) -> None:
    SubElement(parent, f"{{{UDT}}}DateTimeString", format="102").text = _yyyymmdd(day)


def _node(parent: Element, tag: str) -> Element:
    return SubElement(parent, _RAM[tag])


def _text(parent: Element, tag: str, value: str, **attributes) -> Element:
    element = SubElement(parent, _RAM[tag], attributes)
    element.text = value
    return element


_RAM = Names(RAM)
