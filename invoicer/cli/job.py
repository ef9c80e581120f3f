"""`invoicer job ...`: the batch job and its workflow instance (the seed's steps 1-6)."""

from typing import Annotated

import typer

from invoicer import jobs, render
from invoicer.cli.common import Json, group, store

app = group("The batch job that creates invoices, and its workflow instance.")

Name = Annotated[str, typer.Argument(help='The job\'s name; it must include "create invoices".')]


@app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    job_type: Annotated[str, typer.Option("--job-type", help="Must be None for an invoice job.")] = "None",
    frequency: Annotated[str, typer.Option("--frequency", help="Daily.")] = "Daily",
    active: Annotated[bool, typer.Option("--active/--inactive", help="Is Active.")] = True,
    json_output: Json = False,
) -> None:
    """Create the batch job (steps 2-3).

    Example: invoicer job create "Project operations create invoices"
    """
    job = jobs.create_job(store(ctx), name, job_type, frequency, active)
    if json_output:
        render.emit({"id": job.id, "name": job.name, "job_type": job.job_type, "frequency": job.frequency,
                     "active": job.active})
    else:
        render.say(f"created job {job.id}: {job.name} (Job Type {job.job_type}, Frequency {job.frequency}, "
                   f"Is Active {'Yes' if job.active else 'No'})")


@app.command("run-workflow")
def run_workflow(
    ctx: typer.Context,
    name: Name,
    workflow: Annotated[str, typer.Option("--workflow", help="ProcessRunCaller or ProcessRunner.")],
    json_output: Json = False,
) -> None:
    """Start the job's workflow instance (steps 4-6): ProcessRunCaller sleeps, then processes;
    ProcessRunner processes today at once, then sleeps. Only one instance per database.

    Example: invoicer job run-workflow "Project operations create invoices" --workflow ProcessRunCaller
    """
    status, result = jobs.run_workflow(store(ctx), name, workflow)
    _started(status, result, json_output)


@app.command("restart")
def restart(ctx: typer.Context, name: Name, json_output: Json = False) -> None:
    """Start a stopped or stalled instance again, as a fresh start of the same workflow.

    Example: invoicer job restart "Project operations create invoices"
    """
    status, result = jobs.restart(store(ctx), name)
    _started(status, result, json_output)


def _started(status, result, json_output: bool) -> None:
    if json_output:
        document = render.job_json(status)
        document["process"] = None if result is None else render.run_result_json(result)
        render.emit(document)
        return
    first = "Process, then Sleep" if status.instance.workflow == "ProcessRunner" else "Sleep, then Process"
    render.say(f"started {status.instance.workflow} for {status.job.name!r}: {first}; "
               f"next Process due {render.iso(status.next_due)}")
    if result is not None:
        render.show_run_result(result)


@app.command("stop")
def stop(ctx: typer.Context, name: Name, json_output: Json = False) -> None:
    """Stop the job's workflow instance.

    Example: invoicer job stop "Project operations create invoices"
    """
    status = jobs.stop(store(ctx), name)
    if json_output:
        render.emit(render.job_json(status))
    else:
        render.say(f"stopped the {status.instance.workflow} instance of {status.job.name!r}")


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Is Active.")] = None,
    json_output: Json = False,
) -> None:
    """Set Is Active. An inactive job's instance stays but does not run.

    Example: invoicer job update "Project operations create invoices" --inactive
    """
    status = jobs.update(store(ctx), name, active)
    if json_output:
        render.emit(render.job_json(status))
    else:
        render.say(f"{status.job.name!r}: Is Active {'Yes' if status.job.active else 'No'}")


@app.command("status")
def status(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One job; all when left out.")] = None,
    json_output: Json = False,
) -> None:
    """Each job's workflow instance: its step, last Process end, next due, and whether it
    has stopped running (exit 5 when one has).

    Example: invoicer job status --json
    """
    statuses = jobs.status(store(ctx), name)
    if json_output:
        render.emit({"jobs": [render.job_json(s) for s in statuses]})
    else:
        render.show_jobs(statuses)
    if any(s.stalled for s in statuses):
        raise typer.Exit(5)


@app.command("list")
def list_(ctx: typer.Context, json_output: Json = False) -> None:
    """The jobs.

    Example: invoicer job list
    """
    statuses = jobs.status(store(ctx))
    if json_output:
        render.emit({"jobs": [render.job_json(s) for s in statuses]})
    else:
        render.show_jobs(statuses)
