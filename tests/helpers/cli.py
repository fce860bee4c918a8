"""Run the real ``wk`` command as a subprocess without blocking the test's event loop (so
servers the test runs in-process keep answering)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Running:
    """``wk up`` in the background; ``url`` is its base URL once ``start`` returns."""

    def __init__(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [*args, "--listen", f"127.0.0.1:{self.port}"]
        self.cwd = cwd
        self.env = {**os.environ, **(env or {}), "COLUMNS": "200"}
        self.process: asyncio.subprocess.Process | None = None
        self.stdout = ""
        self.stderr = ""

    async def start(self, timeout: float = 30) -> Running:
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
                            return self
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    await self.kill()
                    raise AssertionError(f"wk up did not answer in {timeout}s: {self.stderr}")
                await asyncio.sleep(0.1)

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as session, session.get(self.url + path) as response:
            assert response.status == 200, await response.text()
            return await response.json()

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
