"""The invoice run (`run-once`, and the Process step of a workflow): the gate, the Sleep
step, and the Process step that turns every due line into draft invoices in one
transaction. The store does the set-based work; the engine holds the rules."""

import shlex
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import islice

from invoicer import clock, engine, schedules
from invoicer.errors import InputError, NotConfigured
from invoicer.model import Instance, RunResult
from invoicer.store import Store, schedule_from_row

SETUP_HINT = (
    'set it up with: invoicer job create "Project operations create invoices" && '
    'invoicer job run-workflow "Project operations create invoices" --workflow ProcessRunCaller'
)


def start_hint(store: Store) -> str:
    """What to type when no workflow instance is running, by where the book stands."""
    jobs = [(job, store.instance(job)) for job in store.jobs() if engine.is_invoice_job_name(job.name)]
    if not jobs:
        return SETUP_HINT
    # The job whose workflow was stopped comes first (it is the one cron was running), then
    # an active job; by name among equals.
    job, instance = min(jobs, key=lambda pair: (pair[1] is None, not pair[0].active, pair[0].name))
    quoted = shlex.quote(job.name)
    if instance is not None:
        activate = "" if job.active else f"invoicer job update {quoted} --active && "
        return (f"the workflow of the job {job.name!r} was stopped{'' if job.active else ' and the job is inactive'}; "
                f"start it again with: {activate}invoicer job restart {quoted}")
    if not job.active:
        return f"the job {job.name!r} is inactive; activate it with: invoicer job update {quoted} --active"
    return f"start the job's workflow with: invoicer job run-workflow {quoted} --workflow ProcessRunCaller"


def run_once(store: Store, run_date: date | None, dry_run: bool = False, force: bool = False,
             allow_future: bool = False, shown: int | None = None, as_json: bool = False) -> RunResult:
    """One call of the run, as cron makes it. `shown` keeps only that many invoices in the
    result (a summary for people); `as_json` gives every invoice as its JSON text, read
    once the run is committed (see _process_step). The run itself is the same."""
    today = clock.today()
    run_date = run_date or today
    if run_date > today and not dry_run and not allow_future:
        raise InputError(
            f"date: {run_date} is after today ({today}); a real run would close run dates before "
            "their transactions exist (use --dry-run to look ahead, or --allow-future)"
        )
    with store.writing(rollback=dry_run, linked_by_joins=True):
        instance = store.running_instance()
        if instance is None:
            raise NotConfigured(f"no running workflow instance of a \"create invoices\" job; {start_hint(store)}")
        if not instance.job_active or not engine.is_invoice_job_name(instance.job_name):
            raise NotConfigured(
                f"the job {instance.job_name!r} is inactive, so its workflow does not run; "
                f"activate it with: invoicer job update {shlex.quote(instance.job_name)} --active"
            )
        return process(store, instance, run_date, force=force, dry_run=dry_run, shown=shown, as_json=as_json)


def process(store: Store, instance: Instance, run_date: date, force: bool = False,
            dry_run: bool = False, shown: int | None = None, as_json: bool = False) -> RunResult:
    """One Process step for `run_date`, inside the caller's transaction; or `sleeping`."""
    if not force and engine.is_sleeping(run_date, store.has_run_for(run_date), instance):
        following = run_date + timedelta(days=1) if run_date < date.max else None
        return RunResult(status="sleeping", run_date=run_date, next_due=following)
    return _process_step(store, instance, run_date, force, dry_run, shown, as_json)


def forecast(store: Store, run_date: date, line_id: int) -> RunResult:
    """What a Process step for `run_date` would make now of one line, job or no job: the
    invoices it would put the line on, and the line's skips. The caller's transaction
    must be rolled back."""
    return _process_step(store, None, run_date, forced=True, dry_run=True, line_id=line_id)


def _process_step(store: Store, instance: Instance | None, run_date: date, forced: bool,
                  dry_run: bool, shown: int | None = None, as_json: bool = False,
                  line_id: int | None = None) -> RunResult:
    latest_run_date = store.latest_run_date()
    run_id = store.begin_run(instance, run_date, forced=forced)
    plans = []
    for kind in store.due_schedule_kinds(run_date):
        schedule = schedule_from_row(kind)
        processed = date.fromisoformat(kind["processed_through"]) if kind["processed_through"] else None
        # Streamed into the store, never held: a catch-up of centuries stays flat in memory.
        pending = ((d.isoformat(), _iso(engine.cutoff(d))) for d in schedules.iter_run_dates(schedule, processed, run_date))
        # The pending run dates are all on or before run_date: what follows them does not
        # depend on which they are.
        following = schedules.next_after(schedule, run_date, processed)
        plans.append((kind, pending, _iso(following)))
    store.stage_due_run_dates(run_date, plans, run_id)
    store.stage_billable(run_date, latest_run_date)
    for capped, headroom in store.lines_over_cap():
        store.hold_transactions(capped, engine.held_by_cap(store.billable_transactions(capped), headroom))
    store.write_invoices(run_id)
    store.write_skips(run_id, run_date)
    store.end_run(run_id)
    status = "dry-run" if dry_run else "completed"
    if as_json:
        # A month-end prints 100,000 invoices: each is read as its JSON text when printed,
        # after the commit, so that neither the run's result nor its document is ever held
        # whole. A dry run's are read before its rollback, into a temporary file.
        documents, skipped = store.invoice_documents(run_id, dry_run=dry_run), store.iter_run_skips(run_id)
        if dry_run:
            documents, skipped = _spooled(documents), tuple(skipped)
        return RunResult(status=status, run_date=run_date, documents=documents, skipped=skipped,
                         run_id=None if dry_run else run_id)
    invoices = store.invoices(run_id=run_id, first=shown, line_id=line_id)
    skipped = store.run_skips(run_id, line_id=line_id)
    if dry_run:
        invoices = [invoice._replace(number=None, status="dry-run") for invoice in invoices]
    return RunResult(status=status, run_date=run_date, invoices=tuple(invoices), skipped=tuple(skipped),
                     invoice_count=store.count_invoices(run_id), run_id=None if dry_run else run_id)


def _spooled(texts: Iterable[str]) -> Iterator[str]:
    """The texts, written now to a temporary file, one a line, and read back as iterated:
    what a dry run prints must be read before its rollback, and is printed after it, so
    that the book is not held locked while a slow reader (a pager) reads, nor a month-end
    held in memory. JSON text holds no newline of its own."""
    spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")
    texts = iter(texts)
    # A few hundred at a write: two writes a text took twice as long at 100,000 (0.15-0.21 s
    # against 0.08 s, written and read back).
    for chunk in iter(lambda: list(islice(texts, 500)), []):
        spool.write("\n".join(chunk))
        spool.write("\n")
    spool.seek(0)
    return _read_back(spool)


def _read_back(spool) -> Iterator[str]:
    with spool:
        for line in spool:
            yield line[:-1]


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
