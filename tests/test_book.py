"""What operators enter (spec section 3): contract lines, milestones and date schedules,
transactions; and how a bad value is refused (section 6)."""

import json

import pytest

FP, TM = "fixed-price", "time-and-material"
LINE_KEYS = {"id", "contract", "name", "customer", "billing_method", "amount", "not_to_exceed", "currency"}


def snapshot(inv):
    """Everything an operator can see of the book, to compare before and after a refusal."""
    return (inv.ok("contract", "list"), inv.ok("transaction", "list"), inv.ok("schedule", "list"))


def refused(inv, *args, field):
    """The command exits 1 naming FIELD, with one line on stderr (or one JSON error with
    --json, and nothing on stdout), no traceback, and writes nothing."""
    fields = (field,) if isinstance(field, str) else field
    before = snapshot(inv)
    as_json = inv(*args, "--json")
    assert as_json.exit_code == 1, (args, as_json)
    assert as_json.stdout == ""
    message = as_json.error["message"]
    assert any(f in message for f in fields), message
    plain = inv(*args)
    assert plain.exit_code == 1, (args, plain)
    assert len(plain.stderr.strip().splitlines()) == 1, plain.stderr
    assert "Traceback" not in plain.stderr
    assert any(f in plain.stderr for f in fields), plain.stderr
    assert snapshot(inv) == before
    return message


def lines_by_id(inv):
    return {line["id"]: line for line in inv.ok("contract", "list")["lines"]}


def status(text):
    return text.replace("-", " ").replace("_", " ").lower()


def milestones(inv, line_id=None):
    args = ("schedule", "list") + ((line_id,) if line_id else ())
    return [s for s in inv.ok(*args)["schedules"] if s.get("kind") == "milestone"]


def date_schedules(inv, line_id=None):
    args = ("schedule", "list") + ((line_id,) if line_id else ())
    return [s for s in inv.ok(*args)["schedules"] if s.get("kind") != "milestone"]


@pytest.fixture
def book(inv):
    """A time-and-material line (with a schedule and a transaction) and a fixed-price line
    (with a milestone) on contract C-100, so that 'nothing written' has something to keep."""
    tm = inv.line("C-100", "Design", TM, "Fabrikam")
    fp = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2026-12-01")
    inv.ok("schedule", "add", fp, "--milestone", "Kick-off", "--date", "2026-12-01", "--amount", "400")
    inv.ok("transaction", "add", tm, "--date", "2026-11-03", "--amount", "120")
    return inv, tm, fp


# contract add-line ----------------------------------------------------------------------

def test_add_line_creates_the_contract_with_its_first_line_and_prints_its_integer_id(inv):
    added = inv.ok("contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
                   "--billing-method", TM)
    assert type(added["id"]) is int
    assert added["contract"] == "C-100" and added["name"] == "Design" and added["customer"] == "Fabrikam"
    second = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    assert type(second) is int and second != added["id"]
    assert [(l["id"], l["contract"], l["name"]) for l in inv.ok("contract", "list")["lines"]] == [
        (added["id"], "C-100", "Design"), (second, "C-100", "Build")]


def test_add_line_without_json_prints_the_new_line_id(inv):
    result = inv("contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
                 "--billing-method", TM)
    assert result.exit_code == 0
    (line,) = inv.ok("contract", "list")["lines"]
    assert str(line["id"]) in result.stdout.split() or f"{line['id']}:" in result.stdout


def test_currency_defaults_to_usd(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    assert lines_by_id(inv)[line]["currency"] == "USD"


def test_a_contract_has_one_customer_a_later_line_naming_another_is_refused(inv):
    inv.line("C-100", "Design", TM, "Fabrikam")
    refused(inv, "contract", "add-line", "C-100", "--name", "Build", "--customer", "Northwind",
            "--billing-method", FP, "--amount", "100", field="customer")


def test_a_contract_has_one_currency_a_later_line_naming_another_is_refused(inv):
    inv.line("C-100", "Design", TM, "Fabrikam", "--currency", "EUR")
    refused(inv, "contract", "add-line", "C-100", "--name", "Build", "--customer", "Fabrikam",
            "--billing-method", FP, "--amount", "100", "--currency", "USD", field="currency")


def test_a_later_line_that_names_no_currency_takes_the_contracts(inv):
    inv.line("C-100", "Design", TM, "Fabrikam", "--currency", "EUR")
    same = inv.line("C-100", "Review", TM, "Fabrikam", "--currency", "EUR")
    later = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "100")
    lines = lines_by_id(inv)
    assert lines[same]["currency"] == lines[later]["currency"] == "EUR"


def test_fixed_price_line_requires_amount(inv):
    refused(inv, "contract", "add-line", "C-100", "--name", "Build", "--customer", "Fabrikam",
            "--billing-method", FP, field="amount")


