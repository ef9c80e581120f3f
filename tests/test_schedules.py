"""Invoice run dates from date-based schedules (SPEC section 3): the arithmetic through
`invoicer.schedules`, and what operators see through `schedule add` / `schedule list`."""

import calendar
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicer.errors import InvoicerError
from invoicer.schedules import make_schedule, next_run_date, run_dates
from tests.conftest import Invoicer

FAR = date(2199, 12, 31)


def d(text: str) -> date:
    return date.fromisoformat(text)


def ds(*texts: str) -> tuple[date, ...]:
    return tuple(d(t) for t in texts)


def all_dates(through=FAR, **schedule) -> tuple[date, ...]:
    return run_dates(make_schedule(**schedule), None, through)


def add_months(start: date, months: int) -> date:
    """start's day in the month `months` later, or that month's last day when shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def expected_dates(frequency: str, start: date, end: date | None, through: date) -> list[date]:
    """The spec's rules for --frequency, written out by hand: the oracle for the properties."""
    last = min(through, end) if end else through
    found: list[date] = []
    if frequency in ("daily", "weekly", "biweekly"):
        step = {"daily": 1, "weekly": 7, "biweekly": 14}[frequency]
        day = start
        while day <= last:
            found.append(day)
            day += timedelta(days=step)
    elif frequency in ("monthly", "quarterly"):
        step = 1 if frequency == "monthly" else 3
        k = 0
        while (day := add_months(start, k * step)) <= last:
            found.append(day)
            k += 1
    else:  # semimonthly: the 15th and the last day of each month, from start on
        year, month = start.year, start.month
        while date(year, month, 1) <= last:
            for day in (date(year, month, 15), date(year, month, calendar.monthrange(year, month)[1])):
                if start <= day <= last:
                    found.append(day)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def rrule_oracle(rule: str, start: date, through: date) -> tuple[date, ...]:
    """What python-dateutil's rrule yields with dtstart = start, up to `through`."""
    moments = rrulestr(rule, dtstart=datetime.combine(start, datetime.min.time()))
    return tuple(m.date() for m in moments.between(datetime.combine(start, datetime.min.time()),
                                                   datetime.combine(through, datetime.min.time()), inc=True))


def listed(inv, line_id) -> list[str]:
    """The run dates `schedule list LINE_ID --json` shows for the line's date-based schedule."""
    entries = [s for s in inv.ok("schedule", "list", line_id)["schedules"] if s["kind"] == "date"]
    assert len(entries) == 1, entries
    return [r["run_date"] for r in entries[0]["run_dates"]]


