"""A throwaway PostgreSQL cluster for the tests and the bench: initdb in a temporary folder,
a server on a loopback port, stopped and removed at the end.

initdb and postgres refuse to run as root, and CI runs as root: then the cluster is made
and run as the `postgres` user (Debian's postgresql package creates it). Found where
Debian installs the server (/usr/lib/postgresql/N/bin) or on PATH."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass

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


def start(fast: bool = True) -> Cluster:
    """A new cluster, started. `fast`: no fsync (tests kill clients, never the server)."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError(HOW_TO_INSTALL)
    folder = tempfile.mkdtemp(prefix="invoicer-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    os.chmod(folder, 0o755)
    data = f"{folder}/data"
    subprocess.run([*as_user, f"{binaries}/initdb", "-D", data, "-U", "invoicer", "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True)
    port = _free_port()
    settings = [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {folder}", "-c max_connections=200"]
    if fast:
        settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    subprocess.run([*as_user, f"{binaries}/pg_ctl", "-D", data, "-w", "-l", f"{folder}/log", "-o", " ".join(settings),
                    "start"], check=True, capture_output=True)
    return Cluster(folder, port, binaries, as_user)
