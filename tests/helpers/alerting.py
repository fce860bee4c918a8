"""Running ``wk up`` against real receivers: a config, the process, and reading what arrived.

Monitors check fast (``FAST``: every 200 ms, confirm 2) so a problem is announced within a
couple of seconds; routes group for 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.cli import Running
from tests.helpers.receivers import HookReceiver, Request

FAST = "interval: 200ms, timeout: 150ms, confirm: 2, recover: 2, retry_interval: 100ms"
SECRET = "hook-secret"


@contextlib.asynccontextmanager
async def watchkeeper(config: Path, text: str) -> AsyncIterator[Running]:
    """Write ``text`` to ``config`` and run ``wk up`` on it; stop it after (if it still
    runs) and make sure it logged no traceback or failed alerting step."""
    await asyncio.to_thread(config.write_text, text)
    running = await Running("-c", str(config), cwd=config.parent).start()
    try:
        yield running
    finally:
        assert running.process is not None
        if running.process.returncode is None:
            await running.stop()
    output = running.stdout + running.stderr
    assert "Traceback" not in output, output
    assert "step failed" not in output and "timers failed" not in output, output


@dataclass(frozen=True)
class Sent:
    """One webhook notification as the receiver got it."""

    request: Request
    body: dict[str, Any]

    @property
    def event(self) -> str:
        return str(self.body["event"])

    @property
    def key(self) -> str:
        return self.request.key

    @property
    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.body["alerts"]
        return alerts

    def monitors(self) -> list[str]:
        return [alert["monitor"] for alert in self.alerts]


def notifications(hook: HookReceiver, *, answered: bool = True) -> list[Sent]:
    """Webhook notifications (not tests) the receiver got, in order; ``answered``: only those
    it acknowledged with a 2xx."""
    requests = hook.answered if answered else hook.requests
    found = [Sent(r, r.json()) for r in requests]
    return [sent for sent in found if sent.event != "test"]


def alert_events(hook: HookReceiver) -> list[tuple[str, int, str]]:
    """(monitor, incident, event) for every alert in every answered notification."""
    return [
        (alert["monitor"], alert["incident"], alert["event"])
        for sent in notifications(hook)
        for alert in sent.alerts
    ]


def unique(hook: HookReceiver) -> list[Sent]:
    """Answered notifications with repeats of an Idempotency-Key dropped (what a receiver
    that deduplicates keeps)."""
    seen: set[str] = set()
    kept = []
    for sent in notifications(hook):
        if sent.key not in seen:
            seen.add(sent.key)
            kept.append(sent)
    return kept


def repeated_keys(hook: HookReceiver) -> dict[str, int]:
    counts = Counter(sent.key for sent in notifications(hook))
    return {key: n for key, n in counts.items() if n > 1}


def has(hook: HookReceiver, monitor: str, event: str, *, count: int = 1) -> Callable[..., bool]:
    """A predicate for ``HookReceiver.wait``: ``count`` alerts of ``event`` for ``monitor``
    were answered."""

    def check(_requests: object) -> bool:
        found = [e for e in alert_events(hook) if e[0] == monitor and e[2] == event]
        return len(found) >= count

    return check


def has_all(hook: HookReceiver, *wanted: tuple[str, str]) -> Callable[..., bool]:
    """A predicate for ``HookReceiver.wait``: every (monitor, event) was answered."""
    checks = [has(hook, monitor, event) for monitor, event in wanted]
    return lambda requests: all(check(requests) for check in checks)


async def eventually(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.2) -> Any:
    """Call ``check`` (sync or async) until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {value!r}")
        await asyncio.sleep(every)


async def states(running: Running) -> dict[str, str]:
    monitors = (await running.get("/api/v1/monitors?limit=1000"))["items"]
    return {m["name"]: m["state"] for m in monitors}


async def in_state(running: Running, state: str, *names: str) -> bool:
    """Are all of ``names`` in ``state`` (as the running API says)?"""
    found = await states(running)
    return all(found.get(name) == state for name in names)
