"""The collector's writing side against real stores: closed minutes are written in one
batch, a store that went away keeps them waiting (PostgreSQL stopped, then started again),
and a stop writes what is still open."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.helpers.postgres import PrivatePostgres

from watchkeeper.rum.collector import Collector
from watchkeeper.rum.settings import RumConfig
from watchkeeper.store import Store

SETTINGS = RumConfig(origins=("*",), pages=({"name": "product", "pattern": "/product/*"},))  # type: ignore[arg-type]
MINUTE = 1_700_000_040.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def batch(*ids: str, value: float = 1200.0) -> bytes:
    return json.dumps(
        {
            "view": "00ff00ff00ff00ff",
            "metrics": [
                {"id": i, "name": "LCP", "value": value, "page": "/product/1", "device": "mobile"}
                for i in ids
            ],
        }
    ).encode()


async def test_closed_minutes_are_written_and_open_ones_wait(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}")
    clock = Clock(MINUTE + 10)
    collector = Collector(SETTINGS, store, clock=clock)
    try:
        assert collector.take(batch("a", "b")).accepted == 2
        assert await collector.flush() == 0  # its minute is still open
        clock.now = MINUTE + 65
        collector.take(batch("c"))
        assert await collector.flush() == 1
        stored = store.rum_tallies(MINUTE - 60, MINUTE + 120)
        assert [(t.at, t.samples) for t in stored] == [(MINUTE, 2)]
        assert [t.samples for t in collector.open_tallies(MINUTE, MINUTE + 120)] == [1]
        await collector.stop()  # writes the open minute too
        assert sum(t.samples for t in store.rum_tallies(MINUTE - 60, MINUTE + 120)) == 3
        assert collector.written == 2
    finally:
        store.close()


async def test_tallies_wait_while_the_store_is_away_and_are_written_when_it_is_back(
    private_postgres: PrivatePostgres,
) -> None:
    store = Store.open(private_postgres.url)
    clock = Clock(MINUTE + 10)
    collector = Collector(SETTINGS, store, clock=clock)
    try:
        collector.take(batch("a", "b", "c"))
        await asyncio.to_thread(private_postgres.stop, "immediate")
        clock.now = MINUTE + 70
        assert await collector.flush() == 0
        assert collector.dropped == 0
        assert [t.samples for t in collector.open_tallies(MINUTE, MINUTE + 60)] == [3]
        await asyncio.to_thread(private_postgres.start)
        written = 0
        for _ in range(50):  # the pool finds its connections dead, then new ones
            written = await collector.flush()
            if written:
                break
            await asyncio.sleep(0.1)
        assert written == 1
        assert [t.samples for t in store.rum_tallies(MINUTE, MINUTE + 60)] == [3]
        assert collector.open_tallies(MINUTE, MINUTE + 60) == []
    finally:
        store.close()