def refused(inv, *args, field=None):
    """Run a command that must be refused with exit 1 and a JSON error; return the message."""
    result = inv(*args, "--json")
    assert result.exit_code == 1, (args, result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    message = result.error["message"]
    if field:
        assert field in message.lower(), message
    return message


@pytest.fixture
def tm(inv):
    return inv.line("C-1", "Design", "time-and-material")


# the named frequencies ----------------------------------------------------------------------

def test_daily_runs_every_day_from_start():
    assert all_dates(frequency="daily", start=d("2024-02-27"), end=d("2024-03-02")) == ds(
        "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02")


def test_weekly_runs_every_seven_days_from_start_which_is_the_first_run_date():
    # 2024-01-03 is a Wednesday; the rule is "from --start", not "on Mondays".
    assert all_dates(frequency="weekly", start=d("2024-01-03"), end=d("2024-02-01")) == ds(
        "2024-01-03", "2024-01-10", "2024-01-17", "2024-01-24", "2024-01-31")


def test_biweekly_runs_every_fourteen_days_from_start_across_a_year_end():
    assert all_dates(frequency="biweekly", start=d("2024-12-20"), end=d("2025-02-28")) == ds(
        "2024-12-20", "2025-01-03", "2025-01-17", "2025-01-31", "2025-02-14", "2025-02-28")


def test_monthly_runs_on_starts_day_each_month():
    assert all_dates(frequency="monthly", start=d("2024-01-15"), end=d("2024-05-31")) == ds(
        "2024-01-15", "2024-02-15", "2024-03-15", "2024-04-15", "2024-05-15")


def test_monthly_on_the_28th_stays_on_the_28th_even_after_february():
    assert all_dates(frequency="monthly", start=d("2023-01-28"), end=d("2023-04-30")) == ds(
        "2023-01-28", "2023-02-28", "2023-03-28", "2023-04-28")


def test_monthly_on_the_31st_falls_on_the_last_day_of_shorter_months():
    assert all_dates(frequency="monthly", start=d("2024-01-31"), end=d("2025-03-31")) == ds(
        "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30",
        "2024-07-31", "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31",
        "2025-01-31", "2025-02-28", "2025-03-31")


def test_monthly_on_the_30th_falls_on_february_28th_or_29th_and_returns_to_the_30th():
    assert all_dates(frequency="monthly", start=d("2023-01-30"), end=d("2023-03-31")) == ds(
        "2023-01-30", "2023-02-28", "2023-03-30")
    assert all_dates(frequency="monthly", start=d("2024-01-30"), end=d("2024-03-31")) == ds(
        "2024-01-30", "2024-02-29", "2024-03-30")


def test_monthly_on_the_29th_falls_on_february_28th_only_in_non_leap_years():
    assert all_dates(frequency="monthly", start=d("2023-01-29"), end=d("2023-03-31")) == ds(
        "2023-01-29", "2023-02-28", "2023-03-29")
    assert all_dates(frequency="monthly", start=d("2024-01-29"), end=d("2024-03-31")) == ds(
        "2024-01-29", "2024-02-29", "2024-03-29")


def test_monthly_on_the_29th_in_century_years_follows_the_gregorian_leap_rule():
    assert all_dates(frequency="monthly", start=d("2100-01-29"), end=d("2100-03-31")) == ds(
        "2100-01-29", "2100-02-28", "2100-03-29")
    assert all_dates(frequency="monthly", start=d("2000-01-29"), end=d("2000-03-31")) == ds(
        "2000-01-29", "2000-02-29", "2000-03-29")


def test_monthly_from_a_30_day_month_end_keeps_the_30th_not_the_last_day():
    # The run day is start's day (30), not "the last day of the month".
    assert all_dates(frequency="monthly", start=d("2024-04-30"), end=d("2024-07-31")) == ds(
        "2024-04-30", "2024-05-30", "2024-06-30", "2024-07-30")


@pytest.mark.parametrize("month", ["04", "06", "09", "11"])
def test_monthly_on_the_31st_falls_on_the_30th_of_april_june_september_november(month):
    run = all_dates(frequency="monthly", start=d("2024-01-31"), end=d("2024-12-31"))
    assert d(f"2024-{month}-30") in run
    assert [r for r in run if r.month == int(month)] == [d(f"2024-{month}-30")]


def test_quarterly_runs_every_three_months_on_starts_day():
    assert all_dates(frequency="quarterly", start=d("2024-02-10"), end=d("2025-02-10")) == ds(
        "2024-02-10", "2024-05-10", "2024-08-10", "2024-11-10", "2025-02-10")


def test_quarterly_on_the_31st_falls_on_the_last_day_of_shorter_months():
    assert all_dates(frequency="quarterly", start=d("2023-12-31"), end=d("2025-01-01")) == ds(
        "2023-12-31", "2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31")


def test_quarterly_on_the_30th_falls_on_the_last_day_of_february_in_leap_and_other_years():
    assert all_dates(frequency="quarterly", start=d("2023-11-30"), end=d("2025-03-01")) == ds(
        "2023-11-30", "2024-02-29", "2024-05-30", "2024-08-30", "2024-11-30", "2025-02-28")


def test_semimonthly_runs_on_the_15th_and_the_last_day_of_each_month():
    assert all_dates(frequency="semimonthly", start=d("2024-01-01"), end=d("2024-04-30")) == ds(
        "2024-01-15", "2024-01-31", "2024-02-15", "2024-02-29", "2024-03-15", "2024-03-31",
        "2024-04-15", "2024-04-30")


def test_semimonthly_start_is_not_a_run_date_unless_it_is_the_15th_or_the_last_day():
    assert all_dates(frequency="semimonthly", start=d("2023-02-16"), end=d("2023-03-31")) == ds(
        "2023-02-28", "2023-03-15", "2023-03-31")
    assert all_dates(frequency="semimonthly", start=d("2023-02-15"), end=d("2023-02-28"))[0] == d("2023-02-15")
    assert all_dates(frequency="semimonthly", start=d("2023-02-28"), end=d("2023-03-15")) == ds(
        "2023-02-28", "2023-03-15")


@pytest.mark.parametrize("frequency", ["daily", "weekly", "biweekly", "monthly", "quarterly"])
def test_start_is_the_first_run_date_of_all_frequencies_but_semimonthly(frequency):
    schedule = make_schedule(frequency=frequency, start=d("2024-03-07"))
    assert next_run_date(schedule, None) == d("2024-03-07")
    assert run_dates(schedule, None, d("2024-03-07")) == ds("2024-03-07")
    assert run_dates(schedule, None, d("2024-03-06")) == ()


# --end and the window -------------------------------------------------------------------------

def test_no_run_date_falls_after_end_even_when_asked_for_later_ones():
    schedule = make_schedule(frequency="monthly", start=d("2024-01-31"), end=d("2024-04-29"))
    assert run_dates(schedule, None, FAR) == ds("2024-01-31", "2024-02-29", "2024-03-31")
    assert next_run_date(schedule, d("2024-03-31")) is None


def test_end_on_a_run_date_includes_it():
    assert all_dates(frequency="weekly", start=d("2024-01-01"), end=d("2024-01-15")) == ds(
        "2024-01-01", "2024-01-08", "2024-01-15")


def test_start_equal_to_end_gives_the_one_run_date():
    assert all_dates(frequency="daily", start=d("2024-05-05"), end=d("2024-05-05")) == ds("2024-05-05")


def test_run_dates_are_after_after_and_on_or_before_through():
    schedule = make_schedule(frequency="weekly", start=d("2024-01-01"))
    assert run_dates(schedule, d("2024-01-08"), d("2024-01-29")) == ds("2024-01-15", "2024-01-22", "2024-01-29")
    assert run_dates(schedule, d("2024-01-07"), d("2024-01-14")) == ds("2024-01-08")
    assert run_dates(schedule, d("2024-01-29"), d("2024-01-29")) == ()


def test_no_run_date_falls_before_start_whatever_after_is():
    schedule = make_schedule(frequency="daily", start=d("2024-06-10"))
    assert run_dates(schedule, d("2024-01-01"), d("2024-06-11")) == ds("2024-06-10", "2024-06-11")
    assert next_run_date(schedule, d("2020-01-01")) == d("2024-06-10")


def test_next_run_date_is_the_first_one_strictly_after():
    schedule = make_schedule(frequency="monthly", start=d("2024-01-31"))
    assert next_run_date(schedule, None) == d("2024-01-31")
    assert next_run_date(schedule, d("2024-01-31")) == d("2024-02-29")
    assert next_run_date(schedule, d("2024-02-28")) == d("2024-02-29")
    assert next_run_date(schedule, d("2024-02-29")) == d("2024-03-31")


def test_end_before_start_yields_no_run_date_and_is_refused():
    with pytest.raises(InvoicerError):
        make_schedule(frequency="daily", start=d("2024-05-10"), end=d("2024-05-09"))


def test_semimonthly_window_with_no_15th_or_last_day_is_refused():
    with pytest.raises(InvoicerError):
        make_schedule(frequency="semimonthly", start=d("2024-05-16"), end=d("2024-05-30"))


# --rrule ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, start", [
    ("FREQ=MONTHLY;BYMONTHDAY=7,-1", "2024-01-10"),
    ("FREQ=MONTHLY;BYMONTHDAY=7,-1", "2024-01-07"),
    ("FREQ=WEEKLY;BYDAY=MO,TH", "2024-02-27"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2024-01-01"),
    ("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=31", "2024-01-15"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "2023-06-01"),
    ("FREQ=DAILY;INTERVAL=10", "2024-02-25"),
    ("FREQ=WEEKLY;COUNT=4", "2024-03-01"),
    ("FREQ=DAILY;UNTIL=20240310", "2024-03-01"),
    ("freq=weekly;byday=fr", "2024-03-01"),
])
def test_rrule_yields_exactly_what_dateutil_rrule_yields_with_dtstart_start(rule, start):
    got = all_dates(rrule=rule, start=d(start), through=d("2032-12-31"))
    assert got == rrule_oracle(rule, d(start), d("2032-12-31"))
    assert got  # every case here has run dates


