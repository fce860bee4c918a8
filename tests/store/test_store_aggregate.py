"""The pure numbers behind rollups and summaries, without a database."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.store.aggregate import Statistics, buckets, combine, weighted_percentile


def test_buckets_match_numpy_percentiles_per_monitor_and_minute() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    phases = [np.where(rng.random(n) < 0.25, np.nan, rng.lognormal(3, 1, n)) for _ in range(5)]
    raw = np.column_stack(
        [rng.integers(1, 8, n), rng.uniform(0, 600, n), rng.integers(0, 2, n), *phases]
    )

    rows = buckets(raw, 60)

    assert len(rows) == len({(int(m), int(t // 60)) for m, t in raw[:, :2]})
    assert sum(row[2] for row in rows if isinstance(row[2], int)) == n
    for row in rows:
        members = (raw[:, 0] == row[0]) & (np.floor(raw[:, 1] / 60) * 60 == row[1])
        assert row[2] == members.sum()
        assert row[3] == (raw[members, 2] == 0).sum()
        for phase in range(5):
            values = raw[members, 3 + phase]
            values = values[~np.isnan(values)]
            expected = [*np.percentile(values, [50, 95, 99]), values.max()] if values.size else []
            assert list(row[4 + 4 * phase : 8 + 4 * phase]) == (expected or [None] * 4)


def test_buckets_of_nothing_are_nothing() -> None:
    assert buckets(np.empty((0, 8)), 60) == []


def test_a_weighted_percentile_is_the_first_value_reaching_the_weight() -> None:
    pairs = [(100.0, 90), (900.0, 10)]

    assert weighted_percentile(pairs, 50) == 100.0
    assert weighted_percentile(pairs, 90) == 100.0
    assert weighted_percentile(pairs, 95) == 900.0
    assert weighted_percentile([], 50) is None


def test_combining_keeps_sums_and_the_exact_max_and_does_not_average_away_a_slow_bucket() -> None:
    quiet = Statistics(checks=95, failures=0, p50=100.0, p95=150.0, p99=180.0, max=190.0)
    slow = Statistics(checks=5, failures=5, p50=4000.0, p95=5000.0, p99=5100.0, max=5200.0)
    empty = Statistics(checks=3, failures=3, p50=None, p95=None, p99=None, max=None)

    merged = combine([quiet, slow, empty])

    assert (merged.checks, merged.failures) == (103, 8)
    assert merged.p50 == 100.0
    assert merged.p99 == 5100.0
    assert merged.max == 5200.0


@pytest.mark.parametrize("percentile", [50.0, 95.0, 99.0])
def test_combining_one_bucket_changes_nothing(percentile: float) -> None:
    only = Statistics(checks=7, failures=1, p50=10.0, p95=20.0, p99=30.0, max=31.0)

    assert combine([only]) == only
    assert weighted_percentile([(42.0, 7)], percentile) == 42.0
