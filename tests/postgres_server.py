"""A real, throwaway PostgreSQL server for the tests.

:func:`running_postgres` runs ``initdb`` in a new temporary directory, starts
the server on a free loopback port (its socket in that directory too), creates
a database and yields its SQLAlchemy URL; afterwards it stops the server and
removes the directory.  PostgreSQL refuses to run as root, so as root every
server command runs as the unprivileged ``postgres`` user that Debian's package
creates (``runuser -u postgres --``).

The server binaries are looked up in ``$SERVICEGOALS_PG_BINDIR`` when it is
set, else in ``/usr/lib/postgresql/<newest>/bin``, then on ``PATH``.  ``.ci/run`` installs the
``postgresql`` package when none is found; a server that still cannot start is
an error with the server's log, never a silent skip.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DATABASE = "servicegoals_test"
_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The throwaway server could not be found or started; says why."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``."""
    given = os.environ.get("SERVICEGOALS_PG_BINDIR")

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name))

    if given:  # an explicit choice, never replaced by another server
        candidates = [Path(given)]
    else:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
        found = shutil.which("pg_ctl")
        if found:
            candidates.append(Path(found).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on "
        "PATH; install them (Debian: apt-get install postgresql; .ci/run does this) or set "
        "SERVICEGOALS_PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Server:
    """One cluster in a temporary directory; commands run as a non-root user."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                account = pwd.getpwnam(_USER)
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user to run the server as "
                    "(PostgreSQL refuses to run as root)"
                ) from None
        # Not pytest's tmp_path: that one is private to root, the server user
        # must be able to reach its directory.
        self.root = Path(tempfile.mkdtemp(prefix="servicegoals-pg-"))
        if self.as_root:
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0

    def run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", _USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}"
            )

    def start(self) -> str:
        self.run(
            "initdb", "-D", str(self.data), "-U", _USER, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        for attempt in range(3):  # another process may take the port in between
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                         "-w", "-t", "60", "start")  # fmt: skip
                break
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", _USER, DATABASE)
        return f"postgresql+psycopg://{_USER}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a throwaway server; yield a SQLAlchemy URL of its empty database."""
    server = _Server()
    try:
        yield server.start()
    finally:
        server.stop()