def test_rrule_start_is_a_run_date_only_when_it_matches_the_rule():
    # 2024-01-10 is neither the 7th nor the last day.
    assert all_dates(rrule="FREQ=MONTHLY;BYMONTHDAY=7,-1", start=d("2024-01-10"), through=d("2024-03-07")) == ds(
        "2024-01-31", "2024-02-07", "2024-02-29", "2024-03-07")
    assert all_dates(rrule="FREQ=MONTHLY;BYMONTHDAY=7,-1", start=d("2024-01-31"), through=d("2024-02-07")) == ds(
        "2024-01-31", "2024-02-07")
    # 2024-01-03 is a Wednesday.
    assert all_dates(rrule="FREQ=WEEKLY;BYDAY=MO", start=d("2024-01-03"), through=d("2024-01-15")) == ds(
        "2024-01-08", "2024-01-15")


def test_rrule_with_end_stops_at_end():
    assert all_dates(rrule="FREQ=MONTHLY;BYMONTHDAY=7,-1", start=d("2024-01-01"), end=d("2024-02-28")) == ds(
        "2024-01-07", "2024-01-31", "2024-02-07")


def test_rrule_whose_first_match_is_after_end_is_refused():
    with pytest.raises(InvoicerError):
        make_schedule(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", start=d("2024-03-01"), end=d("2027-12-31"))


def test_rrule_that_never_matches_is_refused():
    with pytest.raises(InvoicerError):
        make_schedule(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", start=d("2024-01-01"))


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=MINUTELY", "FREQ=SECONDLY", "FREQ=HOURLY;INTERVAL=48"])
def test_rrule_finer_than_daily_is_refused(rule):
    with pytest.raises(InvoicerError):
        make_schedule(rrule=rule, start=d("2024-01-01"))


@pytest.mark.parametrize("rule", ["DTSTART:20240101T000000\nRRULE:FREQ=DAILY", "FREQ=DAILY;DTSTART=20240101"])
def test_rrule_with_a_dtstart_of_its_own_is_refused(rule):
    with pytest.raises(InvoicerError):
        make_schedule(rrule=rule, start=d("2024-01-01"))


# --dates -----------------------------------------------------------------------------------

def test_dates_are_the_run_dates_in_order():
    schedule = make_schedule(dates=[d("2024-05-01"), d("2024-02-29"), d("2024-03-15")])
    assert run_dates(schedule, None, FAR) == ds("2024-02-29", "2024-03-15", "2024-05-01")
    assert run_dates(schedule, d("2024-02-29"), d("2024-04-30")) == ds("2024-03-15")
    assert next_run_date(schedule, d("2024-03-15")) == d("2024-05-01")
    assert next_run_date(schedule, d("2024-05-01")) is None


# through the CLI: what operators see -------------------------------------------------------

def test_schedule_add_prints_the_schedule_with_an_integer_id(inv, tm):
    added = inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2024-01-31")
    assert isinstance(added["id"], int) and not isinstance(added["id"], bool)
    assert added["line_id"] == tm


def test_schedule_list_shows_monthly_run_dates_on_the_last_day_of_shorter_months(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2023-12-31", "--end", "2024-06-30")
    assert listed(inv, tm) == ["2023-12-31", "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30",
                               "2024-05-31", "2024-06-30"]


def test_schedule_list_shows_quarterly_run_dates_from_start(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "quarterly", "--start", "2024-11-30", "--end", "2025-12-31")
    assert listed(inv, tm) == ["2024-11-30", "2025-02-28", "2025-05-30", "2025-08-30", "2025-11-30"]


def test_schedule_list_shows_semimonthly_run_dates_from_start_on(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "semimonthly", "--start", "2025-01-20", "--end", "2025-03-15")
    assert listed(inv, tm) == ["2025-01-31", "2025-02-15", "2025-02-28", "2025-03-15"]


def test_schedule_list_shows_biweekly_run_dates(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "biweekly", "--start", "2025-03-03", "--end", "2025-04-14")
    assert listed(inv, tm) == ["2025-03-03", "2025-03-17", "2025-03-31", "2025-04-14"]


def test_schedule_list_shows_the_rrule_example_seventh_and_last_day(inv, tm):
    inv.ok("schedule", "add", tm, "--rrule", "FREQ=MONTHLY;BYMONTHDAY=7,-1", "--start", "2025-02-10",
           "--end", "2025-04-07")
    assert listed(inv, tm) == ["2025-02-28", "2025-03-07", "2025-03-31", "2025-04-07"]


def test_schedule_list_shows_explicit_dates_sorted(inv, tm):
    inv.ok("schedule", "add", tm, "--dates", "2025-06-30,2025-01-15,2025-03-01")
    assert listed(inv, tm) == ["2025-01-15", "2025-03-01", "2025-06-30"]


def test_schedule_list_shows_every_run_date_up_to_the_end_of_a_schedule_that_has_one(inv, tm):
    """Today is 2026-11-24 (conftest): the run dates to come are shown to the end."""
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2026-10-01", "--end", "2027-09-30")
    assert listed(inv, tm) == [f"2026-{m:02d}-01" for m in (10, 11, 12)] + [f"2027-{m:02d}-01" for m in range(1, 10)]
    inv.ok("schedule", "add", tm, "--dates", "2026-12-01,2027-01-01,2027-02-01,2027-03-01,2028-01-01", "--replace")
    assert listed(inv, tm) == ["2026-12-01", "2027-01-01", "2027-02-01", "2027-03-01", "2028-01-01"]


@pytest.mark.parametrize("args", [("--frequency", "daily", "--start", "2026-01-01", "--end", "9999-12-31"),
                                  ("--frequency", "monthly", "--start", "2026-10-01", "--end", "2029-12-31"),
                                  ("--rrule", "FREQ=WEEKLY;UNTIL=20400101", "--start", "2026-11-02")])
def test_schedule_list_of_a_schedule_ending_far_away_shows_the_next_three(inv, tm, args):
    """Not the thousands of run dates to its end: they would take minutes and gigabytes."""
    inv.ok("schedule", "add", tm, *args)
    shown = listed(inv, tm)
    assert len([d for d in shown if d > "2026-11-24"]) == 3


def test_schedule_list_of_an_rrule_with_a_count_shows_all_its_run_dates(inv, tm):
    inv.ok("schedule", "add", tm, "--rrule", "FREQ=MONTHLY;COUNT=6;BYMONTHDAY=15", "--start", "2026-11-01")
    assert listed(inv, tm) == ["2026-11-15", "2026-12-15", "2027-01-15", "2027-02-15", "2027-03-15", "2027-04-15"]


def test_schedule_list_shows_the_next_three_run_dates_of_a_schedule_without_an_end(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2026-10-01")
    assert listed(inv, tm) == ["2026-10-01", "2026-11-01", "2026-12-01", "2027-01-01", "2027-02-01"]


def test_schedule_list_shows_run_dates_not_run_yet_before_any_invoice_run(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "weekly", "--start", "2025-01-06", "--end", "2025-01-20")
    [entry] = inv.ok("schedule", "list", tm)["schedules"]
    assert [r["invoice"] for r in entry["run_dates"]] == [None, None, None]
    assert len({r["status"] for r in entry["run_dates"]}) == 1
    assert not {r["status"] for r in entry["run_dates"]} & {"invoiced", "nothing-to-bill"}


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "Australia/Sydney"])
def test_run_dates_are_plain_dates_with_no_dst_effects(inv, tm, zone):
    inv.monkeypatch.setenv("INVOICER_TZ", zone)
    # Spring forward: US 2024-03-10, EU 2024-03-31; fall back: AU 2024-04-07, US 2024-11-03.
    inv.ok("schedule", "add", tm, "--frequency", "daily", "--start", "2024-03-08", "--end", "2024-04-09")
    shown = [d(x) for x in listed(inv, tm)]
    assert shown == [d("2024-03-08") + timedelta(days=k) for k in range(33)]
    weekly = inv.line("C-1", "Support")
    inv.ok("schedule", "add", weekly, "--frequency", "weekly", "--start", "2024-10-27", "--end", "2024-11-17")
    assert listed(inv, weekly) == ["2024-10-27", "2024-11-03", "2024-11-10", "2024-11-17"]


@pytest.mark.parametrize("args", [
    ("--frequency", "monthly", "--start", "2024-05-10", "--end", "2024-05-09"),
    ("--rrule", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "--start", "2024-01-01"),
    ("--rrule", "FREQ=MONTHLY;BYMONTHDAY=15", "--start", "2024-05-16", "--end", "2024-06-14"),
    ("--rrule", "FREQ=DAILY;UNTIL=20231231", "--start", "2024-01-01"),
    ("--frequency", "semimonthly", "--start", "2024-05-16", "--end", "2024-05-30"),
    ("--dates", ","),
])
def test_a_schedule_that_yields_no_run_date_at_all_is_refused_and_nothing_is_written(inv, tm, args):
    refused(inv, "schedule", "add", tm, *args)
    assert inv.ok("schedule", "list", tm)["schedules"] == []


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=MINUTELY;INTERVAL=1440", "FREQ=SECONDLY",
                                  "FREQ=DAILY;BYHOUR=9,17"])
