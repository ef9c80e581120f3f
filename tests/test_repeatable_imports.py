"""Imports that can be repeated (spec section 11): a transaction's ref, rows the book already
holds (unchanged), the ref of a deleted transaction, contract and schedule rows identical to
what exists, and content that `transaction import` read before."""

import functools
import gc
import json
import re
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicer import book, imports
from invoicer.errors import InvoicerError
from invoicer.store import Imports, open_store

from .conftest import NOW, Invoicer, _drop_database, _new_database, dump, freeze, query, restore
from .test_imports import as_csv, as_jsonl, refused_import, run_import

TM, FP = "time-and-material", "fixed-price"
TX_COLUMNS = ["line_id", "date", "amount", "type", "quantity", "description", "ref"]


def transactions(inv, *args):
    return inv.ok("transaction", "list", *args)["transactions"]


def tx_import(inv, rows, *extra, via="file", name="import.txt"):
    return run_import(inv, "transaction", as_csv(TX_COLUMNS, rows), via, "--json", *extra, name=name)


def imported(result):
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.json


@pytest.fixture
def line(inv):
    return inv.line("C-100", "Design")


def row(line, ref, amount="10.00", day="2026-11-02", **values):
    return {"line_id": line, "date": day, "amount": amount, "ref": ref, **values}


# refs on transactions -------------------------------------------------------------------------

def test_transaction_add_ref_is_in_its_json_and_in_the_list_and_null_without_one(inv, line):
    added = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--ref", "TS-1")
    plain = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10")
    assert added["ref"] == "TS-1" and plain["ref"] is None
    assert {t["id"]: t["ref"] for t in transactions(inv)} == {added["id"]: "TS-1", plain["id"]: None}
    assert "TS-1" in inv("transaction", "list").stdout


def test_transaction_add_ref_of_the_same_values_as_stored_prints_the_holder_and_adds_nothing(inv, line):
    first = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--quantity", "8",
                   "--ref", "TS-1")
    # The same values as stored: 10 is 10.00, 8 is 8.0, no --type is time, an empty description is none.
    again = inv("transaction", "add", line, "--date", "2026-11-02", "--amount", "10.00", "--quantity", "8.0",
                "--type", "time", "--description", "", "--ref", "TS-1", "--json")
    assert again.exit_code == 0 and again.json == first
    plain = inv("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--quantity", "8",
                "--ref", "TS-1")
    assert plain.exit_code == 0 and "nothing added" in plain.stdout
    assert len(transactions(inv)) == 1


@pytest.mark.parametrize("change", [["--amount", "11"], ["--date", "2026-11-03"], ["--type", "fee"],
                                    ["--quantity", "9"], ["--description", "other"], ["--line"]])
def test_transaction_add_ref_with_any_other_value_exits_1_and_writes_nothing(inv, line, change):
    other_line = inv.line("C-100", "Build")
    base = {"--date": "2026-11-02", "--amount": "10", "--quantity": "8", "--description": "work"}
    inv.ok("transaction", "add", line, *[x for kv in base.items() for x in kv], "--ref", "TS-1")
    target = other_line if change == ["--line"] else line
    changed = dict(base, **({} if change == ["--line"] else {change[0]: change[1]}))
    before = dump(inv)
    result = inv("transaction", "add", target, *[x for kv in changed.items() for x in kv], "--ref", "TS-1",
                 "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert "TS-1" in result.error["message"] and "transaction 1" in result.error["message"]
    assert dump(inv) == before


@pytest.mark.parametrize("ref,problem", [("", "empty"), (" ", "empty"), ("\t ", "empty"), ("r" * 201, "longer than 200"),
                                         ("TS\x011", "control"), ("TS\t1", "control"), ("TS\x851", "control"),
                                         (" TS-1", "white space"), ("TS-1 ", "white space"),
                                         ("TS-1\u2003", "white space")])
def test_a_bad_ref_is_refused_naming_it_by_add_and_by_import(inv, line, ref, problem):
    before = dump(inv)
    result = inv("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--ref", ref, "--json")
    assert result.exit_code == 1 and result.error["message"].startswith("ref:"), result
    assert problem in result.error["message"]
    assert dump(inv) == before
    if ref:  # an empty cell is a row without a ref; a blank one is a bad ref, not none
        text = as_jsonl([row(line, "TS-0"), row(line, ref)])
        refused_import(inv, "transaction", text, row=2, field="ref")
        refused_import(inv, "transaction", as_csv(TX_COLUMNS, [row(line, "TS-0"), row(line, ref)]), row=3,
                       field="ref")
        assert dump(inv) == before


def test_a_ref_of_200_code_points_is_taken_and_compared_exactly(inv, line):
    long_ref = "é" * 200  # 200 code points, 400 bytes
    assert inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "1", "--ref", long_ref)["ref"] == long_ref
    # Refs are compared exactly: another case is another ref.
    inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "1", "--ref", "ts-1")
    inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "2", "--ref", "TS-1")
    assert len(transactions(inv)) == 3


