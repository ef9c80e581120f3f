"""The batch jobs and their workflow instances."""


from invoicer import clock
from invoicer.errors import InvoicerError, NotFound
from invoicer.model import (
    Instance,
    Job,
)
from invoicer.store.connection import Connection
from invoicer.store.rows import _instance, _job


class Jobs(Connection):
    """Batch jobs and their workflow instances."""

    def add_job(self, name: str, job_type: str, frequency: str, active: bool) -> Job:
        existing = self._one(f"SELECT name FROM jobs WHERE {self.sql.nocase('name', '?')}", [name])  # unique whatever the case
        if existing:
            alike = "" if existing["name"] == name else " (job names are unique whatever their case)"
            raise InvoicerError(f"name: a job named {existing['name']!r} already exists{alike}")
        self.conn.execute("INSERT INTO jobs (name, job_type, frequency, active, created_at) VALUES (?, ?, ?, ?, ?)",
                          [name, job_type, frequency, int(active), clock.stamp()])
        return self.job(name)

    def jobs(self) -> list[Job]:
        return [_job(row) for row in self._rows("SELECT * FROM jobs ORDER BY name")]

    def job(self, name: str) -> Job:
        row = self._one(f"SELECT * FROM jobs WHERE {self.sql.nocase('name', '?')}", [name])
        if row is None:
            raise NotFound(f"no job named {name!r} (see `invoicer job list`)")
        return _job(row)

    def set_job_active(self, job: Job, active: bool) -> None:
        self.conn.execute("UPDATE jobs SET active = ? WHERE id = ?", [int(active), job.id])

    _INSTANCE = """
        SELECT w.*, j.name AS job_name, j.active AS job_active,
               (SELECT max(r.ended_at) FROM runs r
                 WHERE r.instance_id = w.id AND r.undone_at IS NULL) AS last_end
          FROM workflow_instances w JOIN jobs j ON j.id = w.job_id
    """

    def instance(self, job: Job) -> Instance | None:
        row = self._one(self._INSTANCE + " WHERE w.job_id = ?", [job.id])
        return _instance(row) if row else None

    def running_instance(self) -> Instance | None:
        row = self._one(self._INSTANCE + " WHERE w.state = 'running'", [])
        return _instance(row) if row else None

    def start_instance(self, job: Job, workflow: str) -> None:
        """A fresh start: a job's one instance row is (re)used, started now."""
        self.conn.execute(
            """INSERT INTO workflow_instances (job_id, workflow, state, started_at)
               VALUES (?, ?, 'running', ?)
               ON CONFLICT (job_id) DO UPDATE SET workflow = excluded.workflow,
                   state = 'running', started_at = excluded.started_at, stopped_at = NULL""",
            [job.id, workflow, clock.stamp()],
        )

    def stop_instance(self, instance: Instance) -> None:
        self.conn.execute(
            "UPDATE workflow_instances SET state = 'stopped', stopped_at = ? WHERE id = ?",
            [clock.stamp(), instance.id],
        )

    def running_instances(self) -> int:
        return self.conn.execute("SELECT count(*) FROM workflow_instances WHERE state = 'running'").fetchone()[0]
