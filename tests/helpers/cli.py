"""Run the real ``wk`` command as a subprocess without blocking the test's event loop (so
servers the test runs in-process keep answering)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from tests.helpers.ports import free_port

WK = [sys.executable, "-m", "watchkeeper"]


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def wk(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> Completed:
    process = await asyncio.create_subprocess_exec(
        *WK,
        *args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Completed(process.returncode, out.decode(), err.decode())


class Running:
    """``wk up`` in the background; ``url`` is its base URL once ``start`` returns.

    Once it answers, a write token is made and ``get``/``post`` send it: every route but the
    public ones needs one. It is made in this process by the code of ``wk token create``
    (``issue_token``: the same store write and activity entry), which saves a second ``wk``
    process per test; ``cli_token=True`` runs ``wk token create`` itself, for a test about
    what the command leaves behind.
    """

    def __init__(
        self,
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        cli_token: bool = False,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [*args, "--listen", f"127.0.0.1:{self.port}"]
        self.cwd = cwd
        self.env = {**os.environ, **(env or {}), "COLUMNS": "200"}
        self.process: asyncio.subprocess.Process | None = None
        self.stdout = ""
        self.stderr = ""
        self.token: str | None = None
        self.cli_token = cli_token

    @property
    def config(self) -> Path:
        """The config file it runs on (the demo writes its own under XDG_STATE_HOME)."""
        if "--demo" in self.args:
            state = self.env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
            return Path(state) / "watchkeeper" / "demo.yaml"
        for flag in ("-c", "--config"):
            if flag in self.args:
                path = Path(self.args[self.args.index(flag) + 1])
                return path if path.is_absolute() else (self.cwd or Path.cwd()) / path
        return (self.cwd or Path.cwd()) / "watchkeeper.yaml"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def _make_token(self) -> None:
        if self.cli_token:
            made = await wk(
                "token",
                "create",
                "--scope",
                "write",
                "--json",
                "-c",
                str(self.config),
                env=self.env,
            )
            assert made.code == 0, made.stderr
            self.token = made.json()["token"]
            return
        from watchkeeper.cli.users import issue_token
        from watchkeeper.config import load_config

        def make() -> str:
            config = load_config(self.config, env=self.env)
            label = f"write-{time.strftime('%Y%m%d-%H%M%S')}"  # the name wk token create gives
            return issue_token(config, label, "write")[1]

        self.token = await asyncio.to_thread(make)

    async def start(self, timeout: float = 60) -> Running:
        """Start ``wk up`` and wait until it answers ``/healthz`` (a minute: a loaded 2-core
        machine has been seen to take over 30 s to start one beside the rest of the suite)."""
        self.process = await asyncio.create_subprocess_exec(
            *WK,
            "up",
            *self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.returncode is not None:
                    await self._collect()
                    raise AssertionError(
                        f"wk up exited {self.process.returncode}: {self.stderr or self.stdout}"
                    )
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            if self.token is None:
                                await self._make_token()
                            return self
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    await self.kill()
                    raise AssertionError(f"wk up did not answer in {timeout}s: {self.stderr}")
                await asyncio.sleep(0.1)

    async def get(self, path: str) -> Any:
        async with (
            aiohttp.ClientSession(headers=self.headers) as session,
            session.get(self.url + path) as response,
        ):
            assert response.status == 200, await response.text()
            return await response.json()

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Any request with the token; (status, JSON body or text)."""
        async with (
            aiohttp.ClientSession(headers=self.headers) as session,
            session.request(method, self.url + path, **kwargs) as response,
        ):
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self._collect(), timeout)
        assert self.process.returncode is not None
        return self.process.returncode

    async def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.kill()
        await self._collect()

    async def _collect(self) -> None:
        assert self.process is not None
        out, err = await self.process.communicate()
        self.stdout += out.decode()
        self.stderr += err.decode()
