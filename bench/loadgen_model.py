"""Load-generator model accuracy: the percentiles it reports against a server whose behaviour
is known, in the same run. The tests hold the model's claims (never less than the server took,
the wait grows in the line); how close the figures come belongs here.

    python bench/loadgen_model.py [--seconds 4]

The server answers in 20 ms, 4 at a time (about 200 req/s), on its own thread and loop, and
records how long each request was inside it. Printed:

- at 50 req/s (a quarter of capacity): the generator's p50 and p90 over the server's own
  (1.00 is exact; a few ms of client overhead show as a few percent);
- at 250 req/s (past capacity) for ``--seconds``: p50 and p99 over what queueing theory
  gives for a line growing by (rate - capacity) each second (p99 ≈ the last arrival's wait,
  p50 ≈ half of it), with the capacity measured from the server's own hold times.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import threading
import time

from aiohttp import web

from watchkeeper.loadtest.generator import Generator, Settings
from watchkeeper.loadtest.plan import constant
from watchkeeper.loadtest.target import from_url

SERVICE = 0.020
SLOTS = 4


class Known:
    """The 20 ms, 4-slot server on a thread of its own; ``inside`` and ``held`` per request."""

    def __init__(self) -> None:
        self.inside: list[float] = []
        self.held: list[float] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        slots = asyncio.Semaphore(SLOTS)

        async def answer(request: web.Request) -> web.Response:
            arrived = time.perf_counter()
            async with slots:
                taken = time.perf_counter()
                await asyncio.sleep(SERVICE)
                self.held.append(time.perf_counter() - taken)
            self.inside.append(time.perf_counter() - arrived)
            return web.Response(text="ok")

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/", answer)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            assert site._server is not None
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()

    def reset(self) -> None:
        self.inside.clear()
        self.held.clear()


def rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


async def measure(seconds: float) -> None:
    server = Known()
    target = from_url(f"http://127.0.0.1:{server.port}/")
    low = await Generator(target, Settings(connections=20)).run_open(constant(50, seconds))
    print(f"at 50 req/s for {seconds:g} s ({low.completed} answers)")
    for q in (0.5, 0.9):
        measured = low.latency.get_value_at_percentile(q * 100) / 1e6
        own = rank(server.inside, q)
        print(
            f"  p{q * 100:.0f}: generator {measured * 1000:7.2f} ms, server's own "
            f"{own * 1000:7.2f} ms, ratio {measured / own:5.2f}"
        )
    server.reset()
    high = await Generator(target, Settings(connections=20)).run_open(constant(250, seconds))
    capacity = SLOTS / (sum(server.held) / len(server.held))
    last_wait = (250 / capacity - 1) * seconds
    print(f"at 250 req/s for {seconds:g} s (capacity measured {capacity:.0f} req/s)")
    for q, theory in ((0.5, last_wait / 2), (0.99, last_wait)):
        measured = high.latency.get_value_at_percentile(q * 100) / 1e6
        print(
            f"  p{q * 100:.0f}: generator {measured:6.3f} s, theory {theory:6.3f} s, "
            f"ratio {measured / theory:5.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    asyncio.run(measure(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
