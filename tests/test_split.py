"""Several customers on one contract (spec section 10): `contract split`, the run's shares
per customer, and what follows from them downstream (cancel, undo, credit notes, due
dates, documents, explain); through the CLI, a rule a test."""

import pytest

from tests.conftest import dump, query
from tests.test_corrections import refused, tx


@pytest.fixture
def book(inv):
    """C-1 for Contoso: Hours and Travel, time-and-material, monthly from 2026-09-01;
    Licence, fixed price with a ready milestone Go (300.00) on 2026-10-01. Transactions:
    Hours 100.00 and 0.01 in September, Travel 40.00. The job set up today (2026-11-24)."""
    inv.hours = inv.line("C-1", "Hours", "time-and-material", "Contoso")
    inv.travel = inv.line("C-1", "Travel", "time-and-material", "Contoso")
    inv.licence = inv.line("C-1", "Licence", "fixed-price", "Contoso", "--amount", "300.00")
    inv.other = inv.line("C-2", "Other", "time-and-material", "Fabrikam")
    for line in (inv.hours, inv.travel, inv.other):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-09-01")
    inv.go = inv.ok("schedule", "add", inv.licence, "--milestone", "Go", "--date", "2026-10-01",
                    "--amount", "300.00", "--ready")["id"]
    inv.t1 = tx(inv, inv.hours, "2026-09-10", "100.00", "--quantity", "10")
    inv.t2 = tx(inv, inv.hours, "2026-09-11", "0.01")
    inv.t3 = tx(inv, inv.travel, "2026-09-12", "40.00")
    inv.setup_job()
    return inv


def split(inv, *customers, line=None, rounding=None, contract="C-1"):
    args = ["contract", "split", contract, *[a for c in customers for a in ("--customer", c)]]
    args += ["--line", line] if line is not None else []
    args += ["--rounding", rounding] if rounding is not None else []
    return inv.ok(*args)


def run(inv, day="2026-10-01"):
    return inv.ok("run-once", "--date", day)["invoices"]


def totals(invoices):
    return [(i["number"], i["contract"], i["customer"], i["total"]) for i in invoices]


def details(inv, number):
    return [(d["id"], d["amount"], d["item_amount"]) for line in inv.ok("invoice", "show", number)["lines"]
            for d in line["details"]]


def transaction(inv, transaction_id):
    return next(t for t in inv.ok("transaction", "list")["transactions"] if t["id"] == transaction_id)


# contract split ---------------------------------------------------------------------------

@pytest.mark.parametrize("customers, named", [
    (["Alpine=50", "Baxter=40"], "90.00"),
    (["Alpine=50", "Baxter=50.01"], "100.01"),
    (["Alpine=0", "Baxter=100"], "Alpine"),
    (["Alpine=-10", "Baxter=110"], "Alpine"),
    (["Alpine=33.333", "Baxter=66.667"], "two decimals"),
    (["Alpine=50", "Alpine=50"], "twice"),
    (["Alpine=100"], "two customers"),
    (["Alpine", "Baxter=100"], "NAME=PERCENT"),
    (["Alpine=abc", "Baxter=100"], "percent"),
])
def test_a_split_that_breaks_a_rule_is_refused_and_names_it(book, customers, named):
    refused(book, "contract", "split", "C-1", *[a for c in customers for a in ("--customer", c)], naming=named)


def test_the_sum_is_given_with_two_decimals(book):
    result = refused(book, "contract", "split", "C-1", "--customer", "Alpine=50", "--customer", "Baxter=40")
    assert "90.00" in result.error["message"] and "100" in result.error["message"]


def test_a_rounding_customer_not_in_the_split_is_refused(book):
    refused(book, "contract", "split", "C-1", "--customer", "Alpine=50", "--customer", "Baxter=50",
            "--rounding", "Contoso", naming="Contoso")


def test_a_split_of_a_missing_contract_or_of_a_line_of_another_missing_or_closed_is_refused(book):
    parts = ("--customer", "Alpine=50", "--customer", "Baxter=50")
    refused(book, "contract", "split", "NOPE", *parts, naming="NOPE")
    refused(book, "contract", "split", "C-1", "--line", book.other, *parts, naming="C-2")
    refused(book, "contract", "split", "C-1", "--line", 999, *parts, naming="999")
    book.ok("contract", "close-line", book.travel)
    refused(book, "contract", "split", "C-1", "--line", book.travel, *parts, naming="closed")
    refused(book, "contract", "split", "C-1", "--line", book.travel, "--none", naming="closed")