# refs in imports ------------------------------------------------------------------------------

def test_the_same_rows_with_refs_twice_are_unchanged_the_second_time_and_billed_once(inv, line):
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-11-01")
    inv.setup_job()
    rows = [row(line, f"TS-{n}", amount=f"{n}.50", day=f"2026-10-{n:02d}") for n in range(1, 8)]
    assert imported(tx_import(inv, rows)) == {"imported": 7, "unchanged": 0}
    assert imported(tx_import(inv, rows)) == {"imported": 0, "unchanged": 7}
    first = inv.ok("run-once", "--date", "2026-11-01")
    assert [i["total"] for i in first["invoices"]] == ["31.50"]
    # Sent again after the run: still unchanged (billed or not), and nothing is billed twice.
    assert imported(tx_import(inv, rows)) == {"imported": 0, "unchanged": 7}
    again = inv.ok("run-once", "--date", "2026-11-01", "--force")
    assert again["invoices"] == []
    assert len(transactions(inv)) == 7 and transactions(inv, "--unbilled") == []


def test_the_same_values_compare_as_stored_in_an_import(inv, line):
    inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--quantity", "8", "--ref", "TS-1")
    same = {"contract": "C-100", "line": "Design", "date": "2026-11-02", "amount": "10.000"[:5], "quantity": "8.00",
            "ref": "TS-1"}  # by names, no type, no description
    assert imported(run_import(inv, "transaction", as_jsonl([same]), "file", "--json")) == {"imported": 0,
                                                                                            "unchanged": 1}
    number = {"line_id": line, "date": "2026-11-02", "amount": 10, "quantity": 8, "type": "time",
              "description": "", "ref": "TS-1"}
    assert imported(run_import(inv, "transaction", json.dumps(number) + "\n", "file", "--json")) == {
        "imported": 0, "unchanged": 1}
    assert len(transactions(inv)) == 1


def test_a_changed_amount_under_a_known_ref_is_refused_naming_the_row_the_ref_and_the_holder(inv, line):
    holder = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--ref", "TS-1")
    before = dump(inv)
    rows = [row(line, "TS-2"), row(line, "TS-3"), row(line, "TS-1", amount="10.01")]
    message = refused_import(inv, "transaction", as_csv(TX_COLUMNS, rows), row=4, field="amount 10.00 there, 10.01 here")
    assert "'TS-1'" in message and f"transaction {holder['id']}" in message
    assert dump(inv) == before


@pytest.mark.parametrize("batch", [1, 2, 3, 5000])
def test_two_rows_of_one_file_with_one_ref_the_second_is_unchanged_if_the_same(inv, line, monkeypatch, batch):
    monkeypatch.setattr(imports, "BATCH", batch)
    rows = [row(line, "TS-1"), row(line, "TS-2"), row(line, "TS-3"), row(line, "TS-4"), row(line, "TS-1"),
            row(line, "TS-4", amount="10")]
    assert imported(tx_import(inv, rows)) == {"imported": 4, "unchanged": 2}
    assert sorted(t["ref"] for t in transactions(inv)) == ["TS-1", "TS-2", "TS-3", "TS-4"]


