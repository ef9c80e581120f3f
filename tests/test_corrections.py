"""After the run (spec section 7): bulk confirm with issue and due dates, credit notes and
what their confirmation returns to the backlog, run undo, closed lines; through the CLI."""

import sqlite3

import pytest

from tests.conftest import dump


@pytest.fixture
def book(inv):
    """C-1 (Fabrikam): Work, time-and-material, monthly from 2026-09-01; Licence, fixed
    price 1000.00 with a ready milestone Go on 2026-10-01. C-2 (Contoso): Support, monthly.
    Three transactions in September; the job set up today (2026-11-24)."""
    inv.work = inv.line("C-1", "Work")
    inv.licence = inv.line("C-1", "Licence", "fixed-price", "Fabrikam", "--amount", "1001.00")
    inv.support = inv.line("C-2", "Support", "time-and-material", "Contoso")
    for line in (inv.work, inv.support):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-09-01")
    inv.go = inv.ok("schedule", "add", inv.licence, "--milestone", "Go", "--date", "2026-10-01",
                    "--amount", "1000.00", "--ready")["id"]
    inv.t1 = tx(inv, inv.work, "2026-09-10", "1600.00", "--quantity", "16", "--description", "design")
    inv.t2 = tx(inv, inv.work, "2026-09-12", "400.00", "--quantity", "2.5")
    inv.t3 = tx(inv, inv.support, "2026-09-15", "250.00")
    inv.setup_job()
    return inv


def tx(inv, line, day, amount, *extra):
    return inv.ok("transaction", "add", line, "--date", day, "--amount", amount, *extra)["id"]


def refused(inv, *args, code=1, naming=None):
    """The command is refused with `code`, one JSON error naming `naming`, nothing written."""
    before = dump(inv)
    result = inv(*args, "--json")
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    if code == 1:
        assert naming is None or naming in result.error["message"], result.error
    assert dump(inv) == before
    return result


def run(inv, day):
    return inv.ok("run-once", "--date", day)


def october(book):
    """The run for 2026-10-01: INV-000001 (C-1, 2000.00 + 1000.00), INV-000002 (C-2, 250.00)."""
    made = run(book, "2026-10-01")
    assert [(i["number"], i["total"]) for i in made["invoices"]] == [("INV-000001", "3000.00"),
                                                                     ("INV-000002", "250.00")]
    return made


def confirmed_october(book):
    october(book)
    book.ok("invoice", "confirm", "INV-000001", "INV-000002", "--issue-date", "2026-10-02")


def unbilled(inv, line):
    return inv.ok("transaction", "list", "--line", line, "--unbilled")["transactions"]


def line_amounts(document):
    return [(line["line_id"], line["amount"]) for line in document["lines"]]


# invoice confirm ------------------------------------------------------------------------

def test_invoices_are_type_invoice_credit_null_and_have_no_dates_until_confirmed(book):
    october(book)
    shown = book.ok("invoice", "show", "INV-000001")
    assert (shown["type"], shown["credits"], shown["issue_date"], shown["due_date"]) == ("invoice", None, None, None)


def test_confirm_of_several_numbers_confirms_them_all_issued_today_due_in_30_days(book):
    october(book)
    done = book.ok("invoice", "confirm", "INV-000001", "INV-000002")
    assert [(i["number"], i["status"], i["issue_date"], i["due_date"]) for i in done["invoices"]] == [
        ("INV-000001", "confirmed", "2026-11-24", "2026-12-24"),
        ("INV-000002", "confirmed", "2026-11-24", "2026-12-24")]


def test_confirm_of_one_number_prints_that_invoice_with_its_details(book):
    october(book)
    done = book.ok("invoice", "confirm", "INV-000002", "--issue-date", "2026-10-05")
    assert (done["number"], done["status"], done["issue_date"], done["due_date"]) == (
        "INV-000002", "confirmed", "2026-10-05", "2026-11-04")
    assert [d["id"] for d in done["lines"][0]["details"]] == [book.t3]


@pytest.mark.parametrize("numbers, named", [
    (["INV-000001", "INV-000099"], "INV-000099"),
    (["INV-000001", "INV-000001"], "INV-000001"),
])
def test_a_number_missing_or_given_twice_refuses_the_whole_call(book, numbers, named):
    october(book)
    refused(book, "invoice", "confirm", *numbers, naming=named)
    assert book.ok("invoice", "show", "INV-000001")["status"] == "draft"


