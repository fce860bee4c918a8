"""The rule for an issue's errors rising (``diagnosis.errors.rises``): a jump is found at
its minute, a steady rate and a lone busy minute are not rises."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.diagnosis.errors import MIN_RATE, Rise, rises

M = 1_700_000_040  # the start of a minute
HOURS = 3 * 60


def series(values: list[int]) -> dict[int, int]:
    return {M + 60 * i: n for i, n in enumerate(values)}


def test_a_jump_is_a_rise_from_its_own_minute() -> None:
    counts = series([2] * 90 + [40] * 90)

    assert rises(counts, M, M + HOURS * 60) == [Rise(M + 90 * 60, 2.0, 40.0)]


def test_a_rise_whose_onset_is_before_the_window_is_not_in_it() -> None:
    counts = series([2] * 90 + [40] * 90)

    assert rises(counts, M + 100 * 60, M + HOURS * 60) == []


def test_a_lone_busy_minute_is_a_rise_only_when_it_outweighs_the_minutes_after() -> None:
    small = series([2] * 90 + [12] + [2] * 89)  # 12 > 3 × 2, but not the next minutes
    large = series([2] * 90 + [300] + [2] * 89)

    assert rises(small, M, M + HOURS * 60) == []
    assert [r.onset for r in rises(large, M, M + HOURS * 60)] == [M + 90 * 60]


@given(st.integers(0, 2000), st.integers(0, 2**32))
def test_a_steady_rate_never_rises(rate: int, seed: int) -> None:
    # the wobble of each minute drawn from a seeded generator: a list of HOURS floats drawn
    # by hypothesis itself was slow enough to fail its health check on a loaded machine
    wobble = random.Random(seed)
    counts = series([round(rate * (1 + wobble.uniform(-0.5, 0.5))) for _ in range(HOURS)])

    assert rises(counts, M + 30 * 60, M + HOURS * 60) == []


@given(st.integers(0, 3), st.integers(31, HOURS - 5), st.integers(MIN_RATE * 4, 500))
def test_a_jump_from_a_quiet_rate_is_found_at_its_minute(quiet: int, at: int, loud: int) -> None:
    counts = series([quiet] * at + [loud] * (HOURS - at))

    found = rises(counts, M, M + HOURS * 60)

    assert [r.onset for r in found] == [M + at * 60]
