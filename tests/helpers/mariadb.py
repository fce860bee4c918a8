"""A private, throw-away MariaDB (mariadb-install-db + mariadbd on a free port, as the mysql
user) for tests that need a replica or must kill the server; the machine's own is left alone.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers.ports import free_port as _free_port


class PrivateMariadb:
    def __init__(self, server_id: int = 1, *, binlog: bool = False) -> None:
        for tool in ("mariadb-install-db", "mariadbd", "mariadb"):
            if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
                raise RuntimeError(f"{tool} is not installed (Debian: mariadb-server)")
        self.directory = Path(tempfile.mkdtemp(prefix="wk-mariadb-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self.server_id = server_id
        self.binlog = binlog
        self.process: subprocess.Popen[bytes] | None = None
        self._as: list[str] = []  # mariadbd drops to the mysql user itself (no wrapper to kill)
        if os.geteuid() == 0:
            user = pwd.getpwnam("mysql")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
            self._as = ["--user=mysql"]

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/mysql"

    def start(self) -> PrivateMariadb:
        if not self.data.exists():
            subprocess.run(
                [
                    "mariadb-install-db",
                    f"--datadir={self.data}",
                    "--skip-test-db",
                    "--auth-root-authentication-method=normal",
                    *self._as,
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.process = subprocess.Popen(
            [
                daemon,
                "--no-defaults",
                *self._as,
                f"--datadir={self.data}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.directory / 'sock'}",
                f"--server-id={self.server_id}",
                *([f"--log-bin={self.data / 'bin'}"] if self.binlog else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.sql("select 1", check=False).returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not answer on port {self.port}")

    def sql(self, statement: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["mariadb", "-h", "127.0.0.1", "-P", str(self.port), "-u", "root", "-e", statement],
            check=check,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def replicate_from(self, source: PrivateMariadb) -> None:
        self.sql(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={source.port}, "
            "MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=no; START SLAVE;"
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(20)
            self.process = None

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
