"""The batch job and its workflow instance (the seed's steps 1-6): the "create invoices"
name rule, the one running instance per database, status, stop and restart."""

import shlex

from invoicer import billing, clock, engine
from invoicer.errors import Conflict, InputError, InvoicerError
from invoicer.model import (
    PROCESS_RUN_CALLER,
    PROCESS_RUNNER,
    UPDATE_ROLE_UTILIZATION,
    WORKFLOWS,
    Job,
    JobStatus,
    RunResult,
)
from invoicer.store import Store
from invoicer.values import choice, parse_text

def create_job(store: Store, name: str, job_type: str = "None", frequency: str = "Daily",
               active: bool = True) -> Job:
    name = parse_text(name, "name")
    if not engine.is_invoice_job_name(name):
        raise InputError(f'name: {name!r} must include the words "create invoices" '
                         '(e.g. "Project operations create invoices")')
    job_type = _only(job_type, "None", "job-type", f"job-type: {job_type!r}: an invoice job's Job Type must be None")
    frequency = _only(frequency, "Daily", "frequency", f"frequency: {frequency!r}: the invoice job runs Daily")
    with store.writing():
        return store.add_job(name, job_type, frequency, active)


def _only(text, option: str, field: str, refusal: str) -> str:
    """The one value an invoice job takes, in any case, as the spec spells it."""
    try:
        return choice(text, (option,), field)
    except InputError:
        raise InputError(refusal) from None


def run_workflow(store: Store, name: str, workflow: str) -> tuple[JobStatus, RunResult | None]:
    """Start the job's workflow instance. ProcessRunner processes today at once."""
    workflow = choice(workflow, WORKFLOWS, "workflow")
    if workflow == UPDATE_ROLE_UTILIZATION:
        raise InputError(f"workflow: {UPDATE_ROLE_UTILIZATION} does not create invoices; "
                         f"use {PROCESS_RUN_CALLER} or {PROCESS_RUNNER}")
    if workflow not in WORKFLOWS:
        raise InputError(f"workflow: {workflow!r} is not one of {', '.join(WORKFLOWS)}")
    with store.writing():
        job = store.job(name)
        if not job.active:
            raise InvoicerError(f"the job {name!r} is inactive (Is Active: No); "
                                f"activate it with: invoicer job update {shlex.quote(name)} --active")
        running = store.running_instance()
        if running is not None:
            raise Conflict(
                f"a workflow instance is already running: {running.workflow} of job {running.job_name!r} "
                "(one instance per database; restart it only if it stops running)"
            )
        return _start(store, job, workflow)


def restart(store: Store, name: str) -> tuple[JobStatus, RunResult | None]:
    """A fresh start of the same workflow, allowed only when stopped or stalled."""
    with store.writing():
        job = store.job(name)
        instance = store.instance(job)
        if instance is None:
            raise InvoicerError(f"the job {name!r} has no workflow instance; start one with: "
                                f"invoicer job run-workflow {shlex.quote(name)} --workflow {PROCESS_RUN_CALLER}")
        if not job.active:
            raise InvoicerError(f"the job {name!r} is inactive (Is Active: No); "
                                f"activate it with: invoicer job update {shlex.quote(name)} --active")
        if instance.running and not engine.is_stalled(instance, job.active, clock.now()):
            raise Conflict(f"the workflow instance of {name!r} is running; restart it only if it stops running")
        running = store.running_instance()
        if running is not None and running.id != instance.id:
            raise Conflict(f"another workflow instance is running: {running.workflow} of job {running.job_name!r}")
        return _start(store, job, instance.workflow)


def _start(store: Store, job: Job, workflow: str) -> tuple[JobStatus, RunResult | None]:
    store.start_instance(job, workflow)
    result = None
    if workflow == PROCESS_RUNNER and job.active:
        result = billing.process(store, store.instance(job), clock.today())
    return _status(store, job), result


def stop(store: Store, name: str) -> JobStatus:
    with store.writing():
        job = store.job(name)
        instance = store.instance(job)
        if instance is None:
            raise InvoicerError(f"the job {name!r} has no workflow instance to stop")
        if not instance.running:
            raise InvoicerError(f"the workflow instance of {name!r} is already stopped")
        store.stop_instance(instance)
        return _status(store, job)


def update(store: Store, name: str, active: bool | None) -> JobStatus:
    if active is None:
        raise InputError("give --active or --inactive")
    with store.writing():
        job = store.job(name)
        store.set_job_active(job, active)
        return _status(store, store.job(name))


def status(store: Store, name: str | None = None) -> list[JobStatus]:
    with store.reading():
        jobs = [store.job(name)] if name else store.jobs()
        return [_status(store, job) for job in jobs]


def _status(store: Store, job: Job) -> JobStatus:
    instance = store.instance(job)
    now = clock.now()
    if instance is None:
        return JobStatus(job=job, instance=None, step=None, next_due=None, stalled=False)
    return JobStatus(
        job=job, instance=instance, step=engine.step(instance, now),
        next_due=engine.next_due(instance) if instance.running else None,
        stalled=engine.is_stalled(instance, job.active, now),
    )