@pytest.mark.parametrize("batch", [1, 2, 3, 5000])
@pytest.mark.parametrize("gap", [0, 1, 4])
def test_two_rows_of_one_file_with_one_ref_and_other_values_are_refused_naming_both(inv, line, monkeypatch,
                                                                                   batch, gap):
    """Whether the first row is in the batch being checked, the one before (not yet
    written), or written already: the error names both rows."""
    monkeypatch.setattr(imports, "BATCH", batch)
    rows = [row(line, "TS-0", amount="1")]  # unchanged rows and rows without refs shift the numbering
    inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "1", "--ref", "TS-0")
    rows += [row(line, "TS-a"), row(line, None), row(line, "TS-b"), row(line, "TS-1")]  # TS-1 is row 6
    rows += [row(line, None)] + [row(line, f"TS-x{n}") for n in range(gap)]
    rows.append(row(line, "TS-1", day="2026-11-03"))
    last = len(rows) + 1
    message = refused_import(inv, "transaction", as_csv(TX_COLUMNS, rows), row=last, field="date 2026-11-02 there")
    assert re.search(r"\bin row 6\b", message), message


def test_rows_with_and_without_refs_mix_in_one_file(inv, line):
    rows = [row(line, "TS-1"), row(line, None), row(line, "TS-2"), row(line, None)]
    assert imported(tx_import(inv, rows)) == {"imported": 4, "unchanged": 0}
    assert [t["ref"] for t in transactions(inv)] == ["TS-1", None, "TS-2", None]


def test_an_import_looks_up_the_refs_of_a_batch_in_one_query(inv, line, monkeypatch):
    calls = []
    original = Imports.ref_holders  # the mixin's: both stores' classes take it from there
    monkeypatch.setattr(Imports, "ref_holders", lambda self, refs: calls.append(len(refs)) or original(self, refs))
    rows = [row(line, f"TS-{n}") for n in range(12_000)]
    assert imported(tx_import(inv, rows)) == {"imported": 12_000, "unchanged": 0}
    assert calls == [5_000, 5_000, 2_000]
    calls.clear()
    assert imported(tx_import(inv, [row(line, None)] * 6_000, name="plain.csv")) == {"imported": 6_000,
                                                                                      "unchanged": 0}
    assert calls == []  # rows without refs do not look for any


def test_after_transaction_set_the_ref_holds_the_corrected_values(inv, line):
    added = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--ref", "TS-1")
    inv.ok("transaction", "set", added["id"], "--amount", "12")
    assert imported(tx_import(inv, [row(line, "TS-1", amount="12")])) == {"imported": 0, "unchanged": 1}
    refused_import(inv, "transaction", as_csv(TX_COLUMNS, [row(line, "TS-1", amount="10")]), row=2,
                   field="amount 12.00 there, 10.00 here")


# deleted transactions -------------------------------------------------------------------------

def test_the_ref_of_a_deleted_transaction_stays_taken_and_the_deletion_stands(inv, line):
    deleted = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--ref", "TS-1")
    assert inv.ok("transaction", "delete", deleted["id"])["ref"] == "TS-1"
    # Sent again with the same values: unchanged, not brought back.
    assert imported(tx_import(inv, [row(line, "TS-1"), row(line, "TS-2")])) == {"imported": 1, "unchanged": 1}
    assert [t["ref"] for t in transactions(inv)] == ["TS-2"]
    # With other values: refused.
    message = refused_import(inv, "transaction", as_csv(TX_COLUMNS, [row(line, "TS-1", amount="11")]), row=2,
                             field="deleted")
    assert f"transaction {deleted['id']}" in message
    # transaction add: exit 1, saying it was deleted, with the same values too.
    before = dump(inv)
    again = inv("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--ref", "TS-1", "--json")
    assert again.exit_code == 1 and "deleted" in again.error["message"]
    assert dump(inv) == before