def test_rrule_finer_than_daily_is_refused_with_exit_1(inv, tm, rule):
    refused(inv, "schedule", "add", tm, "--rrule", rule, "--start", "2024-01-01", field="rrule")
    assert inv.ok("schedule", "list", tm)["schedules"] == []


@pytest.mark.parametrize("rule", ["DTSTART:20240101T000000\nRRULE:FREQ=DAILY",
                                  "DTSTART=20240101;FREQ=DAILY"])
def test_rrule_with_its_own_dtstart_is_refused_with_exit_1(inv, tm, rule):
    message = refused(inv, "schedule", "add", tm, "--rrule", rule, "--start", "2024-01-01", field="rrule")
    assert "dtstart" in message.lower()


GARBAGE_RULES = ["every monday", "FREQ=FORTNIGHTLY", "FREQ=MONTHLY;BYMONTHDAY=x", "FREQ=WEEKLY;BYDAY=XX",
                 "FREQ=MONTHLY;NOPE=1", ";;;", "FREQ", "FREQ=DAILY;INTERVAL=1.5",
                 # RFC 5545: INTERVAL is a positive integer
                 "FREQ=DAILY;INTERVAL=0", "FREQ=WEEKLY;INTERVAL=0", "FREQ=DAILY;INTERVAL=-1",
                 "FREQ=MONTHLY;INTERVAL=-1"]