def test_none_with_customers_or_rounding_or_neither_given_is_a_usage_error(book):
    refused(book, "contract", "split", "C-1", "--none", "--customer", "Alpine=100", code=2)
    refused(book, "contract", "split", "C-1", "--none", "--rounding", "Alpine", code=2)
    refused(book, "contract", "split", "C-1", code=2)
    refused(book, "contract", "split", "C-1", "--rounding", "Alpine", code=2)


def test_none_where_there_is_no_split_succeeds_and_writes_nothing(book):
    before = dump(book)
    assert book("contract", "split", "C-1", "--none").exit_code == 0
    assert book("contract", "split", "C-1", "--line", book.hours, "--none").exit_code == 0
    assert dump(book) == before


def test_show_gives_the_split_in_the_order_named_and_the_contracts_customer_rounds_by_default(book):
    assert book.ok("contract", "show", "C-1")["split"] == []
    shown = split(book, "Baxter=33.33", "Contoso=33.33", "Alpine=33.34")
    assert shown["split"] == [{"customer": "Baxter", "percent": "33.33", "rounding": False},
                              {"customer": "Contoso", "percent": "33.33", "rounding": True},
                              {"customer": "Alpine", "percent": "33.34", "rounding": False}]
    assert all(line["split"] == [] for line in shown["lines"])
    assert book.ok("contract", "show", "C-1") == shown


def test_without_the_contracts_customer_the_first_named_rounds_and_rounding_names_another(book):
    assert [p["rounding"] for p in split(book, "Baxter=60", "Alpine=40")["split"]] == [True, False]
    assert [p["rounding"] for p in split(book, "Baxter=60", "Alpine=40", rounding="Alpine")["split"]] == [False, True]


def test_each_split_replaces_the_one_before_whole(book):
    split(book, "Alpine=50", "Baxter=50")
    shown = split(book, "Delta=20", "Contoso=80")
    assert [(p["customer"], p["percent"]) for p in shown["split"]] == [("Delta", "20.00"), ("Contoso", "80.00")]


def test_a_lines_own_split_may_be_one_customer_at_100_and_none_removes_only_it(book):
    split(book, "Alpine=50", "Baxter=50")
    shown = split(book, "Delta=100", line=book.travel)
    lines = {line["id"]: line["split"] for line in shown["lines"]}
    assert lines[book.travel] == [{"customer": "Delta", "percent": "100.00", "rounding": True}]
    assert lines[book.hours] == []
    removed = book.ok("contract", "split", "C-1", "--none")
    assert removed["split"] == [] and {l["id"]: l["split"] for l in removed["lines"]}[book.travel] != []
    again = book.ok("contract", "split", "C-1", "--line", book.travel, "--none")
    assert all(line["split"] == [] for line in again["lines"])


def test_split_prints_a_sentence_for_people(book):
    result = book("contract", "split", "C-1", "--customer", "Alpine=60", "--customer", "Contoso=40")
    assert result.exit_code == 0
    assert "Alpine 60.00%" in result.stdout and "Contoso 40.00% (rounding)" in result.stdout
    assert "Billing split: Alpine 60.00%" in book("contract", "show", "C-1").stdout


# the run ----------------------------------------------------------------------------------

def test_each_customer_gets_its_share_on_its_own_invoice_numbered_by_contract_then_customer(book):
    split(book, "Contoso=60", "Alpine=40")
    made = run(book)
    assert totals(made) == [("INV-000001", "C-1", "Alpine", "176.00"), ("INV-000002", "C-1", "Contoso", "264.01")]
    assert details(book, "INV-000001") == [(book.t1, "40.00", "100.00"), (book.t3, "16.00", "40.00"),
                                           (book.go, "120.00", "300.00")]
    # 0.01 x 40% = 0.004 rounds to 0.00: not billed to Alpine; Contoso, rounding, takes it.
    assert details(book, "INV-000002") == [(book.t1, "60.00", "100.00"), (book.t2, "0.01", "0.01"),
                                           (book.t3, "24.00", "40.00"), (book.go, "180.00", "300.00")]
    alpine = book.ok("invoice", "show", "INV-000001")
    assert [(l["name"], l["amount"], l.get("transactions", l.get("milestones"))) for l in alpine["lines"]] == [
        ("Hours", "40.00", 1), ("Travel", "16.00", 1), ("Licence", "120.00", 1)]


