"""`invoice export`: documents for customers and accounting systems (SPEC section 9),
through the CLI as users call it, and the hand-over of each document once (`--new`)."""

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.einvoice import validate

NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
SELLER = ["--name", "Contoso Consulting GmbH", "--country", "de", "--street", "Hauptstraße 1", "--city", "Berlin",
          "--postcode", "10115", "--vat-id", "DE123456789", "--legal-id", "HRB 12345",
          "--email", "billing@contoso.example", "--electronic-address", "9930:DE123456789",
          "--iban", "DE89 3704 0044 0532 0130 00", "--bic", "COBADEFFXXX", "--payment-terms-days", "14",
          "--tax-category", "S", "--tax-rate", "19"]
CUSTOMER = ["--country", "FR", "--street", "1 rue de la Paix", "--city", "Paris", "--postcode", "75002",
            "--vat-id", "FR12345678901", "--electronic-address", "0009:12345678900012", "--reference", "PO-4711"]


@pytest.fixture
def book(inv):
    """A seller and a customer set up, two invoices: INV-000001 confirmed, INV-000002 a draft."""
    inv.setup_job()
    inv.ok("seller", "set", *SELLER)
    inv.ok("customer", "set", "Fabrikam", *CUSTOMER)
    line = inv.line("C-100", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
    inv.ok("transaction", "add", line, "--date", "2026-09-10", "--amount", "1000.00", "--description", "Workshop")
    inv.ok("transaction", "add", line, "--date", "2026-10-10", "--amount", "500.00")
    inv.ok("run-once", "--date", "2026-10-01")
    inv.ok("invoice", "confirm", "INV-000001")
    inv.ok("run-once", "--date", "2026-11-01")
    inv.line_id = line
    return inv


@pytest.fixture
def out(tmp_path):
    """A folder for the documents (tmp_path holds the book)."""
    folder = tmp_path / "documents"
    folder.mkdir()
    return folder


def files(result):
    assert result.exit_code == 0, result.stderr
    return [os.path.basename(path) for path in result.json["files"]]


@pytest.mark.parametrize("args", [[], ["INV-000001", "--all"], ["INV-000001", "--status", "draft"],
                                  ["INV-000001", "--contract", "C-100"]])
def test_numbers_and_all_together_or_neither_is_a_usage_error_as_for_confirm(book, out, args):
    """Exit 2 (spec section 6), as `invoice confirm` gives for the same mix (section 7);
    nothing is written or handed over."""
    for fmt in ("csv", "ubl"):
        result = book("invoice", "export", *args, "--format", fmt, "--out" if fmt == "ubl" else "--new",
                      *([out] if fmt == "ubl" else []), "--json")
        assert result.exit_code == 2 and result.error["code"] == "usage" and result.stdout == "", result
    assert list(out.iterdir()) == []
    assert book.ok("invoice", "show", "INV-000001")["exported"] == {}


def test_pdf_writes_one_file_a_document_into_the_folder_it_creates(book, tmp_path):
    out = tmp_path / "out" / "pdf"
    result = book("invoice", "export", "INV-000001", "INV-000002", "--format", "pdf", "--out", out, "--json")
    assert files(result) == ["INV-000001.pdf", "INV-000002.pdf"]
    assert sorted(p.name for p in out.iterdir()) == ["INV-000001.pdf", "INV-000002.pdf"]
    assert (out / "INV-000002.pdf").read_bytes().startswith(b"%PDF-")


def test_without_json_the_paths_are_printed_one_a_line(book, out):
    result = book("invoice", "export", "--all", "--format", "pdf", "--out", out)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [str(out / "INV-000001.pdf"), str(out / "INV-000002.pdf")]


def test_without_out_the_files_go_into_the_current_folder(book, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert files(book("invoice", "export", "INV-000001", "--format", "pdf", "--json")) == ["INV-000001.pdf"]
    assert (tmp_path / "INV-000001.pdf").exists()


@pytest.mark.parametrize("fmt", ["ubl", "facturx"])
def test_an_e_invoice_of_a_draft_is_refused_and_no_file_is_written(book, out, fmt):
    result = book("invoice", "export", "INV-000002", "--format", fmt, "--out", out, "--json")
    assert result.exit_code == 1
    assert "INV-000002" in result.error["message"] and "draft" in result.error["message"]
    assert list(out.iterdir()) == []


def test_all_selects_only_confirmed_documents_for_an_e_invoice(book, out):
    assert files(book("invoice", "export", "--all", "--format", "ubl", "--out", out, "--json")) == ["INV-000001.xml"]
    assert files(book("invoice", "export", "--all", "--status", "draft", "--format", "ubl", "--out", out,
                      "--json")) == []


def test_the_ubl_invoice_passes_en16931_and_carries_the_invoices_own_amounts(book, out):
    files(book("invoice", "export", "INV-000001", "--format", "ubl", "--out", out, "--json"))
    shown = book.ok("invoice", "show", "INV-000001")
    root = ET.parse(out / "INV-000001.xml").getroot()
    total = root.find("cac:LegalMonetaryTotal", NS)
    assert D(total.find("cbc:TaxExclusiveAmount", NS).text) == D(shown["total"]) == D("1000.00")
    assert D(root.find("cac:TaxTotal/cbc:TaxAmount", NS).text) == D(shown["tax_total"]) == D("190.00")
    assert D(total.find("cbc:PayableAmount", NS).text) == D(shown["total_with_tax"])
    assert root.find("cbc:DueDate", NS).text == shown["due_date"]
    assert root.find("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", NS).text == "DE89370400440532013000"
    assert validate([out / "INV-000001.xml"]) == {str(out / "INV-000001.xml"): "ok"}


def test_what_an_e_invoice_lacks_is_named_in_one_message_and_nothing_is_written(inv, out):
    inv.setup_job()
    line = inv.line("M9", "Work", customer="Tailspin")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
    inv.ok("transaction", "add", line, "--date", "2026-09-10", "--amount", "100.00")
    inv.ok("run-once", "--date", "2026-10-01")
    inv.ok("invoice", "confirm", "INV-000001")
    inv.ok("seller", "set", "--name", "Smoke Seller GmbH", "--country", "DE")
    result = inv("invoice", "export", "INV-000001", "--format", "ubl", "--out", out)
    assert result.exit_code == 1
    message = result.stderr
    assert len(message.strip().splitlines()) == 1
    for named in ("seller --street", "seller --city", "seller --postcode", "seller --vat-id or --tax-registration",
                  "customer Tailspin", f"line {line} --tax-category"):
        assert named in message, named
    assert list(out.iterdir()) == []
    assert inv.ok("invoice", "show", "INV-000001")["exported"] == {}


def test_new_hands_each_document_over_once_per_format(book, tmp_path):
    first = tmp_path / "first"
    assert files(book("invoice", "export", "--all", "--format", "ubl", "--new", "--out", first, "--json")) == \
        ["INV-000001.xml"]
    exported = book.ok("invoice", "show", "INV-000001")["exported"]
    assert list(exported) == ["ubl"] and exported["ubl"].endswith("+00:00")
    assert files(book("invoice", "export", "--all", "--format", "ubl", "--new", "--out", tmp_path / "again",
                      "--json")) == []
    assert not (tmp_path / "again" / "INV-000001.xml").exists()
    # Another format is another hand-over.
    assert files(book("invoice", "export", "INV-000001", "--format", "facturx", "--new", "--out", tmp_path / "fx",
                      "--json")) == ["INV-000001.pdf"]
    # Without --new, a document can always be written again.
    assert files(book("invoice", "export", "INV-000001", "--format", "ubl", "--out", tmp_path / "copy",
                      "--json")) == ["INV-000001.xml"]


def test_new_on_stdout_hands_over_csv_and_json_too(book):
    first = book("invoice", "export", "--all", "--format", "csv", "--new")
    assert first.exit_code == 0 and "INV-000001" in first.stdout and "INV-000002" in first.stdout
    again = book("invoice", "export", "--all", "--format", "csv", "--new")
    assert again.exit_code == 0 and again.stdout.splitlines()[1:] == []
    assert [i["number"] for i in book.ok("invoice", "export", "--all", "--format", "json", "--new")["invoices"]] == \
        ["INV-000001", "INV-000002"]
    assert book.ok("invoice", "export", "--all", "--format", "json", "--new")["invoices"] == []
    assert sorted(book.ok("invoice", "show", "INV-000002")["exported"]) == ["csv", "json"]


def test_a_file_that_cannot_be_written_records_nothing(book, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "INV-000002.pdf").mkdir()  # a folder where the second file should go
    result = book("invoice", "export", "--all", "--format", "pdf", "--new", "--out", out)
    assert result.exit_code == 1 and "INV-000002.pdf" in result.stderr
    assert book.ok("invoice", "show", "INV-000001")["exported"] == {}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_csv_rows_carry_type_credit_dates_and_tax(book):
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(book("invoice", "export", "--all", "--format", "csv").stdout)))
    first = [r for r in rows if r["number"] == "INV-000001"][0]
    assert (first["type"], first["credits"], first["issue_date"], first["due_date"], first["tax_total"],
            first["total_with_tax"]) == ("invoice", "", "2026-11-24", "2026-12-08", "190.00", "1190.00")
    draft = [r for r in rows if r["number"] == "INV-000002"][0]
    assert (draft["issue_date"], draft["due_date"]) == ("", "")