@pytest.mark.parametrize("rule", GARBAGE_RULES)
def test_garbage_rrule_is_refused(rule):
    with pytest.raises(InvoicerError, match="rrule"):
        make_schedule(rrule=rule, start=d("2024-01-01"))


@pytest.mark.parametrize("rule", GARBAGE_RULES)
def test_garbage_rrule_is_refused_with_exit_1_naming_the_rrule(inv, tm, rule):
    refused(inv, "schedule", "add", tm, "--rrule", rule, "--start", "2024-01-01", field="rrule")
    assert inv.ok("schedule", "list", tm)["schedules"] == []


@pytest.mark.parametrize("rule", ["FREQ=MONTHLY;BYDAY=+99MO", "FREQ=MONTHLY;BYDAY=MO,-8FR", "FREQ=MONTHLY;BYDAY=6TU",
                                  "FREQ=YEARLY;BYDAY=+60MO", "FREQ=YEARLY;BYMONTH=2;BYDAY=9MO",
                                  "FREQ=MONTHLY;BYDAY=5TU;BYDAY=+99MO"])
def test_a_weekday_ordinal_past_the_month_or_year_is_refused_naming_the_rrule(inv, tm, rule):
    """dateutil crashes (IndexError) on some: refused, one line, exit 1, not a traceback."""
    message = refused(inv, "schedule", "add", tm, "--rrule", rule, "--start", "2024-01-01", field="rrule")
    assert "BYDAY" in message
    assert inv.ok("schedule", "list", tm)["schedules"] == []