def test_the_ref_of_the_latest_transaction_deleted_is_refused_naming_it(inv, line):
    """The deleted transaction had the highest id: no transaction of the book is above it,
    and yet this import did not add it."""
    inv.ok("transaction", "add", line, "--date", "2026-11-01", "--amount", "5")
    deleted = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10", "--ref", "TS-1")
    inv.ok("transaction", "delete", deleted["id"])
    message = refused_import(inv, "transaction", as_csv(TX_COLUMNS, [row(line, "TS-1", amount="11")]), row=2,
                             field="deleted")
    assert f"transaction {deleted['id']}" in message


def test_a_transaction_without_a_ref_leaves_nothing_behind_when_deleted(inv, line):
    plain = inv.ok("transaction", "add", line, "--date", "2026-11-02", "--amount", "10")
    inv.ok("transaction", "delete", plain["id"])
    assert query(inv, "SELECT count(*) FROM deleted_refs") == [(0,)]


# content imported before ----------------------------------------------------------------------

def test_a_file_imported_twice_is_refused_with_the_time_and_rows_of_the_first(inv, line):
    rows = [row(line, None), row(line, None, amount="20")]
    assert imported(tx_import(inv, rows)) == {"imported": 2, "unchanged": 0}
    before = dump(inv)
    inv.at("2026-11-25T08:30:00")
    result = tx_import(inv, rows)
    assert result.exit_code == 1 and result.stdout == ""
    message = result.error["message"]
    assert "2026-11-24T10:00:00" in message and "2 row(s)" in message and "--again" in message, message
    assert dump(inv) == before
    # From standard input, the same bytes are the same content.
    assert tx_import(inv, rows, via="stdin").exit_code == 1
    assert dump(inv) == before
    human = run_import(inv, "transaction", as_csv(TX_COLUMNS, rows))
    assert human.exit_code == 1 and len(human.stderr.strip().splitlines()) == 1


def test_again_imports_content_a_second_time(inv, line):
    rows = [row(line, None)]
    imported(tx_import(inv, rows))
    assert imported(tx_import(inv, rows, "--again")) == {"imported": 1, "unchanged": 0}
    assert len(transactions(inv)) == 2


def test_content_whose_every_row_has_a_ref_may_come_again_and_one_row_without_is_enough_to_refuse(inv, line):
    with_refs = [row(line, "TS-1"), row(line, "TS-2")]
    imported(tx_import(inv, with_refs))
    assert imported(tx_import(inv, with_refs)) == {"imported": 0, "unchanged": 2}
    mixed = [row(line, "TS-3"), row(line, None)]
    imported(tx_import(inv, mixed, name="mixed.csv"))
    assert tx_import(inv, mixed, name="mixed-again.csv").exit_code == 1
    assert len(transactions(inv)) == 4


def test_other_bytes_are_other_content(inv, line):
    rows = [row(line, None)]
    imported(tx_import(inv, rows))
    text = as_csv(TX_COLUMNS, rows)
    result = run_import(inv, "transaction", text.replace("\n", "\r\n"), "file", "--json")
    assert imported(result) == {"imported": 1, "unchanged": 0}


def test_only_a_successful_import_is_remembered(inv):
    text = "contract,line,date,amount\nC-100,Later,2026-11-02,10\n"
    assert run_import(inv, "transaction", text, "file", "--json").exit_code == 1  # no such line yet
    inv.line("C-100", "Later")
    assert imported(run_import(inv, "transaction", text, "file", "--json")) == {"imported": 1, "unchanged": 0}