def test_a_credit_note_is_a_ubl_creditnote_that_names_its_invoice(book, out):
    book.ok("invoice", "credit", "INV-000001", "--transaction", "1=600.00")
    book.ok("invoice", "confirm", "CRN-000001")
    files(book("invoice", "export", "CRN-000001", "--format", "ubl", "--out", out, "--json"))
    root = ET.parse(out / "CRN-000001.xml").getroot()
    assert root.tag.endswith("}CreditNote")
    assert root.find("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", NS).text == "INV-000001"
    assert D(root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS).text) == D("476.00")
    assert validate([out / "CRN-000001.xml"]) == {str(out / "CRN-000001.xml"): "ok"}


def test_a_document_shows_the_parties_as_they_were_when_it_was_confirmed(book, out):
    book.ok("seller", "set", "--street", "Neue Straße 9")
    book.ok("customer", "set", "Fabrikam", "--city", "Lyon")
    files(book("invoice", "export", "INV-000001", "--format", "ubl", "--out", out, "--json"))
    xml = (out / "INV-000001.xml").read_text(encoding="utf-8")
    assert "Hauptstraße 1" in xml and "Paris" in xml
    assert "Neue Straße 9" not in xml and "Lyon" not in xml


def test_a_currency_of_three_decimals_is_refused_for_an_e_invoice(inv, out):
    inv.setup_job()
    inv.ok("seller", "set", *SELLER)
    inv.ok("customer", "set", "Fabrikam", *CUSTOMER)
    line = inv.line("K-1", "Work", "time-and-material", "Fabrikam", "--currency", "KWD")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
    inv.ok("transaction", "add", line, "--date", "2026-09-10", "--amount", "100.125")
    inv.ok("run-once", "--date", "2026-10-01")
    inv.ok("invoice", "confirm", "INV-000001")
    result = inv("invoice", "export", "INV-000001", "--format", "facturx", "--out", out)
    assert result.exit_code == 1 and "KWD" in result.stderr
    assert list(out.iterdir()) == []


