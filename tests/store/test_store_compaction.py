"""Contract: packing raw results into chunks changes no answer the Store gives, on SQLite and
PostgreSQL; late results, budgets and retention keep it so."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from tests.store.workload import HOUR, answers, stored, workload

from watchkeeper.model import State, Transition
from watchkeeper.store import Store, compaction

GRACE = 70.0


def _count(peek: sa.Engine, table: str) -> int:
    with peek.connect() as connection:
        return int(connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def test_packing_changes_no_answer(store: Store, peek: sa.Engine) -> None:
    monitors = ("api", "db", "web")
    written = workload(monitors, 240)  # two hours
    store.write(written[:300])
    store.write(written[300:], [Transition("db", HOUR + 60, State.UP, State.DOWN, "refused")])
    now = HOUR + 2 * 3600 + 120
    store.rollup(now, grace=GRACE)
    before = answers(store, monitors, now)

    packed = store.compact(now, grace=GRACE)

    assert packed > 0.9 * len(written)
    assert _count(peek, "result_chunks") > 0
    assert answers(store, monitors, now) == before
    api = sorted((r for r in written if r.monitor == "api"), key=lambda r: r.started_at)
    assert store.results("api", 0, limit=10**6) == stored(api)
    assert store.compact(now, grace=GRACE) == 0, "nothing left that is due"


def test_only_results_past_the_grace_and_the_minute_rollups_are_packed(
    store: Store, peek: sa.Engine
) -> None:
    store.write(workload(("api",), 60))  # 30 minutes

    assert store.compact(HOUR + 900 + GRACE, grace=GRACE) == 31  # no rollup yet: the grace
    assert _times(peek) == (HOUR + 900, HOUR + 900)
    store.rollup(HOUR + 1800, grace=30)  # the minute rollups reach HOUR + 1740
    assert store.compact(HOUR + 7200, grace=GRACE) == 28
    assert _times(peek) == (HOUR + 1740, HOUR + 1740)


def _times(peek: sa.Engine) -> tuple[float, float]:
    """The newest packed check and the oldest row, each rounded down to the minute."""
    with peek.connect() as connection:
        packed = connection.scalar(sa.text("SELECT max(last_ts) FROM result_chunks"))
        row = connection.scalar(sa.text("SELECT min(ts) FROM results"))
    return (packed // 60 * 60 + 60, row // 60 * 60)


def test_a_monitor_waits_for_enough_results_unless_they_grow_old(
    store: Store, peek: sa.Engine
) -> None:
    store.write(workload(("busy",), compaction.PACK_CHECKS, twin=False))
    store.write(workload(("quiet",), compaction.PACK_CHECKS - 1, seed=9, twin=False))
    now = HOUR + 600

    store.compact(now, grace=GRACE)
    assert _count(peek, "result_chunks") == 1  # the quiet one has too few to pack yet

    store.compact(now + compaction.PACK_AGE, grace=GRACE)
    assert _count(peek, "result_chunks") == 2
    assert _count(peek, "results") == 0


def test_a_late_result_is_packed_into_the_chunk_that_covers_its_time(
    store: Store, peek: sa.Engine
) -> None:
    written = workload(("api",), 40)
    store.write(written)
    store.compact(HOUR + 3600, grace=GRACE)
    chunks = _count(peek, "result_chunks")
    late = dataclasses.replace(written[20], started_at=written[20].started_at + 1, status=299)
    tied = dataclasses.replace(written[30], status=298)  # same time as one already packed
    store.write([late, tied])

    store.compact(HOUR + 7200, grace=GRACE)

    assert _count(peek, "results") == 0
    assert _count(peek, "result_chunks") == chunks
    expected = sorted([*written, late, tied], key=lambda r: r.started_at)  # stable: tied last
    assert store.results("api", 0, limit=1000) == stored(expected)


def test_compaction_takes_a_budget_at_a_time_and_goes_on_where_it_stopped(
    store: Store, peek: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compaction, "BUDGET", 100)
    monkeypatch.setattr(compaction, "_ID_CHUNK", 2)
    monitors = tuple(f"m{i}" for i in range(9))
    written = workload(monitors, 20)
    store.write(written)
    expected = {name: store.results(name, 0) for name in monitors}

    calls = 0
    while _count(peek, "results"):
        assert 0 < store.compact(HOUR + 3600, grace=GRACE) <= 100 + 2 * 20
        calls += 1
        assert {name: store.results(name, 0) for name in monitors} == expected

    assert calls == 2


def test_packed_results_past_their_retention_are_deleted_and_no_others(
    store: Store, peek: sa.Engine
) -> None:
    written = workload(("api", "db"), 240)
    store.write(written)
    now = HOUR + 4 * 3600
    store.compact(now, grace=GRACE)
    cutoff = HOUR + 3000.0  # inside a chunk of each monitor
    assert _count(peek, "results") == 0

    deleted = store.prune(now, raw=now - cutoff, minute=10**9, hour=10**9)

    assert deleted == sum(r.started_at < cutoff for r in written)
    for name in ("api", "db"):
        kept = [r for r in written if r.monitor == name and r.started_at >= cutoff]
        assert store.results(name, 0, limit=10**6) == stored(kept)
        assert store.samples(name, "body.size", 0, now, "raw")[0].at == kept[0].started_at
    assert store.prune(now, raw=now - cutoff, minute=10**9, hour=10**9) == 0
