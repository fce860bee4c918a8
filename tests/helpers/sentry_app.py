"""A web application instrumented with the real ``sentry-sdk`` (``tests/errortrack/sdk_app.py``)
in a subprocess of its own: the SDK's global state stays out of the test process, and each
application has its own DSN, release and compression.

``async with SentryApp(dsn, release="1.0") as app: await app.get("/divide"); await app.flush()``
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from types import TracebackType

import aiohttp

APP = Path(__file__).resolve().parents[1] / "errortrack" / "sdk_app.py"


class SentryApp:
    def __init__(self, dsn: str, *, release: str | None = None, compression: str = "gzip") -> None:
        self.env = {**os.environ, "SENTRY_DSN": dsn, "APP_COMPRESSION": compression}
        if release is not None:
            self.env["APP_RELEASE"] = release
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    async def __aenter__(self) -> SentryApp:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(APP),
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        if not line.strip().isdigit():
            await self._stop()
            raise AssertionError(f"the SDK app did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line)}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.communicate()

    async def get(self, path: str) -> int:
        """Ask the application for ``path``; its status (500 when it raised)."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + path, timeout=aiohttp.ClientTimeout(total=30)) as answer,
        ):
            await answer.read()
            return answer.status

    async def flush(self) -> None:
        """Wait until the SDK has sent everything it holds."""
        assert await self.get("/flush") == 200
