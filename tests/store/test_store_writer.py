"""Contract: what the StoreWriter accepted is committed by flush/aclose, never lost."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from watchkeeper.errors import StoreError
from watchkeeper.model import Result, State, StoredState, Transition
from watchkeeper.store import Store, StoreWriter
from watchkeeper.store.database import TransientStoreError

ResultFactory = Callable[..., Result]

T0 = 1_700_000_000.0


async def test_everything_put_is_readable_after_flush(
    store: Store, make_result: ResultFactory
) -> None:
    writer = StoreWriter(store, batch_size=10, flush_interval=10.0)
    await writer.start()
    written = [make_result(at=T0 + i) for i in range(25)]
    for result in written:
        await writer.put(result)

    await writer.flush()

    assert store.results("api", since=0) == written
    assert writer.written == 25
    assert writer.batches == 3
    assert writer.queue_depth == 0
    assert writer.last_write_seconds > 0
    await writer.aclose()


async def test_everything_put_is_readable_after_aclose_and_reopen(
    store_url: str, make_result: ResultFactory
) -> None:
    store = Store.open(store_url)
    writer = StoreWriter(store, flush_interval=10.0)
    down = Transition("api", T0 + 2, State.UP, State.DOWN, "refused")
    written = [make_result(at=T0 + i, ok=i < 2) for i in range(3)]
    await writer.put(written[0])
    await writer.put(written[1])
    await writer.put(written[2], [down])

    await writer.aclose()
    await writer.aclose()
    store.close()

    reopened = Store.open(store_url)
    try:
        assert reopened.results("api", since=0) == written
        assert reopened.states() == {"api": StoredState("api", State.DOWN, T0 + 2, "refused")}
    finally:
        reopened.close()


async def test_nothing_is_lost_when_many_tasks_put_at_once(
    store: Store, make_result: ResultFactory
) -> None:
    writer = StoreWriter(store, batch_size=64, flush_interval=0.001, max_queue=128)
    per_task = 400

    async def produce(monitor: str) -> None:
        for i in range(per_task):
            await writer.put(make_result(monitor, at=T0 + i))
            if i % 50 == 0:
                await asyncio.sleep(0)

    monitors = [f"m{n}" for n in range(12)]
    async with asyncio.TaskGroup() as group:
        for monitor in monitors:
            group.create_task(produce(monitor))
    await writer.aclose()

    assert writer.written == per_task * len(monitors)
    for monitor in monitors:
        stored = store.results(monitor, since=0, limit=10_000)
        assert [r.started_at for r in stored] == [T0 + i for i in range(per_task)]


async def test_put_waits_while_the_queue_is_full(store: Store, make_result: ResultFactory) -> None:
    writer = StoreWriter(store, batch_size=2, flush_interval=10.0, max_queue=2)
    await writer.put(make_result(at=T0))
    await writer.put(make_result(at=T0 + 1))
    depth_seen: list[int] = []

    async def third() -> None:
        depth_seen.append(writer.queue_depth)
        await writer.put(make_result(at=T0 + 2))

    await asyncio.wait_for(third(), timeout=10)
    await writer.aclose()

    assert depth_seen == [2]
    assert len(store.results("api", since=0)) == 3


async def test_flush_returns_at_once_when_nothing_was_put(store: Store) -> None:
    writer = StoreWriter(store)

    await asyncio.wait_for(writer.flush(), timeout=1)
    await writer.aclose()

    assert writer.written == 0


async def test_put_after_aclose_is_refused(store: Store, make_result: ResultFactory) -> None:
    writer = StoreWriter(store)
    await writer.aclose()

    with pytest.raises(RuntimeError, match="closed"):
        await writer.put(make_result())


async def test_writing_to_a_closed_store_stops_the_writer_loudly(
    store_url: str, make_result: ResultFactory
) -> None:
    store = Store.open(store_url)
    writer = StoreWriter(store, flush_interval=10.0)
    store.close()
    await writer.put(make_result())

    with pytest.raises(RuntimeError, match="stopped before its queue was written"):
        await writer.flush()
    with pytest.raises(StoreError, match="closed"):
        await writer.aclose()
    assert writer.queue_depth == 1


async def test_an_in_memory_store_serves_the_writer_and_readers_together(
    make_result: ResultFactory,
) -> None:
    store = Store.open("sqlite://")
    writer = StoreWriter(store, batch_size=50, flush_interval=0.001)
    try:
        for i in range(500):
            await writer.put(make_result(at=T0 + i))
            if i % 100 == 0:
                await asyncio.to_thread(store.last_results, "api", 10)
        await writer.aclose()
        assert len(store.results("api", since=0)) == 500
        assert store.size_bytes() is None
    finally:
        store.close()


class FlakyStore:
    """The real store behind a connection that drops the first ``failures`` writes."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store = store
        self.failures = failures

    def write(self, results: Sequence[Result], transitions: Sequence[Transition] = ()) -> None:
        if self.failures:
            self.failures -= 1
            raise TransientStoreError("cannot write store: connection lost")
        self.store.write(results, transitions)