def test_a_number_that_is_not_a_draft_refuses_the_whole_call(book):
    october(book)
    book.ok("invoice", "confirm", "INV-000002")
    refused(book, "invoice", "confirm", "INV-000001", "INV-000002", naming="INV-000002")
    refused(book, "invoice", "confirm", "INV-000002", naming="INV-000002")
    book.ok("invoice", "cancel", "INV-000001")
    refused(book, "invoice", "confirm", "INV-000001", naming="INV-000001")


def test_numbers_and_all_together_or_neither_are_usage_errors(book):
    october(book)
    refused(book, "invoice", "confirm", "INV-000001", "--all", code=2)
    refused(book, "invoice", "confirm", code=2)
    refused(book, "invoice", "confirm", "INV-000001", "--contract", "C-1", code=2)


def test_confirm_all_confirms_every_draft_its_filters_select(book):
    october(book)
    tx(book, book.work, "2026-10-03", "10.00")
    november = run(book, "2026-11-01")
    nov_run = book.ok("run", "list")["runs"][-1]["id"]
    assert [i["number"] for i in november["invoices"]] == ["INV-000003"]
    numbers = lambda d: [i["number"] for i in d["invoices"]]  # noqa: E731
    assert numbers(book.ok("invoice", "confirm", "--all", "--contract", "C-2")) == ["INV-000002"]
    assert numbers(book.ok("invoice", "confirm", "--all", "--run-date", "2026-10-01", "--type", "credit-note")) == []
    assert numbers(book.ok("invoice", "confirm", "--all", "--run", nov_run)) == ["INV-000003"]
    assert numbers(book.ok("invoice", "confirm", "--all", "--type", "invoice")) == ["INV-000001"]
    assert book.ok("invoice", "confirm", "--all") == {"invoices": []}


def test_confirm_all_refuses_a_contract_or_run_that_does_not_exist(book):
    october(book)
    refused(book, "invoice", "confirm", "--all", "--contract", "C-404", naming="C-404")
    refused(book, "invoice", "confirm", "--all", "--run", "99", naming="99")
    refused(book, "invoice", "confirm", "--all", "--type", "receipt", naming="type")


def test_the_issue_date_may_be_neither_after_today_nor_before_the_run_date(book):
    october(book)
    refused(book, "invoice", "confirm", "INV-000001", "--issue-date", "2026-11-25", naming="issue_date")
    refused(book, "invoice", "confirm", "--all", "--issue-date", "2026-09-30", naming="INV-000001")
    assert book.ok("invoice", "confirm", "--all", "--issue-date", "2026-10-01")["invoices"][0]["issue_date"] == "2026-10-01"


