"""Contract: prune deletes rows past each table's horizon, and nothing younger (but a
heartbeat's newest pings, whatever their age)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from watchkeeper.checks.heartbeat import Beats
from watchkeeper.model import Result, State, Transition
from watchkeeper.store import Store, minutes, pings, retention

ResultFactory = Callable[..., Result]

DAY = 86400.0
NOW = 1_700_006_400.0  # a multiple of 3600
RAW, MINUTE, HOUR = 14 * DAY, 90 * DAY, 3 * 365 * DAY


def _count(peek: sa.Engine, table: str) -> int:
    with peek.connect() as connection:
        return int(connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def _minutes(store: Store) -> list[tuple[object, ...]]:
    """Every 1-minute rollup row, as readers get them."""
    with store.read() as connection:
        ids = sorted(int(i) for i in connection.scalars(sa.text("SELECT id FROM monitors")))
        return minutes.check_rows(connection, ids, 0, NOW + DAY)


def test_it_deletes_raw_results_past_their_retention_only(
    store: Store, make_result: ResultFactory
) -> None:
    ages = [20 * DAY, 14 * DAY + 1, 14 * DAY - 1, 1 * DAY, 0.0]
    store.write([make_result(m, at=NOW - age) for age in ages for m in ("api", "db")])

    deleted = store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR)

    assert deleted == 4
    for monitor in ("api", "db"):
        kept = store.results(monitor, since=0)
        assert [r.started_at for r in kept] == [NOW - age for age in ages[2:]]


def test_it_deletes_rollups_and_state_changes_past_their_retention(
    store: Store, peek: sa.Engine, make_result: ResultFactory
) -> None:
    # results at 1 y, 100 d and 10 d ago, rolled up, then pruned with short horizons
    ages = [365 * DAY, 100 * DAY, 10 * DAY]
    store.write([make_result(at=NOW - age) for age in ages])
    store.write(
        [],
        [
            Transition("api", NOW - 4 * 365 * DAY, State.UNKNOWN, State.UP),
            Transition("api", NOW - 10 * DAY, State.UP, State.DOWN, "timeout"),
        ],
    )
    store.rollup(NOW)
    assert (len(_minutes(store)), _count(peek, "rollup_1h")) == (3, 3)

    deleted = store.prune(NOW, raw=RAW, minute=MINUTE, hour=200 * DAY)

    # raw: 2 (1 y, 100 d); 1h: 1 (1 y); state changes: 1 (4 y); the minutes were read from
    # the raw results (none was packed: the two old ones were past their horizon already)
    assert deleted == 4
    assert (len(_minutes(store)), _count(peek, "rollup_1h")) == (1, 2)
    assert _count(peek, "rollup_1m") == 0
    assert [t.to_state for t in store.transitions()] == [State.DOWN]
    assert store.states()["api"].state is State.DOWN


def test_state_changes_outlive_the_raw_results_they_came_with(
    store: Store, make_result: ResultFactory
) -> None:
    """State changes are kept as long as the 1-hour rollups, not pruned with raw results."""
    month_ago = NOW - 30 * DAY
    store.write(
        [make_result(at=month_ago, ok=False)],
        [Transition("api", month_ago, State.UP, State.DOWN, "timeout")],
    )

    assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 1

    assert store.results("api", since=0) == []
    assert [(t.at, t.to_state) for t in store.transitions()] == [(month_ago, State.DOWN)]


def test_it_deletes_in_batches_until_everything_old_is_gone(
    store: Store, make_result: ResultFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH_ROWS", 7)
    store.write([make_result(at=NOW - 30 * DAY + i) for i in range(50)])
    store.write([make_result(at=NOW - 30 * DAY + 3) for _ in range(10)])  # ties at a boundary
    store.write([make_result(at=NOW - i) for i in range(5)])

    assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 60
    assert len(store.results("api", since=0)) == 5


def test_it_deletes_nothing_when_everything_is_young(
    store: Store, make_result: ResultFactory
) -> None:
    store.write([make_result(at=NOW - i * 3600) for i in range(24)])

    assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 0
    assert len(store.results("api", since=0)) == 24


def test_upkeep_work_does_not_grow_with_the_number_of_monitors(
    store: Store, make_result: ResultFactory
) -> None:
    """Prune and rollup with little to do stay a few dozen statements at 3,000 monitors
    (they once ran a query per monitor per table: minutes of work holding up the checks)."""
    names = [f"svc-{i}" for i in range(3000)]
    ids = store.ensure_monitors((name, "heartbeat", "") for name in names)
    store.write([make_result(name, at=NOW - 90) for name in names])
    with store.transaction() as connection:  # and a young ping each: none to look into
        pings.add(connection, [pings.Ping(ids[name], NOW - 60, "success") for name in names])
    store.rollup(NOW - 3600)  # sets the watermarks
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = store._engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 0
        pruning = len(statements)
        store.rollup(NOW)
        rolling = len(statements) - pruning
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    # a few statements per 500 monitors and table, not one per monitor (3,000 here)
    assert pruning <= len(names) // 30, pruning
    assert rolling <= len(names) // 30, rolling


def _ping_history(store: Store, monitor: str, ages: list[float]) -> int:
    """Pings of heartbeat ``monitor`` at ``NOW - age`` (a run start before each success, a
    failure every tenth); returns the monitor's id."""
    monitor_id = store.monitor_id(monitor, "heartbeat")
    rows = []
    for index, age in enumerate(sorted(ages, reverse=True)):
        kind = "fail" if index % 10 == 9 else ("start" if index % 2 == 0 else "success")
        rows.append(pings.Ping(monitor_id, NOW - age, kind, rid="r" if kind == "start" else None))
    with store.transaction() as connection:
        pings.add(connection, rows)
    return monitor_id