def test_not_to_exceed_is_for_time_and_material_lines_only(inv):
    refused(inv, "contract", "add-line", "C-100", "--name", "Build", "--customer", "Fabrikam",
            "--billing-method", FP, "--amount", "1000", "--not-to-exceed", "500",
            field=("not_to_exceed", "not-to-exceed"))
    capped = inv.line("C-100", "Design", TM, "Fabrikam", "--not-to-exceed", "500")
    assert lines_by_id(inv)[capped]["not_to_exceed"] == "500.00"


def test_duplicate_line_name_in_a_contract_is_refused(inv):
    inv.line("C-100", "Design", TM, "Fabrikam")
    refused(inv, "contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
            "--billing-method", TM, field="name")
    # The same name on another contract is a different line.
    inv.line("C-200", "Design", TM, "Fabrikam")


def test_billing_method_must_be_fixed_price_or_time_and_material(inv):
    refused(inv, "contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
            "--billing-method", "hourly", field="billing_method")


def test_currency_must_be_an_iso_4217_code(inv):
    refused(inv, "contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
            "--billing-method", TM, "--currency", "ABC", field="currency")


@pytest.mark.parametrize("option", ["--contract", "--name", "--customer"])
def test_empty_contract_name_or_customer_is_refused(inv, option):
    values = {"--contract": "C-100", "--name": "Design", "--customer": "Fabrikam"}
    values[option] = ""
    refused(inv, "contract", "add-line", values["--contract"], "--name", values["--name"],
            "--customer", values["--customer"], "--billing-method", TM, field=option.lstrip("-"))


# contract list / show ----------------------------------------------------------------------

def test_contract_list_json_has_the_spec_keys_and_money_as_minor_unit_strings(inv):
    inv.line("C-100", "Design", TM, "Fabrikam", "--not-to-exceed", "1234.5")
    inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1234.500")
    inv.line("J-1", "Hosting", FP, "Contoso KK", "--amount", "1500", "--currency", "JPY")
    inv.line("K-1", "Audit", FP, "Gulf Co", "--amount", "12.345", "--currency", "KWD")
    lines = inv.ok("contract", "list")["lines"]
    assert all(LINE_KEYS <= set(line) for line in lines)
    got = {(l["contract"], l["name"]): (l["billing_method"], l["amount"], l["not_to_exceed"], l["currency"],
                                        l["customer"]) for l in lines}
    assert got == {
        ("C-100", "Design"): (TM, None, "1234.50", "USD", "Fabrikam"),
        ("C-100", "Build"): (FP, "1234.50", None, "USD", "Fabrikam"),
        ("J-1", "Hosting"): (FP, "1500", None, "JPY", "Contoso KK"),
        ("K-1", "Audit"): (FP, "12.345", None, "KWD", "Gulf Co"),
    }


def test_contract_show_gives_that_contracts_lines_only(inv):
    design = inv.line("C-100", "Design", TM, "Fabrikam")
    build = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "900")
    inv.line("C-200", "Other", TM, "Northwind")
    shown = inv.ok("contract", "show", "C-100")
    assert sorted(l["id"] for l in shown["lines"]) == sorted([design, build])
    assert {l["contract"] for l in shown["lines"]} == {"C-100"}
    assert {l["customer"] for l in shown["lines"]} == {"Fabrikam"}
    plain = inv("contract", "show", "C-100")
    assert plain.exit_code == 0 and "Design" in plain.stdout and "Build" in plain.stdout
    assert "Other" not in plain.stdout


def test_contract_show_of_an_unknown_contract_is_refused(inv):
    inv.line("C-100", "Design", TM, "Fabrikam")
    refused(inv, "contract", "show", "C-999", field="contract")


# contract set-line ----------------------------------------------------------------------

