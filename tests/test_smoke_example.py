"""The spec's worked example, end to end through the CLI."""


def test_worked_example_two_contracts_capped_line_and_caught_up_milestone(inv):
    consulting = inv.line("NW-1", "Consulting", "time-and-material", "Northwind", "--not-to-exceed", "500")
    licence = inv.line("NW-1", "Licence", "fixed-price", "Northwind", "--amount", "1200")
    hosting = inv.line("NW-2", "Hosting", "time-and-material", "Tailspin")
    inv.ok("schedule", "add", consulting, "--frequency", "monthly", "--start", "2024-02-01")
    inv.ok("schedule", "add", hosting, "--rrule", "FREQ=MONTHLY;BYMONTHDAY=1", "--start", "2024-02-01")
    inv.ok("schedule", "add", licence, "--milestone", "Kick-off", "--date", "2024-02-01", "--percent", "25", "--ready")
    inv.ok("schedule", "add", licence, "--milestone", "Go-live", "--date", "2024-03-01", "--amount", "900")
    for line, day, amount in [(consulting, "2024-02-10", "300"), (consulting, "2024-02-20", "250"),
                              (hosting, "2024-02-27", "49.90"), (hosting, "2024-02-28", "10.10")]:
        inv.ok("transaction", "add", line, "--date", day, "--amount", amount)
    inv.setup_job()
    run = inv.ok("run-once", "--date", "2024-03-01")
    got = [(i["number"], i["contract"], i["run_date"], i["total"]) for i in run["invoices"]]
    assert got == [("INV-000001", "NW-1", "2024-02-01", "300.00"),
                   ("INV-000002", "NW-1", "2024-03-01", "300.00"),
                   ("INV-000003", "NW-2", "2024-03-01", "60.00")]
    reasons = {(s["name"], s["reason"], s["run_date"]) for s in run["skipped"]}
    assert ("Consulting", "over-not-to-exceed", "2024-03-01") in reasons
    assert ("Licence", "milestone-not-ready", "2024-03-01") in reasons
    assert ("Hosting", "no-transactions", "2024-02-01") in reasons
    assert inv.ok("run-once", "--date", "2024-03-01")["status"] == "sleeping"
