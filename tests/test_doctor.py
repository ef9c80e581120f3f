"""`invoicer doctor`: a database's health and the lines the next run will pass over."""

import sqlite3

import pytest


def checks(document):
    return {c["name"]: c["ok"] for c in document["checks"]}


def test_a_healthy_book_passes_every_check(inv):
    line = inv.line("C-1", "Design")
    inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-12-01")
    inv.setup_job()
    report = inv.ok("doctor")
    assert report["ok"] is True and all(checks(report).values()) and report["skipped"] == []


def test_without_a_running_workflow_doctor_exits_4(inv):
    result = inv("doctor", "--json")
    assert result.exit_code == 4 and checks(result.json)["workflow"] is False


def test_a_stalled_workflow_exits_5_before_anything_else(inv):
    inv.line("C-1", "Unscheduled")
    inv.setup_job()
    result = inv.at("2026-11-27T00:00:01")("doctor", "--json")
    assert result.exit_code == 5
    assert checks(result.json)["stalled"] is False and checks(result.json)["lines"] is False


def test_lines_batch_invoicing_will_skip_are_listed_with_their_reason(inv):
    inv.line("C-1", "Unscheduled")
    inv.line("C-2", "Fixed", "fixed-price", "Contoso", "--amount", "10")
    fixed = inv.line("C-3", "Waiting", "fixed-price", "Contoso", "--amount", "10")
    inv.ok("schedule", "add", fixed, "--milestone", "M", "--date", "2026-11-01", "--amount", "10")
    inv.setup_job()
    result = inv("doctor", "--json")
    assert result.exit_code == 1
    assert {(s["name"], s["reason"]) for s in result.json["skipped"]} == {
        ("Unscheduled", "no-schedule"), ("Fixed", "no-milestones"), ("Waiting", "milestone-not-ready")}


@pytest.mark.sqlite_only  # rows written past SQLite's foreign keys: a server keeps them
def test_a_damaged_database_is_reported_by_the_integrity_check(inv):
    inv.setup_job()
    conn = sqlite3.connect(inv.db)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO invoice_lines (invoice_id, line_id, name, amount, items) VALUES (999, 999, 'x', 1, 1)")
    conn.commit()
    conn.close()
    result = inv("doctor", "--json")
    assert result.exit_code == 1 and checks(result.json)["integrity"] is False