def test_the_human_output_says_imported_and_unchanged(inv, line):
    rows = [row(line, "TS-1"), row(line, "TS-1")]
    result = run_import(inv, "transaction", as_csv(TX_COLUMNS, rows))
    assert result.exit_code == 0 and "imported 1 row(s), 1 unchanged" in result.stdout


# contract and schedule imports ----------------------------------------------------------------

CONTRACT_COLUMNS = ["contract", "name", "customer", "billing_method", "amount", "not_to_exceed", "project", "currency"]


def test_contract_import_rows_identical_to_existing_lines_are_unchanged(inv):
    inv.line("C-1", "Work", TM, "Fabrikam", "--not-to-exceed", "5000")
    inv.line("C-1", "Fixed", FP, "Fabrikam", "--amount", "1000", "--project", "Apollo")
    rows = [{"contract": "C-1", "name": "Work", "customer": "Fabrikam", "billing_method": TM,
             "not_to_exceed": "5000.00"},
            {"contract": "C-1", "name": "Fixed", "customer": "Fabrikam", "billing_method": FP, "amount": "1000",
             "project": "Apollo", "currency": "usd"},
            {"contract": "C-1", "name": "New", "customer": "Fabrikam", "billing_method": TM},
            {"contract": "C-1", "name": "New", "customer": "Fabrikam", "billing_method": TM}]
    text = as_csv(CONTRACT_COLUMNS, rows)
    assert imported(run_import(inv, "contract", text, "file", "--json")) == {"imported": 1, "unchanged": 3}
    assert imported(run_import(inv, "contract", text, "file", "--json")) == {"imported": 0, "unchanged": 4}
    assert len(inv.ok("contract", "list")["lines"]) == 3


@pytest.mark.parametrize("change,field", [({"amount": "1200"}, "amount"), ({"amount": None}, "amount"),
                                          ({"project": None}, "project"), ({"billing_method": TM}, "billing_method"),
                                          ({"customer": "Other"}, "customer")])
def test_contract_import_a_row_for_an_existing_line_with_another_value_is_refused_naming_the_row(inv, change,
                                                                                                field):
    line_id = inv.line("C-1", "Fixed", FP, "Fabrikam", "--amount", "1000", "--project", "Apollo")
    base = {"contract": "C-1", "name": "Fixed", "customer": "Fabrikam", "billing_method": FP, "amount": "1000",
            "project": "Apollo"}
    rows = [{"contract": "C-2", "name": "A", "customer": "X", "billing_method": TM}, {**base, **change}]
    message = refused_import(inv, "contract", as_jsonl(rows), row=2, field=field)
    if field != "customer":
        assert f"contract set-line {line_id}" in message


def test_contract_import_compares_a_lines_tax_too(inv):
    inv.line("C-1", "Work", TM, "Fabrikam", "--tax-category", "S", "--tax-rate", "19")
    same = {"contract": "C-1", "name": "Work", "customer": "Fabrikam", "billing_method": TM, "tax_category": "s",
            "tax_rate": "19.00"}
    assert imported(run_import(inv, "contract", as_jsonl([same]), "file", "--json")) == {"imported": 0,
                                                                                         "unchanged": 1}
    refused_import(inv, "contract", as_jsonl([dict(same, tax_rate="7")]), row=1, field="tax_rate 19.00")
    refused_import(inv, "contract", as_jsonl([{k: v for k, v in same.items() if not k.startswith("tax")}]), row=1,
                   field="tax_category")


SCHEDULE_COLUMNS = ["line_id", "contract", "line", "frequency", "rrule", "start", "end", "dates", "milestone", "date",
                    "amount", "percent", "ready"]


