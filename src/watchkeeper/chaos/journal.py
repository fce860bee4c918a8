"""The crash journal: every fault an experiment puts in place is written down before it is
applied and crossed out once it is rolled back, so a run killed half-way (``kill -9``, a
power cut) is rolled back by the next ``wk chaos run`` or by ``wk chaos rollback``.

One file, rewritten whole (temporary file, fsync, rename) at every change, holding::

    {"pid": 4242, "created": 1733450000.0, "experiment": "redis-slow",
     "api": "http://127.0.0.1:8474",
     "faults": [{"kind": "toxic", "proxy": "redis", "toxic": "wk-chaos-latency-downstream"},
                {"kind": "proxy", "proxy": "redis"},
                {"kind": "process", "name": "app", "pid": 4250, "created": 1733450001.2}]}

``pid``/``created`` name the ``wk chaos run`` process (a PID is reused; its start time is not),
so a journal whose writer still runs is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from watchkeeper.chaos.client import ToxiproxyClient
from watchkeeper.chaos.errors import ChaosError

MAX_JOURNAL = 1024 * 1024


class JournalBusy(ChaosError):
    """Another experiment that is still running holds the journal."""


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (None: there is no such process)."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def same_process(pid: int, created: float | None) -> bool:
    started = process_started(pid)
    return started is not None and created is not None and abs(started - created) < 1.0


@dataclass
class Journal:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    # -- reading what a crashed run left -----------------------------------------------------
    def read(self) -> dict[str, Any] | None:
        """The journal on disk (None: none, or not one of ours)."""
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(MAX_JOURNAL + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ChaosError(f"{self.path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw) if len(raw) <= MAX_JOURNAL else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("faults"), list):
            raise ChaosError(f"{self.path}: not a chaos journal (remove it if you know why)")
        return data

    def leftover(self) -> dict[str, Any] | None:
        """What a run that is gone left in place (None: nothing); raises JournalBusy when the
        run that wrote it still runs."""
        data = self.read()
        if data is None:
            return None
        pid = data.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and same_process(pid, data.get("created")):
            raise JournalBusy(
                f"experiment '{data.get('experiment')}' is running (pid {pid}): one at a time "
                f"per journal ({self.path})"
            )
        return data

    # -- this run's journal --------------------------------------------------------------------
    def begin(self, experiment: str, api: str) -> None:
        self.data = {
            "pid": os.getpid(),
            "created": process_started(os.getpid()),
            "experiment": experiment,
            "api": api,
            "started_at": time.time(),
            "faults": [],
        }
        self._write()

    def add(self, fault: dict[str, Any]) -> None:
        self.data["faults"].append(fault)
        self._write()

    def remove(self, fault: dict[str, Any]) -> None:
        faults = self.data["faults"]
        if fault in faults:
            faults.remove(fault)
            self._write()

    def drop_process(self, name: str) -> None:
        """Forget the process ``name`` (restarted, or stopped by the run itself); written with
        the journal's next change."""
        self.data["faults"] = [
            f
            for f in self.data.get("faults", [])
            if not (f.get("kind") == "process" and f.get("name") == name)
        ]

    def finish(self) -> None:
        """Everything is rolled back: the journal goes."""
        self.data = {}
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self) -> None:
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(self.data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


async def roll_back(data: dict[str, Any]) -> list[str]:
    """Undo every fault a journal lists, toxics first, then proxies, then processes; what was
    done, one line each. Raises ChaosError when the fault proxy cannot be reached (the
    journal is then kept for another try)."""
    done: list[str] = []
    faults = [f for f in data.get("faults", []) if isinstance(f, dict)]
    api = data.get("api")
    toxics = [f for f in faults if f.get("kind") == "toxic"]
    proxies = [f for f in faults if f.get("kind") == "proxy"]
    if (toxics or proxies) and isinstance(api, str):
        async with ToxiproxyClient(api) as client:
            for fault in toxics:
                proxy, toxic = str(fault.get("proxy")), str(fault.get("toxic"))
                gone = await client.remove_toxic(proxy, toxic)
                done.append(
                    f"removed toxic {toxic} from proxy {proxy}"
                    if gone
                    else f"toxic {toxic} on proxy {proxy} was already gone"
                )
            for fault in proxies:
                proxy = str(fault.get("proxy"))
                try:
                    await client.delete_proxy(proxy)
                    done.append(f"removed proxy {proxy}")
                except ChaosError:
                    done.append(f"proxy {proxy} was already gone")
    for fault in faults:
        if fault.get("kind") == "process":
            done.append(await asyncio.to_thread(_end_process, fault))
    return done


def _end_process(fault: dict[str, Any]) -> str:
    """Stop a process a run started, if it is still that process. Blocking."""
    pid, name = fault.get("pid"), fault.get("name")
    if not isinstance(pid, int) or not same_process(pid, fault.get("created")):
        return f"process {name} (pid {pid}) had already ended"
    for number in (signal.SIGCONT, signal.SIGTERM):
        with contextlib.suppress(OSError):
            os.killpg(pid, number)
    try:
        psutil.Process(pid).wait(timeout=10)
    except psutil.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    except psutil.Error:
        pass  # it ended between the signal and the wait: stopped all the same
    return f"stopped process {name} (pid {pid}) the experiment had started"
