"""The processes an experiment starts (the app under test), and what its method does to them:
stop (SIGTERM, then SIGKILL) and start again, or pause (SIGSTOP: it holds its connections and
answers nothing) and resume. Each runs in a session of its own, so signals reach its workers
too, and its output goes to a file beside the experiment's other scratch files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from watchkeeper.chaos.errors import ChaosError
from watchkeeper.chaos.plan import ProcessSpec
from watchkeeper.chaos.proxy import split_address

TAIL = 2000


class ProcessFailed(ChaosError):
    pass


class Managed:
    def __init__(self, spec: ProcessSpec, logs: Path) -> None:
        self.spec = spec
        self.log = logs / f"{spec.name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.paused = False

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        spec = self.spec
        env = {**os.environ, **spec.env}
        with self.log.open("ab") as output:
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *spec.command,
                    cwd=spec.cwd,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ProcessFailed(
                    f"process {spec.name}: cannot start {spec.command[0]}: {exc.strerror or exc}"
                ) from None
        self.paused = False
        if spec.ready is not None:
            await self._wait_ready(spec.ready)

    async def _wait_ready(self, address: str) -> None:
        host, port = split_address(address, "ready")
        deadline = time.monotonic() + self.spec.ready_timeout
        while True:
            if not self.running:
                raise ProcessFailed(
                    f"process {self.spec.name} exited ({self._code()}) before {address} "
                    f"accepted connections: {self.tail()}"
                )
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise ProcessFailed(
                        f"process {self.spec.name}: {address} accepted no connection within "
                        f"{self.spec.ready_timeout:g} s"
                    ) from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return

    def _code(self) -> str:
        code = None if self.process is None else self.process.returncode
        if code is None:
            return "still running"
        return f"signal {-code}" if code < 0 else f"exit code {code}"

    def tail(self) -> str:
        try:
            with self.log.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - TAIL))
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()]
        return " | ".join(lines[-3:])[-500:]

    def _signal(self, number: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, number)

    async def stop(self) -> None:
        """SIGTERM to its session, SIGKILL after ``stop_timeout``."""
        if self.process is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), self.spec.stop_timeout)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self.process.wait()
        self.paused = False

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self.paused = False
