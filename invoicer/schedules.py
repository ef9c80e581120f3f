"""Invoice run dates from a date-based schedule, made by python-dateutil's rrule.

Run dates are plain dates: no time of day, no time zone, no DST. Results are memoised
by schedule, so a book of a hundred thousand lines on the same monthly schedule costs
one rrule expansion per run."""

import re
from datetime import date, datetime, time, timedelta
from collections.abc import Iterator
from functools import lru_cache

from invoicer.errors import InputError
from invoicer.model import DateSchedule
from invoicer.values import choice

FREQUENCIES = ("daily", "weekly", "biweekly", "semimonthly", "monthly", "quarterly")

# Searching a rule that may never match (FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30) is bounded.
_HORIZON = timedelta(days=366 * 400)
_TOO_FINE = re.compile(r"\b(BYHOUR|BYMINUTE|BYSECOND)\b")


def make_schedule(frequency=None, rrule=None, dates=None, start=None, end=None) -> DateSchedule:
    """Check a schedule as an operator entered it; refuse one that yields no run date."""
    kinds = [k for k, v in (("--frequency", frequency), ("--rrule", rrule), ("--dates", dates)) if v is not None]
    if len(kinds) != 1:
        raise InputError("schedule: give exactly one of --frequency, --rrule or --dates")
    if dates is not None:
        if start is not None or end is not None:
            raise InputError("dates: --start and --end do not apply to explicit --dates")
        schedule = DateSchedule(dates=tuple(sorted(set(dates))))
    else:
        if start is None:
            raise InputError(f"start: {kinds[0]} needs --start (the billing start date)")
        if end is not None and end < start:
            raise InputError(f"end: {end} is before the start {start}")
        if frequency is not None:
            frequency = choice(frequency, FREQUENCIES, "frequency")
            schedule = DateSchedule(frequency=frequency, start=start, end=end)
        else:
            schedule = DateSchedule(rrule=_check_rrule(rrule, start), start=start, end=end)
    if next_run_date(schedule, None) is None:
        raise InputError("schedule: it yields no invoice run date at all")
    return schedule


def _check_rrule(text: str, start: date) -> str:
    rule = text.strip().upper()
    if rule.startswith("RRULE:"):
        rule = rule[len("RRULE:"):]
    if "DTSTART" in rule:
        raise InputError("rrule: a rule may not carry a DTSTART of its own; --start sets it")
    if "\n" in rule or ":" in rule:
        raise InputError("rrule: give one RRULE, like FREQ=MONTHLY;BYMONTHDAY=7,-1")
    if _TOO_FINE.search(rule):
        raise InputError("rrule: BYHOUR, BYMINUTE and BYSECOND are finer than a day")
    try:
        parsed = _rule(DateSchedule(rrule=rule, start=start))
    except (ValueError, TypeError) as error:
        # dateutil's own words help when they name a part ("unknown parameter name"), not otherwise.
        said = str(error) if isinstance(error, ValueError) and "unpack" not in str(error) else ""
        raise InputError(f"rrule: {text!r} is not a valid RFC 5545 rule like FREQ=MONTHLY;BYMONTHDAY=1"
                         + (f" ({said})" if said else "")) from None
    if parsed._freq > 3:  # HOURLY, MINUTELY, SECONDLY
        raise InputError("rrule: a rule finer than daily cannot make invoice run dates")
    # dateutil takes what RFC 5545 forbids: INTERVAL=0 loops forever, a negative one crashes.
    if parsed._interval < 1:
        raise InputError("rrule: INTERVAL must be a positive whole number")
    if re.search(r"BYMONTHDAY=([^;]*,)?[+-]?0+(,|;|$)", rule):
        raise InputError("rrule: BYMONTHDAY=0 is not a day of the month")
    names = [part.split("=")[0] for part in rule.split(";") if part]
    if repeated := next((name for name in names if names.count(name) > 1), None):
        raise InputError(f"rrule: {repeated} is given twice; a rule gives each part once")
    # dateutil crashes on a weekday's ordinal past the month's or the year's (BYDAY=+99MO).
    days = re.search(r"BYDAY=([^;]*)", rule)
    within_month = parsed._freq == 1 or (parsed._freq == 0 and "BYMONTH=" in rule)  # MONTHLY, YEARLY
    most = 5 if within_month else 53
    for ordinal in re.findall(r"([+-]?\d+)[A-Z]{2}", days.group(1) if days else ""):
        if not 1 <= abs(int(ordinal)) <= most:
            raise InputError(f"rrule: BYDAY={days.group(1)}: the ordinal of a weekday is from 1 to {most} "
                             f"(or -{most} to -1) {'in a month' if within_month else 'in a year'}")
    return rule