def test_an_invoice_mixing_outside_scope_lines_with_others_is_refused_naming_them(inv, out):
    inv.setup_job()
    inv.ok("seller", "set", *SELLER)
    inv.ok("customer", "set", "Fabrikam", *CUSTOMER)
    taxed = inv.line("C-1", "Work")
    outside = inv.line("C-1", "Grant", "time-and-material", "Fabrikam", "--tax-category", "O")
    for line in (taxed, outside):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
        inv.ok("transaction", "add", line, "--date", "2026-09-10", "--amount", "100.00")
    inv.ok("run-once", "--date", "2026-10-01")
    inv.ok("invoice", "confirm", "INV-000001")
    result = inv("invoice", "export", "INV-000001", "--format", "ubl", "--out", out)
    assert result.exit_code == 1 and f"line {outside}" in result.stderr and "Grant" in result.stderr


def test_kill_9_during_new_then_new_again_hands_over_exactly_what_was_not_finished(inv, tmp_path):
    """The killed export recorded nothing: the next --new writes every document, each whole."""
    inv.setup_job()
    line = inv.line("C-100", "Design")
    inv.ok("schedule", "add", line, "--frequency", "daily", "--start", "2026-10-01")
    for day in range(1, 31):
        inv.ok("transaction", "add", line, "--date", f"2026-10-{day:02d}", "--amount", "10.00")
    inv.ok("run-once", "--date", "2026-11-01")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "invoicer", "--db", inv.db, "invoice", "export", "--all", "--format", "pdf",
               "--new", "--out", str(out), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and any(p.suffix == ".pdf" for p in out.iterdir())):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    for leftover in out.glob(".invoicer-*"):
        leftover.unlink()  # a temporary the kill left: never a NUMBER.pdf
    count = len(inv.ok("invoice", "list")["invoices"])
    again = inv.ok("invoice", "export", "--all", "--format", "pdf", "--new", "--out", out)
    assert len(again["files"]) == count == 30
    assert all(Path(p).read_bytes().rstrip().endswith(b"%%EOF") for p in again["files"])
    assert inv.ok("invoice", "export", "--all", "--format", "pdf", "--new", "--out", out)["files"] == []


def test_the_parties_of_many_invoices_are_those_of_each_one(book):
    """Exports read the parties of all their documents at once (Store.parties_of_invoices):
    the same as invoice_parties of each, a confirmed invoice's as they were, a draft's as
    they are now, and no record for a customer that has none."""
    from invoicer.store import open_store

    book.ok("seller", "set", "--street", "Neue Straße 9")
    book.ok("customer", "set", "Fabrikam", "--city", "Lyon")
    other = book.line("C-200", "Build", "time-and-material", "Northwind")
    book.ok("schedule", "add", other, "--dates", "2026-11-20")
    book.ok("transaction", "add", other, "--date", "2026-11-10", "--amount", "10.00")
    book.ok("run-once", "--date", "2026-11-20")
    store = open_store(book.db)
    with store.reading():
        numbers = [invoice.number for invoice in store.invoices()]
        assert len(numbers) >= 3
        assert store.parties_of_invoices(numbers) == {number: store.invoice_parties(number) for number in numbers}
        northwind = [n for n in numbers if store.invoice_row(n)["customer"] == "Northwind"]
        assert northwind and store.parties_of_invoices(northwind)[northwind[0]][1] is None
        assert store.issue_dates(numbers)["INV-000001"].isoformat() == "2026-11-24"
    store.close()