# Parts of rules, put together at random: each rule is refused, or yields its run dates.
RULE_PARTS = st.lists(st.sampled_from([
    "BYDAY=+99MO", "BYDAY=-60FR", "BYDAY=8MO", "BYDAY=5TU", "BYDAY=-1SU", "BYDAY=53MO", "BYDAY=MO,WE",
    "BYMONTH=2", "BYMONTH=13", "BYMONTHDAY=31", "BYMONTHDAY=-40", "BYSETPOS=-1", "BYSETPOS=400",
    "BYWEEKNO=20", "BYWEEKNO=60", "BYYEARDAY=366", "BYYEARDAY=-400", "INTERVAL=2", "COUNT=3", "WKST=SU",
]), max_size=4, unique=True)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]), RULE_PARTS,
       st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_any_rrule_is_refused_or_yields_run_dates_never_a_crash(frequency, parts, start):
    rule = ";".join([f"FREQ={frequency}", *parts])
    try:
        schedule = make_schedule(rrule=rule, start=start)
    except InvoicerError:
        return
    assert run_dates(schedule, None, start + timedelta(days=3000)) or next_run_date(schedule, None)


@pytest.mark.parametrize("args, field", [
    (("--frequency", "monthly"), "start"),
    (("--frequency", "monthly", "--start", "2024-02-30"), "start"),
    (("--frequency", "monthly", "--start", "2024-01-01", "--end", "31/12/2024"), "end"),
    (("--frequency", "fortnightly", "--start", "2024-01-01"), "frequency"),
    (("--dates", "2024-01-01,2024-13-01"), "dates"),
])
def test_bad_schedule_values_are_refused_naming_the_field(inv, tm, args, field):
    refused(inv, "schedule", "add", tm, *args, field=field)


def test_a_date_schedule_on_a_fixed_price_line_is_refused_saying_it_needs_milestones(inv):
    line = inv.line("C-1", "Build", "fixed-price", "Fabrikam", "--amount", "1000")
    message = refused(inv, "schedule", "add", line, "--frequency", "monthly", "--start", "2024-01-01")
    assert "milestone" in message.lower()
    refused(inv, "schedule", "add", line, "--dates", "2024-01-01")
    assert inv.ok("schedule", "list", line)["schedules"] == []


def test_a_milestone_on_a_time_and_material_line_is_refused_saying_it_needs_a_date_schedule(inv, tm):
    message = refused(inv, "schedule", "add", tm, "--milestone", "Kick-off", "--date", "2024-01-01",
                      "--amount", "100")
    assert "date-based" in message.lower() or "--frequency" in message
    assert inv.ok("schedule", "list", tm)["schedules"] == []