@lru_cache(maxsize=4096)
def _rule(schedule: DateSchedule):
    from dateutil import rrule as rr

    start = datetime.combine(schedule.start, time())
    if schedule.rrule:
        return rr.rrulestr(schedule.rrule, dtstart=start)
    freq = schedule.frequency
    if freq == "daily":
        return rr.rrule(rr.DAILY, dtstart=start)
    if freq in ("weekly", "biweekly"):
        return rr.rrule(rr.WEEKLY, dtstart=start, interval=1 if freq == "weekly" else 2)
    if freq == "semimonthly":
        return rr.rrule(rr.MONTHLY, dtstart=start, bymonthday=(15, -1))
    interval = 1 if freq == "monthly" else 3
    day = schedule.start.day
    if day >= 29:
        # The 29th-31st fall on the last day of shorter months: the first of {day, last}.
        return rr.rrule(rr.MONTHLY, dtstart=start, interval=interval, bymonthday=(day, -1), bysetpos=1)
    return rr.rrule(rr.MONTHLY, dtstart=start, interval=interval, bymonthday=day)


@lru_cache(maxsize=65536)
def run_dates(schedule: DateSchedule, after: date | None, through: date) -> tuple[date, ...]:
    """The run dates d with after < d <= through (and within start..end)."""
    if schedule.end is not None:
        through = min(through, schedule.end)
    if schedule.dates:
        return tuple(d for d in schedule.dates if (after is None or d > after) and d <= through)
    low = _first_candidate(schedule, after)
    if low is None or low > through:
        return ()
    found = _rule(schedule).between(datetime.combine(low, time()), datetime.combine(through, time()), inc=True)
    return tuple(moment.date() for moment in found)


# Named frequencies that are a fixed number of days apart: counted, not searched by rrule
# (a tenth of the time: a daily schedule started centuries ago has a million run dates).
_STEP_DAYS = {"daily": 1, "weekly": 7, "biweekly": 14}


def iter_run_dates(schedule: DateSchedule, after: date | None, through: date) -> Iterator[date]:
    """The run dates d with after < d <= through, as run_dates() gives them, one at a time:
    a catch-up over many years stays flat in memory."""
    if schedule.end is not None:
        through = min(through, schedule.end)
    if schedule.dates:
        yield from (d for d in schedule.dates if (after is None or d > after) and d <= through)
        return
    low = _first_candidate(schedule, after)
    if low is None or low > through:
        return
    step = _STEP_DAYS.get(schedule.frequency) if not schedule.rrule else None
    if step is not None:
        # The first day on the schedule's step from its start, on or after `low`.
        ahead = -(-(low - schedule.start).days // step) * step
        if ahead > (through - schedule.start).days:
            return
        day = schedule.start + timedelta(days=ahead)
        span = timedelta(days=step)
        while day <= through:
            yield day
            if through - day < span:
                return
            day += span
        return
    end = datetime.combine(through, time())
    try:
        for moment in _rule(schedule).xafter(datetime.combine(low, time()), inc=True):
            if moment > end:
                return
            yield moment.date()
    except (OverflowError, ValueError):
        return  # dateutil runs off the end of the calendar (year 9999)


@lru_cache(maxsize=65536)
def next_run_date(schedule: DateSchedule, after: date | None) -> date | None:
    """The first run date after `after` (the first of all when None), or None."""
    if schedule.dates:
        return next((d for d in schedule.dates if after is None or d > after), None)
    low = _first_candidate(schedule, after)
    if low is None or (schedule.end is not None and low > schedule.end):
        return None
    high = schedule.end if schedule.end is not None else (
        low + _HORIZON if low < date.max - _HORIZON else date.max)
    if not schedule.rrule and schedule.frequency in _STEP_DAYS:
        # Counted from the start, not searched from it (rrule walks every run date since).
        return next(iter_run_dates(schedule, after, high), None)
    try:
        moment = _rule(schedule).after(datetime.combine(low, time()), inc=True)
    except (OverflowError, ValueError):
        return None  # dateutil runs off the end of the calendar (year 9999)
    return moment.date() if moment is not None and moment.date() <= high else None


def next_after(schedule: DateSchedule, day: date, processed: date | None) -> date | None:
    """The first run date still to run after `day`: later than both `day` and the latest
    processed run date."""
    return next_run_date(schedule, day if processed is None else max(day, processed))


def _first_candidate(schedule: DateSchedule, after: date | None) -> date | None:
    """The first day a run date may fall on: the start, or the day after `after`."""
    if after is None or after < schedule.start:
        return schedule.start
    return None if after == date.max else after + timedelta(days=1)


def describe(schedule: DateSchedule) -> str:
    if schedule.dates:
        return "dates " + ", ".join(d.isoformat() for d in schedule.dates)
    what = schedule.frequency or f"rrule {schedule.rrule}"
    until = f" to {schedule.end}" if schedule.end else ""
    return f"{what} from {schedule.start}{until}"
