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


def now() -> datetime:
    fixed = os.environ.get("INVOICER_NOW")
    if not fixed:
        return datetime.now(zone())
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise InputError(f"INVOICER_NOW: {fixed!r} is not an ISO date-time") from None
    return moment.replace(tzinfo=zone()) if moment.tzinfo is None else moment.astimezone(zone())


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
    return now().astimezone(ZoneInfo("UTC")).isoformat(timespec="microseconds")


def from_stamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(zone())