async def test_a_batch_that_fails_is_retried_until_it_is_written(
    store: Store, make_result: ResultFactory, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = FlakyStore(store, failures=3)
    writer = StoreWriter(flaky, flush_interval=0.0)  # type: ignore[arg-type]
    written = [make_result(at=T0 + i) for i in range(5)]

    with caplog.at_level(logging.WARNING, logger="watchkeeper.store"):
        for result in written:
            await writer.put(result)
        await asyncio.wait_for(writer.aclose(), timeout=10)

    assert store.results("api", since=0) == written
    assert flaky.failures == 0
    assert sum("retrying" in record.message for record in caplog.records) == 3


async def test_a_result_the_database_refuses_is_logged_and_the_rest_written(
    store: Store, make_result: ResultFactory, caplog: pytest.LogCaptureFixture
) -> None:
    writer = StoreWriter(store, flush_interval=10.0)
    good = [make_result(at=T0 + i) for i in range(7)]
    refused = make_result(at=T0 + 3.5, error="lone surrogate \udcff")

    with caplog.at_level(logging.ERROR, logger="watchkeeper.store"):
        for result in [*good[:3], refused, *good[3:]]:
            await writer.put(result)
        await writer.aclose()

    assert store.results("api", since=0) == good
    assert writer.dropped == 1
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "dropping the result of monitor 'api'" in caplog.records[0].message


async def test_a_briefly_locked_sqlite_store_only_delays_the_batch(
    tmp_path: Path, make_result: ResultFactory
) -> None:
    path = tmp_path / "locked.db"
    store = Store.open(f"sqlite:///{path}")
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, locker.execute, ("COMMIT",))
    release.start()
    writer = StoreWriter(store, flush_interval=0.0)
    started = time.perf_counter()
    try:
        await writer.put(make_result(at=T0))
        await writer.aclose()
        assert time.perf_counter() - started >= 0.25
        assert len(store.results("api", since=0)) == 1
    finally:
        release.join()
        locker.close()
        store.close()


async def test_offer_never_waits_and_drops_only_plain_results_when_full(
    store: Store, make_result: ResultFactory, caplog: pytest.LogCaptureFixture
) -> None:
    writer = StoreWriter(store, batch_size=2, flush_interval=10.0, max_queue=2)
    transition = Transition("api", T0 + 3, State.UP, State.DOWN, "status 503")
    with caplog.at_level(logging.ERROR, logger="watchkeeper.store"):
        accepted = [
            writer.offer(make_result(at=T0)),
            writer.offer(make_result(at=T0 + 1)),
            writer.offer(make_result(at=T0 + 2)),  # full: dropped
            writer.offer(make_result(at=T0 + 3, ok=False), (transition,)),  # kept anyway
        ]
    await writer.aclose()
    assert accepted == [True, True, False, True]
    assert writer.overflowed == 1
    assert [r.started_at for r in store.results("api", since=0)] == [T0, T0 + 1, T0 + 3]
    assert store.states()["api"].state is State.DOWN
    assert any("not keeping up" in record.message for record in caplog.records)


async def test_aclose_gives_up_after_its_timeout_when_the_store_never_answers(
    store: Store, make_result: ResultFactory
) -> None:
    flaky = FlakyStore(store, failures=10**9)
    writer = StoreWriter(flaky, flush_interval=0.0)  # type: ignore[arg-type]
    for i in range(3):
        writer.offer(make_result(at=T0 + i))
    await asyncio.wait_for(writer.aclose(give_up_after=0.5), timeout=10)
    assert writer.unwritten == 3
    assert store.results("api", since=0) == []
