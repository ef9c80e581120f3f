"""The one place that says what time it is. Tests and replays set INVOICER_NOW (an ISO
date-time, or a date); INVOICER_TZ names the time zone of "today" (default: local)."""

import os
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from invoicer.errors import InputError


def zone() -> tzinfo:
    name = os.environ.get("INVOICER_TZ")
    if not name:
        # The system's zone with its DST rules, not today's fixed offset: a moment stored
        # in summer must read back right in winter.
        from dateutil.tz import tzlocal

        return tzlocal()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"INVOICER_TZ: {name!r} is not a known time zone") from None


_UTC = ZoneInfo("UTC")
# The moments invoicer can count whole days from: the Sleep step's timer adds up to two
# days to a stored moment, read back in any zone (offsets under a day). A clock outside is
# refused; a stored moment outside (written by an older invoicer) is read as the nearest end.
EARLIEST = datetime(1, 1, 2, tzinfo=_UTC)
LATEST = datetime(9999, 12, 28, 23, 59, 59, 999999, tzinfo=_UTC)


def now() -> datetime:
    fixed = os.environ.get("INVOICER_NOW")
    if not fixed:
        return _within_calendar(datetime.now(zone()), "the system clock")
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise InputError(f"INVOICER_NOW: {fixed!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone())
    return _within_calendar(moment, f"INVOICER_NOW: {fixed!r}").astimezone(zone())


def _within_calendar(moment: datetime, what: str) -> datetime:
    try:
        inside = EARLIEST <= moment <= LATEST
    except OverflowError:  # year 1 or 9999 with an offset: past the calendar in UTC
        inside = False
    if not inside:
        raise InputError(f"{what} is too near an end of the calendar to be stored "
                         f"(the clock must be between {EARLIEST.date()} and {LATEST.date()} UTC)")
    return moment


def today() -> date:
    return now().date()


def start_of_day_after(moment: datetime) -> datetime:
    """Midnight of the day after `moment`, in the same time zone: the Sleep step's timer
    counts whole calendar days so that a daily cron never drifts."""
    local = moment.astimezone(zone())
    return datetime.combine(local.date() + timedelta(days=1), time(), local.tzinfo)


def to_iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(zone()).isoformat(timespec="seconds")


def stamp() -> str:
    """The current time as stored: UTC ISO 8601, which sorts as text."""
    return now().astimezone(_UTC).isoformat(timespec="microseconds")


def from_stamp(text: str | None) -> datetime | None:
    """A stored moment, in the zone of "today". One outside EARLIEST..LATEST is read as
    that end, so that no later command overflows on it."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    try:
        moment = min(max(moment, EARLIEST), LATEST)
    except OverflowError:  # an offset that takes it past the calendar in UTC
        moment = EARLIEST if moment.year == 1 else LATEST
    return moment.astimezone(zone())