def test_set_line_corrects_name_amount_and_project(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    other = inv.line("C-100", "Design", TM, "Fabrikam")
    inv.ok("contract", "set-line", line, "--name", "Build phase", "--amount", "1250.5", "--project", "P-7")
    got = lines_by_id(inv)
    assert (got[line]["name"], got[line]["amount"], got[line].get("project")) == ("Build phase", "1250.50", "P-7")
    assert got[other]["name"] == "Design"


def test_set_line_refuses_a_name_another_line_of_the_contract_has(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    inv.line("C-100", "Design", TM, "Fabrikam")
    refused(inv, "contract", "set-line", line, "--name", "Design", field="name")


def test_set_line_value_may_not_drop_below_what_its_milestones_add_up_to(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    inv.ok("schedule", "add", line, "--milestone", "One", "--date", "2026-12-01", "--amount", "600")
    inv.ok("schedule", "add", line, "--milestone", "Two", "--date", "2027-01-01", "--amount", "300")
    refused(inv, "contract", "set-line", line, "--amount", "899.99", field="amount")
    assert inv.ok("contract", "set-line", line, "--amount", "900")["amount"] == "900.00"
    assert lines_by_id(inv)[line]["amount"] == "900.00"


def test_percent_milestone_does_not_move_when_the_value_changes_later(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2026-12-01", "--percent", "25")
    inv.ok("contract", "set-line", line, "--amount", "2000")
    assert [m["amount"] for m in milestones(inv, line)] == ["250.00"]


def test_set_line_not_to_exceed_is_for_time_and_material_lines_only(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    refused(inv, "contract", "set-line", line, "--not-to-exceed", "500", field=("not_to_exceed", "not-to-exceed"))


def test_set_line_not_to_exceed_and_no_not_to_exceed_together_are_refused(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam", "--not-to-exceed", "500")
    before = snapshot(inv)
    result = inv("contract", "set-line", line, "--not-to-exceed", "300", "--no-not-to-exceed", "--json")
    assert result.exit_code in (1, 2) and result.stdout == ""
    assert snapshot(inv) == before


def test_a_cap_may_be_set_below_what_is_already_billed_and_then_nothing_more_is_billed(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam", "--not-to-exceed", "500")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01", "--end", "2024-12-31")
    inv.ok("transaction", "add", line, "--date", "2024-01-10", "--amount", "300")
    inv.setup_job()
    first = inv.ok("run-once", "--date", "2024-02-01")
    assert [(i["contract"], i["total"]) for i in first["invoices"]] == [("C-100", "300.00")]
    assert inv.ok("contract", "set-line", line, "--not-to-exceed", "200")["not_to_exceed"] == "200.00"
    late = inv.ok("transaction", "add", line, "--date", "2024-02-10", "--amount", "50")["id"]
    second = inv.ok("run-once", "--date", "2024-03-01")
    assert second["invoices"] == []
    assert (line, "over-not-to-exceed") in {(s["line_id"], s["reason"]) for s in second["skipped"]}
    assert [t["id"] for t in inv.ok("transaction", "list", "--unbilled")["transactions"]] == [late]


def test_no_not_to_exceed_removes_the_cap_and_what_it_held_back_is_billed(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam", "--not-to-exceed", "100")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01", "--end", "2024-12-31")
    inv.ok("transaction", "add", line, "--date", "2024-01-10", "--amount", "300")
    inv.setup_job()
    assert inv.ok("run-once", "--date", "2024-02-01")["invoices"] == []
    assert inv.ok("contract", "set-line", line, "--no-not-to-exceed")["not_to_exceed"] is None
    assert lines_by_id(inv)[line]["not_to_exceed"] is None
    run = inv.ok("run-once", "--date", "2024-03-01")
    assert [i["total"] for i in run["invoices"]] == ["300.00"]


# milestones -------------------------------------------------------------------------------

def test_milestone_by_amount_or_by_percent_of_the_line_value(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    by_percent = inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2026-12-01", "--percent", "25")
    by_amount = inv.ok("schedule", "add", line, "--milestone", "Go-live", "--date", "2027-01-15", "--amount", "300.5")
    assert type(by_percent["id"]) is int and type(by_amount["id"]) is int
    assert by_percent["amount"] == "250.00" and by_amount["amount"] == "300.50"
    got = {m["id"]: (m["name"], m["date"], m["amount"]) for m in milestones(inv, line)}
    assert got == {by_percent["id"]: ("Kick-off", "2026-12-01", "250.00"),
                   by_amount["id"]: ("Go-live", "2027-01-15", "300.50")}


def test_percent_is_rounded_half_up_and_the_milestone_reaching_100_percent_takes_the_remainder(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "100.01")
    first = inv.ok("schedule", "add", line, "--milestone", "Half", "--date", "2026-12-01", "--percent", "50")
    second = inv.ok("schedule", "add", line, "--milestone", "Rest", "--date", "2027-01-01", "--percent", "50")
    # 50 % of 100.01 is 50.005: half up gives 50.01 (half even would give 50.00).
    assert (first["amount"], second["amount"]) == ("50.01", "50.00")


def test_milestones_may_not_add_up_to_more_than_the_line_value(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    inv.ok("schedule", "add", line, "--milestone", "One", "--date", "2026-12-01", "--amount", "600")
    refused(inv, "schedule", "add", line, "--milestone", "Two", "--date", "2027-01-01", "--amount", "400.01",
            field="amount")
    refused(inv, "schedule", "add", line, "--milestone", "Two", "--date", "2027-01-01", "--percent", "41",
            field=("amount", "percent"))
    inv.ok("schedule", "add", line, "--milestone", "Two", "--date", "2027-01-01", "--amount", "400")


@pytest.mark.parametrize("values", [(), ("--amount", "100", "--percent", "10")])
def test_milestone_needs_exactly_one_of_amount_or_percent(inv, values):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    refused(inv, "schedule", "add", line, "--milestone", "One", "--date", "2026-12-01", *values,
            field=("amount", "percent"))


@pytest.mark.parametrize("percent", ["0", "101", "-5", "abc", "1e1"])
def test_percent_must_be_more_than_0_and_at_most_100(inv, percent):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    refused(inv, "schedule", "add", line, "--milestone", "One", "--date", "2026-12-01", "--percent", percent,
            field="percent")


def test_the_wrong_kind_of_schedule_for_the_line_is_refused_and_says_which_it_needs(inv):
    tm = inv.line("C-100", "Design", TM, "Fabrikam")
    fp = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    message = refused(inv, "schedule", "add", tm, "--milestone", "One", "--date", "2026-12-01", "--amount", "5",
                      field=str(tm))
    assert "date" in message.lower() or "frequency" in message
    message = refused(inv, "schedule", "add", fp, "--frequency", "monthly", "--start", "2026-12-01", field=str(fp))
    assert "milestone" in message.lower()


@pytest.mark.parametrize("extra", [("--amount", "500"), ("--percent", "10"), ("--date", "2026-12-05"), ("--ready",)])
def test_a_milestones_option_given_to_a_date_based_schedule_is_refused_not_dropped(book, extra):
    inv, tm, fp = book
    before = inv.ok("schedule", "list")
    refused(inv, "schedule", "add", tm, "--frequency", "monthly", "--start", "2026-12-01", "--replace", *extra,
            field=extra[0].lstrip("-"))
    assert inv.ok("schedule", "list") == before


@pytest.mark.parametrize("dates", ["", " ", "2026-12-01,,2027-01-01", "2026-12-01,", ";2026-12-01"])
def test_explicit_dates_with_an_empty_one_are_refused_naming_dates(book, dates):
    """A value typed empty is a bad value, not an absent one: no date is dropped in silence."""
    inv, tm, fp = book
    before = inv.ok("schedule", "list")
    refused(inv, "schedule", "add", tm, "--dates", dates, "--replace", field="dates")
    assert inv.ok("schedule", "list") == before


def test_the_wrong_kind_for_the_line_is_said_before_an_option_of_the_other_kind(book):
    """The spec's message says which kind the line needs; an extra option does not hide it."""
    inv, tm, fp = book
    refused(inv, "schedule", "add", fp, "--frequency", "monthly", "--start", "2026-12-01", "--amount", "5",
            field="needs milestones")
    refused(inv, "schedule", "add", tm, "--milestone", "M", "--date", "2026-12-01", "--amount", "5",
            "--start", "2026-12-01", field="needs a date-based invoice schedule")


@pytest.mark.parametrize("extra", [("--start", "2026-12-01"), ("--end", "2027-12-01"), ("--replace",)])
def test_a_date_based_schedules_option_given_to_a_milestone_is_refused_not_dropped(book, extra):
    inv, tm, fp = book
    before = inv.ok("schedule", "list")
    refused(inv, "schedule", "add", fp, "--milestone", "One", "--date", "2026-12-01", "--amount", "10", *extra,
            field=extra[0].lstrip("-"))
    assert inv.ok("schedule", "list") == before


def test_milestone_is_not_ready_until_ready_flag_or_schedule_ready(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    waiting = inv.ok("schedule", "add", line, "--milestone", "Design done", "--date", "2024-02-01", "--amount", "300")
    inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2024-02-01", "--amount", "100", "--ready")
    inv.setup_job()
    first = inv.ok("run-once", "--date", "2024-02-01")
    assert [(i["total"], i["lines"][0]["milestones"]) for i in first["invoices"]] == [("100.00", 1)]
    assert (line, "milestone-not-ready") in {(s["line_id"], s["reason"]) for s in first["skipped"]}
    inv.ok("schedule", "ready", waiting["id"])
    second = inv.ok("run-once", "--date", "2024-03-01")
    # Passed over while not ready, it is late and billed with the run's date.
    assert [(i["run_date"], i["total"]) for i in second["invoices"]] == [("2024-03-01", "300.00")]


def test_schedule_ready_of_an_unknown_milestone_is_refused(book):
    inv, tm, fp = book
    refused(inv, "schedule", "ready", "999", field="999")


# schedule list --------------------------------------------------------------------------

def test_schedule_list_shows_each_run_date_status_not_run_yet_invoiced_with_number_or_nothing_to_bill(inv):
    line = inv.line("C-100", "Support", TM, "Fabrikam")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-01-01", "--end", "2024-04-30")
    inv.ok("transaction", "add", line, "--date", "2024-01-15", "--amount", "100")
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-02-01")
    assert [(i["number"], i["run_date"]) for i in run["invoices"]] == [("INV-000001", "2024-02-01")]
    (entry,) = date_schedules(inv, line)
    got = [(r["run_date"], status(r["status"]), r.get("invoice")) for r in entry["run_dates"]]
    assert got == [("2024-01-01", "nothing to bill", None),
                   ("2024-02-01", "invoiced", "INV-000001"),
                   ("2024-03-01", "not run yet", None),
                   ("2024-04-01", "not run yet", None)]


def test_schedule_list_shows_a_milestone_invoiced_with_its_number_or_not_run_yet(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    done = inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2024-02-01", "--amount", "300",
                  "--ready")["id"]
    later = inv.ok("schedule", "add", line, "--milestone", "Go-live", "--date", "2027-06-01", "--amount", "700",
                   "--ready")["id"]
    inv.setup_job()
    assert [i["number"] for i in inv.ok("run-once", "--date", "2024-02-01")["invoices"]] == ["INV-000001"]
    got = {m["id"]: (status(m["status"]), m.get("invoice")) for m in milestones(inv, line)}
    assert got == {done: ("invoiced", "INV-000001"), later: ("not run yet", None)}
    plain = inv("schedule", "list", line)
    assert "INV-000001" in plain.stdout


def test_schedule_list_shows_the_shortfall_of_a_line_whose_milestones_add_up_to_less_and_it_is_billed_anyway(inv):
    short = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    inv.ok("schedule", "add", short, "--milestone", "Only", "--date", "2024-02-01", "--amount", "250", "--ready")
    full = inv.line("C-200", "Licence", FP, "Northwind", "--amount", "480")
    inv.ok("schedule", "add", full, "--milestone", "All", "--date", "2024-02-01", "--amount", "480", "--ready")
    plain = inv("schedule", "list")
    assert plain.exit_code == 0
    assert "750.00" in plain.stdout and "shortfall" in plain.stdout.lower()
    assert "750.00" in json.dumps(inv.ok("schedule", "list"))
    assert plain.stdout.lower().count("shortfall") == 1
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-02-01")
    assert {(i["contract"], i["total"]) for i in run["invoices"]} == {("C-100", "250.00"), ("C-200", "480.00")}


# schedule remove --------------------------------------------------------------------------

def test_schedule_remove_removes_a_milestone_not_invoiced(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    keep = inv.ok("schedule", "add", line, "--milestone", "One", "--date", "2026-12-01", "--amount", "400")["id"]
    gone = inv.ok("schedule", "add", line, "--milestone", "Two", "--date", "2027-01-01", "--amount", "600")["id"]
    assert inv.ok("schedule", "remove", gone) == {"id": gone, "line_id": line, "kind": "milestone", "removed": True}
    assert [m["id"] for m in milestones(inv, line)] == [keep]
    # Its amount is free again for another milestone.
    inv.ok("schedule", "add", line, "--milestone", "Three", "--date", "2027-02-01", "--amount", "600")


def test_schedule_remove_refuses_an_invoiced_milestone_but_allows_it_once_its_invoice_is_cancelled(inv):
    line = inv.line("C-100", "Build", FP, "Fabrikam", "--amount", "1000")
    milestone = inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2024-02-01", "--amount", "300",
                       "--ready")["id"]
    inv.setup_job()
    (invoice,) = inv.ok("run-once", "--date", "2024-02-01")["invoices"]
    refused(inv, "schedule", "remove", milestone, field=str(milestone))
    inv.ok("invoice", "cancel", invoice["number"])
    inv.ok("schedule", "remove", milestone)
    assert milestones(inv, line) == []
    assert inv.ok("invoice", "show", invoice["number"])["status"] == "cancelled"


def test_schedule_remove_of_a_date_schedule_keeps_what_it_billed_on_its_invoices_and_in_run_list(inv):
    line = inv.line("C-100", "Support", TM, "Fabrikam")
    schedule = inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01",
                      "--end", "2024-12-31")["id"]
    inv.ok("transaction", "add", line, "--date", "2024-01-10", "--amount", "100")
    inv.setup_job()
    (invoice,) = inv.ok("run-once", "--date", "2024-02-01")["invoices"]
    added_kind = inv.ok("schedule", "list", line)["schedules"][0]["kind"]
    removed = inv.ok("schedule", "remove", schedule)
    assert removed == {"id": schedule, "line_id": line, "kind": added_kind, "removed": True} and added_kind == "date"
    assert date_schedules(inv, line) == []
    shown = inv.ok("invoice", "show", invoice["number"])
    assert (shown["total"], [l["line_id"] for l in shown["lines"]]) == ("100.00", [line])
    assert any(invoice["number"] in r["invoices"] for r in inv.ok("run", "list")["runs"])
    (billed,) = inv.ok("transaction", "list", "--line", line)["transactions"]
    assert billed["invoice"] == invoice["number"]


def test_schedule_remove_of_an_unknown_id_is_refused(book):
    inv, tm, fp = book
    refused(inv, "schedule", "remove", "999", field="999")


# transactions -----------------------------------------------------------------------------

def test_transaction_add_records_date_amount_type_quantity_and_description(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    added = inv.ok("transaction", "add", line, "--date", "2026-11-03", "--amount", "1200.5", "--type", "expense",
                   "--quantity", "7.5", "--description", "Taxi to site")
    assert type(added["id"]) is int
    (listed,) = inv.ok("transaction", "list")["transactions"]
    assert (listed["id"], listed["line_id"], listed["date"], listed["amount"], listed["type"],
            listed["description"]) == (added["id"], line, "2026-11-03", "1200.50", "expense", "Taxi to site")
    assert float(listed["quantity"]) == 7.5


@pytest.mark.parametrize("kind", ["time", "expense", "material", "fee"])
def test_transaction_type_is_one_of_time_expense_material_fee(inv, kind):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    inv.ok("transaction", "add", line, "--date", "2026-11-03", "--amount", "10", "--type", kind)
    assert [t["type"] for t in inv.ok("transaction", "list")["transactions"]] == [kind]


def test_transaction_type_outside_the_four_is_refused(book):
    inv, tm, fp = book
    refused(inv, "transaction", "add", tm, "--date", "2026-11-03", "--amount", "10", "--type", "travel", field="type")


@pytest.mark.parametrize("quantity", ["abc", "1e3", "-2", "NaN"])
def test_transaction_quantity_must_be_a_number(book, quantity):
    inv, tm, fp = book
    refused(inv, "transaction", "add", tm, "--date", "2026-11-03", "--amount", "10", "--quantity", quantity,
            field="quantity")


def test_transactions_are_only_for_time_and_material_lines(book):
    inv, tm, fp = book
    refused(inv, "transaction", "add", fp, "--date", "2026-11-03", "--amount", "10", field=str(fp))


def test_transaction_list_filters_by_line_and_unbilled(inv):
    a = inv.line("C-100", "Design", TM, "Fabrikam")
    b = inv.line("C-100", "Support", TM, "Fabrikam")
    inv.ok("schedule", "add", a, "--frequency", "monthly", "--start", "2024-02-01", "--end", "2024-12-31")
    billed = inv.ok("transaction", "add", a, "--date", "2024-01-10", "--amount", "10")["id"]
    open_a = inv.ok("transaction", "add", a, "--date", "2024-02-10", "--amount", "20")["id"]
    open_b = inv.ok("transaction", "add", b, "--date", "2024-01-12", "--amount", "30")["id"]
    inv.setup_job()
    inv.ok("run-once", "--date", "2024-02-01")

    def ids(*args):
        return sorted(t["id"] for t in inv.ok("transaction", "list", *args)["transactions"])

    assert ids() == sorted([billed, open_a, open_b])
    assert ids("--line", a) == sorted([billed, open_a])
    assert ids("--unbilled") == sorted([open_a, open_b])
    assert ids("--line", a, "--unbilled") == [open_a]
    assert ids("--line", b) == [open_b]


def test_transaction_delete_removes_an_unbilled_transaction(book):
    inv, tm, fp = book
    extra = inv.ok("transaction", "add", tm, "--date", "2026-11-05", "--amount", "5")["id"]
    before = [t["id"] for t in inv.ok("transaction", "list")["transactions"]]
    inv.ok("transaction", "delete", extra)
    assert [t["id"] for t in inv.ok("transaction", "list")["transactions"]] == [i for i in before if i != extra]


def test_a_billed_transaction_cannot_be_deleted_until_its_draft_invoice_is_cancelled(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01", "--end", "2024-12-31")
    t = inv.ok("transaction", "add", line, "--date", "2024-01-10", "--amount", "100")["id"]
    inv.setup_job()
    (invoice,) = inv.ok("run-once", "--date", "2024-02-01")["invoices"]
    refused(inv, "transaction", "delete", t, field=str(t))
    inv.ok("invoice", "cancel", invoice["number"])
    assert [x["id"] for x in inv.ok("transaction", "list", "--unbilled")["transactions"]] == [t]
    result = inv("transaction", "delete", t, "--json")
    assert result.exit_code == 0, result
    assert inv.ok("transaction", "list")["transactions"] == []


def test_transaction_delete_of_an_unknown_id_is_refused(book):
    inv, tm, fp = book
    refused(inv, "transaction", "delete", "999", field="999")


# bad values -----------------------------------------------------------------------------

BAD_DATES = ["2026-02-30", "20261201", "", "2026-12-1", "01/12/2026", "2026-W49-2"]


@pytest.mark.parametrize("value", BAD_DATES)
def test_bad_transaction_date_is_refused_naming_the_field(book, value):
    inv, tm, fp = book
    refused(inv, "transaction", "add", tm, "--date", value, "--amount", "10", field="date")


@pytest.mark.parametrize("value", ["2026-02-30", "20261201", "", "2026-W49-2"])
def test_bad_milestone_date_is_refused_naming_the_field(book, value):
    inv, tm, fp = book
    refused(inv, "schedule", "add", fp, "--milestone", "Two", "--date", value, "--amount", "10", field="date")


@pytest.mark.parametrize("option", ["--start", "--end"])
@pytest.mark.parametrize("value", ["2026-02-30", "20261201", "2026-W49-2"])
def test_bad_schedule_start_or_end_is_refused_naming_the_field(inv, option, value):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    dates = {"--start": "2026-12-01", "--end": "2027-12-31"}
    dates[option] = value
    refused(inv, "schedule", "add", line, "--frequency", "monthly", "--start", dates["--start"],
            "--end", dates["--end"], field=option.lstrip("-"))


def test_bad_date_in_explicit_dates_is_refused_naming_the_field(inv):
    line = inv.line("C-100", "Design", TM, "Fabrikam")
    refused(inv, "schedule", "add", line, "--dates", "2026-12-01,2027-02-30", field="dates")


BAD_AMOUNTS = ["12.345", "0.00", "1e3", "abc", "", "1,000", "NaN", "-5"]


@pytest.mark.parametrize("value", BAD_AMOUNTS)
def test_bad_transaction_amount_is_refused_naming_the_field(book, value):
    inv, tm, fp = book
    refused(inv, "transaction", "add", tm, "--date", "2026-11-03", "--amount", value, field="amount")


@pytest.mark.parametrize("value", ["12.345", "0", "1e3", "abc", "-5"])
def test_bad_line_amount_is_refused_naming_the_field(inv, value):
    refused(inv, "contract", "add-line", "C-100", "--name", "Build", "--customer", "Fabrikam",
            "--billing-method", FP, "--amount", value, field="amount")


@pytest.mark.parametrize("value", ["12.345", "0", "1e3", "abc"])
def test_bad_not_to_exceed_is_refused_naming_the_field(inv, value):
    refused(inv, "contract", "add-line", "C-100", "--name", "Design", "--customer", "Fabrikam",
            "--billing-method", TM, "--not-to-exceed", value, field=("not_to_exceed", "not-to-exceed"))


@pytest.mark.parametrize("value", ["12.345", "0", "1e3", "abc"])
def test_bad_set_line_amount_or_cap_is_refused_naming_the_field(book, value):
    inv, tm, fp = book
    refused(inv, "contract", "set-line", fp, "--amount", value, field="amount")
    refused(inv, "contract", "set-line", tm, "--not-to-exceed", value, field=("not_to_exceed", "not-to-exceed"))


@pytest.mark.parametrize("value", ["12.345", "0", "1e3", "abc"])
def test_bad_milestone_amount_is_refused_naming_the_field(book, value):
    inv, tm, fp = book
    refused(inv, "schedule", "add", fp, "--milestone", "Two", "--date", "2027-01-01", "--amount", value,
            field="amount")


def test_jpy_has_no_minor_unit_and_kwd_three(inv):
    refused(inv, "contract", "add-line", "J-1", "--name", "Hosting", "--customer", "Contoso KK",
            "--billing-method", FP, "--amount", "1500.5", "--currency", "JPY", field="amount")
    jpy = inv.line("J-2", "Hosting", TM, "Contoso KK", "--currency", "JPY")
    kwd = inv.line("K-1", "Audit", TM, "Gulf Co", "--currency", "KWD")
    assert inv.ok("transaction", "add", jpy, "--date", "2026-11-03", "--amount", "1500")["amount"] == "1500"
    assert inv.ok("transaction", "add", kwd, "--date", "2026-11-03", "--amount", "1.5")["amount"] == "1.500"
    refused(inv, "transaction", "add", kwd, "--date", "2026-11-03", "--amount", "1.2345", field="amount")


ID_COMMANDS = [
    (("transaction", "add", "{}", "--date", "2026-11-03", "--amount", "10"), "line"),
    (("schedule", "add", "{}", "--milestone", "M", "--date", "2026-12-01", "--amount", "10"), "line"),
    (("schedule", "add", "{}", "--frequency", "monthly", "--start", "2026-12-01"), "line"),
    (("contract", "set-line", "{}", "--name", "X"), "line"),
    (("schedule", "ready", "{}"), "id"),
    (("schedule", "remove", "{}"), "id"),
    (("transaction", "delete", "{}"), "id"),
    (("transaction", "list", "--line", "{}"), "line"),
    (("schedule", "list", "{}"), "line"),
]


@pytest.mark.parametrize("value", ["999", "abc", "1.5"])
@pytest.mark.parametrize("command,field", ID_COMMANDS, ids=lambda c: " ".join(c[:2]) if isinstance(c, tuple) else c)
def test_an_id_that_does_not_exist_or_is_not_a_number_is_refused_naming_the_field(book, command, field, value):
    inv, tm, fp = book
    args = [value if part == "{}" else part for part in command]
    assert value in refused(inv, *args, field=field)


@pytest.mark.parametrize("value", ["0", "1e2", "１", "0x1", " "])
def test_an_id_is_a_positive_whole_number_in_ascii_digits(book, value):
    inv, tm, fp = book
    refused(inv, "transaction", "add", value, "--date", "2026-11-03", "--amount", "10", field="line")


@pytest.mark.parametrize("command", [("transaction", "list", "--line", ""), ("schedule", "list", "")])
def test_an_empty_line_id_given_to_a_list_command_is_refused_not_taken_as_all_lines(book, command):
    inv, tm, fp = book
    refused(inv, *command, field="line")


def test_error_with_json_is_one_json_object_with_code_and_message_on_stderr(book):
    inv, tm, fp = book
    result = inv("transaction", "add", tm, "--date", "2026-02-30", "--amount", "10", "--json")
    assert result.exit_code == 1 and result.stdout == ""
    document = json.loads(result.stderr)
    assert set(document) == {"error"}
    assert {"code", "message"} <= set(document["error"])
    assert "date" in document["error"]["message"]


# text stored verbatim -----------------------------------------------------------------------

SQL = "C-1'); DROP TABLE contracts; --"
UNICODE_NAME = 'Design "phase 1" — ünïcödé 设计 🚀'
UNICODE_CUSTOMER = "Zoë & Søn <b>株式会社</b> ' OR 1=1 --"
DESCRIPTION = "Robert'); DELETE FROM transactions WHERE 1=1; -- 日本語 ✓ %s %% \\N"


def test_sql_fragments_and_unicode_in_text_fields_are_stored_verbatim(inv):
    line = inv.line(SQL, UNICODE_NAME, TM, UNICODE_CUSTOMER, "--project", "Proj; SELECT * FROM jobs")
    inv.ok("transaction", "add", line, "--date", "2026-11-03", "--amount", "10", "--description", DESCRIPTION)
    fp = inv.line(SQL, "Licence", FP, UNICODE_CUSTOMER, "--amount", "100")
    inv.ok("schedule", "add", fp, "--milestone", "Go-live ✈ '; --", "--date", "2026-12-01", "--amount", "10")
    got = lines_by_id(inv)[line]
    assert (got["contract"], got["name"], got["customer"], got.get("project")) == (
        SQL, UNICODE_NAME, UNICODE_CUSTOMER, "Proj; SELECT * FROM jobs")
    assert [t["description"] for t in inv.ok("transaction", "list")["transactions"]] == [DESCRIPTION]
    assert [m["name"] for m in milestones(inv, fp)] == ["Go-live ✈ '; --"]
    assert {l["id"] for l in inv.ok("contract", "show", SQL)["lines"]} == {line, fp}
    plain = inv("transaction", "list")
    assert DESCRIPTION in plain.stdout


def test_ids_are_never_reused_after_a_delete(inv):
    line = inv.line("C-1", "Design")
    first = inv.ok("transaction", "add", line, "--date", "2026-11-01", "--amount", "1")["id"]
    inv.ok("transaction", "delete", first)
    assert inv.ok("transaction", "add", line, "--date", "2026-11-01", "--amount", "1")["id"] > first
    fixed = inv.line("C-2", "Fixed", "fixed-price", "Contoso", "--amount", "10")
    milestone = inv.ok("schedule", "add", fixed, "--milestone", "M", "--date", "2026-11-01", "--amount", "1")["id"]
    inv.ok("schedule", "remove", milestone)
    again = inv.ok("schedule", "add", fixed, "--milestone", "M", "--date", "2026-11-01", "--amount", "1")["id"]
    assert again > milestone


def test_set_line_with_nothing_to_change_is_refused(inv):
    line = inv.line("C-1", "Design")
    result = inv("contract", "set-line", line, "--json")
    assert result.exit_code == 1 and "--amount" in result.error["message"]


def test_schedule_list_keeps_the_invoiced_run_dates_of_a_replaced_schedule(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--dates", "2024-02-01")
    inv.ok("transaction", "add", line, "--date", "2024-01-10", "--amount", "5")
    inv.setup_job()
    number = inv.ok("run-once", "--date", "2024-02-01")["invoices"][0]["number"]
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-03-01", "--replace")
    run_dates = inv.ok("schedule", "list", line)["schedules"][0]["run_dates"]
    assert {"run_date": "2024-02-01", "status": "invoiced", "invoice": number, "invoices": [number]} in run_dates


def test_names_that_look_like_rich_markup_are_printed_as_typed(inv):
    inv.line("[red]C-1", "[/]", "time-and-material", "[bold")
    shown = inv("contract", "list")
    assert shown.exit_code == 0
    assert "[red]C-1" in shown.stdout and "[/]" in shown.stdout and "[bold" in shown.stdout


def test_run_dates_a_replacing_schedule_puts_before_the_processed_ones_show_as_not_run(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01")
    inv.setup_job()
    inv.ok("run-once", "--date", "2024-02-01")
    inv.ok("schedule", "add", line, "--frequency", "weekly", "--start", "2024-01-10", "--replace")
    statuses = {r["run_date"]: r["status"] for r in inv.ok("schedule", "list", line)["schedules"][0]["run_dates"]}
    assert statuses["2024-01-10"] == "not-run" and statuses["2024-01-31"] == "not-run"
    assert statuses["2024-02-07"] == "not-run-yet"
