"""Bulk import (spec section 3): contract lines, schedules and transactions from CSV with a
header row or JSON Lines, from a file or standard input; every rule of the single-row
command, all or nothing, errors that name the row and the field."""

import csv
import io
import json
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from invoicer import imports
from invoicer.errors import InputError
from invoicer.store import Imports, open_store
from invoicer.store.postgres_store import PostgresStore

FP, TM = "fixed-price", "time-and-material"
CONTRACT_COLUMNS = ["contract", "name", "customer", "billing_method", "amount", "not_to_exceed", "project", "currency"]


def as_csv(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue()


def as_jsonl(objects):
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)


def run_import(inv, kind, text, via="file", *extra, name="import.txt"):
    """`invoicer KIND import FILE|-`; the file is written next to the test's database."""
    if via == "stdin":
        return inv(kind, "import", "-", *extra, input=text)
    path = inv.dir / name
    path.write_text(text, encoding="utf-8")
    return inv(kind, "import", str(path), *extra)


def imports_ok(inv, kind, text, via="file"):
    result = run_import(inv, kind, text, via, "--json")
    assert result.exit_code == 0, result
    return result.json


def snapshot(inv):
    return (inv.ok("contract", "list"), inv.ok("transaction", "list"), inv.ok("schedule", "list"))


def refused_import(inv, kind, text, row, field, via="file"):
    """The import exits 1 with one error naming ROW and FIELD, and writes nothing."""
    before = snapshot(inv)
    as_json = run_import(inv, kind, text, via, "--json")
    assert as_json.exit_code == 1, as_json
    assert as_json.stdout == ""
    message = as_json.error["message"]
    assert re.search(rf"\brow\W*{row}\b", message, re.IGNORECASE), message
    fields = (field,) if isinstance(field, str) else field
    assert any(f in message for f in fields), message
    plain = run_import(inv, kind, text, via)
    assert plain.exit_code == 1, plain
    assert len(plain.stderr.strip().splitlines()) == 1 and "Traceback" not in plain.stderr, plain.stderr
    assert snapshot(inv) == before
    return message


def lines(inv):
    return {(l["contract"], l["name"]): l for l in inv.ok("contract", "list")["lines"]}


def transactions(inv):
    return inv.ok("transaction", "list")["transactions"]


def schedule_listing(inv, line_id):
    return inv.ok("schedule", "list", line_id)["schedules"]


def run_dates(inv, line_id):
    (entry,) = [s for s in schedule_listing(inv, line_id) if s.get("kind") != "milestone"]
    return [r["run_date"] for r in entry["run_dates"]]


def milestones(inv, line_id):
    return [s for s in schedule_listing(inv, line_id) if s.get("kind") == "milestone"]


CONTRACT_ROWS = [
    {"contract": "C-100", "name": "Design", "customer": "Fabrikam", "billing_method": TM, "not_to_exceed": "5000",
     "project": "P-1"},
    {"contract": "C-100", "name": "Build", "customer": "Fabrikam", "billing_method": FP, "amount": "1200.5"},
    {"contract": "J-1", "name": "Hosting", "customer": "Contoso KK", "billing_method": FP, "amount": "150000",
     "currency": "JPY"},
]
EXPECTED_LINES = {
    ("C-100", "Design"): ("Fabrikam", TM, None, "5000.00", "USD", "P-1"),
    ("C-100", "Build"): ("Fabrikam", FP, "1200.50", None, "USD", None),
    ("J-1", "Hosting"): ("Contoso KK", FP, "150000", None, "JPY", None),
}


def line_facts(inv):
    return {key: (l["customer"], l["billing_method"], l["amount"], l["not_to_exceed"], l["currency"], l.get("project"))
            for key, l in lines(inv).items()}


# contract import ----------------------------------------------------------------------------

