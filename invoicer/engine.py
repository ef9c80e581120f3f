"""The rules of the invoice run and of the workflow's timer, as pure functions over plain
values: no database, no terminal. The store applies them to every due line at once."""

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from invoicer import clock
from invoicer.model import PROCESS_RUN_CALLER, Instance


_INVOICE_JOB = re.compile(r"\bcreate\s+invoices\b", re.IGNORECASE)


def is_invoice_job_name(name: str) -> bool:
    """A batch job creates invoices when its name includes the words "create invoices",
    in that order, separated by white space (the seed's step 2)."""
    return bool(_INVOICE_JOB.search(name))


def cutoff(invoice_run_date: date) -> date | None:
    """A run date bills transactions dated up to the day before it (None: there is no day
    before 0001-01-01, so nothing can be billed on it)."""
    return None if invoice_run_date == date.min else invoice_run_date - timedelta(days=1)


def held_by_cap(items: Iterable[tuple[int, int]], headroom: int) -> list[int]:
    """The not-to-exceed rule: taken in billing order, each item that fits within what the
    limit has left is billed; one that does not fit is held back. Returns the held ids."""
    held = []
    for item_id, amount in items:
        if amount <= headroom:
            headroom -= amount
        else:
            held.append(item_id)
    return held


def returned_quantity(quantity: str | None, credited: int, billed: int) -> str | None:
    """The quantity of what a credit returns: in proportion to the amount credited,
    rounded half up to the original quantity's own decimals (none if it had none)."""
    if quantity is None:
        return None
    original = Decimal(quantity)
    with localcontext() as ctx:
        ctx.prec = 80
        share = original * credited / billed
        return str(share.quantize(Decimal(1).scaleb(min(original.as_tuple().exponent, 0)), rounding=ROUND_HALF_UP))


def is_sleeping(run_date: date, processed_already: bool, instance: Instance) -> bool:
    """The Sleep step has not ended for `run_date`: a Process step already ran for it, or
    the instance was started with ProcessRunCaller on that day."""
    started_on = instance.started_at.astimezone(clock.zone()).date()
    return processed_already or (instance.workflow == PROCESS_RUN_CALLER and started_on == run_date)


def next_due(instance: Instance) -> datetime:
    """When the next Process step is due: the start of the day after the latest Process
    step's end, or after the instance's start when it has not processed since."""
    latest = max(instance.started_at, instance.last_end or instance.started_at)
    return clock.start_of_day_after(latest)


def is_stalled(instance: Instance, active: bool, now: datetime) -> bool:
    """A running instance of an active job whose next Process is over a day overdue: cron
    missed a whole day."""
    return instance.running and active and now > next_due(instance) + timedelta(days=1)


def step(instance: Instance | None, now: datetime) -> str | None:
    if instance is None:
        return None
    if not instance.running:
        return "Stopped"
    return "Sleep" if now < next_due(instance) else "Process"
