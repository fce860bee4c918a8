"""Thread lanes: one subsystem's blocking work never waits for another's threads."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from pathlib import Path

import pytest

from watchkeeper import lanes
from watchkeeper.lanes import Busy, Lane

SRC = Path(lanes.__file__).parent
LONG_RUNNING = ("engine", "alerts", "notify", "web", "store", "checks", "state", "auth")


async def test_a_lane_whose_threads_are_all_blocked_holds_up_no_other_lane() -> None:
    busy, other = Lane("busy", 2), Lane("other", 1)
    release = threading.Event()
    blocked = [asyncio.ensure_future(busy.run(release.wait, 30)) for _ in range(10)]
    await asyncio.sleep(0.05)
    assert busy.full and busy.pending == 10
    try:
        assert await asyncio.wait_for(other.run(lambda: "done"), 10) == "done"
    finally:
        release.set()
        await asyncio.gather(*blocked)
    assert busy.pending == 0 and not busy.full


async def test_the_password_lane_runs_below_normal_priority() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = niceness()
    assert await lanes.PASSWORDS.run(niceness) == mine + lanes.PASSWORDS.nice > mine


def test_no_long_running_subsystem_uses_the_shared_default_pool() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for folder in LONG_RUNNING
        for path in sorted((SRC / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\basyncio\.to_thread\(|run_in_executor\(\s*None", line)
    ]
    assert not offenders, f"use a lane of watchkeeper.lanes instead: {offenders}"


async def test_a_call_abandoned_by_its_caller_keeps_its_key_until_its_thread_ends() -> None:
    lane = Lane("keyed", 4)
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(lane.run_one("db", release.wait, 30), 0.05)
        assert lane.pending == 1 and lane.running("db"), "the thread still runs"
        with pytest.raises(Busy):
            await lane.run_one("db", lambda: "a second thread for the same target")
        assert await lane.run_one("other", lambda: "done") == "done"
    finally:
        release.set()
    for _ in range(200):
        if not lane.running("db"):
            break
        await asyncio.sleep(0.01)
    assert lane.pending == 0
    assert await lane.run_one("db", lambda: "free again") == "free again"