def _rebuilt(store: Store, monitor_id: int) -> Beats:
    """The state a restart rebuilds (as ``Heartbeats.load`` does)."""
    beats = Beats(since=0.0)
    with store.read() as connection:
        for ping in pings.recent(connection, monitor_id):
            beats.record(ping.kind, ping.ts, ping.rid or "", ping.exit_code)
    return beats


def test_it_deletes_old_pings_but_keeps_the_newest_a_heartbeat_state_is_rebuilt_from(
    store: Store,
) -> None:
    old = [30 * DAY + i for i in range(300)]
    monthly = _ping_history(store, "monthly", old)  # every ping past the horizon
    few = _ping_history(store, "few", old[:50])  # fewer than the state needs
    busy = _ping_history(store, "busy", old[:100] + [DAY + i for i in range(250)])
    before = {m: _rebuilt(store, m) for m in (monthly, few, busy)}

    with _executed(store._engine) as seen:
        deleted = store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR)

    with store.read() as connection:
        counts = {m: pings.count(connection, m) for m in (monthly, few, busy)}
    assert counts == {monthly: pings.RECENT, few: 50, busy: 250}, counts
    assert deleted == 300 - pings.RECENT + 100
    # a few statements per monitor with old pings (where its floor is, then a slice per
    # doubling of the time pruned: 16 here), not one per old ping (450)
    assert len(_on(seen, "pings")) <= 30, _on(seen, "pings")
    assert {m: _rebuilt(store, m) for m in before} == before, "a restart sees the same state"
    assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 0, "nothing more to do"


def test_series_rollups_go_at_the_minute_and_hour_horizons(
    store: Store, peek: sa.Engine, make_result: ResultFactory
) -> None:
    ages = [365 * DAY, 100 * DAY, 10 * DAY]
    store.write([replace(make_result("db", NOW - age), metrics={"x": age}) for age in ages])
    store.rollup(NOW)
    # a 30 s monitor's minutes are read from its raw results: nothing is packed for them
    assert (_count(peek, "sample_1m"), _count(peek, "sample_1h")) == (0, 3)

    deleted = store.prune(NOW, raw=RAW, minute=MINUTE, hour=200 * DAY)

    # raw: 2 (1 y, 100 d; their minutes past the minute horizon, so none packed); rollups 1h:
    # 1 and series 1h: 1 (1 y)
    assert deleted == 2 + 1 + 1
    assert _count(peek, "sample_1m") == 0
    minutes = store.samples("db", "x", 0, NOW, "1m")
    hours = store.samples("db", "x", 0, NOW, "1h")
    assert [p.last for p in minutes] == [10 * DAY]
    assert [p.last for p in hours] == [100 * DAY, 10 * DAY]


