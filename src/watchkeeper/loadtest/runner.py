"""Running a test on one core or several: each worker process runs its share of the rate (or
of the users) on a core of its own and sends back, every second, that second's histogram
and counts; at the end, its whole tally. Histograms travel HDR-encoded and are added, so the
merged percentiles are exact, not averages of percentiles.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import queue as queues
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from watchkeeper.loadtest.generator import Generator, Second, Settings, Tally, histogram
from watchkeeper.loadtest.plan import Profile
from watchkeeper.loadtest.target import Target


@dataclass(frozen=True, slots=True)
class Job:
    """A test: an open profile, or ``users`` for ``seconds`` (closed)."""

    target: Target
    settings: Settings
    profile: Profile | None = None
    users: int = 0
    seconds: float = 0.0

    @property
    def model(self) -> str:
        return "open" if self.profile is not None else "closed"

    @property
    def duration(self) -> float:
        return self.profile.seconds if self.profile is not None else self.seconds

    def share(self, index: int, workers: int) -> Job:
        """Worker ``index``'s part: the rate, users and connections split evenly."""
        settings = replace(
            self.settings,
            connections=max(1, _part(self.settings.connections, index, workers)),
            seed=self.settings.seed + index,
            max_rate=self.settings.max_rate / workers,
        )
        if self.profile is not None:
            return Job(self.target, settings, profile=self.profile.scaled(1 / workers))
        users = _part(self.users, index, workers)
        return Job(self.target, settings, users=users, seconds=self.seconds)


def _part(total: int, index: int, workers: int) -> int:
    return total // workers + (1 if index < total % workers else 0)


def workers_for(text: str) -> int:
    """``auto`` (one per core, keeping one for the target when it is local and there are
    several) or a number."""
    if text == "auto":
        return max(1, (os.cpu_count() or 1) - 1)
    count = int(text)
    if count < 1:
        raise ValueError("--workers is auto or a number from 1")
    return count


OnSecond = Callable[[Second, Tally], None]


async def run_here(job: Job, on_second: OnSecond | None = None) -> Tally:
    """Run the whole job in this process's event loop."""
    generator = Generator(job.target, job.settings, on_second=on_second)
    if job.profile is not None:
        return await generator.run_open(job.profile)
    return await generator.run_closed(job.users, job.seconds)


def run(job: Job, workers: int, on_second: OnSecond | None = None) -> Tally:
    """Run ``job`` on ``workers`` processes (1: in this one) and merge what they counted."""
    if workers <= 1:
        return _run_loop(run_here(job, on_second))
    context = multiprocessing.get_context("spawn")
    channel: Any = context.Queue()
    processes = [
        context.Process(target=_worker, args=(job.share(i, workers), i, channel), daemon=True)
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    total = Tally()
    seconds: dict[int, Second] = {}
    reported: dict[int, set[int]] = {}
    finished = 0
    deadline = time.monotonic() + job.duration + job.settings.timeout + 60
    try:
        while finished < workers:
            try:
                kind, index, payload = channel.get(timeout=1.0)
            except queues.Empty:
                if time.monotonic() > deadline or not any(p.is_alive() for p in processes):
                    raise RuntimeError("a load worker stopped without reporting") from None
                continue
            if kind == "second":
                second = _second(payload)
                merged = seconds.setdefault(second.at, Second(second.at))
                _add_second(merged, second)
                heard = reported.setdefault(second.at, set())
                heard.add(index)
                if len(heard) == workers:
                    if on_second is not None:
                        on_second(merged, total)
                    merged.close()
            elif kind == "done":
                total.merge(_tally(payload))
                finished += 1
            elif kind == "failed":
                raise RuntimeError(f"load worker {index} failed: {payload}")
    finally:
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
    for second in seconds.values():
        second.close()  # the seconds some worker had nothing in
    total.seconds = dict(sorted(seconds.items()))
    return total


def _run_loop(coroutine: Any) -> Tally:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        result: Tally = asyncio.run(coroutine)
        return result
    result = uvloop.run(coroutine)
    return result


def _worker(job: Job, index: int, channel: Any) -> None:
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {index % (os.cpu_count() or 1)})

    def report(second: Second, _tally: Tally) -> None:
        channel.put(("second", index, _second_payload(second)))

    try:
        tally = _run_loop(run_here(job, report))
        channel.put(("done", index, _tally_payload(tally)))
    except Exception as exc:  # pragma: no cover - reported to the parent, which raises
        channel.put(("failed", index, f"{type(exc).__name__}: {exc}"))


# -- what travels between processes ---------------------------------------------------------
def _encode(value: Any) -> str:
    return base64.b64encode(value.encode()).decode()


def _decoded(text: str | None, digits: int = 3) -> Any:
    found = histogram(digits)
    if text:
        found.decode_and_add(base64.b64decode(text))
    return found


def _second_payload(second: Second) -> dict[str, Any]:
    return {
        "at": second.at,
        "offered": second.offered,
        "sent": second.sent,
        "completed": second.completed,
        "errors": second.errors,
        "latency": _encode(second.latency) if second.latency is not None else None,
    }


def _second(payload: dict[str, Any]) -> Second:
    return Second(
        payload["at"],
        payload["offered"],
        payload["sent"],
        payload["completed"],
        payload["errors"],
        _decoded(payload["latency"], 2),
    )


def _add_second(ours: Second, theirs: Second) -> None:
    ours.offered += theirs.offered
    ours.sent += theirs.sent
    ours.completed += theirs.completed
    ours.errors += theirs.errors
    if ours.latency is not None and theirs.latency is not None:
        ours.latency.add(theirs.latency)


def _tally_payload(tally: Tally) -> dict[str, Any]:
    return {
        "latency": _encode(tally.latency),
        "service": _encode(tally.service),
        "steady": _encode(tally.steady),
        "counts": {
            name: getattr(tally, name)
            for name in (
                "offered",
                "sent",
                "completed",
                "retried",
                "late",
                "max_late",
                "dropped",
                "bytes_in",
                "connections",
                "cpu_seconds",
                "wall_seconds",
                "steady_sent",
                "steady_completed",
                "steady_errors",
            )
        },
        "errors": dict(tally.errors),
        "statuses": dict(tally.statuses),
    }


def _tally(payload: dict[str, Any]) -> Tally:
    tally = Tally(
        latency=_decoded(payload["latency"]),
        service=_decoded(payload["service"]),
        steady=_decoded(payload["steady"]),
    )
    for name, value in payload["counts"].items():
        setattr(tally, name, value)
    tally.errors.update(payload["errors"])
    tally.statuses.update({int(k): v for k, v in payload["statuses"].items()})
    return tally