def test_a_customer_whose_shares_are_all_zero_gets_no_invoice_and_a_line_of_zeros_no_line(book):
    book.ok("contract", "split", "C-1", "--line", book.hours, "--customer", "Alpine=0.01",
            "--customer", "Contoso=99.99")
    book.ok("contract", "split", "C-1", "--line", book.travel, "--customer", "Contoso=100")
    book.ok("contract", "split", "C-1", "--line", book.licence, "--customer", "Contoso=100")
    book.ok("transaction", "delete", book.t1)
    made = run(book)
    # Alpine's 0.01% of 0.01 is 0.00: Alpine gets nothing, so no invoice at all.
    assert [(i["contract"], i["customer"]) for i in made] == [("C-1", "Contoso")]


def test_not_to_exceed_applies_to_whole_items_before_the_split(inv):
    capped = inv.line("C-9", "Capped", "time-and-material", "Contoso", "--not-to-exceed", "150.00")
    inv.ok("schedule", "add", capped, "--frequency", "monthly", "--start", "2026-09-01")
    first = tx(inv, capped, "2026-09-10", "100.00")
    second = tx(inv, capped, "2026-09-11", "100.00")
    inv.setup_job()
    split(inv, "Alpine=50", "Contoso=50", contract="C-9")
    made = inv.ok("run-once", "--date", "2026-10-01")
    assert [(i["customer"], i["total"]) for i in made["invoices"]] == [("Alpine", "50.00"), ("Contoso", "50.00")]
    assert {(s["line_id"], s["reason"]) for s in made["skipped"]} >= {(capped, "over-not-to-exceed")}
    assert transaction(inv, first)["invoices"] == ["INV-000001", "INV-000002"]
    assert transaction(inv, second)["invoice"] is None


def test_a_lines_own_split_comes_before_the_contracts(book):
    split(book, "Alpine=50", "Contoso=50")
    book.ok("contract", "split", "C-1", "--line", book.travel, "--customer", "Baxter=100")
    made = run(book)
    assert [i["customer"] for i in made if i["contract"] == "C-1"] == ["Alpine", "Baxter", "Contoso"]
    baxter = book.ok("invoice", "show", "INV-000002")
    assert [(l["name"], l["amount"]) for l in baxter["lines"]] == [("Travel", "40.00")]


def test_a_split_applies_to_what_is_billed_after_it_is_set_and_invoices_keep_theirs(book):
    split(book, "Alpine=50", "Contoso=50")
    run(book)
    book.ok("contract", "split", "C-1", "--none")
    tx(book, book.hours, "2026-10-05", "20.00")
    assert totals(run(book, "2026-11-01")) == [("INV-000003", "C-1", "Contoso", "20.00")]
    # 0.01 x 50% = 0.005: half up, 0.01 for Alpine, 0.00 for Contoso (which rounds).
    assert book.ok("invoice", "show", "INV-000001")["total"] == "220.01"


