"""The documents room on its own: UBL, Factur-X and PDF documents made from hand-built
records pass the EN 16931 artefacts and carry the record's own amounts."""

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal as D

import pytest

from invoicer.documents import Item, Party, cii, facturx, pdf, ubl, write_whole
from tests.documents_sample import CUSTOMER, SELLER, line, sample
from tests.einvoice import validate

NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
PLAIN = CUSTOMER._replace(electronic_address=None, email=None, legal_id=None, reference=None)
LONG = "Implementation of the new warehouse management system, phase 2: " * 8


def variants():
    """Every kind of document the tool writes, by a name that says what it shows."""
    yield "several-rates", sample(lines=(line(1, "Design", "1000.01", "S", "19"), line(2, "Books", "55.55", "S", "7"),
                                         line(3, "Training", "200.00", "S", "19"),
                                         line(4, "Insurance", "80.00", "E", reason="Exempt under Art. 135")))
    yield "reverse-charge", sample(lines=(line(1, "Consulting", "5000.00", "AE", reason="Reverse charge"),))
    yield "exempt-two-reasons", sample(lines=(line(1, "Course", "100.00", "E", reason="Education"),
                                              line(2, "Doctor", "50.00", "E", reason="Medical care")))
    yield "intra-community", sample(lines=(line(1, "Parts", "999.99", "K", reason="Intra-community supply"),))
    yield "export", sample(lines=(line(1, "Parts", "120.00", "G", reason="Export outside the EU"),),
                           customer=CUSTOMER._replace(country="US", vat_id=None))
    yield "zero-rated", sample(lines=(line(1, "Newspapers", "12.00", "Z"),))
    yield "outside-scope", sample(lines=(line(1, "Donation", "300.00", "O", reason="Not subject to VAT"),),
                                  seller=SELLER._replace(vat_id=None, tax_registration="12/345/67890"))
    yield "jpy", sample(currency="JPY", digits=0,
                        lines=(line(1, "Design", "150001", "S", "10",
                                    items=(Item(date(2026, 10, 1), "time", D("150001")),)),))
    yield "no-peppol-address", sample(customer=PLAIN, seller=SELLER._replace(iban=None, bic=None))
    yield "long-and-non-ascii", sample(
        seller=SELLER._replace(name="Müller & Søn Ingeniørfirma ApS «Ελλάδα»", street="Østergade 12"),
        customer=CUSTOMER._replace(name="Łódź Żółć Sp. z o.o. — Dział Zakupów", city="Łódź"),
        lines=(line(1, LONG, "4321.09", items=tuple(Item(date(2026, 10, 1 + i % 28), f"{LONG[:90]} #{i}", D("43.21"))
                                                  for i in range(100))),))
    yield "credit-note", sample(credit=True)
    yield "credit-note-jpy", sample(credit=True, currency="JPY", digits=0,
                                    lines=(line(1, "Design", "5000", "S", "10"),))
    yield "hundred-lines", sample(lines=tuple(line(i, f"Line {i}", f"{i}.{i % 100:02d}", "S", "19") for i in range(1, 101)))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every variant as UBL and as Factur-X, and the outcome of validate.py for each."""
    folder = tmp_path_factory.mktemp("documents")
    files = {}
    for name, doc in variants():
        files[(name, "ubl")] = folder / f"{name}.xml"
        files[(name, "facturx")] = folder / f"{name}.pdf"
        write_whole(str(files[(name, "ubl")]), ubl.render(doc))
        write_whole(str(files[(name, "facturx")]), facturx.render(doc))
    outcome = validate(files.values())
    return {key: (path, outcome[str(path)]) for key, path in files.items()}


@pytest.mark.parametrize("name", [name for name, _ in variants()])
@pytest.mark.parametrize("fmt", ["ubl", "facturx"])
def test_every_e_invoice_passes_the_en16931_artefacts(written, name, fmt):
    path, outcome = written[(name, fmt)]
    assert outcome == "ok", f"{path}: {outcome}"


@pytest.mark.parametrize("name,doc", list(variants()))
def test_ubl_amounts_are_the_documents_own(name, doc):
    root = ET.fromstring(ubl.render(doc))
    text = lambda path: root.find(path, NS).text  # noqa: E731
    assert D(text("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount")) == doc.total
    assert D(text("cac:LegalMonetaryTotal/cbc:PayableAmount")) == doc.total_with_tax
    assert D(text("cac:TaxTotal/cbc:TaxAmount")) == doc.tax_total
    subtotals = [(s.find("cac:TaxCategory/cbc:ID", NS).text, D(s.find("cbc:TaxableAmount", NS).text),
                  D(s.find("cbc:TaxAmount", NS).text)) for s in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", NS)]
    assert subtotals == [(g.category, g.taxable, g.amount) for g in doc.tax]
    tag = "cac:CreditNoteLine" if doc.credit_note else "cac:InvoiceLine"
    assert [D(l.find("cbc:LineExtensionAmount", NS).text) for l in root.iterfind(tag, NS)] == [l.amount for l in doc.lines]
    digits = {"JPY": 0}.get(doc.currency, 2)
    for element in root.iter():
        if element.get("currencyID"):
            assert element.get("currencyID") == doc.currency
            assert re.fullmatch(r"\d+" + (rf"\.\d{{{digits}}}" if digits else ""), element.text), element.text


def test_a_credit_note_is_a_ubl_creditnote_referring_to_its_invoice_with_positive_amounts():
    root = ET.fromstring(ubl.render(sample(credit=True)))
    assert root.tag.endswith("}CreditNote")
    assert root.find("cbc:CreditNoteTypeCode", NS).text == "381"
    assert root.find("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", NS).text == "INV-000004"
    assert not root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS).text.startswith("-")


def test_the_cii_of_a_credit_note_has_type_381_and_names_the_invoice():
    root = ET.fromstring(cii.render(sample(credit=True)))
    assert root.find(".//{*}ExchangedDocument/{*}TypeCode").text == "381"
    assert root.find(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", NS).text == "INV-000004"


def test_an_invoice_outside_the_scope_of_vat_names_no_vat_id_of_either_party():
    doc = dict(variants())["outside-scope"]._replace(seller=SELLER._replace(tax_registration="12/345/67890"))
    root = ET.fromstring(ubl.render(doc))
    schemes = [s.find("cac:TaxScheme/cbc:ID", NS).text for s in root.iter(f"{{{NS['cac']}}}PartyTaxScheme")]
    assert schemes == ["TAX"]
    root = ET.fromstring(cii.render(doc))
    assert [r.find("ram:ID", NS).get("schemeID") for r in root.iter(f"{{{NS['ram']}}}SpecifiedTaxRegistration")] == ["FC"]


def test_the_invoicing_period_runs_from_the_earliest_item_to_the_day_before_the_run_date():
    assert sample().period == (date(2026, 10, 5), date(2026, 10, 31))
    late = sample(lines=(line(1, "Kick-off", "10.00", items=(Item(date(2026, 11, 1), "milestone", D("10.00")),)),))
    assert late.period == (date(2026, 11, 1), date(2026, 11, 1))


def test_the_deliver_to_address_is_the_customers():
    root = ET.fromstring(ubl.render(sample()))
    address = root.find("cac:Delivery/cac:DeliveryLocation/cac:Address", NS)
    assert address.find("cbc:CityName", NS).text == CUSTOMER.city
    assert address.find("cac:Country/cbc:IdentificationCode", NS).text == "FR"


def _pdf_text(path):
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("status,word", [("draft", "DRAFT"), ("cancelled", "CANCELLED")])
def test_a_draft_pdf_is_a_proforma_marked_draft_and_a_cancelled_one_is_marked(tmp_path, status, word):
    content = pdf.render(sample(status=status))
    assert content.startswith(b"%PDF-")
    path = tmp_path / "doc.pdf"
    path.write_bytes(content)
    if subprocess.run(["which", "pdftotext"], capture_output=True).returncode:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    assert word in _pdf_text(path)


def test_the_pdf_shows_parties_lines_items_taxes_totals_and_the_bank_account(tmp_path):
    if subprocess.run(["which", "pdftotext"], capture_output=True).returncode:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf.render(sample()))
    text = _pdf_text(path)
    for shown in ("Contoso Consulting GmbH", "Fabrikam Ltd", "INV-000004", "2026-11-16", "Design", "time 6 h",
                  "Exempt under §4 UStG", "399.00", "2809.45", "DE89370400440532013000", "COBADEFFXXX", "14 days"):
        assert shown in text, shown


def test_a_factur_x_pdf_is_pdf_a_3b_with_embedded_fonts_an_srgb_intent_and_its_xml():
    from facturx import get_xml_from_pdf

    content = facturx.render(sample())
    name, xml = get_xml_from_pdf(content, check_xsd=False)
    assert name == "factur-x.xml" and xml == cii.render(sample())
    assert b"/GTS_PDFA1" in content and b"/DestOutputProfile" in content
    assert b"pdfaid:part" in content or b"pdfaid" in _inflated_streams(content)
    assert b"/FontFile2" in content and b"/Type1" not in content


def _inflated_streams(content: bytes) -> bytes:
    import zlib

    found = b""
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", content, re.S):
        try:
            found += zlib.decompress(match.group(1))
        except zlib.error:
            pass
    return found


def test_write_whole_leaves_no_partial_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "INV-000001.xml"
    target.write_bytes(b"old")

    def broken(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(OSError):
        write_whole(str(target), b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["INV-000001.xml"]


def test_many_files_written_at_once_leave_no_temporary_when_one_cannot_be_put_in_place(tmp_path, monkeypatch):
    """Files fsyncs and renames on a few threads: a failure there is raised, naming the
    file, once the block is left, and every temporary file is removed."""
    from invoicer.documents import Files

    rename = os.replace

    def refused(source, target):
        if target.endswith("INV-000003.xml"):
            raise OSError(28, "No space left on device")
        rename(source, target)

    monkeypatch.setattr("os.replace", refused)
    with pytest.raises(OSError) as raised:
        with Files() as files:
            for n in range(1, 11):
                files.write(str(tmp_path / f"INV-{n:06d}.xml"), b"<Invoice/>")
    assert raised.value.filename == str(tmp_path / "INV-000003.xml") and raised.value.errno == 28
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [name for name in names if name.startswith(".")] and "INV-000003.xml" not in names
    assert all((tmp_path / name).read_bytes() == b"<Invoice/>" for name in names)


def test_a_pdf_made_after_others_is_the_pdf_made_alone():
    """The fonts are read once a process and shared (pdf._add_font): a document made after
    others, in any order, is byte for byte the one made with the fonts read afresh (but
    for its creation time and the ID made of it)."""
    def fixed(content):
        content = re.sub(rb"/(CreationDate|ModDate) \(D:[^)]*\)", b"", content)
        return re.sub(rb"/ID \[<[0-9A-F]+><[0-9A-F]+>\]", b"", content)

    docs = [doc for _, doc in variants()]
    in_turn = [fixed(pdf.render(doc)) for doc in reversed(docs)][::-1]
    for doc, made in zip(docs, in_turn):
        pdf._parsed_font.cache_clear()
        assert fixed(pdf.render(doc)) == made