@pytest.fixture
def scheduled(inv):
    ids = {"monthly": inv.line("C-1", "Monthly"), "dates": inv.line("C-1", "Dates"),
           "fixed": inv.line("C-1", "Fixed", FP, "Fabrikam", "--amount", "1000")}
    inv.ok("schedule", "add", ids["monthly"], "--frequency", "monthly", "--start", "2026-12-01", "--end", "2027-12-31")
    inv.ok("schedule", "add", ids["dates"], "--dates", "2026-12-01,2027-01-01")
    ids["go"] = inv.ok("schedule", "add", ids["fixed"], "--milestone", "Go", "--date", "2026-12-01",
                       "--amount", "300")["id"]
    ids["half"] = inv.ok("schedule", "add", ids["fixed"], "--milestone", "Half", "--date", "2027-01-01",
                         "--percent", "50")["id"]
    return inv, ids


def test_schedule_import_rows_identical_to_the_lines_schedules_and_milestones_are_unchanged(scheduled):
    inv, ids = scheduled
    inv.ok("schedule", "ready", ids["go"])  # marked ready since: still matches ready false
    rows = [{"contract": "C-1", "line": "Monthly", "frequency": "Monthly", "start": "2026-12-01", "end": "2027-12-31"},
            {"line_id": ids["dates"], "dates": "2027-01-01;2026-12-01;2027-01-01"},  # a set
            {"line_id": ids["fixed"], "milestone": "Go", "date": "2026-12-01", "amount": "300.00", "ready": "false"},
            {"line_id": ids["fixed"], "milestone": "Half", "date": "2027-01-01", "percent": "50.0"},
            {"line_id": ids["fixed"], "milestone": "Final", "date": "2027-02-01", "amount": "200"}]
    text = as_jsonl(rows)
    before = inv.ok("schedule", "list")
    assert imported(run_import(inv, "schedule", text, "file", "--json")) == {"imported": 1, "unchanged": 4}
    assert imported(run_import(inv, "schedule", text, "file", "--json")) == {"imported": 0, "unchanged": 5}
    after = inv.ok("schedule", "list")
    assert len(after["schedules"]) == len(before["schedules"]) + 1


@pytest.mark.parametrize("changed,field", [
    ({"line": "Monthly", "frequency": "monthly", "start": "2026-12-01"}, "already has a date-based schedule"),
    ({"line": "Dates", "dates": "2026-12-01"}, "already has a date-based schedule"),
    ({"line": "Fixed", "milestone": "Go", "date": "2026-12-02", "amount": "300"}, "schedule remove"),
    ({"line": "Fixed", "milestone": "Go", "date": "2026-12-01", "amount": "301"}, "schedule remove"),
    ({"line": "Fixed", "milestone": "Go", "date": "2026-12-01", "percent": "30"}, "schedule remove"),
    ({"line": "Fixed", "milestone": "Half", "date": "2027-01-01", "amount": "500"}, "schedule remove"),
    ({"line": "Fixed", "milestone": "Go", "date": "2026-12-01", "amount": "300", "ready": "true"}, "schedule ready"),
])
def test_schedule_import_a_row_that_differs_from_what_the_line_has_is_refused_naming_the_row(scheduled, changed,
                                                                                             field):
    inv, _ = scheduled
    rows = [{"contract": "C-1", "line": "Monthly", "frequency": "monthly", "start": "2026-12-01", "end": "2027-12-31"},
            {"contract": "C-1", **changed}]
    refused_import(inv, "schedule", as_jsonl(rows), row=2, field=field)


def test_schedule_import_the_same_new_schedule_twice_in_a_file_is_added_once(inv, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 1)
    line_id = inv.line("C-1", "Work")
    rows = [{"line_id": line_id, "frequency": "monthly", "start": "2026-12-01"}] * 2
    assert imported(run_import(inv, "schedule", as_jsonl(rows), "file", "--json")) == {"imported": 1, "unchanged": 1}
    assert len(inv.ok("schedule", "list", line_id)["schedules"]) == 1