@pytest.mark.parametrize("via", ["file", "stdin"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_contract_import_reads_csv_with_header_or_json_lines_from_a_file_or_stdin(inv, fmt, via):
    if fmt == "csv":
        text = as_csv(CONTRACT_COLUMNS, CONTRACT_ROWS)
    else:
        text = as_jsonl(CONTRACT_ROWS)  # absent keys are "do not apply"
    assert imports_ok(inv, "contract", text, via) == {"imported": 3, "unchanged": 0}
    assert line_facts(inv) == EXPECTED_LINES


def test_contract_import_json_prints_only_the_imported_count(inv):
    result = run_import(inv, "contract", as_csv(CONTRACT_COLUMNS, CONTRACT_ROWS), "file", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"imported": 3, "unchanged": 0}


def test_contract_import_csv_columns_may_come_in_any_order_and_absent_ones_do_not_apply(inv):
    text = "customer,billing_method,name,contract\nFabrikam,time-and-material,Design,C-100\n"
    assert imports_ok(inv, "contract", text) == {"imported": 1, "unchanged": 0}
    assert line_facts(inv) == {("C-100", "Design"): ("Fabrikam", TM, None, None, "USD", None)}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_blank_value_is_an_absent_one_in_either_format(inv, fmt):
    """A cell or a JSON string of white space alone says nothing, as an empty one: absent
    where the column does not apply (a time-and-material line's amount), missing where it
    is needed (a fixed-price line's)."""
    row = {"contract": "C-100", "name": "Design", "customer": "Fabrikam", "billing_method": TM,
           "amount": " ", "not_to_exceed": "\t", "project": " "}
    text = as_csv(CONTRACT_COLUMNS, [row]) if fmt == "csv" else as_jsonl([row])
    assert imports_ok(inv, "contract", text) == {"imported": 1, "unchanged": 0}
    assert line_facts(inv) == {("C-100", "Design"): ("Fabrikam", TM, None, None, "USD", None)}
    row = dict(row, name="Build", billing_method=FP)
    text = as_csv(CONTRACT_COLUMNS, [row]) if fmt == "csv" else as_jsonl([row])
    refused_import(inv, "contract", text, row=2 if fmt == "csv" else 1, field="needs --amount")


def test_contract_import_csv_with_a_byte_order_mark_from_a_spreadsheet(inv):
    text = "\ufeff" + as_csv(CONTRACT_COLUMNS, CONTRACT_ROWS)
    assert imports_ok(inv, "contract", text) == {"imported": 3, "unchanged": 0}


@pytest.mark.parametrize("kind", ["contract", "schedule", "transaction"])
@pytest.mark.parametrize("via", ["file", "stdin"])
def test_an_empty_file_imports_nothing(inv, kind, via):
    assert imports_ok(inv, kind, "", via) == {"imported": 0, "unchanged": 0}
    assert inv.ok("contract", "list")["lines"] == []


def test_a_csv_with_only_its_header_imports_nothing(inv):
    assert imports_ok(inv, "contract", ",".join(CONTRACT_COLUMNS) + "\n") == {"imported": 0, "unchanged": 0}
    assert inv.ok("contract", "list")["lines"] == []


def test_contract_import_a_later_row_naming_another_customer_rejects_the_whole_file(inv):
    rows = CONTRACT_ROWS + [{"contract": "C-100", "name": "Support", "customer": "Northwind",
                             "billing_method": TM}]
    refused_import(inv, "contract", as_csv(CONTRACT_COLUMNS, rows), row=5, field="customer")
    assert inv.ok("contract", "list")["lines"] == []


def test_contract_import_a_row_naming_another_customer_than_the_existing_contract_is_refused(inv):
    inv.line("C-100", "Design", TM, "Fabrikam")
    refused_import(inv, "contract", as_jsonl([
        {"contract": "C-200", "name": "Fine", "customer": "Tailspin", "billing_method": TM},
        {"contract": "C-100", "name": "Other", "customer": "Northwind", "billing_method": TM},
    ]), row=2, field="customer")


def test_contract_import_a_row_naming_another_currency_is_refused(inv):
    rows = [{"contract": "E-1", "name": "A", "customer": "Fabrikam", "billing_method": TM, "currency": "EUR"},
            {"contract": "E-1", "name": "B", "customer": "Fabrikam", "billing_method": TM, "currency": "USD"}]
    refused_import(inv, "contract", as_jsonl(rows), row=2, field="currency")


def test_contract_import_applies_the_line_rules_amount_cap_and_unique_name(inv):
    base = {"contract": "C-100", "customer": "Fabrikam"}
    good = dict(base, name="Design", billing_method=TM)
    refused_import(inv, "contract", as_csv(CONTRACT_COLUMNS, [good, dict(base, name="Build", billing_method=FP)]),
                   row=3, field="amount")
    refused_import(inv, "contract", as_csv(CONTRACT_COLUMNS, [
        good, dict(base, name="Build", billing_method=FP, amount="100", not_to_exceed="50")]),
        row=3, field=("not_to_exceed", "not-to-exceed"))
    refused_import(inv, "contract", as_csv(CONTRACT_COLUMNS, [good, dict(good, project="P")]), row=3, field="project")
    refused_import(inv, "contract", as_csv(CONTRACT_COLUMNS, [good, dict(base, name="X", billing_method="hourly")]),
                   row=3, field="billing_method")
    refused_import(inv, "contract", as_csv(CONTRACT_COLUMNS, [good, dict(base, name="X", billing_method=FP,
                                                                          amount="12.345")]),
                   row=3, field="amount")


def test_contract_import_one_bad_row_at_the_end_of_1000_rejects_the_whole_file(inv):
    rows = [{"contract": f"C-{i // 10}", "name": f"Line {i}", "customer": "Fabrikam", "billing_method": FP,
             "amount": "100"} for i in range(999)]
    rows.append({"contract": "C-999", "name": "Last", "customer": "Fabrikam", "billing_method": FP,
                 "amount": "1e3"})
    refused_import(inv, "contract", as_csv(CONTRACT_COLUMNS, rows), row=1001, field="amount")
    assert inv.ok("contract", "list")["lines"] == []


def test_contract_import_sql_fragments_and_unicode_are_stored_verbatim(inv):
    row = {"contract": "C'); DROP TABLE contracts; --", "name": "Désign — 设计 🚀 \"x\"",
           "customer": "Zoë, Søn & Co", "billing_method": TM, "project": "1' OR '1'='1"}
    assert imports_ok(inv, "contract", as_csv(CONTRACT_COLUMNS, [row])) == {"imported": 1, "unchanged": 0}
    (line,) = inv.ok("contract", "list")["lines"]
    assert (line["contract"], line["name"], line["customer"], line.get("project")) == (
        row["contract"], row["name"], row["customer"], row["project"])


# format errors ------------------------------------------------------------------------------

def test_an_unknown_csv_column_is_refused_naming_it(inv):
    text = "contract,name,customer,billing_method,colour\nC-100,Design,Fabrikam,time-and-material,red\n"
    refused_import(inv, "contract", text, row=1, field="colour")


def test_an_unknown_json_key_is_refused_naming_it_and_its_row(inv):
    text = as_jsonl([{"contract": "C-100", "name": "Design", "customer": "Fabrikam", "billing_method": TM},
                     {"contract": "C-100", "name": "Build", "customer": "Fabrikam", "billing_method": TM,
                      "colour": "red"}])
    refused_import(inv, "contract", text, row=2, field="colour")


def test_an_unknown_transaction_column_is_refused(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    text = f"line_id,date,amount,tax\n{line},2026-11-03,10,5\n"
    refused_import(inv, "transaction", text, row=1, field="tax")


def test_a_json_lines_row_that_is_not_an_object_is_refused_with_its_row(inv):
    text = as_jsonl([{"contract": "C-100", "name": "Design", "customer": "Fabrikam", "billing_method": TM}])
    refused_import(inv, "contract", text + "[1, 2]\n", row=2, field="row")


def test_a_csv_row_with_a_missing_value_is_refused_with_its_row(inv):
    text = "contract,name,customer,billing_method\nC-100,Design,Fabrikam,time-and-material\nC-100,Build,Fabrikam\n"
    refused_import(inv, "contract", text, row=3, field="row")


def test_a_file_that_does_not_exist_is_refused_naming_it(inv):
    result = inv("contract", "import", str(inv.dir / "missing.csv"), "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert "missing.csv" in result.error["message"]


def test_csv_row_numbers_count_records_not_physical_lines(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    # Row 2 holds a quoted description over two lines; row 3 (physical lines 4) has a bad date.
    text = (f'line_id,date,amount,description\n{line},2026-11-03,10,"two\nlines"\n'
            f"{line},2026-02-30,10,x\n")
    result = run_import(inv, "transaction", text, "file", "--json")
    assert result.exit_code == 1
    message = result.error["message"]
    # Whichever record it refuses (a line break in a description, or the bad date), it names
    # it by its record number, not by the physical line where the record ends.
    row = 2 if "description" in message else 3
    assert re.search(rf"\brow\W*{row}\b", message, re.IGNORECASE), message
    assert transactions(inv) == []


# schedule import ----------------------------------------------------------------------------

SCHEDULE_COLUMNS = ["line_id", "contract", "line", "frequency", "rrule", "start", "end", "dates",
                    "milestone", "date", "amount", "percent", "ready"]


@pytest.fixture
def book(inv):
    """Three time-and-material lines and one fixed-price line worth 1000."""
    ids = {
        "monthly": inv.line("C-100", "Monthly", TM, "Fabrikam"),
        "rule": inv.line("C-100", "Rule", TM, "Fabrikam"),
        "dates": inv.line("C-200", "Dates", TM, "Northwind"),
        "fixed": inv.line("C-100", "Licence", FP, "Fabrikam", "--amount", "1000"),
    }
    return inv, ids


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_schedule_import_csv_frequency_rrule_dates_and_milestones(book, via):
    inv, ids = book
    rows = [
        {"line_id": ids["monthly"], "frequency": "monthly", "start": "2024-01-31", "end": "2024-04-30"},
        {"contract": "C-100", "line": "Rule", "rrule": "FREQ=MONTHLY;BYMONTHDAY=7,-1", "start": "2024-01-01",
         "end": "2024-02-29"},
        {"contract": "C-200", "line": "Dates", "dates": "2024-03-05;2024-06-05"},
        {"line_id": ids["fixed"], "milestone": "Kick-off", "date": "2024-02-01", "percent": "25", "ready": "true"},
        {"contract": "C-100", "line": "Licence", "milestone": "Go-live", "date": "2024-05-01", "amount": "700.5",
         "ready": "no"},
    ]
    assert imports_ok(inv, "schedule", as_csv(SCHEDULE_COLUMNS, rows), via) == {"imported": 5, "unchanged": 0}
    # Monthly on the 31st falls on the last day of shorter months.
    assert run_dates(inv, ids["monthly"]) == ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]
    assert run_dates(inv, ids["rule"]) == ["2024-01-07", "2024-01-31", "2024-02-07", "2024-02-29"]
    assert run_dates(inv, ids["dates"]) == ["2024-03-05", "2024-06-05"]
    got = [(m["name"], m["date"], m["amount"], m["ready"]) for m in milestones(inv, ids["fixed"])]
    assert got == [("Kick-off", "2024-02-01", "250.00", True), ("Go-live", "2024-05-01", "700.50", False)]


def test_schedule_import_json_lines_with_numbers_and_booleans(book):
    inv, ids = book
    text = as_jsonl([
        {"line_id": ids["monthly"], "frequency": "quarterly", "start": "2024-01-15", "end": "2024-12-31"},
        {"line_id": ids["fixed"], "milestone": "Kick-off", "date": "2024-02-01", "amount": 100.10, "ready": True},
        {"line_id": ids["fixed"], "milestone": "Design", "date": "2024-03-01", "percent": 12.5, "ready": False},
    ])
    # json.dumps writes 100.1 for the float; the literal text is what counts.
    assert imports_ok(inv, "schedule", text.replace("100.1,", "100.10,")) == {"imported": 3, "unchanged": 0}
    assert run_dates(inv, ids["monthly"]) == ["2024-01-15", "2024-04-15", "2024-07-15", "2024-10-15"]
    got = [(m["name"], m["amount"], m["ready"]) for m in milestones(inv, ids["fixed"])]
    assert got == [("Kick-off", "100.10", True), ("Design", "125.00", False)]


@pytest.mark.parametrize("text,ready", [("true", True), ("false", False), ("1", True), ("0", False),
                                        ("yes", True), ("no", False), ("", False)])
def test_schedule_import_ready_is_true_false_1_0_yes_no(book, text, ready):
    inv, ids = book
    csv_text = f"line_id,milestone,date,amount,ready\n{ids['fixed']},Kick-off,2024-02-01,100,{text}\n"
    assert imports_ok(inv, "schedule", csv_text) == {"imported": 1, "unchanged": 0}
    assert [m["ready"] for m in milestones(inv, ids["fixed"])] == [ready]


def test_schedule_import_an_imported_ready_milestone_is_billed_and_a_not_ready_one_is_not(book):
    inv, ids = book
    text = (f"line_id,milestone,date,amount,ready\n{ids['fixed']},Kick-off,2024-02-01,100,yes\n"
            f"{ids['fixed']},Design,2024-02-01,200,0\n")
    imports_ok(inv, "schedule", text)
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-02-01")
    assert [(i["contract"], i["total"]) for i in run["invoices"]] == [("C-100", "100.00")]


def test_schedule_import_bad_ready_value_is_refused(book):
    inv, ids = book
    text = f"line_id,milestone,date,amount,ready\n{ids['fixed']},Kick-off,2024-02-01,100,maybe\n"
    refused_import(inv, "schedule", text, row=2, field="ready")


def test_schedule_import_milestones_over_the_line_value_reject_the_whole_file(book):
    inv, ids = book
    text = as_jsonl([
        {"line_id": ids["monthly"], "frequency": "monthly", "start": "2024-01-01"},
        {"line_id": ids["fixed"], "milestone": "One", "date": "2024-02-01", "amount": "600"},
        {"line_id": ids["fixed"], "milestone": "Two", "date": "2024-03-01", "amount": "400.01"},
    ])
    refused_import(inv, "schedule", text, row=3, field="amount")
    assert milestones(inv, ids["fixed"]) == []


def test_schedule_import_a_milestone_over_what_the_line_already_has_is_refused(book):
    inv, ids = book
    inv.ok("schedule", "add", ids["fixed"], "--milestone", "One", "--date", "2024-02-01", "--amount", "900")
    text = f"line_id,milestone,date,amount\n{ids['fixed']},Two,2024-03-01,100.01\n"
    refused_import(inv, "schedule", text, row=2, field="amount")


def test_schedule_import_the_wrong_kind_for_the_line_is_refused(book):
    inv, ids = book
    refused_import(inv, "schedule", as_csv(SCHEDULE_COLUMNS, [
        {"line_id": ids["fixed"], "frequency": "monthly", "start": "2024-01-01"}]), row=2,
        field=(str(ids["fixed"]), "milestone"))
    refused_import(inv, "schedule", as_csv(SCHEDULE_COLUMNS, [
        {"line_id": ids["monthly"], "frequency": "monthly", "start": "2024-01-01"},
        {"line_id": ids["rule"], "milestone": "M", "date": "2024-01-01", "amount": "5"}]), row=3,
        field=(str(ids["rule"]), "date"))


@pytest.mark.parametrize("row,column", [
    ({"contract": "C-100", "line": "Monthly", "frequency": "monthly", "start": "2026-12-01", "amount": "5"}, "amount"),
    ({"line_id": "LINE", "frequency": "monthly", "start": "2026-12-01", "percent": "5"}, "percent"),
    ({"contract": "C-100", "line": "Monthly", "dates": "2026-12-01", "date": "2026-12-05"}, "date"),
    ({"contract": "C-100", "line": "Monthly", "frequency": "monthly", "start": "2026-12-01", "ready": "yes"}, "ready"),
    ({"contract": "C-100", "line": "Licence", "milestone": "M", "date": "2026-12-01", "amount": "5",
      "start": "2026-12-01"}, "start"),
    ({"contract": "C-100", "line": "Licence", "milestone": "M", "date": "2026-12-01", "amount": "5",
      "end": "2027-12-01"}, "end"),
])
def test_schedule_import_a_value_of_the_other_kind_of_schedule_is_refused_not_dropped(book, row, column):
    inv, ids = book
    row = {k: ids["monthly"] if v == "LINE" else v for k, v in row.items()}
    good = {"contract": "C-100", "line": "Rule", "frequency": "weekly", "start": "2026-12-01"}
    refused_import(inv, "schedule", as_csv(SCHEDULE_COLUMNS, [good, row]), row=3, field=column)


def test_schedule_import_ready_false_on_a_date_based_row_is_what_leaving_it_out_is(book):
    inv, ids = book
    row = {"contract": "C-100", "line": "Monthly", "frequency": "monthly", "start": "2026-12-01", "ready": "false"}
    assert imports_ok(inv, "schedule", as_csv(SCHEDULE_COLUMNS, [row])) == {"imported": 1, "unchanged": 0}


@pytest.mark.parametrize("column,value", [("start", "2024-02-30"), ("end", "20241231"), ("dates", "2024-03-05;2024-13-01"),
                                          ("start", "2024-W05-1")])
def test_schedule_import_bad_dates_are_refused_naming_row_and_field(book, column, value):
    inv, ids = book
    row = {"line_id": ids["monthly"], "frequency": "monthly", "start": "2024-01-01", "end": "2024-12-31"}
    if column == "dates":
        row = {"line_id": ids["monthly"], "dates": value}
    else:
        row[column] = value
    ok = {"line_id": ids["rule"], "frequency": "weekly", "start": "2024-01-01"}
    refused_import(inv, "schedule", as_csv(SCHEDULE_COLUMNS, [ok, row]), row=3, field=column)


def test_schedule_import_a_line_named_that_does_not_exist_is_refused(book):
    inv, ids = book
    refused_import(inv, "schedule", as_jsonl([
        {"line_id": ids["monthly"], "frequency": "monthly", "start": "2024-01-01"},
        {"contract": "C-100", "line": "Nope", "frequency": "monthly", "start": "2024-01-01"}]),
        row=2, field="Nope")
    refused_import(inv, "schedule", as_jsonl([{"line_id": 999, "frequency": "monthly", "start": "2024-01-01"}]),
                   row=1, field="line_id")
    refused_import(inv, "schedule", as_jsonl([{"line_id": "abc", "frequency": "monthly", "start": "2024-01-01"}]),
                   row=1, field="line_id")


# transaction import -----------------------------------------------------------------------

TRANSACTION_COLUMNS = ["line_id", "contract", "line", "date", "amount", "type", "quantity", "description"]


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_transaction_import_csv_names_lines_by_id_or_by_contract_and_name(inv, via):
    design = inv.line("C-100", "Design", TM, "Fabrikam")
    support = inv.line("C-200", "Support", TM, "Northwind")
    rows = [
        {"line_id": design, "date": "2026-11-03", "amount": "1200", "type": "time", "quantity": "8",
         "description": "Workshop"},
        {"contract": "C-200", "line": "Support", "date": "2026-11-04", "amount": "49.9", "type": "fee"},
        {"contract": "C-100", "line": "Design", "date": "2026-11-05", "amount": "12.5", "type": "expense",
         "description": "Taxi; \"airport\", 'late' — 出張"},
    ]
    assert imports_ok(inv, "transaction", as_csv(TRANSACTION_COLUMNS, rows), via) == {"imported": 3, "unchanged": 0}
    got = [(t["line_id"], t["date"], t["amount"], t["type"], t["description"]) for t in transactions(inv)]
    assert got == [(design, "2026-11-03", "1200.00", "time", "Workshop"),
                   (support, "2026-11-04", "49.90", "fee", None),
                   (design, "2026-11-05", "12.50", "expense", "Taxi; \"airport\", 'late' — 出張")]
    assert float(transactions(inv)[0]["quantity"]) == 8


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_transaction_import_json_number_amounts_are_read_from_their_literal_text(inv, via):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    kwd = inv.line("K-1", "Audit", TM, "Gulf Co", "--currency", "KWD")
    text = (f'{{"line_id": {line}, "date": "2026-11-01", "amount": 10.10}}\n'
            f'{{"line_id": {line}, "date": "2026-11-02", "amount": 0.1}}\n'
            f'{{"line_id": {line}, "date": "2026-11-03", "amount": 0.2}}\n'
            f'{{"line_id": {line}, "date": "2026-11-04", "amount": 1500}}\n'
            f'{{"line_id": {line}, "date": "2026-11-05", "amount": 1234.500}}\n'
            f'{{"line_id": {line}, "date": "2026-11-06", "amount": 9999999999999.99}}\n'
            f'{{"line_id": {kwd}, "date": "2026-11-07", "amount": 1.001}}\n')
    assert imports_ok(inv, "transaction", text, via) == {"imported": 7, "unchanged": 0}
    assert [t["amount"] for t in transactions(inv)] == [
        "10.10", "0.10", "0.20", "1500.00", "1234.50", "9999999999999.99", "1.001"]


def test_transaction_import_exact_amounts_add_up_exactly_on_the_invoice(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01", "--end", "2024-12-31")
    text = "".join(f'{{"line_id": {line}, "date": "2024-01-{d:02d}", "amount": {a}}}\n'
                   for d, a in [(10, "0.1"), (11, "0.2"), (12, "10.10"), (13, "0.07")])
    imports_ok(inv, "transaction", text)
    inv.setup_job()
    (invoice,) = inv.ok("run-once", "--date", "2024-02-01")["invoices"]
    assert invoice["total"] == "10.47"


@pytest.mark.parametrize("literal", ["1e3", "1E3", "12.345", "-5", "0", "1.0e2", "true"])
def test_transaction_import_json_number_amounts_must_be_plain_exact_decimals(inv, literal):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    text = (f'{{"line_id": {line}, "date": "2026-11-01", "amount": 5}}\n'
            f'{{"line_id": {line}, "date": "2026-11-02", "amount": {literal}}}\n')
    refused_import(inv, "transaction", text, row=2, field="amount")


def test_transaction_import_on_a_fixed_price_line_is_refused(inv):
    design = inv.line("C-100", "Design", TM, "Fabrikam")
    inv.line("C-100", "Licence", FP, "Fabrikam", "--amount", "1000")
    text = as_csv(TRANSACTION_COLUMNS, [
        {"line_id": design, "date": "2026-11-03", "amount": "10"},
        {"contract": "C-100", "line": "Licence", "date": "2026-11-03", "amount": "10"}])
    refused_import(inv, "transaction", text, row=3, field=("fixed-price", "line"))


@pytest.mark.parametrize("fmt,row", [("csv", 1001), ("jsonl", 1000)])
def test_transaction_import_one_bad_row_at_the_end_of_1000_rejects_the_whole_file(inv, fmt, row):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    inv.ok("transaction", "add", line, "--date", "2026-10-01", "--amount", "1")
    rows = [{"line_id": line, "date": f"2026-{1 + i % 10:02d}-{1 + i % 28:02d}", "amount": f"{i + 1}.25",
             "type": "time"} for i in range(999)]
    rows.append({"line_id": line, "date": "2026-02-30", "amount": "5", "type": "time"})
    text = as_csv(TRANSACTION_COLUMNS, rows) if fmt == "csv" else as_jsonl(rows)
    refused_import(inv, "transaction", text, row=row, field="date")
    assert len(transactions(inv)) == 1


@pytest.mark.parametrize("column,value,field", [
    ("date", "", "date"), ("date", "20261103", "date"), ("date", "2026-W45-2", "date"),
    ("amount", "", "amount"), ("amount", "1,000", "amount"),
    ("type", "travel", "type"), ("quantity", "lots", "quantity"), ("line_id", "x", "line_id"),
])
def test_transaction_import_bad_values_are_refused_naming_row_and_field(inv, column, value, field):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    good = {"line_id": line, "date": "2026-11-03", "amount": "10", "type": "time"}
    bad = dict(good, **{column: value})
    refused_import(inv, "transaction", as_jsonl([good, good, bad, good]), row=3, field=field)
    refused_import(inv, "transaction", as_csv(TRANSACTION_COLUMNS, [good, good, bad, good]), row=4, field=field)


def test_transaction_import_a_row_naming_no_line_is_refused(inv):
    inv.line("C-100", "Design", TM, "Fabrikam")
    refused_import(inv, "transaction", as_jsonl([{"date": "2026-11-03", "amount": "10"}]), row=1,
                   field=("line", "contract"))


def test_a_row_whose_line_id_and_contract_line_disagree_is_refused(inv):
    design = inv.line("C-1", "Design")
    inv.line("C-1", "Build")
    rows = f"line_id,contract,line,date,amount\n{design},C-1,Build,2026-11-01,5\n"
    result = inv("transaction", "import", "-", "--json", input=rows)
    assert result.exit_code == 1 and result.error["message"].startswith("row 2: line_id")
    assert inv.ok("transaction", "list")["transactions"] == []


def test_a_json_array_file_is_refused_with_a_hint(inv):
    result = inv("transaction", "import", "-", "--json", input='[{"line_id": 1}]\n')
    assert result.exit_code == 1 and "JSON Lines" in result.error["message"]


# batches: rows are checked and written a batch at a time; the result must not show it -----

@pytest.mark.parametrize("batch", [1, 2, 3, 5000])
def test_transaction_import_in_batches_gives_each_row_its_line_in_file_order(inv, monkeypatch, batch):
    monkeypatch.setattr(imports, "BATCH", batch)
    design = inv.line("C-100", "Design")
    build = inv.line("C-100", "Build")
    support = inv.line("C-200", "Support", TM, "Northwind")
    rows = [
        {"line_id": design, "date": "2026-11-01", "amount": "1"},
        {"contract": "C-100", "line": "Build", "date": "2026-11-02", "amount": "2"},
        {"contract": " C-200 ", "line": " Support ", "date": "2026-11-03", "amount": "3"},
        {"line_id": support, "contract": "C-200", "line": "Support", "date": "2026-11-04", "amount": "4"},
        {"contract": "C-100", "line": "Design", "date": "2026-11-05", "amount": "5"},
        {"line_id": f" {build} ", "date": "2026-11-06", "amount": "6"},
        {"contract": "C-100", "line": "Design", "date": "2026-11-07", "amount": "7"},
    ]
    assert imports_ok(inv, "transaction", as_csv(TRANSACTION_COLUMNS, rows)) == {"imported": 7, "unchanged": 0}
    got = sorted((t["id"], t["line_id"], t["amount"]) for t in transactions(inv))
    assert [(line, amount) for _, line, amount in got] == [
        (design, "1.00"), (build, "2.00"), (support, "3.00"), (support, "4.00"), (design, "5.00"),
        (build, "6.00"), (design, "7.00")]


@pytest.mark.parametrize("batch", [1, 2, 5000])
@pytest.mark.parametrize("bad,field", [
    ({"line_id": "999"}, "999"),
    ({"contract": "C-100", "line": "Nope"}, "Nope"),
    ({"contract": "C-999", "line": "Design"}, "C-999"),
    ({"line_id": "1", "contract": "C-100", "line": "Build"}, "line_id"),
    ({"contract": "C-100\x01", "line": "Design"}, "contract"),
])
def test_transaction_import_in_batches_names_the_row_whose_line_is_wrong(inv, monkeypatch, batch, bad, field):
    monkeypatch.setattr(imports, "BATCH", batch)
    inv.line("C-100", "Design")
    inv.line("C-100", "Build")
    good = {"contract": "C-100", "line": "Design", "date": "2026-11-01", "amount": "1"}
    rows = [good, good, good, dict(bad, date="2026-11-02", amount="2"), good]
    refused_import(inv, "transaction", as_jsonl(rows), row=4, field=field)


def test_transaction_import_a_batch_insert_failing_on_its_thread_is_one_line_and_writes_nothing(
        inv, monkeypatch):
    """Each batch is inserted on a worker thread while the next is checked: a failure there
    (a full disk, say) reaches the user as the same one line, and nothing is written."""
    monkeypatch.setattr(imports, "BATCH", 2)
    line = inv.line("C-100", "Design")
    calls = []
    # On the class each store's write comes from: the server's own COPY, else the mixin's.
    writer = PostgresStore if inv.postgres else Imports
    insert = writer.add_transactions
    if inv.postgres:
        import psycopg

        full = psycopg.errors.DiskFull("could not extend file: No space left on device")
    else:
        full = sqlite3.OperationalError("database or disk is full")

    def failing(store, rows):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise full
        insert(store, rows)

    monkeypatch.setattr(writer, "add_transactions", failing)
    rows = [{"line_id": line, "date": "2026-11-01", "amount": str(n)} for n in range(1, 8)]
    result = run_import(inv, "transaction", as_csv(TRANSACTION_COLUMNS, rows), "file", "--json")
    assert result.exit_code == 1 and "disk is full" in result.error["message"], result
    assert calls[:2] == ["invoicer-insert", "invoicer-insert"]
    monkeypatch.setattr(writer, "add_transactions", insert)
    assert transactions(inv) == []


@pytest.mark.parametrize("batch", [1, 2, 3, 5000])
def test_contract_import_in_batches_a_contract_is_made_once_and_its_lines_follow_the_file(inv, monkeypatch, batch):
    monkeypatch.setattr(imports, "BATCH", batch)
    inv.line("C-1", "Existing", TM, "Fabrikam")
    rows = [{"contract": c, "name": n, "customer": cu, "billing_method": TM}
            for c, n, cu in [("C-2", "A", "Northwind"), ("C-1", "B", "Fabrikam"), ("C-2", "B", "Northwind"),
                             ("C-3", "A", "Contoso"), ("C-2", "C", "Northwind"), ("C-1", "C", "Fabrikam")]]
    assert imports_ok(inv, "contract", as_csv(CONTRACT_COLUMNS, rows)) == {"imported": 6, "unchanged": 0}
    lines = inv.ok("contract", "list")["lines"]
    assert [(line["contract"], line["name"]) for line in sorted(lines, key=lambda line: line["id"])] == [
        ("C-1", "Existing"), ("C-2", "A"), ("C-1", "B"), ("C-2", "B"), ("C-3", "A"), ("C-2", "C"), ("C-1", "C")]


@pytest.mark.parametrize("batch", [1, 2, 3, 5000])
@pytest.mark.parametrize("bad,field", [
    ({"contract": "C-2", "name": "A", "customer": "Northwind", "project": "P"}, ("earlier in this file with project",
                                                                               "exists with project none, not 'P'")),
    ({"contract": "C-2", "name": "Z", "customer": "Contoso"}, "customer"),
    ({"contract": "C-2", "name": "Z", "customer": "Northwind", "currency": "EUR"}, "currency"),
    ({"contract": "C-1", "name": "Existing", "customer": "Fabrikam", "not_to_exceed": "10"}, "contract set-line 1"),
])
def test_contract_import_in_batches_checks_each_row_against_the_rows_before_it(inv, monkeypatch, batch, bad, field):
    monkeypatch.setattr(imports, "BATCH", batch)
    inv.line("C-1", "Existing", TM, "Fabrikam")
    rows = [{"contract": "C-2", "name": "A", "customer": "Northwind"}, {"contract": "C-3", "name": "A", "customer": "X"},
            {"contract": "C-2", "name": "B", "customer": "Northwind"}, bad]
    rows = [dict(row, billing_method=TM) for row in rows]
    refused_import(inv, "contract", as_jsonl(rows), row=4, field=field)


@pytest.mark.parametrize("batch", [1, 2, 3, 5000])
def test_schedule_import_in_batches_one_date_schedule_a_line_and_ids_follow_the_file(book, monkeypatch, batch):
    inv, ids = book
    monkeypatch.setattr(imports, "BATCH", batch)
    rows = [
        {"line_id": ids["monthly"], "frequency": "monthly", "start": "2026-12-01"},
        {"line_id": ids["fixed"], "milestone": "Kick-off", "date": "2026-12-15", "amount": "100"},
        {"contract": "C-100", "line": "Rule", "rrule": "FREQ=WEEKLY;BYDAY=MO", "start": "2026-12-01"},
        {"line_id": ids["fixed"], "milestone": "Go-live", "date": "2027-01-15", "percent": "50"},
        {"contract": "C-200", "line": "Dates", "dates": "2026-12-10,2027-01-10"},
    ]
    assert imports_ok(inv, "schedule", as_csv(SCHEDULE_COLUMNS, rows)) == {"imported": 5, "unchanged": 0}
    listing = inv.ok("schedule", "list")["schedules"]
    made = sorted((s["id"], s["line_id"]) for s in listing)
    assert [line for _, line in made] == [ids["monthly"], ids["fixed"], ids["rule"], ids["fixed"], ids["dates"]]
    assert {s["line_id"]: s["next_run_date"] for s in listing if s["kind"] != "milestone"} == {
        ids["monthly"]: "2026-12-01", ids["rule"]: "2026-12-07", ids["dates"]: "2026-12-10"}


@pytest.mark.parametrize("batch", [1, 2, 5000])
def test_schedule_import_in_batches_a_second_schedule_for_a_line_is_refused_at_its_row(book, monkeypatch, batch):
    inv, ids = book
    monkeypatch.setattr(imports, "BATCH", batch)
    inv.ok("schedule", "add", ids["dates"], "--dates", "2026-12-10")
    first = {"line_id": ids["monthly"], "frequency": "monthly", "start": "2026-12-01"}
    other = {"line_id": ids["rule"], "frequency": "weekly", "start": "2026-12-01"}
    again = {"contract": "C-100", "line": "Monthly", "frequency": "weekly", "start": "2026-12-01"}
    refused_import(inv, "schedule", as_jsonl([first, other, other | {"line_id": ids["fixed"], "milestone": "M",
                                                                     "date": "2026-12-01", "amount": "1",
                                                                     "frequency": None, "start": None}, again]),
                   row=4, field="earlier in this file")
    existing = {"line_id": ids["dates"], "frequency": "monthly", "start": "2026-12-01"}
    refused_import(inv, "schedule", as_jsonl([first, other, existing]), row=3, field="already has a date-based schedule")


def run_then_remove_schedule(inv, line_id):
    """Give the line a monthly schedule from 2026-09-01, run it for 2026-10-01 (processed
    through that date), then remove the schedule: a line run before, with none now."""
    inv.ok("schedule", "add", line_id, "--frequency", "monthly", "--start", "2026-09-01")
    inv.ok("transaction", "add", line_id, "--date", "2026-08-20", "--amount", "10")
    inv.setup_job()
    inv.ok("run-once", "--date", "2026-10-01")
    (schedule,) = inv.ok("schedule", "list", line_id)["schedules"]
    inv.ok("schedule", "remove", schedule["id"])


# A batch whose every row is a date-based schedule for a line named by contract and line is
# written by one statement that looks the lines up (Store.add_named_date_schedules); any row
# it cannot take sends the batch through the rules row by row. Rows below name their lines.

def named(contract, line, **values):
    return {"contract": contract, "line": line} | values


@pytest.mark.parametrize("batch", [1, 2, 3, 5000])
def test_schedule_import_by_names_lines_and_ids_follow_the_file_across_both_ways_of_writing(
        book, monkeypatch, batch):
    inv, ids = book
    monkeypatch.setattr(imports, "BATCH", batch)
    rows = [
        named(" C-200 ", "Dates ", dates="2026-12-10,2027-01-10"),  # names are read stripped
        named("C-100", "Monthly", frequency="monthly", start="2026-12-01"),
        named("C-100", "Licence", milestone="Kick-off", date="2026-12-15", amount="100"),
        named("C-100", "Rule", rrule="FREQ=WEEKLY;BYDAY=MO", start="2026-12-01", end="2027-02-01"),
    ]
    assert imports_ok(inv, "schedule", as_jsonl(rows)) == {"imported": 4, "unchanged": 0}
    listing = inv.ok("schedule", "list")["schedules"]
    made = sorted((s["id"], s["line_id"]) for s in listing)
    assert [line for _, line in made] == [ids["dates"], ids["monthly"], ids["fixed"], ids["rule"]]
    assert {s["line_id"]: (s["next_run_date"], s.get("end")) for s in listing if s["kind"] != "milestone"} == {
        ids["dates"]: ("2026-12-10", None), ids["monthly"]: ("2026-12-01", None),
        ids["rule"]: ("2026-12-07", "2027-02-01")}
    assert run_dates(inv, ids["dates"]) == ["2026-12-10", "2027-01-10"]


@pytest.mark.parametrize("batch", [1, 2, 5000])
@pytest.mark.parametrize("by", ["id", "names"])
def test_schedule_import_a_line_run_before_starts_after_its_processed_run_dates(book, monkeypatch, batch, by):
    """A line whose schedule was removed after runs: the imported one starts after them."""
    inv, ids = book
    monkeypatch.setattr(imports, "BATCH", batch)
    run_then_remove_schedule(inv, ids["monthly"])
    monthly = {"line_id": ids["monthly"]} if by == "id" else named("C-100", "Monthly")
    rows = [named("C-100", "Rule", frequency="monthly", start="2026-09-01"),
            monthly | {"frequency": "monthly", "start": "2026-09-01"}]
    imports_ok(inv, "schedule", as_jsonl(rows))
    assert schedule_listing(inv, ids["rule"])[0]["next_run_date"] == "2026-09-01"
    assert schedule_listing(inv, ids["monthly"])[0]["next_run_date"] == "2026-11-01"


@pytest.mark.parametrize("batch", [1, 2, 5000])
def test_schedule_import_by_names_the_rules_refuse_at_the_row_that_breaks_them(book, monkeypatch, batch):
    inv, ids = book
    monkeypatch.setattr(imports, "BATCH", batch)
    inv.ok("schedule", "add", ids["dates"], "--dates", "2026-12-10")
    inv.line("C-100", "Build")
    good = [named("C-100", "Monthly", frequency="monthly", start="2026-12-01"),
            named("C-100", "Rule", frequency="weekly", start="2026-12-01")]
    cases = [
        (named("C-100", "Licence", frequency="monthly", start="2026-12-01"), "fixed-price"),
        (named("C-200", "Dates", frequency="monthly", start="2026-12-01"), "already has a date-based schedule"),
        (named("C-100", "Monthly", frequency="weekly", start="2026-12-01"), "earlier in this file"),
        (named("C-100", "Nope", frequency="monthly", start="2026-12-01"), "no line named 'Nope'"),
        (named("C-999", "Monthly", frequency="monthly", start="2026-12-01"), "C-999"),
        (named("C-100", "Build", frequency="monthly", start="2026-02-30"), "start"),
    ]
    for bad, field in cases:
        refused_import(inv, "schedule", as_jsonl(good + [bad]), row=3, field=field)


def test_schedule_import_by_names_a_batch_refused_whole_leaves_the_next_id_to_its_rows(book, monkeypatch):
    """The one-statement insert refuses a batch naming a line twice (the unique index) and
    the rules write it row by row: its schedule takes the next id, as `schedule add` would,
    not one after those the refused insert took (PostgreSQL's sequences do not roll back)."""
    inv, ids = book
    monkeypatch.setattr(imports, "BATCH", 2)
    first = inv.ok("schedule", "add", ids["rule"], "--frequency", "monthly", "--start", "2026-12-01")["id"]
    row = named("C-100", "Monthly", rrule="FREQ=MONTHLY;BYMONTHDAY=-1", start="2026-11-01")
    assert imports_ok(inv, "schedule", as_jsonl([row, row]))["unchanged"] == 1
    assert [s["id"] for s in inv.ok("schedule", "list", ids["monthly"])["schedules"]] == [first + 1]
    assert inv.ok("schedule", "add", ids["dates"], "--dates", "2026-12-01")["id"] == first + 2


@pytest.mark.parametrize("fmt,row", [("csv", 2), ("jsonl", 1)])
@pytest.mark.parametrize("contract,line", [("C-100\x00junk", "Monthly"), ("C-100", "Monthly\x00"),
                                           ("C-100", "Month\x07ly")])
def test_schedule_import_by_names_a_name_with_a_control_character_is_refused_not_cut_short(
        book, fmt, row, contract, line):
    """SQLite's JSON functions read text up to a NUL: the name must not find line C-100 / Monthly."""
    values = named(contract, line, frequency="monthly", start="2026-12-01")
    text = as_csv(SCHEDULE_COLUMNS, [values]) if fmt == "csv" else as_jsonl([values])
    refused_import(book[0], "schedule", text, row=row, field="control characters")


def test_schedule_import_by_names_a_name_that_is_not_unicode_is_refused(book):
    text = json.dumps(named("C-100\ud800", "Monthly", frequency="monthly", start="2026-12-01")) + "\n"
    refused_import(book[0], "schedule", text, row=1, field="contract")


def test_schedule_import_by_names_a_refused_batch_is_reported_before_an_unreadable_row_after_it(
        book, monkeypatch):
    inv, ids = book
    monkeypatch.setattr(imports, "BATCH", 2)
    header = "contract,line,frequency,start\n"
    # The unreadable row 4 opens the next batch: it is read while the batch before is written.
    rows = ["C-100,Monthly,monthly,2026-12-01", "C-100,Licence,monthly,2026-12-01",  # row 3: fixed-price
            "C-200,Dates,monthly"]  # row 4: a value short
    refused_import(inv, "schedule", header + "\n".join(rows) + "\n", row=3, field="fixed-price")


def test_an_error_while_a_batch_insert_is_under_way_waits_for_it_and_writes_nothing(inv):
    """The rollback must not overtake the insert running on the worker thread: that insert
    would then run outside the transaction and be committed on its own."""
    line = inv.line("C-100", "Design")
    store = open_store(inv.db)
    started = threading.Event()

    def slow_insert(rows):
        started.set()
        time.sleep(0.3)
        store.add_transactions(rows)

    with pytest.raises(KeyboardInterrupt):
        with store.writing(), store.behind() as behind:
            behind.run(slow_insert, [(line, "2026-11-01", 100, "time", None, None)] * 500)
            started.wait()
            raise KeyboardInterrupt
    assert transactions(inv) == []


def test_no_batch_insert_starts_once_the_import_is_being_rolled_back(inv):
    line = inv.line("C-100", "Design")
    store = open_store(inv.db)
    with pytest.raises(InputError):
        with store.writing(), store.behind() as behind:
            behind.cancel()
            behind.run(store.add_transactions, [(line, "2026-11-01", 100, "time", None, None)])
            behind.settle()
            raise InputError("stop")
    assert transactions(inv) == []


def test_an_unreadable_row_is_reported_after_the_bad_rows_before_it_in_its_batch(inv):
    line = inv.line("C-100", "Design")
    rows = [f"{line},2026-11-01,{n + 1}" for n in range(3002)]
    rows[1] = f"{line},2026-11-01,12.345"  # row 3: a bad amount
    rows[3001] = f"{line},2026-11-01"  # row 3003: a value short
    refused_import(inv, "transaction", "line_id,date,amount\n" + "\n".join(rows) + "\n", row=3, field="amount")
    rows[1] = f"{line},2026-11-01,2"
    refused_import(inv, "transaction", "line_id,date,amount\n" + "\n".join(rows) + "\n", row=3003,
                   field="2 values for 3 columns")


def test_text_that_is_not_valid_unicode_is_refused_not_stored(inv):
    line = inv.line("C-100", "Design")
    refused_import(inv, "transaction", f'{{"line_id": {line}, "date": "2026-11-01", "amount": 1, '
                                       '"description": "bad \\ud800 x"}\n', row=1, field="description")
    piped = inv("transaction", "import", "-", "--json", input=f"line_id,date,amount,description\n"
                                                                f"{line},2026-11-01,1,caf".encode() + b"\xe9\n")
    assert piped.exit_code == 1 and "UTF-8" in piped.error["message"], piped
    assert transactions(inv) == []


def test_a_file_that_fails_while_it_is_read_is_refused_in_one_line():
    """Opened, then a disk or network error while read: an error naming it, not a traceback."""
    def failing():
        yield "line_id,date,amount\n"
        raise OSError(5, "Input/output error")

    with pytest.raises(InputError, match="cannot read it: Input/output error"):
        list(imports.rows(failing(), imports.TRANSACTION_FIELDS))


def test_a_json_lines_key_given_twice_is_refused_naming_it_not_the_last_one_kept(inv):
    line = inv.line("C-100", "Design")
    refused_import(inv, "transaction", f'{{"line_id": {line}, "date": "2026-11-01", "amount": "1"}}\n'
                                       f'{{"line_id": {line}, "date": "2026-11-01", "amount": "1", "amount": "2"}}\n',
                   row=2, field="'amount' appears twice")


def test_a_csv_column_given_twice_is_refused_naming_it(inv):
    refused_import(inv, "transaction", "line_id,date,amount,Date\n1,2026-11-01,1,2026-11-02\n", row=1,
                   field="'date' appears twice")


@pytest.mark.parametrize("via", ["file", "stdin"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_byte_that_is_not_utf8_is_refused_naming_its_row_after_the_rows_before_it(inv, via, fmt):
    """The rows before it are read and checked first: a bad row among them is named first."""
    line = inv.line("C-100", "Design")
    if fmt == "csv":
        good = [f"{line},2026-11-01,{n + 1},x" for n in range(6000)]
        text = ("line_id,date,amount,description\n" + "\n".join(good) + "\n").encode()
        bad_row = 6002
        text += f"{line},2026-11-01,1,caf".encode() + b"\xe9\n" + f"{line},2026-11-01,1,x\n".encode()
    else:
        good = [json.dumps({"line_id": line, "date": "2026-11-01", "amount": n + 1}) for n in range(6000)]
        text = ("\n".join(good) + "\n").encode()
        bad_row = 6001
        text += b'{"line_id": 1, "date": "2026-11-01", "amount": 1, "description": "caf\xe9"}\n'
    path = inv.dir / "latin1.txt"
    path.write_bytes(text)
    args = ("transaction", "import", "-", "--json") if via == "stdin" else ("transaction", "import", str(path), "--json")
    result = inv(*args, input=text if via == "stdin" else None)
    assert result.exit_code == 1 and result.error["message"] == f"row {bad_row}: not UTF-8 text", result
    assert transactions(inv) == []
    # A bad row before it is the one named.
    earlier = text.replace(b"2026-11-01,77,", b"2026-11-01,7.777,", 1) if fmt == "csv" else \
        text.replace(b'"amount": 77}', b'"amount": 7.777}', 1)
    path.write_bytes(earlier)
    result = inv(*args, input=earlier if via == "stdin" else None)
    assert result.exit_code == 1 and result.error["message"].startswith("row 7" + ("8" if fmt == "csv" else "7")), result


@pytest.mark.parametrize("kind,text,row,field", [
    ("transaction", "line_id,amount\n1,5\n", 2, "date: missing"),
    ("contract", '{"contract": "C-1", "name": "A", "customer": "X"}\n', 1, "billing_method: missing (one of"),
    ("transaction", "line_id,date,amount\n99999999999999999999999,2026-11-01,5\n", 2, "too large to be an id"),
])
def test_a_value_left_out_or_out_of_range_is_said_so(inv, kind, text, row, field):
    assert inv.line("C-100", "Design") == 1
    refused_import(inv, kind, text, row=row, field=field)


@pytest.mark.parametrize("digits", [19, 4301, 5000])
def test_an_id_of_thousands_of_digits_is_too_large_not_a_crash(inv, digits):
    assert inv.line("C-100", "Design") == 1
    refused_import(inv, "transaction", f"line_id,date,amount\n{'1' * digits},2026-11-01,5\n", row=2,
                   field="too large to be an id")
    result = inv("schedule", "remove", "1" * digits, "--json")
    assert result.exit_code == 1 and "too large" in result.error["message"]
    assert inv.ok("transaction", "list", "--line", "0" * 30 + "1")["transactions"] == []


def test_a_csv_syntax_error_names_its_record_not_its_physical_line(inv):
    """Row 2 spans two lines (a blank cell, absent); row 3 has a stray quote: row 3, not line 4."""
    refused_import(inv, "contract", 'contract,name,customer,billing_method,project\n'
                                    'C-1,A,X,time-and-material," \n "\n'
                                    'C-1,B,X,time-and-material,"bad"quote\n', row=3, field="not valid CSV")
