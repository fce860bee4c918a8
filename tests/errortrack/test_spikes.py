"""The spike rule: a minute beyond max(10, 3 × (median + 3 × scaled MAD)) of the hour
before, never for a steady rate, never in an issue's first minutes."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.errortrack import spikes

M = 1_700_000_040  # the start of a minute
HOUR_AGO = M - 3600.0


def counts(previous: list[int]) -> dict[int, int]:
    """The minutes before ``M``, oldest first."""
    return {M - (len(previous) - i) * 60: n for i, n in enumerate(previous)}


def test_a_burst_over_a_quiet_hour_is_a_spike() -> None:
    baseline = spikes.baseline_for(counts([0, 1, 0, 2] * 15), M, HOUR_AGO)

    assert (baseline.level, baseline.threshold) == (0.5, spikes.FLOOR)
    assert spikes.is_spike(11, baseline)
    assert not spikes.is_spike(10, baseline), "the floor: ten in a minute is not news"


def test_a_busy_issue_needs_three_times_its_usual_rate() -> None:
    baseline = spikes.baseline_for(counts([100, 104, 96, 100] * 15), M, HOUR_AGO)

    assert baseline.level == 100
    assert round(baseline.threshold) == round(3 * (100 + 3 * 1.4826 * 2))
    assert not spikes.is_spike(300, baseline)
    assert spikes.is_spike(400, baseline)


def test_one_busy_minute_of_the_hour_does_not_raise_the_bar() -> None:
    previous = [2] * 60
    previous[10] = 5000

    assert spikes.baseline_for(counts(previous), M, HOUR_AGO).threshold == spikes.FLOOR


def test_minutes_without_events_count_as_zero() -> None:
    only_busy = {M - 60 * i: 50 for i in range(1, 20)}  # 19 busy minutes, 41 empty ones

    assert spikes.baseline_for(only_busy, M, HOUR_AGO).level == 0
    assert spikes.window(only_busy, M, HOUR_AGO) == [0] * 41 + [50] * 19


def test_minutes_before_the_issue_was_first_seen_are_left_out() -> None:
    previous = spikes.window(counts([7] * 60), M, M - 20 * 60)

    assert previous == [7] * 20


@given(st.integers(0, 5000), st.integers(0, spikes.SETTLE - 1))
def test_a_brand_new_or_just_reopened_issue_is_never_a_spike(count: int, age: int) -> None:
    since = M - age * 60 + 59  # within its minute
    baseline = spikes.baseline_for({}, M, since)

    assert baseline == spikes.NO_HISTORY
    assert not spikes.is_spike(count, baseline)


@given(
    st.integers(0, 10_000),
    st.integers(spikes.SETTLE, spikes.WINDOW),
    st.integers(0, 2**32),
    st.floats(-0.5, 0.5),
)
def test_a_steady_rate_never_fires(rate: int, minutes: int, seed: int, now: float) -> None:
    """Every minute within ±50 % of a rate, the current one too: no spike, at any rate. (The
    wobble comes from a seeded generator: a list of floats drawn by hypothesis was slow
    enough to fail its health check on a loaded machine.)"""
    wobble = random.Random(seed)
    previous = [round(rate * (1 + wobble.uniform(-0.5, 0.5))) for _ in range(minutes)]
    baseline = spikes.baseline_for(counts(previous), M, M - len(previous) * 60)

    assert not spikes.is_spike(round(rate * (1 + now)), baseline)


@given(st.lists(st.integers(0, 3), min_size=spikes.WINDOW, max_size=spikes.WINDOW))
def test_a_jump_to_many_times_a_quiet_rate_fires(previous: list[int]) -> None:
    baseline = spikes.baseline_for(counts(previous), M, HOUR_AGO)

    assert spikes.is_spike(50, baseline)  # 3 × (3 + 3 × 1.4826 × 3) < 50
