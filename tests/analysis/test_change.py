"""Describing a change looking back: when a level shifted and by how much, or a slow trend."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.analysis.change import LevelShift, buckets, level_shift, recurs, trend


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


# -- boundaries ---------------------------------------------------------------------------------
def step(n_before: int, n_after: int, before: float, after: float) -> tuple[np.ndarray, ...]:
    """A clean step with a small deterministic wobble (ranks need distinct values)."""
    wobble = 0.01 * np.tile([-1.0, 1.0, 0.0], n_before + n_after)[: n_before + n_after]
    values = np.concatenate((np.full(n_before, before), np.full(n_after, after))) + wobble
    return np.arange(n_before + n_after) * 60.0, values


def test_a_shift_of_exactly_min_ratio_is_named_and_a_hair_less_is_not() -> None:
    times, values = step(30, 30, 100.0, 120.0)
    found = level_shift(times, values)
    assert found is not None
    assert (found.index, found.onset) == (30, 30 * 60.0)
    assert (found.points_before, found.points_after) == (30, 30)
    assert found.before == pytest.approx(100.0, abs=0.01)
    assert found.after == pytest.approx(120.0, abs=0.01)
    assert found.change_pct == pytest.approx(20.0, abs=0.05) and found.p_value < 0.001
    assert level_shift(*step(30, 30, 100.0, 119.9)) is None
    assert level_shift(*step(30, 30, 100.0, 80.0)) is not None, "down as well as up"


def test_a_shift_needs_min_points_a_side_and_a_rank_test_below_alpha() -> None:
    assert level_shift(*step(6, 6, 100.0, 200.0), alpha=0.01) is not None
    assert level_shift(*step(6, 5, 100.0, 200.0), alpha=0.01) is None
    assert level_shift(*step(6, 6, 100.0, 200.0)) is None, "6 against 6 cannot reach 0.001"
    times, values = step(30, 30, 100.0, 200.0)
    values[10], times[40] = np.nan, np.inf
    found = level_shift(times, values)
    assert found is not None and found.onset == 30 * 60.0 and found.points_before == 29
    zero = level_shift(*step(30, 30, 0.0, 5.0))
    assert zero is not None and zero.change_pct is None


def test_a_trend_needs_twelve_points_and_a_fifth_of_its_start() -> None:
    times = np.arange(12) * 3600.0
    rising = 100.0 + times / times[-1] * 20.0
    found = trend(times, rising)
    assert found is not None
    assert (found.start, found.end) == pytest.approx((100.0, 120.0))
    assert found.slope_per_day == pytest.approx(20.0 / 11 * 24)
    assert found.span_s == 11 * 3600.0 and found.tau == pytest.approx(1.0)
    assert found.change_pct == pytest.approx(20.0) and found.p_value < 0.001
    assert trend(times[:11], rising[:11]) is None
    assert trend(times, 100.0 + times / times[-1] * 19.9) is None
    falling = trend(times, 100.0 - times / times[-1] * 30.0)
    assert falling is not None and falling.slope_per_day < 0
    assert trend(np.zeros(12), rising) is None, "no time passed"
    from_zero = trend(times, times / times[-1] * 5.0)
    assert from_zero is not None and from_zero.change_pct is None


def test_buckets_interpolate_their_quantile_and_skip_what_is_not_a_number() -> None:
    times = np.array([20.0, 0.0, 10.0, 5000.0, np.nan, 30.0])
    values = np.array([3.0, 1.0, 2.0, 7.0, 9.0, np.nan])
    starts, p95 = buckets(times, values, 300.0)
    assert starts.tolist() == [0.0, 4800.0]
    assert p95 == pytest.approx([2.9, 7.0])
    empty = buckets(np.array([]), np.array([]), 300.0)
    assert empty[0].size == 0 and empty[1].size == 0


def test_a_change_recurs_when_it_moved_between_half_and_twice_as_far_then() -> None:
    """Yesterday's same hour moved by ``then``; today's shift moved by 200."""
    width = 300.0
    times = np.arange(0, 2 * 86400, width)
    onset = 86400 + 12 * 3600.0

    def day_with(then: float) -> np.ndarray:
        values = 100.0 + 0.01 * np.tile([-1.0, 1.0, 0.0], len(times))[: len(times)]
        values[(times >= onset - 86400) & (times < onset - 86400 + 3600)] += then
        values[times >= onset] += 200.0
        return values

    shift = level_shift(times[times >= 86400], day_with(200.0)[times >= 86400])
    assert shift is not None and shift.onset == onset
    assert recurs(times, day_with(100.0), shift, width=width) == 86400, "half as far"
    assert recurs(times, day_with(400.0), shift, width=width) == 86400, "twice as far"
    assert recurs(times, day_with(99.0), shift, width=width) is None
    assert recurs(times, day_with(401.0), shift, width=width) is None
    assert recurs(times, day_with(-200.0), shift, width=width) is None, "the other way"
    flat = LevelShift(onset, 0, 100.0, 100.0, 10, 10, 0.0)
    assert recurs(times, day_with(200.0), flat, width=width) is None, "nothing moved now"
