"""Contract: prune deletes rows past each table's horizon, and nothing younger (but a
heartbeat's newest pings, whatever their age)."""

from __future__ import annotations

from collections.abc import Callable

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
    store.ensure_monitors((name, "http", "") for name in names)
    store.write([make_result(name, at=NOW - 90) for name in names])
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

    deleted = store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR)

    with store.read() as connection:
        counts = {m: pings.count(connection, m) for m in (monthly, few, busy)}
    assert counts == {monthly: pings.RECENT, few: 50, busy: 250}, counts
    assert deleted == 300 - pings.RECENT + 100
    assert {m: _rebuilt(store, m) for m in before} == before, "a restart sees the same state"
    assert store.prune(NOW, raw=RAW, minute=MINUTE, hour=HOUR) == 0, "nothing more to do"
