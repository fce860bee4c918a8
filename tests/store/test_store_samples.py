"""Series: a check's numeric observations stored beside its result, rolled up per minute and
hour, read raw or rolled up, and pruned with the results — on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.store.conftest import ResultFactory

from watchkeeper.engine.runner import numeric_facts
from watchkeeper.store import Store

T0 = 1_700_000_040.0  # a minute boundary


def test_numeric_facts_become_series_and_nothing_else() -> None:
    facts = {
        "status": 200,
        "pg.connections": 7,
        "pg.version": "16.4",
        "pg.in_recovery": False,
        "disk./": {"used_pct": 41.5, "free": 10_000, "mount": "/"},
        "metric.up": {"count": 1, "value": 1.0},
        "amqp.queue": {"jobs": {"messages": 3, "consumers": 1, "vhost": "/"}},
        "dns.answers": ["192.0.2.1"],
        "body": b"123",
        "bad": float("nan"),
    }
    assert numeric_facts(facts) == {
        "pg.connections": 7.0,
        "pg.in_recovery": 0.0,
        "disk./.used_pct": 41.5,
        "disk./.free": 10_000.0,
        "metric.up.count": 1.0,
        "metric.up.value": 1.0,
        "amqp.queue.jobs.messages": 3.0,
        "amqp.queue.jobs.consumers": 1.0,
    }


def test_series_are_stored_with_results_and_read_back_raw_and_rolled_up(
    store: Store, make_result: ResultFactory
) -> None:
    results = []
    for i in range(180):  # 3 minutes, one check a second; connections climb 0..179
        result = make_result("db", T0 + i, kind="postgres")
        results.append(replace(result, metrics={"pg.connections": float(i), "pg.lag": 0.5}))
    store.write(results)
    names = {item.name: item.value for item in store.sample_names("db", T0)}
    assert names == {"pg.connections": 179.0, "pg.lag": 0.5}
    raw = store.samples("db", "pg.connections", T0, T0 + 180, "raw")
    assert [p.last for p in raw] == [float(i) for i in range(180)]
    # before any rollup the minute points come from raw samples, after it from the rollup
    # (from raw samples still), and once the hour is rolled up from the minutes packed then
    # (180 checks in an hour are more than raw samples should stand in for)
    before = store.samples("db", "pg.connections", T0, T0 + 180, "1m")
    store.rollup(T0 + 180 + 31, grace=30)
    after = store.samples("db", "pg.connections", T0, T0 + 180, "1m")
    assert before == after
    hour_end = T0 - T0 % 3600 + 3600
    assert store.rollup(hour_end + 31, grace=30) > 0
    assert store.samples("db", "pg.connections", T0, T0 + 180, "1m") == after
    assert [(p.at, p.count, p.min, p.max, p.mean, p.last) for p in after] == [
        (T0, 60, 0.0, 59.0, 29.5, 59.0),
        (T0 + 60, 60, 60.0, 119.0, 89.5, 119.0),
        (T0 + 120, 60, 120.0, 179.0, 149.5, 179.0),
    ]
    assert store.rollup(hour_end + 31, grace=30) == 0, "a second run writes nothing new"
    hourly = store.samples("db", "pg.connections", T0 - 3600, T0 + 3600, "1h")
    assert sum(p.count for p in hourly) == 180
    assert min(p.min for p in hourly) == 0.0 and max(p.max for p in hourly) == 179.0
    assert store.samples("db", "pg.connections", T0, T0 + 180, "raw", limit=5)[-1].last == 4.0
    assert store.samples("nobody", "pg.connections", T0, T0 + 180, "raw") == []


@pytest.mark.parametrize("days", [20])
def test_old_samples_are_pruned_with_the_raw_results(
    store: Store, make_result: ResultFactory, days: int
) -> None:
    old = replace(make_result("db", T0, kind="postgres"), metrics={"x": 1.0})
    young = replace(make_result("db", T0 + days * 86400, kind="postgres"), metrics={"x": 2.0})
    store.write([old, young])
    store.prune(T0 + days * 86400 + 1, raw=14 * 86400, minute=90 * 86400, hour=365 * 86400)
    left = store.samples("db", "x", T0 - 1, T0 + days * 86400 + 1, "raw")
    assert [p.last for p in left] == [2.0]
