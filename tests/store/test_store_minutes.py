"""Contract: the 1-minute tier reads the same whether its minutes come from raw results or
from packed rows (a busy monitor's packed when its hour is rolled up, any other's just before
its raw results are pruned), and its minutes go at their own horizon, on SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from tests.store.workload import HOUR, workload

from watchkeeper.model import Result
from watchkeeper.store import Store, minute_packing, minutes, rollups, sample_rollups

DAY = 86400.0
GRACE = 70.0
SERIES = ("body.size", "ratio", "sometimes")


def _busy() -> list[Result]:
    """A check every 10 s for an hour: more than the raw results should stand in for."""
    out = []
    for shift in (0.0, 10.0, 20.0):
        for result in workload(("busy",), 120, seed=int(shift), twin=False):
            out.append(dataclasses.replace(result, started_at=result.started_at + shift))
    return out


def _rows(store: Store) -> dict[str, Any]:
    """Every minute of every monitor and series, as the tier's readers get them."""
    with store.read() as connection:
        ids = sorted(int(i) for i in connection.scalars(sa.text("SELECT id FROM monitors")))
        found: dict[str, Any] = {"checks": minutes.check_rows(connection, ids, 0, HOUR + DAY)}
        for monitor_id in ids:
            for name in SERIES:
                found[f"{monitor_id} {name}"] = minutes.series_rows(
                    connection, monitor_id, name, 0, HOUR + DAY
                )
    return found


def _answers(store: Store, names: tuple[str, ...], until: float) -> dict[str, Any]:
    """What the public reads of the minutes say (and of the hours, to be sure)."""
    found: dict[str, Any] = {}
    for name in names:
        found[name] = {
            "1m": store.series(name, HOUR - 3600, until, "1m"),
            "1m from mid-minute": store.series(name, HOUR + 601.5, until, "1m"),
            "1m limited": store.series(name, HOUR, until, "1m", limit=7),
            "1h": store.series(name, HOUR - 3600, until, "1h"),
            "summary": store.summary(name, until - 3 * DAY, until),
            "summary 40 d": store.summary(name, until - 40 * DAY, until),
            **{f"{series} 1m": store.samples(name, series, HOUR, until, "1m") for series in SERIES},
            "ratio limited": store.samples(name, "ratio", HOUR + 59, until, "1m", 5),
            "minutes": store.minute_counts(name, HOUR, until),
        }
    return found


def _count(store: Store, table: str) -> int:
    with store.read() as connection:
        return int(connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def test_a_busy_monitor_has_its_minutes_packed_with_its_hour_and_they_read_the_same(
    store: Store,
) -> None:
    store.write([*workload(("api",), 110), *_busy()])  # 111 checks in the hour, and 360
    now = HOUR + 3600 + GRACE + 60
    engine = store._engine
    rollups.roll_up(engine, now, GRACE)
    sample_rollups.roll_up(engine, now, GRACE)
    computed, answers = _rows(store), _answers(store, ("api", "busy"), now)

    assert minute_packing.pack_dense(engine) == 2  # its checks and its series, not api's
    assert (_count(store, "rollup_1m"), _count(store, "sample_1m")) == (1, 1)
    assert _rows(store) == computed
    assert _answers(store, ("api", "busy"), now) == answers
    assert store.rollup(now, grace=GRACE) == 0, "packed once"


def test_minutes_are_packed_before_their_raw_results_are_pruned_and_read_the_same(
    store: Store,
) -> None:
    store.write([*workload(("api", "db"), 110), *_busy()])
    now = HOUR + 2 * 3600
    store.rollup(now, grace=GRACE)
    computed, answers = _rows(store), _answers(store, ("api", "db", "busy"), now)
    assert _count(store, "rollup_1m") == 1  # busy's

    store.prune(HOUR + 15 * DAY, raw=14 * DAY, minute=90 * DAY, hour=365 * DAY)

    assert store.results("api", 0) == []
    assert (_count(store, "rollup_1m"), _count(store, "sample_1m")) == (3, 3)
    assert _rows(store) == computed
    assert _answers(store, ("api", "db", "busy"), now) == answers


def test_minutes_past_their_retention_are_not_read_and_their_packed_hours_go(
    store: Store,
) -> None:
    store.write(workload(("api",), 120))
    store.rollup(HOUR + 2 * 3600, grace=GRACE)
    every = _rows(store)["checks"]
    assert len(every) == 60

    store.prune(HOUR + 15 * DAY, raw=14 * DAY, minute=90 * DAY, hour=365 * DAY)
    assert _rows(store)["checks"] == every

    store.prune(HOUR + 90 * DAY + 1800, raw=14 * DAY, minute=90 * DAY, hour=365 * DAY)
    assert _rows(store)["checks"] == [row for row in every if row[1] >= HOUR + 1800]
    assert store.series("api", HOUR, HOUR + 3600, "1m")[0].at == HOUR + 1800
    assert _count(store, "rollup_1m") == 1, "its hour is not over yet"

    store.prune(HOUR + 90 * DAY + 3600, raw=14 * DAY, minute=90 * DAY, hour=365 * DAY)
    assert _rows(store)["checks"] == []
    assert (_count(store, "rollup_1m"), _count(store, "sample_1m")) == (0, 0)
    assert len(store.series("api", HOUR, HOUR + 3600, "1h")) == 1, "the hour stays"


def test_a_minute_horizon_shorter_than_the_raw_one_still_hides_older_minutes(
    store: Store,
) -> None:
    """Retention keeps minutes at least as long as raw results (the configuration says so),
    but a prune told otherwise hides the minutes past it as it once deleted them."""
    store.write(workload(("api",), 120))
    store.rollup(HOUR + 2 * 3600, grace=GRACE)

    store.prune(HOUR + 1800 + 5 * DAY, raw=14 * DAY, minute=5 * DAY, hour=365 * DAY)

    assert len(store.results("api", 0, limit=10**6)) == 121
    assert [row[1] for row in _rows(store)["checks"]] == [HOUR + 60 * m for m in range(30, 60)]


def test_prunes_that_take_an_hour_of_raw_results_bit_by_bit_keep_its_minutes_whole(
    store: Store,
) -> None:
    store.write(workload(("api", "db"), 120))
    store.rollup(HOUR + 2 * 3600, grace=GRACE)
    every = _rows(store)

    for minute in range(0, 75, 7):  # as the engine prunes: every few minutes
        store.prune(HOUR + 14 * DAY + minute * 60 + 13.5, raw=14 * DAY, minute=90 * DAY, hour=10**9)
        assert _rows(store) == every

    assert store.results("api", 0) == []
    assert _count(store, "rollup_1m") == 2