def test_schedule_import_two_rows_of_one_new_milestone_name_with_other_values_is_the_files_own_conflict(scheduled):
    """The first row's milestone is rolled back with the file: the message names the file's
    rows, not that milestone's id, which will not exist."""
    inv, ids = scheduled
    rows = [{"line_id": ids["fixed"], "milestone": "Final", "date": "2027-02-01", "amount": "200"},
            {"line_id": ids["fixed"], "milestone": "Final", "date": "2027-03-01", "amount": "200"}]
    message = refused_import(inv, "schedule", as_jsonl(rows), row=2, field="an earlier row of this file")
    assert "'Final'" in message and "schedule remove" not in message


# property: any sequence of overlapping imports ------------------------------------------------

REFS = [f"TS-{n}" for n in range(12)]


def values_of(ref: str, line_ids: list[int]) -> dict:
    """A source system's entry: the same values every time it is sent."""
    n = int(ref.split("-")[1])
    return {"line_id": line_ids[n % len(line_ids)], "date": f"2026-11-{1 + n % 28:02d}",
            "amount": f"{n + 1}.{n % 100:02d}", "quantity": str(n % 3 or ""), "ref": ref}


def build_empty_book(inv) -> list[int]:
    return [inv.line("C-1", "A"), inv.line("C-2", "B", TM, "Contoso")]


@pytest.fixture(scope="module")
def empty_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("repeatable") / "base.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INVOICER_TZ", "UTC")
        patch.setenv("INVOICER_NOW", NOW)
        line_ids = build_empty_book(Invoicer(path, patch))
    # Fold the write-ahead log into the file: the examples copy the file alone.
    gc.collect()  # the commands' connections
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()

    @contextmanager
    def fresh():
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder, "book.db")
            db.write_bytes(path.read_bytes())
            yield str(db)
    return fresh, line_ids


@pytest.fixture(scope="module")
def pg_empty_book(request):
    """The same book on the test cluster: one database, put back to it before each example."""
    cluster = request.getfixturevalue("postgres_cluster")
    base, example = _new_database(cluster), _new_database(cluster)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INVOICER_TZ", "UTC")
        patch.setenv("INVOICER_NOW", NOW)
        line_ids = build_empty_book(Invoicer(base, patch))
    frozen = freeze(base)

    @contextmanager
    def fresh():
        restore(example, frozen)
        yield example
    yield fresh, line_ids
    _drop_database(cluster, base)
    _drop_database(cluster, example)


FILES = st.lists(st.tuples(st.lists(st.sampled_from(REFS), max_size=10), st.booleans(),
                           st.sampled_from([1, 3, 5000])), min_size=1, max_size=6)
PROPERTY = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def overlapping_imports_property(base, monkeypatch, files, deleted):
    fresh, line_ids = base
    with fresh() as db:
        rows_of = functools.partial(query, Invoicer(db, None))
        sent: set[str] = set()
        for number, (refs, as_json, batch) in enumerate(files):
            monkeypatch.setattr(imports, "BATCH", batch)
            rows = [values_of(ref, line_ids) for ref in refs]
            text = as_jsonl(rows) if as_json else as_csv(["line_id", "date", "amount", "quantity", "ref"], rows)
            store = open_store(db)
            done = imports.import_transactions(store, text.splitlines(keepends=True),
                                               content=lambda text=text: str(hash(text)))
            store.close()
            assert done.imported == len(set(refs) - sent) and done.unchanged == len(refs) - done.imported
            sent |= set(refs)
            if number == 0:  # some of the feed's first entries are deleted in the book; the deletions stand
                removed = deleted & sent
                ids = [i for i, ref in rows_of("SELECT id, ref FROM transactions ORDER BY id") if ref in removed]
                for transaction_id in ids:
                    store = open_store(db)
                    book.delete_transaction(store, transaction_id)
                    store.close()
        live = [ref for (ref,) in rows_of("SELECT ref FROM transactions")]
        gone = [ref for (ref,) in rows_of("SELECT ref FROM deleted_refs")]
        assert sorted(live) == sorted(sent - removed), "one live transaction per ref sent and not deleted"
        assert sorted(gone) == sorted(removed)