@contextlib.contextmanager
def _executed(engine: sa.Engine) -> Iterator[list[tuple[str, dict[str, Any], int]]]:
    """Each statement run on ``engine`` meanwhile: its SQL, parameters and row count."""
    seen: list[tuple[str, dict[str, Any], int]] = []

    def record(*args: Any) -> None:
        cursor, statement, context = args[1], args[2], args[4]
        compiled = getattr(context, "compiled_parameters", None) or [{}]  # None: driver SQL
        seen.append((statement.strip(), compiled[0], cursor.rowcount))

    sa.event.listen(engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "after_cursor_execute", record)


def _on(seen: list[tuple[str, dict[str, Any], int]], table: str) -> list[str]:
    """The statements of ``seen`` that read or change ``table``."""
    return [sql for sql, _, _ in seen if re.search(rf"\b{table}\b", sql)]


def _slices(
    seen: list[tuple[str, dict[str, Any], int]], table: str
) -> tuple[list[float], list[int]]:
    """The DELETEs on ``table`` in ``seen``: the end of each one's time slice (its one float
    parameter: monitor ids are integers), and the rows it deleted."""
    ends, counts = [], []
    for sql, parameters, count in seen:
        if sql.startswith(f"DELETE FROM {table} "):
            bounds = [v for v in parameters.values() if type(v) is float]
            assert len(bounds) == 1, sql
            ends.append(bounds[0])
            counts.append(count)
    return ends, counts


def _then_doubling(ends: list[float], step: float, cutoff: float) -> list[float]:
    """``ends`` followed by slices of ``step``, doubling each time (nothing left to
    delete), the last one stopping at ``cutoff``."""
    ends = list(ends)
    while ends[-1] < cutoff:
        ends.append(min(ends[-1] + step, cutoff))
        step *= 2
    return ends


