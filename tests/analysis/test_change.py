"""Describing a change looking back: when a level shifted and by how much, or a slow trend."""

from __future__ import annotations

import numpy as np

from watchkeeper.analysis.change import buckets, level_shift, trend


def test_a_level_shift_is_found_at_its_onset_with_both_levels() -> None:
    rng = np.random.default_rng(1)
    times = np.arange(400) * 300.0
    values = np.where(np.arange(400) < 310, 120.0, 340.0) + rng.normal(0, 12, 400)
    values[50] = 2000.0  # one wild point must not pick the split
    found = level_shift(times, values)
    assert found is not None
    assert abs(found.index - 310) <= 2
    assert found.onset == times[found.index]
    assert 110 < found.before < 130 and 330 < found.after < 350
    assert found.change_pct is not None and 160 < found.change_pct < 205


def test_noise_and_a_lone_spike_are_no_level_shift() -> None:
    rng = np.random.default_rng(2)
    values = 100 + rng.normal(0, 10, 300)
    values[200] = 900.0
    assert level_shift(np.arange(300.0), values) is None


def test_a_slow_rise_is_a_trend_not_a_shift() -> None:
    rng = np.random.default_rng(3)
    times = np.arange(2016) * 300.0  # a week of 5-minute points
    values = 100 + times / times[-1] * 40 + rng.normal(0, 4, len(times))
    found = trend(times, values)
    assert found is not None
    assert 30 < found.end - found.start < 50
    assert 4.5 < found.slope_per_day < 7.0  # 40 ms over 7 days
    assert trend(times, 100 + rng.normal(0, 4, len(times))) is None


def test_buckets_hold_each_buckets_quantile() -> None:
    times = np.array([0.0, 10, 20, 300, 310, 900])
    values = np.array([1.0, 2, 3, 10, 20, 5])
    starts, p95 = buckets(times, values, 300.0, quantile=50.0)
    assert starts.tolist() == [0.0, 300.0, 900.0]
    assert p95.tolist() == [2.0, 15.0, 5.0]
