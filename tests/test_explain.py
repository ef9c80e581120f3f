"""`invoicer explain`: whether and why a line would be billed on a date."""


def test_a_line_with_billable_transactions_says_what_the_run_would_bill(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01")
    inv.ok("transaction", "add", line, "--date", "2024-02-10", "--amount", "100")
    inv.ok("transaction", "add", line, "--date", "2024-03-01", "--amount", "7")
    found = inv.ok("explain", line, "--date", "2024-03-01")
    assert found["billed"] is True
    # Run dates 02-01 (nothing before it) and 03-01 are due: 02-10 goes on 03-01's invoice.
    assert found["invoices"] == [{"contract": "C-1", "customer": "Fabrikam", "run_date": "2024-03-01", "amount": "100.00", "items": 1}]
    assert found["next_run_date"] == "2024-02-01" and found["cutoff"] == "2024-01-31"
    assert found["unbilled"] == {"transactions": 2, "amount": "107.00", "by_cutoff": 0, "by_cutoff_amount": "0.00"}


def test_explain_agrees_with_the_run_that_follows(inv):
    line = inv.line("C-1", "Design", "time-and-material", "Fabrikam", "--not-to-exceed", "50")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-03-01")
    inv.ok("transaction", "add", line, "--date", "2024-02-10", "--amount", "40")
    inv.ok("transaction", "add", line, "--date", "2024-02-11", "--amount", "20")
    found = inv.ok("explain", line, "--date", "2024-03-01")
    assert [(i["run_date"], i["amount"]) for i in found["invoices"]] == [("2024-03-01", "40.00")]
    assert [s["reason"] for s in found["skipped"]] == ["over-not-to-exceed"]
    assert found["headroom"] == "50.00"
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-03-01")
    assert [(i["run_date"], i["total"]) for i in run["invoices"]] == [("2024-03-01", "40.00")]
    assert inv.ok("run", "list")["runs"][0]["run_date"] == "2024-03-01"


def test_a_line_is_explained_alone_when_another_line_is_over_its_not_to_exceed_limit(inv):
    """The line held back by its limit is another's: explain still says this line's own
    invoice and skips (the limit's loop once took the explained line's id for its own)."""
    line = inv.line("C-1", "Design")
    capped = inv.line("C-2", "Build", "time-and-material", "Fabrikam", "--not-to-exceed", "5")
    for each in (line, capped):
        inv.ok("schedule", "add", each, "--frequency", "monthly", "--start", "2024-03-01")
        inv.ok("transaction", "add", each, "--date", "2024-02-10", "--amount", "100")
    found = inv.ok("explain", line, "--date", "2024-03-01")
    assert found["billed"] is True and found["skipped"] == []
    assert [(i["contract"], i["amount"]) for i in found["invoices"]] == [("C-1", "100.00")]
    held = inv.ok("explain", capped, "--date", "2024-03-01")
    assert held["invoices"] == [] and [s["reason"] for s in held["skipped"]] == ["over-not-to-exceed"]


def test_explain_writes_nothing(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2024-02-01")
    inv.ok("transaction", "add", line, "--date", "2024-02-10", "--amount", "100")
    inv.ok("explain", line, "--date", "2024-05-01")
    assert inv.ok("run", "list")["runs"] == [] and inv.ok("invoice", "list")["invoices"] == []
    assert inv.ok("schedule", "list", line)["schedules"][0]["processed_through"] is None


def test_each_reason_is_said_in_plain_words(inv):
    unscheduled = inv.line("C-1", "Loose")
    fixed = inv.line("C-2", "Fixed", "fixed-price", "Contoso", "--amount", "10")
    inv.ok("schedule", "add", fixed, "--milestone", "Go-live", "--date", "2024-01-15", "--amount", "10")
    loose = inv("explain", unscheduled, "--date", "2024-03-01")
    assert loose.exit_code == 0 and "no date-based invoice schedule" in loose.stdout
    waiting = inv.ok("explain", fixed, "--date", "2024-03-01")
    assert [s["reason"] for s in waiting["skipped"]] == ["milestone-not-ready"]
    assert "not ready to invoice" in " ".join(waiting["explanation"])


def test_an_unknown_line_is_refused(inv):
    result = inv("explain", "42", "--json")
    assert result.exit_code == 1 and "42" in result.error["message"]
