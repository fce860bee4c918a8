"""Contract: rollups match percentiles computed here, are idempotent, wait for late results;
summaries read the resolution their window calls for."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store, minutes
from watchkeeper.store.schema import ROLLUP_VALUE_COLUMNS

ResultFactory = Callable[..., Result]

HOUR_START = 1_699_999_200.0  # a multiple of 3600 (and so of 60)
DAY = 86400.0
PHASES = ("total", "dns", "connect", "tls", "ttfb")


def _random_results(seed: int, minutes: int, per_minute: int) -> list[Result]:
    rng = random.Random(seed)
    results = []
    for monitor in ("api", "db"):
        for minute in range(minutes):
            for _ in range(per_minute):
                failed = rng.random() < 0.2
                error = failed and rng.random() < 0.5

                def phase(scale: float, rng: random.Random = rng) -> float:
                    return round(rng.lognormvariate(0, 0.8) * scale, 6)

                results.append(
                    Result(
                        monitor,
                        "http",
                        HOUR_START + minute * 60 + rng.uniform(0, 59.999),
                        not failed,
                        Phases(
                            dns=None if rng.random() < 0.3 else phase(0.002),
                            connect=phase(0.01),
                            tls=phase(0.02),
                            ttfb=None if error else phase(0.08),
                            total=None if error else phase(0.12),
                        ),
                        failures=["status == 200"] if failed and not error else [],
                        error="timeout" if error else None,
                        status=None if error else (503 if failed else 200),
                    )
                )
    return results


def _expected(results: list[Result], width: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Rollup rows computed independently: statistics.quantiles (inclusive = linear)."""
    groups: dict[tuple[str, int], list[Result]] = defaultdict(list)
    for result in results:
        groups[(result.monitor, int(result.started_at // width * width))].append(result)
    expected = {}
    for key, members in groups.items():
        row: dict[str, Any] = {
            "checks": len(members),
            "failures": sum(not r.ok for r in members),
        }
        for name in PHASES:
            values = [v * 1000 for r in members if (v := r.phases.get(name)) is not None]
            if len(values) >= 2:
                cuts = statistics.quantiles(values, n=100, method="inclusive")
                percentiles = [cuts[49], cuts[94], cuts[98], max(values)]
            elif values:
                percentiles = [values[0]] * 4
            else:
                percentiles = [None] * 4
            for statistic, value in zip(("p50", "p95", "p99", "max"), percentiles, strict=True):
                row[f"{name}_{statistic}"] = value
        expected[key] = row
    return expected


def _minute_rows(store: Store) -> dict[tuple[str, int], dict[str, Any]]:
    """The 1-minute rollup rows as every reader gets them (packed or from raw results)."""
    with store.read() as connection:
        names = {
            int(i): str(n) for i, n in connection.execute(sa.text("SELECT id, name FROM monitors"))
        }
        rows = minutes.check_rows(connection, sorted(names), 0, 4e9)
    columns = ["checks", "failures", *ROLLUP_VALUE_COLUMNS]
    return {
        (names[int(row[0])], int(row[1])): dict(zip(columns, row[2:], strict=True)) for row in rows
    }


def _packed(peek: sa.Engine, table: str = "rollup_1m") -> int:
    with peek.connect() as connection:
        return int(connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def _rollup_rows(peek: sa.Engine, table: str) -> dict[tuple[str, int], dict[str, Any]]:
    with peek.connect() as connection:
        rows = connection.execute(
            sa.text(
                f"SELECT m.name AS monitor, r.* FROM {table} r "
                "JOIN monitors m ON m.id = r.monitor_id"
            )
        ).mappings()
        return {
            (row["monitor"], int(row["bucket"])): {
                key: value
                for key, value in row.items()
                if key not in ("monitor", "bucket", "monitor_id")
            }
            for row in rows
        }


def _approx(rows: dict[tuple[str, int], dict[str, Any]]) -> object:
    return {
        key: {name: pytest.approx(value, rel=1e-9) for name, value in row.items()}
        for key, row in rows.items()
    }


def test_it_rolls_up_closed_minutes_and_hours_matching_independent_percentiles(
    store: Store, peek: sa.Engine
) -> None:
    results = _random_results(seed=7, minutes=3, per_minute=25)
    store.write(results)

    assert store.rollup(now=HOUR_START + 180 + 30) == 0  # minutes: read from raw results
    assert len(_minute_rows(store)) == 6
    hours_written = store.rollup(now=HOUR_START + 3600 + 30)

    assert hours_written == 2
    assert _minute_rows(store) == _approx(_expected(results, 60))
    assert _rollup_rows(peek, "rollup_1h") == _approx(_expected(results, 3600))


def test_it_writes_the_same_rollups_when_run_again(store: Store, peek: sa.Engine) -> None:
    store.write(_random_results(seed=3, minutes=5, per_minute=5))
    now = HOUR_START + 2 * 3600
    first = store.rollup(now)
    rows = (_minute_rows(store), _rollup_rows(peek, "rollup_1h"))

    assert store.rollup(now) == 0
    with peek.begin() as connection:
        connection.execute(sa.text("DELETE FROM meta"))
    assert store.rollup(now) == first
    assert (_minute_rows(store), _rollup_rows(peek, "rollup_1h")) == rows


def test_it_counts_results_that_arrive_late_within_the_grace(
    store: Store, peek: sa.Engine, make_result: ResultFactory
) -> None:
    minute = HOUR_START + 600
    store.write([make_result(at=minute + 10)])

    store.rollup(now=minute + 70)
    assert _minute_rows(store) == {}  # the minute ended 10 s ago: still open
    store.write([make_result(at=minute + 59.5, ok=False)])  # late, within the grace
    store.rollup(now=minute + 90)

    rows = _minute_rows(store)
    assert rows[("api", int(minute))]["checks"] == 2
    assert rows[("api", int(minute))]["failures"] == 1


def test_it_leaves_rollups_alone_before_any_result(store: Store) -> None:
    assert store.rollup(now=HOUR_START) == 0


def test_it_picks_up_monitors_that_appear_after_the_first_rollup(
    store: Store, peek: sa.Engine, make_result: ResultFactory
) -> None:
    store.write([make_result("api", at=HOUR_START + 5)])
    store.rollup(now=HOUR_START + 100)
    store.write([make_result("new", at=HOUR_START + 125)])

    store.rollup(now=HOUR_START + 210)

    assert ("new", int(HOUR_START + 120)) in _minute_rows(store)


@pytest.mark.parametrize(
    ("span", "resolution"),
    [
        (3600.0, "raw"),
        (2 * DAY, "raw"),
        (2 * DAY + 1, "1m"),
        (30 * DAY, "1m"),
        (30 * DAY + 1, "1h"),
        (3 * 365 * DAY, "1h"),
    ],
)
def test_a_summary_reads_the_resolution_its_window_calls_for(
    store: Store, make_result: ResultFactory, span: float, resolution: str
) -> None:
    store.write([make_result(at=HOUR_START + 10)])

    summary = store.summary("api", since=HOUR_START + 60 - span, until=HOUR_START + 60)

    assert summary.resolution == resolution
    assert summary.checks == 1


def test_a_raw_summary_has_exact_uptime_and_latency_in_seconds(
    store: Store, make_result: ResultFactory
) -> None:
    totals = [0.1, 0.2, 0.3, 0.4, 1.0]
    store.write([make_result(at=HOUR_START + i, total=t, ok=i != 4) for i, t in enumerate(totals)])
    store.write([make_result(at=HOUR_START + 9, ok=False, total=None, error="refused")])

    summary = store.summary("api", since=HOUR_START, until=HOUR_START + 3600)

    cuts = statistics.quantiles(totals, n=100, method="inclusive")
    assert (summary.checks, summary.failures) == (6, 2)
    assert summary.uptime == pytest.approx(4 / 6)
    assert summary.latency_p50 == pytest.approx(cuts[49])
    assert summary.latency_p95 == pytest.approx(cuts[94])
    assert summary.latency_p99 == pytest.approx(cuts[98])
    assert summary.latency_max == pytest.approx(1.0)


def test_a_rollup_summary_sums_buckets_and_keeps_the_exact_max(store: Store) -> None:
    results = _random_results(seed=11, minutes=10, per_minute=6)
    store.write(results)
    store.rollup(now=HOUR_START + 3 * 3600)
    api = [r for r in results if r.monitor == "api"]
    totals = [r.phases.total for r in api if r.phases.total is not None]

    for span in (3 * DAY, 40 * DAY):
        summary = store.summary("api", since=HOUR_START + 3600 - span, until=HOUR_START + 3600)
        assert summary.resolution == ("1m" if span < 30 * DAY else "1h")
        assert summary.checks == len(api)
        assert summary.failures == sum(not r.ok for r in api)
        assert summary.latency_max == pytest.approx(max(totals))
        assert summary.latency_p50 is not None
        assert min(totals) <= summary.latency_p50 <= max(totals)


def test_a_rollup_summary_includes_results_not_rolled_up_yet(
    store: Store, make_result: ResultFactory
) -> None:
    store.write([make_result(at=HOUR_START + i * 60, total=0.1) for i in range(5)])
    store.rollup(now=HOUR_START + 600)
    store.write([make_result(at=HOUR_START + 700, total=2.0, ok=False)])

    summary = store.summary("api", since=HOUR_START + 800 - 5 * DAY, until=HOUR_START + 800)

    assert summary.resolution == "1m"
    assert (summary.checks, summary.failures) == (6, 1)
    assert summary.latency_max == pytest.approx(2.0)


def test_a_summary_without_checks_has_no_uptime_or_latency(store: Store) -> None:
    summary = store.summary("nobody", since=0.0, until=3600.0)

    assert (summary.checks, summary.failures) == (0, 0)
    assert summary.uptime is None
    assert summary.latency_p50 is None
    assert summary.latency_max is None


def test_a_longer_grace_keeps_buckets_open_for_slow_results(
    store: Store, make_result: ResultFactory
) -> None:
    bucket = 1_700_000_040.0 - 1_700_000_040.0 % 60
    store.write([make_result(at=bucket + 10)])
    # a 45 s timeout: the failed result of a check started in the bucket lands 55 s later
    assert store.rollup(bucket + 60 + 31, grace=105) == 0  # still open
    store.write([make_result(at=bucket + 50, ok=False)])
    store.rollup(bucket + 60 + 106, grace=105)
    summary = store.summary("api", bucket - 3 * 86400, bucket + 60)
    assert summary.resolution == "1m"
    assert (summary.checks, summary.failures) == (2, 1)