def test_two_milestones_of_one_line_may_not_share_a_name(inv):
    """A repeated schedule import tells a line's milestones apart by name (spec section 11),
    so a second of the same name is refused; another line may use it."""
    line = inv.line("C-1", "Build", "fixed-price", "Fabrikam", "--amount", "1000")
    other = inv.line("C-1", "Run", "fixed-price", "Fabrikam", "--amount", "1000")
    first = inv.ok("schedule", "add", line, "--milestone", "Kick-off", "--date", "2024-01-01", "--amount", "100")
    for name in ("Kick-off", " Kick-off "):
        message = refused(inv, "schedule", "add", line, "--milestone", name, "--date", "2024-02-01", "--amount", "200",
                          field="milestone")
        assert "'Kick-off'" in message and f"id {first['id']}" in message
    assert [m["name"] for m in inv.ok("schedule", "list", line)["schedules"]] == ["Kick-off"]
    inv.ok("schedule", "add", other, "--milestone", "Kick-off", "--date", "2024-01-01", "--amount", "100")
    inv.ok("schedule", "add", line, "--milestone", "kick-off", "--date", "2024-02-01", "--amount", "200")


def test_a_line_has_one_date_schedule_a_second_is_refused_without_replace(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2025-01-31", "--end", "2025-03-31")
    message = refused(inv, "schedule", "add", tm, "--frequency", "weekly", "--start", "2025-01-01",
                      "--end", "2025-01-15")
    assert "--replace" in message
    assert listed(inv, tm) == ["2025-01-31", "2025-02-28", "2025-03-31"]


def test_replace_swaps_the_lines_date_schedule_for_the_new_one(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2025-01-31", "--end", "2025-03-31")
    inv.ok("schedule", "add", tm, "--frequency", "weekly", "--start", "2025-01-01", "--end", "2025-01-15",
           "--replace")
    assert listed(inv, tm) == ["2025-01-01", "2025-01-08", "2025-01-15"]


def test_replace_never_runs_new_run_dates_on_or_before_the_latest_processed_one(inv, tm):
    inv.ok("schedule", "add", tm, "--frequency", "monthly", "--start", "2024-01-01")
    inv.ok("transaction", "add", tm, "--date", "2024-01-15", "--amount", "100")
    inv.setup_job()
    first = inv.ok("run-once", "--date", "2024-03-01")
    assert [i["run_date"] for i in first["invoices"]] == ["2024-02-01"]
    # Weekly from Monday 2024-01-01: eight of its run dates fall on or before 2024-03-01.
    inv.ok("schedule", "add", tm, "--frequency", "weekly", "--start", "2024-01-01", "--replace")
    inv.ok("transaction", "add", tm, "--date", "2024-02-20", "--amount", "10")
    inv.ok("transaction", "add", tm, "--date", "2024-03-05", "--amount", "20")
    second = inv.ok("run-once", "--date", "2024-03-11")
    touched = {i["run_date"] for i in second["invoices"]} | {
        s["run_date"] for s in second["skipped"] if s.get("line_id") == tm and s.get("run_date")}
    assert touched and min(touched) > "2024-03-01", second
    # 2024-03-04 bills what is dated before it (the 02-20 one), 2024-03-11 the 03-05 one.
    assert [(i["run_date"], i["total"]) for i in second["invoices"]] == [("2024-03-04", "10.00"),
                                                                          ("2024-03-11", "20.00")]


def test_each_line_keeps_its_own_date_schedule(inv, tm):
    other = inv.line("C-1", "Support")
    inv.ok("schedule", "add", tm, "--frequency", "quarterly", "--start", "2025-01-31", "--end", "2025-07-31")
    inv.ok("schedule", "add", other, "--dates", "2025-02-01")
    assert listed(inv, tm) == ["2025-01-31", "2025-04-30", "2025-07-31"]
    assert listed(inv, other) == ["2025-02-01"]


# properties ---------------------------------------------------------------------------------

FREQUENCY = st.sampled_from(["daily", "weekly", "biweekly", "semimonthly", "monthly", "quarterly"])
STARTS = st.dates(min_value=date(1999, 1, 1), max_value=date(2101, 12, 31))
# Days of the month 28-31 are where the rules bite: draw them often.
MONTH_ENDS = st.builds(lambda y, m, back: date(y, m, calendar.monthrange(y, m)[1]) - timedelta(days=back),
                       st.integers(1999, 2101), st.integers(1, 12), st.integers(0, 3))
START = st.one_of(STARTS, MONTH_ENDS)


@settings(max_examples=300, deadline=None)
@given(FREQUENCY, START, st.one_of(st.none(), st.integers(0, 800)))
def test_named_frequencies_yield_exactly_the_spec_rules_run_dates(frequency, start, length):
    end = None if length is None else start + timedelta(days=length)
    through = start + timedelta(days=900)
    expected = expected_dates(frequency, start, end, through)
    if end is not None and not expected_dates(frequency, start, end, end):
        with pytest.raises(InvoicerError):
            make_schedule(frequency=frequency, start=start, end=end)
        return
    schedule = make_schedule(frequency=frequency, start=start, end=end)
    assert list(run_dates(schedule, None, through)) == expected
    assert next_run_date(schedule, None) == expected[0]


@settings(max_examples=200, deadline=None)
@given(FREQUENCY, START, st.one_of(st.none(), st.integers(31, 800)), st.integers(0, 1000))
def test_run_dates_lie_within_start_and_end_and_strictly_increase(frequency, start, length, span):
    end = None if length is None else start + timedelta(days=length)
    schedule = make_schedule(frequency=frequency, start=start, end=end)
    found = run_dates(schedule, start - timedelta(days=30), start + timedelta(days=span))
    assert all(start <= r for r in found)
    assert end is None or all(r <= end for r in found)
    assert all(a < b for a, b in zip(found, found[1:]))


@settings(max_examples=200, deadline=None)
@given(START, st.sampled_from([1, 3]), st.integers(1, 40))
def test_monthly_and_quarterly_run_dates_fall_in_consecutive_months_on_min_of_start_day_and_month_end(
        start, step, count):
    schedule = make_schedule(frequency="monthly" if step == 1 else "quarterly", start=start)
    found = run_dates(schedule, None, add_months(start, step * (count - 1)))
    assert len(found) == count
    for k, r in enumerate(found):
        index = start.month - 1 + k * step
        assert (r.year, r.month) == (start.year + index // 12, index % 12 + 1)
        assert r.day == min(start.day, calendar.monthrange(r.year, r.month)[1])


@settings(max_examples=200, deadline=None)
@given(FREQUENCY, START, st.one_of(st.none(), st.integers(60, 700)),
       st.lists(st.integers(-40, 800), min_size=3, max_size=3))
def test_run_dates_over_a_to_c_are_those_over_a_to_b_then_b_to_c(frequency, start, length, offsets):
    end = None if length is None else start + timedelta(days=length)
    schedule = make_schedule(frequency=frequency, start=start, end=end)
    a, b, c = (start + timedelta(days=o) for o in sorted(offsets))
    assert run_dates(schedule, a, c) == run_dates(schedule, a, b) + run_dates(schedule, b, c)
    assert run_dates(schedule, None, c) == run_dates(schedule, None, b) + run_dates(schedule, b, c)


@settings(max_examples=200, deadline=None)
@given(FREQUENCY, START, st.one_of(st.none(), st.integers(60, 700)), st.integers(-40, 800))
def test_next_run_date_is_the_first_run_date_after_and_none_lies_between(frequency, start, length, offset):
    end = None if length is None else start + timedelta(days=length)
    schedule = make_schedule(frequency=frequency, start=start, end=end)
    after = start + timedelta(days=offset)
    following = next_run_date(schedule, after)
    later = run_dates(schedule, after, after + timedelta(days=200))
    if following is None:
        assert end is not None and later == ()
    else:
        assert following > after
        assert later[0] == following
        assert run_dates(schedule, after, following - timedelta(days=1)) == ()


RULES = st.sampled_from([
    "FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;BYDAY=MO,FR", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
    "FREQ=MONTHLY;BYMONTHDAY=7,-1", "FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=MONTHLY;BYMONTHDAY=-2",
    "FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15", "FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=1",
    "FREQ=YEARLY;BYYEARDAY=100", "FREQ=WEEKLY;COUNT=5", "FREQ=MONTHLY;COUNT=3;BYMONTHDAY=10",
])


@settings(max_examples=200, deadline=None)
@given(RULES, st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
       st.one_of(st.none(), st.integers(400, 900)), st.integers(0, 900), st.integers(0, 900))
def test_rrule_run_dates_are_dateutils_within_start_and_end(rule, start, length, x, y):
    end = None if length is None else start + timedelta(days=length)
    schedule = make_schedule(rrule=rule, start=start, end=end)
    after, through = start + timedelta(days=min(x, y)), start + timedelta(days=max(x, y))
    expected = tuple(r for r in rrule_oracle(rule, start, through) if r > after and (end is None or r <= end))
    assert run_dates(schedule, after, through) == expected


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FREQUENCY, START.filter(lambda s: date(2000, 1, 1) <= s <= date(2025, 1, 1)), st.integers(20, 200))
def test_schedule_list_shows_the_spec_run_dates_through_the_cli(inv, frequency, start, length):
    # `inv` only provides the environment (fixed clock, UTC); each example has its own database.
    end = start + timedelta(days=length)
    with tempfile.TemporaryDirectory() as tmp:
        cli = Invoicer(Path(tmp) / "book.db", inv.monkeypatch)
        line = cli.line("C-1", "Design")
        expected = [x.isoformat() for x in expected_dates(frequency, start, end, end)]
        cli.ok("schedule", "add", line, "--frequency", frequency, "--start", start.isoformat(), "--allow-past",
               "--end", end.isoformat())
        assert listed(cli, line) == expected
