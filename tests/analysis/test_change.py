"""Describing a change looking back: when a level shifted and by how much, or a slow trend."""

from __future__ import annotations

import numpy as np

from watchkeeper.analysis.change import buckets, level_shift, recurs, trend


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


def test_a_change_that_came_yesterday_at_the_same_time_recurs_daily() -> None:
    rng = np.random.default_rng(4)
    times = np.arange(0, 2 * 86400, 300.0)
    hour = (times % 86400) / 3600
    busy = (hour >= 20) & (hour < 23)  # every evening
    values = np.where(busy, 300.0, 100.0) + rng.normal(0, 5, len(times))
    today = times >= 86400
    shift = level_shift(times[today], values[today])
    assert shift is not None and abs(shift.onset - (86400 + 20 * 3600)) <= 600
    assert recurs(times, values, shift, width=300.0) == 86400
    once = values.copy()
    once[~today] = 100 + rng.normal(0, 5, int((~today).sum()))  # yesterday was quiet
    assert recurs(times, once, shift, width=300.0) is None
    incident = once.copy()
    yesterday = (times < 86400) & busy
    incident[yesterday] = 2000 + rng.normal(0, 5, int(yesterday.sum()))  # an outage then
    assert recurs(times, incident, shift, width=300.0) is None, "an incident is no pattern"
    gap = values.copy()
    gap[(times >= 19 * 3600) & (times < 20.5 * 3600)] = np.nan  # yesterday's edge missing
    assert recurs(times, gap, shift, width=300.0) is None, "too little of yesterday to say"
