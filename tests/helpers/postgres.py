"""A private, throw-away PostgreSQL server (initdb + pg_ctl on a free port) for tests that
must stop or kill the database under a running Watchkeeper. The machine's own server is
left alone. PostgreSQL refuses to run as root, so as root the server runs as ``postgres``."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.ports import free_port as _free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: postgresql)")
    return found[-1]


class PrivatePostgres:
    def __init__(self) -> None:
        # its own folder right under /tmp: pytest's tmp_path lies below folders only root
        # may enter, and the server may have to run as postgres
        self.directory = Path(tempfile.mkdtemp(prefix="wk-postgres-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> PrivatePostgres:
        if self._as:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self._run(
            _bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        return self

    def replica(self) -> PrivatePostgres:
        """A streaming replica of this (running) server: ``pg_basebackup -R`` into a folder of
        its own, on a port of its own; start it with ``start()``."""
        standby = PrivatePostgres()
        if standby._as:
            user = pwd.getpwnam("postgres")
            os.chown(standby.directory, user.pw_uid, user.pw_gid)
        standby._run(
            _bin("pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-D",
            str(standby.data),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        )
        return standby

    def start(self, *settings: str) -> None:
        """Start the server; each of ``settings`` is one ``name=value`` passed as ``-c``
        (``start("shared_preload_libraries=pg_stat_statements")``)."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        for setting in settings:
            options += f" -c {setting}"
        self._run(
            _bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "-l",
            str(self.directory / "log"),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        subprocess.run(
            [*self._as, _bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


MACHINE = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
"""The machine's own PostgreSQL, as its superuser."""


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A new database on the machine's PostgreSQL (its name), dropped afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(MACHINE, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    try:
        yield name
    finally:
        with psycopg.connect(MACHINE, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")