@settings(max_examples=60, **PROPERTY)
@given(files=FILES, deleted=st.sets(st.sampled_from(REFS), max_size=3))
def test_any_sequence_of_overlapping_imports_leaves_one_transaction_per_ref(empty_book, monkeypatch, files, deleted):
    overlapping_imports_property(empty_book, monkeypatch, files, deleted)


# The same property on PostgreSQL (no `inv`: not parametrized by conftest), as many examples:
# an example restores one small book there, a fraction of a second.
@settings(max_examples=60, **PROPERTY)
@given(files=FILES, deleted=st.sets(st.sampled_from(REFS), max_size=3))
def test_any_sequence_of_overlapping_imports_leaves_one_transaction_per_ref_on_postgresql(
        pg_empty_book, monkeypatch, files, deleted):
    overlapping_imports_property(pg_empty_book, monkeypatch, files, deleted)


def test_a_row_with_a_ref_and_a_bad_value_names_its_row_not_the_ref(inv, line):
    with pytest.raises(InvoicerError, match=r"^row 2: amount"):
        imports.import_transactions(open_store(inv.db), as_csv(TX_COLUMNS, [row(line, "TS-1", amount="1.234")])
                                    .splitlines(keepends=True))


# kill -9 during an import with refs, then the same import -------------------------------------

def test_kill_9_during_an_import_with_refs_then_the_same_import_leaves_one_copy_of_each_row(tmp_path):
    from .test_faults import (BASE_LINES, RUN_DATE, Transactions, assert_billed_exactly_once, build_base, cli,
                              holds_write_lock, integrity, ok, settle, wait_for_write_lock, write_csv)
    import os
    import random
    import shutil
    import signal
    import subprocess
    import time

    from .test_faults import argv, environment

    template = tmp_path / "base.db"
    base = Transactions()
    base.add(*BASE_LINES[0], "2026-10-01", 100)
    build_base(template, tmp_path, base)
    settle(template)
    rng = random.Random(16)
    feed = Transactions(expected=base.expected.copy())
    for n in range(60_000):
        contract, name = BASE_LINES[n % len(BASE_LINES)]
        feed.add(contract, name, f"2026-10-{1 + n % 28:02d}", rng.randint(1, 900_000))
    rows = [(*values, f"TS-{n:06d}") for n, values in enumerate(feed.rows)]
    path = write_csv(tmp_path / "feed.csv", "contract,line,date,amount,type,ref", rows)
    command = ("transaction", "import", path, "--json")

    delay = 0.6
    for attempt in range(8):
        db = tmp_path / f"attempt-{attempt}" / "book.db"
        db.parent.mkdir()
        shutil.copyfile(template, db)
        process = subprocess.Popen(argv(db, *command), env=environment(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        if wait_for_write_lock(db, process) is None:
            delay /= 2
            continue
        time.sleep(delay)
        if process.poll() is not None or not holds_write_lock(db):
            process.wait(timeout=60)
            delay /= 2
            continue
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        break
    else:
        pytest.fail("the import always finished before the kill")

    assert integrity(db) == (["ok"], [])
    again = cli(db, *command)
    assert again.returncode == 0, again.stderr
    # Killed while it held the write lock: none of it was written, so all of it is now; or,
    # on a loaded machine, killed in the instant after its commit: all of it was. Never a part.
    assert json.loads(again.stdout) in ({"imported": 60_000, "unchanged": 0}, {"imported": 0, "unchanged": 60_000})
    once_more = cli(db, *command)
    assert json.loads(once_more.stdout) == {"imported": 0, "unchanged": 60_000}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT ref) FROM transactions WHERE ref IS NOT NULL"
                            ).fetchone() == (60_000, 60_000)
    run = ok(db, "run-once", "--date", RUN_DATE)
    assert run["status"] == "completed"
    assert_billed_exactly_once(db, dict(feed.expected))
