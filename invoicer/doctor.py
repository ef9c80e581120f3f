"""`invoicer doctor`: is this database healthy, and is the job going to bill what it should?
Each check says ok or what needs an operator; the exit code is that of the worst finding."""

from dataclasses import dataclass

from invoicer import billing, clock, engine
from invoicer.model import Skip
from invoicer.store import SCHEMA_VERSION, Store


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    exit_code: int = 0  # what this finding makes `doctor` exit with when not ok


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    skipped: tuple[Skip, ...]

    @property
    def exit_code(self) -> int:
        """That of the most serious finding: the checks are made in order of seriousness."""
        return next((c.exit_code for c in self.checks if not c.ok), 0)


def examine(store: Store) -> Report:
    """The checks, most serious first: a damaged file, a stalled workflow, one not set up,
    then lines that will not be billed."""
    with store.reading(checked=False):  # it reports the damage itself
        checks = []
        problems = store.integrity_problems()
        checks.append(Check("integrity", not problems, "; ".join(problems[:5]) or store.INTEGRITY_CHECKED, 1))
        checks.append(Check("schema", True, f"schema version {SCHEMA_VERSION}"))
        running = store.running_instances()
        instance = store.running_instance()
        now = clock.now()
        if instance is not None and engine.is_stalled(instance, instance.job_active, now):
            checks.append(Check("stalled", False, f"the workflow has stopped running: the Process step due "
                                f"{clock.to_iso(engine.next_due(instance))} did not run "
                                "(run `invoicer run-once`, or `invoicer job restart NAME`)", 5))
        if instance is None:
            checks.append(Check("workflow", False, "no running workflow instance: cron's run-once will exit 4; "
                                + billing.start_hint(store), 4))
        elif not instance.job_active:
            checks.append(Check("workflow", False, f"the job {instance.job_name!r} is inactive: its workflow "
                                "does not run (invoicer job update NAME --active)", 4))
        else:
            checks.append(Check("workflow", running == 1,
                                f"{running} running instance(s): {instance.workflow} of {instance.job_name!r}; "
                                f"next Process due {clock.to_iso(engine.next_due(instance))}", 1))
        skipped = store.standing_skips(clock.today())
        checks.append(Check("lines", not skipped,
                            f"{len(skipped)} line(s) batch invoicing will pass over" if skipped
                            else "every line is configured by an invoice schedule", 1))
        closed, undone = store.count_closed_lines(), store.count_undone_runs()
        if closed:
            checks.append(Check("closed", True, f"{closed} closed line(s), not billed nor listed here "
                                "(see `invoicer contract list`; reopen one with `invoicer contract reopen-line ID`)"))
        if undone:
            checks.append(Check("undone", True, f"{undone} undone run(s), kept in `invoicer run list`; "
                                "they count as no Process step"))
        return Report(tuple(checks), tuple(skipped))