def test_each_slice_halves_after_too_many_rows_and_doubles_after_too_few(
    store: Store, make_result: ResultFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices start at an hour and keep each transaction near BATCH_ROWS: one that deleted
    more halves the next, one that deleted under a quarter of it doubles the next, and
    anything between keeps it."""
    monkeypatch.setattr(retention, "BATCH_ROWS", 13)  # a quarter: 3 (13 // 4)
    start = NOW - 30 * DAY
    # rows per slice as they should be cut: [0 h, 1 h) 14 (over: halve to 30 min),
    # [1 h, 1.5 h) 13 (not over: keep), [1.5 h, 2 h) 3 (not under a quarter: keep),
    # [2 h, 2.5 h) 2 (under: double), then nothing (double each time) up to the cutoff
    layout = [(0.0, 14), (3600.0, 13), (5400.0, 3), (7200.0, 2)]
    store.write([make_result(at=start + at + 60 * i) for at, rows in layout for i in range(rows)])
    store.write([make_result(at=NOW - i) for i in range(3)])  # young: kept
    cutoff = NOW - RAW
    expected = _then_doubling([start + h * 3600 for h in (1, 1.5, 2, 2.5)], 3600.0, cutoff)

    with _executed(store._engine) as seen:
        assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 32

    ends, counts = _slices(seen, "results")
    assert ends == expected
    assert counts == [14, 13, 3, 2] + [0] * (len(expected) - 4)
    assert len(store.results("api", since=0)) == 3


def test_a_slice_never_shrinks_below_a_second(
    store: Store, make_result: ResultFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH_ROWS", 13)
    monkeypatch.setattr(retention, "_FIRST_SLICE", 4.0)
    start = NOW - 30 * DAY
    # 16 checks a second for 8 s: 4 s (64: halve), 2 s (32: halve), then 1 s slices of 16,
    # each over 13, halving no further; then nothing, doubling to the cutoff
    store.write([make_result(at=start + i / 16) for i in range(128)])
    expected = _then_doubling([start + s for s in (4, 6, 7, 8)], 1.0, NOW - RAW)

    with _executed(store._engine) as seen:
        assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 128

    ends, counts = _slices(seen, "results")
    assert ends == expected
    assert counts[:4] == [64, 32, 16, 16] and not any(counts[4:])


def _chunks(peek: sa.Engine) -> dict[str, list[tuple[float, float, int]]]:
    """Each monitor's chunks: first and last check time, and how many checks."""
    query = sa.text(
        "SELECT m.name, c.first_ts, c.last_ts, c.checks FROM result_chunks c"
        " JOIN monitors m ON m.id = c.monitor_id ORDER BY m.name, c.first_ts"
    )
    found: dict[str, list[tuple[float, float, int]]] = {}
    with peek.connect() as connection:
        for name, first, last, checks in connection.execute(query):
            found.setdefault(name, []).append((first, last, checks))
    return found


def test_packed_checks_past_the_horizon_go_whole_chunks_or_part_of_one(
    store: Store, peek: sa.Engine, make_result: ResultFactory
) -> None:
    cutoff = NOW - RAW
    times = {
        # two chunks wholly past the horizon, days apart: one far, one that starts exactly
        # MAX_SPAN (an hour) before the horizon
        "api": [cutoff - 20 * DAY + 60 * i for i in range(10)]
        + [cutoff - 3600 + 60 * i for i in range(10)],
        # one chunk that reaches across it, from exactly an hour before to exactly on it
        "db": [cutoff - 3600 + 400 * i for i in range(10)],
        # one chunk from exactly the horizon on: young
        "web": [cutoff + 60 * i for i in range(15)],
    }
    store.write([make_result(name, at=at) for name, ats in times.items() for at in ats])
    store.compact(NOW, grace=60)
    assert _chunks(peek) == {
        "api": [
            (cutoff - 20 * DAY, cutoff - 20 * DAY + 540, 10),
            (cutoff - 3600, cutoff - 3060, 10),
        ],
        "db": [(cutoff - 3600, cutoff, 10)],
        "web": [(cutoff, cutoff + 840, 15)],
    }, "the chunks this test is about"

    with _executed(store._engine) as seen:
        deleted = store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR)

    # every check before the horizon, counted as a check (not as a chunk row)
    assert deleted == sum(at < cutoff for ats in times.values() for at in ats) == 29
    for name, ats in times.items():
        kept = [r.started_at for r in store.results(name, since=0, limit=10**6)]
        assert kept == [at for at in ats if at >= cutoff], name
    assert _chunks(peek) == {"db": [(cutoff, cutoff, 1)], "web": [(cutoff, cutoff + 840, 15)]}
    inserts = [sql for sql in _on(seen, "result_chunks") if sql.startswith("INSERT")]
    assert len(inserts) == 1, "only the chunk across the horizon is written again"
    assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 0


def test_a_table_with_nothing_past_the_horizon_costs_one_query(
    store: Store, make_result: ResultFactory
) -> None:
    """The usual prune: a chunk, a result and a ping exactly at the horizon, none older."""
    cutoff = NOW - RAW
    store.write([make_result("web", at=cutoff + 60 * i) for i in range(15)])
    store.compact(NOW, grace=60)
    store.write([make_result("web", at=cutoff)])  # a row, as new results are
    with store.transaction() as connection:
        pings.add(connection, [pings.Ping(store.monitor_id("web"), cutoff, "success")])

    with _executed(store._engine) as seen:
        assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 0

    for table in ("result_chunks", "results", "pings"):
        assert len(_on(seen, table)) == 1, (table, _on(seen, table))