def test_a_credit_notes_issue_date_may_not_precede_that_of_the_invoice_it_corrects(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000002")
    refused(book, "invoice", "confirm", "CRN-000001", "--issue-date", "2026-10-01", naming="INV-000002")
    assert book.ok("invoice", "confirm", "CRN-000001", "--issue-date", "2026-10-02")["issue_date"] == "2026-10-02"


# invoice credit -------------------------------------------------------------------------

def test_only_a_confirmed_invoice_can_be_credited(book):
    october(book)
    refused(book, "invoice", "credit", "INV-000001", naming="draft")
    book.ok("invoice", "cancel", "INV-000001")
    refused(book, "invoice", "credit", "INV-000001", naming="cancelled")
    book.ok("invoice", "confirm", "INV-000002")
    book.ok("invoice", "credit", "INV-000002")
    book.ok("invoice", "confirm", "CRN-000001")
    refused(book, "invoice", "credit", "CRN-000001", naming="credit note")
    refused(book, "invoice", "credit", "INV-000404", naming="INV-000404")


def test_a_full_credit_note_credits_everything_still_billed_in_its_own_series(book):
    confirmed_october(book)
    note = book.ok("invoice", "credit", "INV-000001", "--reason", "wrong customer")
    assert (note["number"], note["type"], note["credits"], note["status"]) == ("CRN-000001", "credit-note",
                                                                               "INV-000001", "draft")
    assert (note["contract"], note["customer"], note["currency"], note["run_date"]) == ("C-1", "Fabrikam", "USD",
                                                                                        "2026-10-01")
    assert (note["issue_date"], note["due_date"], note["reason"], note["write_off"]) == (None, None, "wrong customer",
                                                                                         False)
    assert line_amounts(note) == [(book.work, "-2000.00"), (book.licence, "-1000.00")]
    assert note["total"] == "-3000.00"
    details = [[(d["id"], d["amount"]) for d in line["details"]] for line in note["lines"]]
    assert details == [[(book.t1, "-1600.00"), (book.t2, "-400.00")], [(book.go, "-1000.00")]]
    assert note["lines"][0]["transactions"] == 2 and note["lines"][1]["milestones"] == 1
    # The invoice series goes on where it was.
    tx(book, book.support, "2026-10-10", "5.00")
    assert run(book, "2026-11-01")["invoices"][0]["number"] == "INV-000003"
    assert book.ok("invoice", "credit", "INV-000002")["number"] == "CRN-000002"


def test_id_equals_amount_keeps_amount_billed_and_credits_the_rest(book):
    confirmed_october(book)
    note = book.ok("invoice", "credit", "INV-000001", "--transaction", f"{book.t1}=1200.00")
    assert line_amounts(note) == [(book.work, "-400.00")]
    again = book.ok("invoice", "credit", "INV-000001", "--transaction", f"{book.t1}=0")
    assert line_amounts(again) == [(book.work, "-1200.00")]  # 0 keeps nothing: all that is left


@pytest.mark.parametrize("keep", ["1600.00", "1600.01"])
def test_id_equals_amount_must_keep_less_than_is_still_billed(book, keep):
    confirmed_october(book)
    refused(book, "invoice", "credit", "INV-000001", "--transaction", f"{book.t1}={keep}",
            naming=f"transaction {book.t1}")


def test_an_item_not_on_the_invoice_is_refused_naming_it(book):
    confirmed_october(book)
    refused(book, "invoice", "credit", "INV-000001", "--transaction", book.t3, naming=f"transaction {book.t3}")
    refused(book, "invoice", "credit", "INV-000002", "--milestone", book.go, naming=f"milestone {book.go}")
    refused(book, "invoice", "credit", "INV-000001", "--transaction", "9999", naming="transaction 9999")
    refused(book, "invoice", "credit", "INV-000001", "--transaction", book.t1, "--transaction", book.t1,
            naming=f"transaction {book.t1}")


def test_a_milestone_is_credited_in_full_only(book):
    confirmed_october(book)
    refused(book, "invoice", "credit", "INV-000001", "--milestone", f"{book.go}=500.00", naming=f"milestone {book.go}")


def test_nothing_can_be_credited_twice_until_the_credit_note_is_cancelled(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000002")
    refused(book, "invoice", "credit", "INV-000002", naming="nothing left")
    refused(book, "invoice", "credit", "INV-000002", "--transaction", book.t3, naming=f"transaction {book.t3}")
    book.ok("invoice", "credit", "INV-000001", "--transaction", f"{book.t1}=1000.00")
    refused(book, "invoice", "credit", "INV-000001", "--transaction", f"{book.t1}=1000.00",
            naming=f"transaction {book.t1}")
    book.ok("invoice", "cancel", "CRN-000001")
    assert book.ok("invoice", "credit", "INV-000002")["total"] == "-250.00"


def test_a_cancelled_draft_credit_note_changes_nothing_else(book):
    confirmed_october(book)
    before = book.ok("transaction", "list")
    book.ok("invoice", "credit", "INV-000001")
    assert book.ok("invoice", "cancel", "CRN-000001")["status"] == "cancelled"
    after = book.ok("transaction", "list")
    assert after == before
    assert book.ok("invoice", "show", "INV-000001")["status"] == "confirmed"


def test_nothing_returns_before_the_credit_note_is_confirmed_then_the_credited_amount_does(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000001", "--transaction", f"{book.t1}=1200.00",
            "--transaction", book.t2)
    assert unbilled(book, book.work) == []
    book.ok("invoice", "confirm", "CRN-000001")
    back = unbilled(book, book.work)
    assert [(t["amount"], t["date"], t["type"], t["quantity"], t["description"], t["returned_from"]) for t in back] == [
        ("400.00", "2026-09-10", "time", "4", "design", "CRN-000001"),
        ("400.00", "2026-09-12", "time", "2.5", None, "CRN-000001")]
    assert back[0]["id"] < back[1]["id"]  # in the credited items' order
    original = [t for t in book.ok("transaction", "list")["transactions"] if t["id"] == book.t1][0]
    assert (original["returned_from"], original["invoice"], original["credit_notes"]) == (None, "INV-000001",
                                                                                          ["CRN-000001"])
    # The invoice never changes: it still bills the original transaction in full.
    assert book.ok("invoice", "show", "INV-000001")["lines"][0]["details"][0]["amount"] == "1600.00"


def test_a_partial_credit_returns_a_quantity_in_proportion_rounded_half_up(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000001", "--transaction", f"{book.t2}=100.00")  # 300 of 400, 2.5 x 3/4 = 1.875
    book.ok("invoice", "confirm", "CRN-000001")
    assert [t["quantity"] for t in unbilled(book, book.work)] == ["1.9"]


def test_returned_transactions_are_billed_on_the_lines_next_run_date(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000001", "--transaction", f"{book.t1}=1200.00")
    book.ok("invoice", "confirm", "CRN-000001")
    made = run(book, "2026-11-01")
    assert [(i["contract"], i["run_date"], line_amounts(i)) for i in made["invoices"]] == [
        ("C-1", "2026-11-01", [(book.work, "400.00")])]


def test_a_credited_milestone_is_ready_again_and_billed_late_on_the_next_process_step(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000001", "--milestone", book.go)
    listed = {m["id"]: m for m in book.ok("schedule", "list")["schedules"] if m["kind"] == "milestone"}
    assert listed[book.go]["status"] == "invoiced"  # not before the credit note is confirmed
    book.ok("schedule", "add", book.licence, "--milestone", "Later", "--date", "2026-12-01", "--amount", "0.01",
            "--ready")
    book.ok("invoice", "confirm", "CRN-000001")
    listed = {m["id"]: m for m in book.ok("schedule", "list")["schedules"] if m["kind"] == "milestone"}
    assert (listed[book.go]["status"], listed[book.go]["invoice"], listed[book.go]["ready"]) == ("not-run-yet", None,
                                                                                                True)
    made = run(book, "2026-10-20")  # a replayed day: the milestone is late, billed with this run date
    assert [(i["run_date"], line_amounts(i)) for i in made["invoices"]] == [("2026-10-20", [(book.licence, "1000.00")])]
    # INV-000001 still shows what it billed.
    shown = book.ok("invoice", "show", "INV-000001")
    assert [(d["id"], d["amount"]) for d in shown["lines"][1]["details"]] == [(book.go, "1000.00")]


def test_a_written_off_credit_returns_nothing_and_the_milestone_shows_written_off(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000001", "--milestone", book.go, "--transaction", book.t1, "--write-off")
    book.ok("invoice", "confirm", "CRN-000001")
    assert unbilled(book, book.work) == []
    listed = {m["id"]: m for m in book.ok("schedule", "list")["schedules"] if m["kind"] == "milestone"}
    assert listed[book.go]["status"] == "written-off"
    assert "written-off" in book("schedule", "list").stdout
    assert run(book, "2026-11-01")["invoices"] == []
    refused(book, "invoice", "credit", "INV-000001", "--milestone", book.go, naming=f"milestone {book.go}")


def test_the_not_to_exceed_limit_counts_billed_less_confirmed_credits(inv):
    capped = inv.line("C-9", "Ops", "time-and-material", "Northwind", "--not-to-exceed", "300.00")
    inv.ok("schedule", "add", capped, "--frequency", "monthly", "--start", "2026-09-01")
    first = tx(inv, capped, "2026-09-10", "300.00")
    inv.setup_job()
    run(inv, "2026-10-01")
    inv.ok("invoice", "confirm", "INV-000001")
    inv.ok("invoice", "credit", "INV-000001", "--transaction", f"{first}=100.00", "--write-off")
    tx(inv, capped, "2026-10-10", "200.00")
    # A draft credit note counts for nothing: the limit is used up.
    assert run(inv, "2026-10-15")["invoices"] == []
    inv.ok("invoice", "confirm", "CRN-000001")
    tx(inv, capped, "2026-10-11", "0.01")
    made = run(inv, "2026-11-01")
    assert [i["total"] for i in made["invoices"]] == ["200.00"]
    assert (capped, "over-not-to-exceed") in {(s["line_id"], s["reason"]) for s in made["skipped"]}
    explained = inv.ok("explain", capped, "--date", "2026-12-01")
    assert (explained["billed_so_far"], explained["headroom"]) == ("300.00", "0.00")


def test_invoice_list_lists_credit_notes_with_the_invoices_and_type_narrows(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000002")
    listed = lambda *a: [(i["number"], i["type"]) for i in book.ok("invoice", "list", *a)["invoices"]]  # noqa: E731
    assert listed() == [("INV-000001", "invoice"), ("INV-000002", "invoice"), ("CRN-000001", "credit-note")]
    assert listed("--type", "credit-note") == [("CRN-000001", "credit-note")]
    assert listed("--type", "invoice") == [("INV-000001", "invoice"), ("INV-000002", "invoice")]
    refused(book, "invoice", "list", "--type", "bill", naming="type")


def test_a_closed_line_gets_its_returned_transactions_and_they_wait(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000002")
    book.ok("contract", "close-line", book.support)
    book.ok("invoice", "confirm", "CRN-000001")
    assert [t["amount"] for t in unbilled(book, book.support)] == ["250.00"]
    assert run(book, "2026-11-01")["invoices"] == []
    book.ok("contract", "reopen-line", book.support)
    assert [i["total"] for i in run(book, "2026-11-02")["invoices"]] == ["250.00"]


def test_credit_notes_are_not_run_dates_of_their_line_in_schedule_list(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000002")
    schedule = [s for s in book.ok("schedule", "list", book.support)["schedules"]][0]
    assert {r["run_date"]: r["invoice"] for r in schedule["run_dates"]}["2026-10-01"] == "INV-000002"


def test_invoice_show_of_a_credit_note_for_people_names_what_it_corrects(book):
    confirmed_october(book)
    book.ok("invoice", "credit", "INV-000002", "--reason", "disputed")
    shown = book("invoice", "show", "CRN-000001").stdout
    assert "Credit note CRN-000001" in shown and "INV-000002" in shown and "disputed" in shown and "-250.00" in shown


# run undo -------------------------------------------------------------------------------

def runs(inv):
    return inv.ok("run", "list")["runs"]


def test_every_run_says_whether_it_is_undone(book):
    october(book)
    assert [r["undone"] for r in runs(book)] == [False]


def test_run_undo_cancels_its_invoices_and_restores_each_lines_run_dates_exactly(book):
    october(book)
    before = book.ok("schedule", "list")
    tx(book, book.work, "2026-10-05", "70.00")
    made = run(book, "2026-11-01")
    second = runs(book)[-1]["id"]
    undone = book.ok("run", "undo", second)
    assert (undone["id"], undone["undone"], undone["invoices"]) == (second, True, [i["number"] for i in made["invoices"]])
    assert [i["status"] for i in book.ok("invoice", "list")["invoices"]] == ["draft", "draft", "cancelled"]
    assert [r["undone"] for r in runs(book)] == [False, True]
    assert book.ok("schedule", "list") == before
    assert [t["amount"] for t in unbilled(book, book.work)] == ["70.00"]


def test_only_the_latest_run_not_undone_can_be_undone_and_only_while_its_invoices_are_drafts(book):
    october(book)
    first = runs(book)[-1]["id"]
    run(book, "2026-11-01")
    second = runs(book)[-1]["id"]
    refused(book, "run", "undo", first, naming="latest")
    book.ok("run", "undo", second)
    refused(book, "run", "undo", second, naming="already undone")
    book.ok("invoice", "confirm", "INV-000001")
    refused(book, "run", "undo", first, naming="INV-000001")
    refused(book, "run", "undo", "77", naming="77")


def test_an_undone_run_is_no_process_step_for_the_sleep_rule_or_the_timer(book):
    book.at("2026-11-25T08:00:00")
    run(book, "2026-11-20")
    assert book.ok("run-once", "--date", "2026-11-20")["status"] == "sleeping"
    before = book.ok("job", "status")["jobs"][0]["last_end"]
    book.at("2026-11-25T09:00:00")
    assert book.ok("run-once", "--date", "2026-11-21")["status"] == "completed"
    assert book.ok("job", "status")["jobs"][0]["last_end"] != before
    book.ok("run", "undo", runs(book)[-1]["id"])
    assert book.ok("job", "status")["jobs"][0]["last_end"] == before
    book.ok("run", "undo", runs(book)[0]["id"])
    assert book.ok("job", "status")["jobs"][0]["last_end"] is None
    assert book.ok("run-once", "--date", "2026-11-20")["status"] == "completed"


def test_a_rerun_after_undo_gives_the_same_invoices_and_milestones_their_own_date_again(book):
    book.ok("schedule", "add", book.licence, "--milestone", "Mid", "--date", "2026-10-15", "--amount", "0.50",
            "--ready")
    october(book)
    first = run(book, "2026-11-01")
    book.ok("run", "undo", runs(book)[-1]["id"])
    again = run(book, "2026-11-01")
    strip = lambda d: [{k: v for k, v in i.items() if k != "number"} for i in d["invoices"]]  # noqa: E731
    assert strip(again) == strip(first)
    assert [(i["run_date"], i["total"]) for i in again["invoices"]] == [("2026-10-15", "0.50")]
    assert again["skipped"] == first["skipped"]


def test_run_dates_an_undone_run_passed_show_as_not_run_yet(book):
    run(book, "2026-09-01")  # nothing to bill yet: no-transactions for both lines
    book.ok("run", "undo", runs(book)[-1]["id"])
    schedule = book.ok("schedule", "list", book.work)["schedules"][0]
    assert {r["run_date"]: r["status"] for r in schedule["run_dates"]}["2026-09-01"] == "not-run-yet"
    assert schedule["processed_through"] is None and schedule["next_run_date"] == "2026-09-01"


def test_undo_after_a_schedule_was_replaced_opens_the_new_schedules_run_dates(book):
    october(book)
    run(book, "2026-11-01")
    book.ok("schedule", "add", book.work, "--frequency", "weekly", "--start", "2026-10-05", "--replace")
    book.ok("run", "undo", runs(book)[-1]["id"])
    schedule = book.ok("schedule", "list", book.work)["schedules"][0]
    assert (schedule["processed_through"], schedule["next_run_date"]) == ("2026-10-01", "2026-10-05")


def test_run_undo_for_people_says_what_it_did(book):
    october(book)
    out = book("run", "undo", runs(book)[-1]["id"]).stdout
    assert "undone" in out and "2 invoice(s) cancelled" in out
    assert "undone" in book("run", "list").stdout


# closed lines ---------------------------------------------------------------------------

def test_close_and_reopen_print_the_line_and_contract_list_shows_closed(book):
    closed = book.ok("contract", "close-line", book.work)
    assert (closed["id"], closed["closed"], closed["contract"]) == (book.work, True, "C-1")
    assert {l["id"]: l["closed"] for l in book.ok("contract", "list")["lines"]} == {
        book.work: True, book.licence: False, book.support: False}
    assert book.ok("contract", "reopen-line", book.work)["closed"] is False


def test_closing_a_closed_line_or_reopening_an_open_one_is_refused(book):
    book.ok("contract", "close-line", book.work)
    refused(book, "contract", "close-line", book.work, naming="already closed")
    refused(book, "contract", "reopen-line", book.support, naming="already open")
    refused(book, "contract", "close-line", "999", naming="999")


def test_a_closed_line_is_not_billed_nor_reported_nor_listed_by_doctor(inv):
    bare = inv.line("C-3", "Bare")  # no schedule: no-schedule, until it is closed
    inv.setup_job()
    assert "Bare" in inv("doctor").stdout
    inv.ok("contract", "close-line", bare)
    assert "Bare" not in inv("doctor").stdout
    assert run(inv, "2026-10-01")["skipped"] == []


def test_a_closed_line_takes_no_new_transaction_schedule_or_milestone(book, tmp_path):
    book.ok("contract", "close-line", book.work)
    book.ok("contract", "close-line", book.licence)
    refused(book, "transaction", "add", book.work, "--date", "2026-10-01", "--amount", "1", naming="closed")
    refused(book, "schedule", "add", book.work, "--frequency", "weekly", "--start", "2026-10-01", "--replace",
            naming="closed")
    refused(book, "schedule", "add", book.licence, "--milestone", "X", "--date", "2026-10-01", "--amount", "1",
            naming="closed")
    files = {
        "transaction": ("contract,line,date,amount\nC-1,Work,2026-10-01,1\n"),
        "schedule": ("contract,line,milestone,date,amount\nC-1,Licence,X,2026-10-01,1\n"),
    }
    for kind, content in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(content)
        refused(book, kind, "import", path, naming="closed")
    book.ok("schedule", "remove", book.ok("schedule", "list", book.work)["schedules"][0]["id"])
    path = tmp_path / "dates.csv"
    path.write_text("contract,line,frequency,start\nC-1,Work,weekly,2026-10-01\n")
    refused(book, "schedule", "import", path, naming="closed")


def test_set_line_schedule_ready_and_transaction_delete_still_correct_a_closed_line(book):
    late = book.ok("schedule", "add", book.licence, "--milestone", "Late", "--date", "2026-10-01", "--amount",
                   "0.01")["id"]
    book.ok("contract", "close-line", book.work)
    book.ok("contract", "close-line", book.licence)
    assert book.ok("contract", "set-line", book.work, "--name", "Work 2")["closed"] is True
    assert book.ok("schedule", "ready", late)["ready"] is True
    book.ok("transaction", "delete", book.t2)


def test_run_dates_passed_while_closed_are_caught_up_each_on_its_own_invoice_after_reopen(book):
    book.ok("schedule", "add", book.licence, "--milestone", "Mid", "--date", "2026-10-15", "--amount", "0.50",
            "--ready")
    book.ok("contract", "close-line", book.work)
    book.ok("contract", "close-line", book.licence)
    made = run(book, "2026-11-01")
    assert [(i["contract"], i["run_date"]) for i in made["invoices"]] == [("C-2", "2026-10-01")]
    assert {s["line_id"] for s in made["skipped"]} == {book.support}
    work = book.ok("schedule", "list", book.work)["schedules"][0]
    assert (work["processed_through"], work["next_run_date"]) == (None, "2026-09-01")
    book.ok("contract", "reopen-line", book.work)
    book.ok("contract", "reopen-line", book.licence)
    made = run(book, "2026-11-02")
    by_date = {i["run_date"]: line_amounts(i) for i in made["invoices"]}
    # Work: 2026-09-01 (nothing), 2026-10-01 and 2026-11-01 caught up; the milestones fell due meanwhile: late.
    assert by_date == {"2026-10-01": [(book.work, "2000.00")], "2026-11-02": [(book.licence, "1000.50")]}
    work_skips = [(s["run_date"], s["last_run_date"], s["count"], s["reason"]) for s in made["skipped"]
                  if s["line_id"] == book.work]
    assert work_skips == [("2026-09-01", "2026-11-01", 2, "no-transactions")]


def test_explain_says_a_closed_line_is_closed(book):
    book.ok("contract", "close-line", book.work)
    explained = book.ok("explain", book.work, "--date", "2026-10-01")
    assert any("closed" in sentence for sentence in explained["explanation"])
    assert explained["billed"] is False


# the truth about cancelled invoices -----------------------------------------------------

def test_a_cancelled_invoices_details_show_what_it_held_and_where_it_is_now(book):
    october(book)
    book.ok("invoice", "cancel", "INV-000001")
    made = run(book, "2026-11-01")
    assert [i["number"] for i in made["invoices"]] == ["INV-000003"]
    shown = book.ok("invoice", "show", "INV-000001")
    where = [(d["id"], d["invoice"]) for line in shown["lines"] for d in line["details"]]
    assert where == [(book.t1, "INV-000003"), (book.t2, "INV-000003"), (book.go, "INV-000003")]
    assert "now on INV-000003" in book("invoice", "show", "INV-000001").stdout


def test_doctor_tells_of_closed_lines_and_undone_runs(book):
    october(book)
    book.ok("run", "undo", runs(book)[-1]["id"])
    book.ok("contract", "close-line", book.work)
    report = {c["name"]: c for c in book.ok("doctor")["checks"]}
    assert report["closed"]["ok"] and "1 closed line(s)" in report["closed"]["message"]
    assert report["undone"]["ok"] and "1 undone run(s)" in report["undone"]["message"]


def test_schedule_list_says_which_lines_are_closed(book):
    book.ok("contract", "close-line", book.work)
    listed = book.ok("schedule", "list")["schedules"]
    assert {(s["line_id"], s["line_closed"]) for s in listed} == {(book.work, True), (book.support, False),
                                                                 (book.licence, False)}
    assert "Work (closed)" in book("schedule", "list").stdout


# the migration --------------------------------------------------------------------------

@pytest.mark.sqlite_only  # an SQLite file of schema 1, migrated
def test_a_book_written_before_section_7_migrates_with_its_invoices_intact(inv):
    from sqlite_utils import Database

    from invoicer.store import schema as store_module

    conn = sqlite3.connect(inv.db, isolation_level=None)
    db = Database(conn)
    store_module._m001_initial(db)
    conn.execute(f"PRAGMA application_id = {store_module.APPLICATION_ID}")
    conn.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT")
    conn.execute("INSERT INTO migrations VALUES (1, '_m001_initial', '2026-01-01T00:00:00+00:00')")
    conn.execute("PRAGMA user_version = 1")
    conn.executescript("""
        INSERT INTO contracts VALUES (1, 'C-1', 'Fabrikam', 'USD');
        INSERT INTO contract_lines VALUES (1, 1, 'Work', 'time-and-material', NULL, NULL, NULL, '2026-11-01');
        INSERT INTO schedules (id, line_id, kind, frequency, start, next_run_date)
            VALUES (1, 1, 'dates', 'monthly', '2026-09-01', '2026-12-01');
        INSERT INTO runs VALUES (1, NULL, NULL, '2026-10-01', 'x', 'x', 0), (2, NULL, NULL, '2026-11-01', 'x', 'x', 0);
        INSERT INTO invoices VALUES (1, 'INV-000001', 1, '2026-10-01', 'confirmed', 1, 'x', NULL),
                                    (2, 'INV-000002', 1, '2026-11-01', 'cancelled', 2, 'x', NULL);
        INSERT INTO invoice_lines VALUES (1, 1, 1, 'Work', 1000, 1), (2, 2, 1, 'Work', 2000, 1);
        INSERT INTO transactions VALUES (1, 1, '2026-09-10', 1000, 'time', NULL, NULL, 1),
                                        (2, 1, '2026-10-10', 2000, 'time', NULL, NULL, NULL);
        INSERT INTO cancelled_items (invoice_line_id, item_id, date, amount, type) VALUES (2, 2, '2026-10-10', 2000, 'time');
        UPDATE counters SET value = 2 WHERE name = 'invoice_number';
    """)
    conn.close()
    migrated = inv.ok("invoice", "list")["invoices"]
    assert [(i["number"], i["status"], i["total"], i["type"], i["credits"], i["issue_date"]) for i in migrated] == [
        ("INV-000001", "confirmed", "10.00", "invoice", None, None),
        ("INV-000002", "cancelled", "20.00", "invoice", None, None)]
    conn = sqlite3.connect(inv.db)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'invoices'").fetchone() == (2,)
    finally:
        conn.close()
    assert inv.ok("invoice", "credit", "INV-000001")["total"] == "-10.00"
    inv.setup_job()
    inv.at("2026-12-05T10:00:00")
    assert [(i["number"], i["total"]) for i in run(inv, "2026-12-01")["invoices"]] == [("INV-000003", "20.00")]


def test_the_due_date_takes_the_customers_terms_else_the_sellers_else_30_days(book):
    october(book)
    tx(book, book.work, "2026-10-02", "1.00")
    tx(book, book.support, "2026-10-02", "1.00")
    run(book, "2026-11-01")
    due = lambda d: {i["number"]: i["due_date"] for i in d["invoices"]}  # noqa: E731
    assert due(book.ok("invoice", "confirm", "INV-000001", "INV-000002", "--issue-date", "2026-11-01")) == {
        "INV-000001": "2026-12-01", "INV-000002": "2026-12-01"}
    book.ok("seller", "set", "--payment-terms-days", "14")
    book.ok("customer", "set", "Fabrikam", "--payment-terms-days", "0")
    assert due(book.ok("invoice", "confirm", "--all", "--issue-date", "2026-11-02")) == {
        "INV-000003": "2026-11-02", "INV-000004": "2026-11-16"}
    book.ok("invoice", "credit", "INV-000002")
    assert book.ok("invoice", "confirm", "CRN-000001")["due_date"] == "2026-12-08"  # today + the seller's 14


def test_confirm_all_for_people_says_how_many_and_shows_the_first_ones(inv):
    lines = [inv.line(f"C-{n:02d}", "Work") for n in range(30)]
    for line in lines:
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-10-01")
        tx(inv, line, "2026-09-10", "1.00")
    inv.setup_job()
    run(inv, "2026-10-01")
    out = inv("invoice", "confirm", "--all").stdout
    assert "confirmed 30 invoice(s)" in out and "INV-000025" in out and "INV-000026" not in out
    assert "and 5 more" in out
    assert all(i["status"] == "confirmed" for i in inv.ok("invoice", "list")["invoices"])
