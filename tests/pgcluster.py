"""A throwaway PostgreSQL cluster for the tests and the bench: initdb in a temporary folder,
a server on a loopback port, stopped and removed at the end.

initdb and postgres refuse to run as root, and CI runs as root: then the cluster is made
and run as the `postgres` user (Debian's postgresql package creates it). Found where
Debian installs the server (/usr/lib/postgresql/N/bin) or on PATH.

Every role logs in without a password (trust) but one, PASSWORD_ROLE: its logins over TCP
need its password (scram-sha-256), for the tests of a refused login and of PGPASSWORD and
~/.pgpass. Its password is made anew for each cluster."""

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass

# The role whose logins need a password (a superuser, as `invoicer` is).
PASSWORD_ROLE = "invoicer_locked"

HOW_TO_INSTALL = "PostgreSQL is not installed: apt-get install postgresql (Debian), then run the tests again"


def server_binaries() -> str | None:
    """The folder of initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    folder: str
    port: int
    binaries: str
    as_user: list[str]
    password: str  # PASSWORD_ROLE's

    @property
    def uri(self) -> str:
        """The URI of its `postgres` database, as the superuser `invoicer`."""
        return self.uri_of("postgres")

    def uri_of(self, database: str, user: str = "invoicer") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        subprocess.run([*self.as_user, f"{self.binaries}/pg_ctl", "-D", f"{self.folder}/data", "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _memory() -> str | None:
    """A folder in memory (/dev/shm) where there is one: a test cluster's files there make
    each test's CREATE DATABASE a copy in memory, not 9 MB through the disk (a third of a
    second a test on a busy disk)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def start(fast: bool = True) -> Cluster:
    """A new cluster, started. `fast`: no fsync (tests kill clients, never the server), its
    files in memory where the machine has a folder for that."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError(HOW_TO_INSTALL)
    folder = tempfile.mkdtemp(prefix="invoicer-pg-", dir=_memory() if fast else None)
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    os.chmod(folder, 0o755)
    data = f"{folder}/data"
    subprocess.run([*as_user, f"{binaries}/initdb", "-D", data, "-U", "invoicer", "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True)
    # Before initdb's trust lines: the first line that matches a connection decides.
    with open(f"{data}/pg_hba.conf") as rules:
        trusted = rules.read()
    with open(f"{data}/pg_hba.conf", "w") as rules:
        rules.write(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
                    f"local all {PASSWORD_ROLE} scram-sha-256\n" + trusted)
    port = _free_port()
    settings = [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {folder}", "-c max_connections=200"]
    if fast:
        settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    subprocess.run([*as_user, f"{binaries}/pg_ctl", "-D", data, "-w", "-l", f"{folder}/log", "-o", " ".join(settings),
                    "start"], check=True, capture_output=True)
    cluster = Cluster(folder, port, binaries, as_user, secrets.token_urlsafe(18))
    import psycopg

    with psycopg.connect(cluster.uri, autocommit=True) as admin:
        # Sent as a literal: the server hashes it (password_encryption is scram-sha-256).
        admin.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN SUPERUSER PASSWORD '{cluster.password}'")
    return cluster