def test_transaction_list_names_every_invoice_of_its_shares_the_first_as_invoice(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    item = transaction(book, book.t1)
    assert (item["invoice"], item["invoices"], item["billed"], item["amount"]) == (
        "INV-000001", ["INV-000001", "INV-000002"], True, "100.00")
    assert transaction(book, book.t2)["invoices"] == ["INV-000002"]
    milestone = next(m for m in book.ok("schedule", "list", book.licence)["schedules"]
                     if m["id"] == book.go)
    assert (milestone["invoice"], milestone["invoices"], milestone["status"]) == (
        "INV-000001", ["INV-000001", "INV-000002"], "invoiced")
    assert book.ok("transaction", "list", "--line", book.hours, "--unbilled")["transactions"] == []


def test_without_a_split_a_detail_s_amount_and_item_amount_are_equal(book):
    run(book)
    assert details(book, "INV-000001") == [(book.t1, "100.00", "100.00"), (book.t2, "0.01", "0.01"),
                                           (book.t3, "40.00", "40.00"), (book.go, "300.00", "300.00")]
    assert transaction(book, book.t1)["invoices"] == ["INV-000001"]
    assert transaction(book, book.t1)["customer"] is None


def test_a_dry_run_shows_the_shares_the_real_run_makes(book):
    split(book, "Contoso=33.33", "Alpine=33.33", "Baxter=33.34")
    dry = book.ok("run-once", "--date", "2026-10-01", "--dry-run")["invoices"]
    real = run(book)
    strip = lambda invoices: [{k: v for k, v in i.items() if k not in ("number", "status")} for i in invoices]  # noqa: E731
    assert strip(dry) == strip(real)


# cancel and undo --------------------------------------------------------------------------

def test_cancelling_one_customers_invoice_bills_its_shares_again_to_it_alone(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "cancel", "INV-000001")  # Alpine's
    item = transaction(book, book.t1)
    assert (item["invoice"], item["invoices"], item["billed"]) == ("INV-000002", ["INV-000002"], True)
    # The split changes meanwhile: Alpine's shares are still its own, at the same amounts.
    book.ok("contract", "split", "C-1", "--none")
    made = run(book, "2026-11-01")
    assert totals(made) == [("INV-000003", "C-1", "Alpine", "176.00")]
    assert details(book, "INV-000003") == [(book.t1, "40.00", "100.00"), (book.t3, "16.00", "40.00"),
                                           (book.go, "120.00", "300.00")]
    assert transaction(book, book.t1)["invoices"] == ["INV-000002", "INV-000003"]
    cancelled = book.ok("invoice", "show", "INV-000001")
    assert [(d["id"], d["amount"], d["item_amount"]) for l in cancelled["lines"] for d in l["details"]] == [
        (book.t1, "40.00", "100.00"), (book.t3, "16.00", "40.00"), (book.go, "120.00", "300.00")]


def test_when_every_share_is_billable_again_the_item_is_one_again_split_by_the_split_then(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "cancel", "INV-000001")
    book.ok("invoice", "cancel", "INV-000002")
    assert transaction(book, book.t1)["invoice"] is None
    split(book, "Contoso=50", "Delta=50")
    made = run(book, "2026-11-01")
    assert [(i["customer"], i["total"]) for i in made if i["contract"] == "C-1"] == [
        ("Contoso", "220.00"), ("Delta", "220.01")]


def test_run_undo_makes_every_item_whole_again(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    run_id = book.ok("run", "list")["runs"][-1]["id"]
    book.ok("run", "undo", run_id)
    assert query(book, "SELECT count(*) FROM shares") == [(0,)]
    assert transaction(book, book.t1)["invoices"] == []
    book.ok("contract", "split", "C-1", "--none")
    assert [(i["contract"], i["customer"], i["total"]) for i in run(book)] == [("C-1", "Contoso", "440.01")]


# credit notes -----------------------------------------------------------------------------

def test_a_credit_note_credits_the_share_and_returns_it_to_that_customer_alone(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "confirm", "INV-000001", "INV-000002", "--issue-date", "2026-10-02")
    note = book.ok("invoice", "credit", "INV-000001", "--transaction", f"{book.t1}=10.00")
    assert (note["customer"], note["total"], note["credits"]) == ("Alpine", "-30.00", "INV-000001")
    assert [(d["id"], d["amount"], d["item_amount"]) for l in note["lines"] for d in l["details"]] == [
        (book.t1, "-30.00", "-100.00")]
    book.ok("invoice", "confirm", note["number"], "--issue-date", "2026-10-03")
    returned = [t for t in book.ok("transaction", "list", "--unbilled")["transactions"]]
    assert [(t["amount"], t["customer"], t["quantity"], t["returned_from"]) for t in returned] == [
        ("30.00", "Alpine", "3", note["number"])]
    # Billed again to Alpine alone, though the split gives it 40% of what is new.
    assert totals(run(book, "2026-11-01")) == [("INV-000003", "C-1", "Alpine", "30.00")]


def test_a_full_credit_of_one_customers_invoice_leaves_the_others_shares_billed(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "confirm", "INV-000001", "INV-000002", "--issue-date", "2026-10-02")
    note = book.ok("invoice", "credit", "INV-000002")
    assert (note["customer"], note["total"]) == ("Contoso", "-264.01")
    book.ok("invoice", "confirm", note["number"], "--issue-date", "2026-10-03")
    # The milestone's share returns to Contoso alone; Alpine's stays on INV-000001.
    milestone = next(m for m in book.ok("schedule", "list", book.licence)["schedules"] if m["id"] == book.go)
    assert milestone["invoices"] == ["INV-000001"]
    again = run(book, "2026-11-01")
    assert [(i["customer"], i["total"]) for i in again] == [("Contoso", "264.01")]
    rebilled = details(book, again[0]["number"])
    assert [(a, w) for _, a, w in rebilled] == [("60.00", "60.00"), ("0.01", "0.01"), ("24.00", "24.00"),
                                                ("180.00", "300.00")]


def test_a_credit_of_one_item_of_a_share_keeps_amount_of_that_share(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "confirm", "INV-000002", "--issue-date", "2026-10-02")
    refused(book, "invoice", "credit", "INV-000002", "--transaction", f"{book.t1}=60.00", naming="60.00")
    note = book.ok("invoice", "credit", "INV-000002", "--transaction", f"{book.t1}=59.99")
    assert note["total"] == "-0.01"


# downstream: due dates, documents, listing, explain -----------------------------------------

def test_each_customers_invoice_takes_its_due_date_and_parties_from_that_customers_record(book, tmp_path):
    book.ok("customer", "set", "Alpine", "--payment-terms-days", "7", "--country", "DE")
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "confirm", "INV-000001", "INV-000002", "--issue-date", "2026-10-02")
    assert [(i["customer"], i["due_date"]) for i in book.ok("invoice", "list")["invoices"]] == [
        ("Alpine", "2026-10-09"), ("Contoso", "2026-11-01")]
    result = book("invoice", "export", "INV-000001", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"customer": "Alpine"' in result.stdout
    # Contoso has no record: its e-invoice cannot be written, and the refusal names it.
    ubl = book("invoice", "export", "INV-000002", "--format", "ubl", "--out", tmp_path / "ubl", "--json")
    assert ubl.exit_code == 1 and "Contoso" in ubl.error["message"]


def test_invoice_list_filters_by_a_customer_named_only_in_a_split(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    assert [i["number"] for i in book.ok("invoice", "list", "--customer", "Alpine")["invoices"]] == ["INV-000001"]


def test_explain_gives_each_customers_share_and_the_whole(book):
    split(book, "Contoso=60", "Alpine=40")
    found = book.ok("explain", book.hours, "--date", "2026-10-01")
    assert [(i["customer"], i["amount"]) for i in found["invoices"]] == [("Alpine", "40.00"), ("Contoso", "60.01")]
    text = book("explain", book.hours, "--date", "2026-10-01").stdout
    assert "100.01" in text and "Alpine (40.00)" in text and "Contoso (60.01)" in text


def test_invoice_show_says_which_amounts_are_shares(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    assert "(share of 100.00)" in book("invoice", "show", "INV-000001").stdout


def test_a_credited_milestone_share_stays_its_customers_when_the_other_shares_come_free(inv):
    line = inv.line("C-1", "F", "fixed-price", "Fab", "--amount", "100")
    inv.ok("schedule", "add", line, "--milestone", "M", "--date", "2026-11-02", "--amount", "100", "--ready")
    inv.setup_job()
    split(inv, "Con=60", "Fab=40")
    assert totals(run(inv, "2026-11-02")) == [("INV-000001", "C-1", "Con", "60.00"), ("INV-000002", "C-1", "Fab", "40.00")]
    inv.ok("invoice", "confirm", "INV-000001")
    inv.ok("invoice", "credit", "INV-000001")
    inv.ok("invoice", "confirm", "CRN-000001")
    split(inv, "Con=10", "Fab=90")
    inv.ok("invoice", "cancel", "INV-000002")
    # Con's share came back by a credit note: Con's alone; Fab's cancelled share, Fab's.
    assert [(i["customer"], i["total"]) for i in run(inv, "2026-11-09")] == [("Con", "60.00"), ("Fab", "40.00")]
    milestone = inv.ok("schedule", "list", line)["schedules"][0]
    assert (milestone["invoice"], milestone["invoices"]) == ("INV-000003", ["INV-000003", "INV-000004"])


def test_a_cancelled_invoice_says_where_its_customers_share_is_now(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "cancel", "INV-000001")  # Alpine's
    now_on = lambda: {d["id"]: d["invoice"] for l in book.ok("invoice", "show", "INV-000001")["lines"]  # noqa: E731
                      for d in l["details"]}
    assert now_on() == {book.t1: None, book.t3: None, book.go: None}
    assert "(now unbilled)" in book("invoice", "show", "INV-000001").stdout
    run(book, "2026-11-01")
    assert now_on() == {book.t1: "INV-000003", book.t3: "INV-000003", book.go: "INV-000003"}


def test_a_documents_items_say_which_are_shares_and_of_what(book):
    from invoicer import documents
    from invoicer.store import open_store

    split(book, "Contoso=60", "Alpine=40")
    run(book)
    store = open_store(book.db)
    with store.reading():
        invoice = store.invoices(number="INV-000001", details=True)[0]
        seller, customer = store.invoice_parties("INV-000001")
    record = documents.document(invoice, seller, customer)
    texts = [item.text for line in record.lines for item in line.items]
    assert texts == ["time 10 (share of 100.00)", "time (share of 40.00)", "milestone Go (share of 300.00)"]


def test_a_milestone_is_written_off_only_when_every_share_on_an_invoice_is(inv):
    line = inv.line("C-1", "F", "fixed-price", "Fab", "--amount", "100")
    go = inv.ok("schedule", "add", line, "--milestone", "M", "--date", "2026-11-02", "--amount", "100", "--ready")["id"]
    inv.setup_job()
    split(inv, "Con=40", "Fab=60")
    run(inv, "2026-11-02")
    inv.ok("invoice", "confirm", "--all")
    inv.ok("invoice", "credit", "INV-000001", "--milestone", go, "--write-off")
    inv.ok("invoice", "confirm", "CRN-000001")
    status = lambda: inv.ok("schedule", "list", line)["schedules"][0]["status"]  # noqa: E731
    assert status() == "invoiced"  # Fab's share is still billed on INV-000002
    inv.ok("invoice", "credit", "INV-000002", "--milestone", go, "--write-off")
    inv.ok("invoice", "confirm", "CRN-000002")
    assert status() == "written-off"


def test_an_e_invoice_refusal_says_a_confirmed_invoice_keeps_its_records(book, tmp_path):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "confirm", "INV-000001")
    book.ok("customer", "set", "Alpine", "--country", "DE")  # too late for INV-000001
    refused = book("invoice", "export", "INV-000001", "--format", "ubl", "--out", tmp_path / "out", "--json")
    message = refused.error["message"]
    assert refused.exit_code == 1 and "customer Alpine (it had no record when confirmed" in message
    assert "keeps the records and the tax it was confirmed with" in message and "credit this one" in message


def test_schedule_list_gives_every_invoice_of_a_run_date_the_first_as_invoice(book):
    split(book, "Contoso=50", "Alpine=30", "Baxter=20")
    run(book)
    run_date = next(r for r in book.ok("schedule", "list", book.hours)["schedules"][0]["run_dates"]
                    if r["run_date"] == "2026-10-01")
    assert (run_date["status"], run_date["invoice"], run_date["invoices"]) == (
        "invoiced", "INV-000001", ["INV-000001", "INV-000002", "INV-000003"])
    assert "INV-000001, INV-000002, INV-000003" in book("schedule", "list", book.hours).stdout


def test_explain_counts_the_shares_billable_again_beside_the_unbilled_transactions(book):
    split(book, "Contoso=60", "Alpine=40")
    run(book)
    book.ok("invoice", "cancel", "INV-000001")  # Alpine's 40.00 of Hours' 100.00
    text = book("explain", book.hours, "--date", "2026-11-01").stdout
    assert "Unbilled: 0 transaction(s)" in text
    assert "Also billable again: 1 customer share(s) of transactions billed to the others, 40.00 USD." in text
