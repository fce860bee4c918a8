"""Scheduler lag: how late checks start against their slot, and how soon ``run_now`` starts
one, against the event loop's own timer lateness for the same slots, in the same run.

    python bench/scheduler_lag.py [--monitors 2000] [--interval 1] [--seconds 10] [--uvloop]

The scheduler tests bound *when a check was due* and excuse whatever lag the scheduler measured
(a loaded machine's stall); how small that lag is belongs here. Three sides, each for
``--seconds`` on one loop, checks that return at once (the scheduler's cost, not a probe's):

- baseline: ``loop.call_at`` at every monitor's slot, over and over: what the loop alone gives;
- scheduler: the same fleet through ``Scheduler`` (its lag histogram: start minus slot);
- run_now: ten times a second, one monitor asked to run now; from the ask to the probe.

Printed: p50/p99/max in ms per side, and the scheduler's over the baseline's per percentile.
What to expect: the scheduler's p50 near ``TICK`` (10 ms: the dispatcher wakes at most every
tick and starts together what is due within it), its p99 and max near the baseline's (those
are the machine's), run_now near the baseline (it wakes the dispatcher at once).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import zlib

from hdrh.histogram import HdrHistogram

from watchkeeper.checks import Attempt, CheckKind, CheckSettings
from watchkeeper.config import Monitor
from watchkeeper.engine import Scheduler
from watchkeeper.model import Result

PERCENTILES = (50.0, 99.0, 100.0)


class Quick(CheckSettings):
    label: str

    def host_key(self) -> str:
        return self.label


def histogram() -> HdrHistogram:
    return HdrHistogram(1, 3_600_000_000, 3)


def figures(lag: HdrHistogram) -> list[float]:
    """p50, p99 and max in ms."""
    return [lag.get_value_at_percentile(p) / 1000 for p in PERCENTILES]


async def baseline(monitors: int, interval: float, seconds: float) -> HdrHistogram:
    """Timers at the same slots the scheduler would use, re-armed each interval."""
    loop = asyncio.get_running_loop()
    lag = histogram()
    start = loop.time()
    end = start + seconds

    def fire(due: float) -> None:
        now = loop.time()
        lag.record_value(max(1, int((now - due) * 1e6)))
        if due + interval < end:
            loop.call_at(due + interval, fire, due + interval)

    for i in range(monitors):
        share = zlib.crc32(f"m{i}".encode()) / 2**32
        loop.call_at(start + share * interval, fire, start + share * interval)
    await asyncio.sleep(seconds + interval)
    return lag


async def scheduled(monitors: int, interval: float, seconds: float) -> tuple[HdrHistogram, ...]:
    loop = asyncio.get_running_loop()
    asked: dict[str, float] = {}
    answer = histogram()

    async def probe(settings: Quick, attempt: Attempt) -> None:
        at = asked.pop(settings.label, None)
        if at is not None:
            answer.record_value(max(1, int((loop.time() - at) * 1e6)))

    kind = CheckKind("quick", Quick, {}, probe)
    fleet = [
        Monitor(
            name=f"m{i}",
            kind="quick",
            check=kind,
            settings=Quick(label=f"m{i}"),
            interval=interval,
            timeout=30.0,
            confirm=2,
            recover=2,
            retry_interval=interval,
            expectations=(),
            host_key=f"m{i}",
        )
        for i in range(monitors)
    ]

    async def on_result(monitor: Monitor, result: Result) -> bool:
        return False

    scheduler = Scheduler(fleet, on_result, startup_spread=interval, rng=random.Random(1))
    dispatching = asyncio.create_task(scheduler.run())
    rng = random.Random(2)
    end = loop.time() + seconds
    while loop.time() < end:
        await asyncio.sleep(0.1)
        name = f"m{rng.randrange(monitors)}"
        asked[name] = loop.time()
        scheduler.run_now(name)
    scheduler.stop()
    await dispatching
    await scheduler.drain(5.0)
    return scheduler.stats.lag_total, answer


async def measure(monitors: int, interval: float, seconds: float) -> None:
    loop_lag = await baseline(monitors, interval, seconds)
    lag, answer = await scheduled(monitors, interval, seconds)
    base = figures(loop_lag)
    rows = (("baseline (loop timers)", base), ("scheduler", figures(lag)), ("run_now", None))
    print(f"{monitors} monitors every {interval:g} s for {seconds:g} s")
    print(f"{'':<24}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, values in rows:
        values = values or figures(answer)
        print(f"{name:<24}" + "".join(f"{v:>10.2f}" for v in values))
    ratios = [s / max(b, 0.001) for s, b in zip(figures(lag), base, strict=True)]
    print(f"{'scheduler / baseline':<24}" + "".join(f"{r:>9.1f}×" for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--uvloop", action="store_true", help="the loop wk up runs on")
    options = parser.parse_args()
    work = measure(options.monitors, options.interval, options.seconds)
    if options.uvloop:
        import uvloop

        uvloop.run(work)
    else:
        asyncio.run(work)


if __name__ == "__main__":
    main()
