"""Forecasts: a line through the recent past and when it meets a limit (pure functions; the
host check's use of them is in tests/checks/test_host.py)."""

from __future__ import annotations

import itertools

import pytest

from watchkeeper.analysis.forecast import (
    Trail,
    Trend,
    eta,
    fit,
    format_eta,
    renewal_overdue,
    steady_growth,
)


def test_a_line_through_a_filling_disk_meets_its_size_when_arithmetic_says() -> None:
    trail = Trail(6 * 3600)
    for minute in range(0, 361, 5):  # 6 h: 100 GB used, +1 GB/h, a little noise
        noise = 0.05e9 if minute % 10 else -0.05e9
        trail.add(minute * 60.0, 100e9 + minute / 60 * 1e9 + noise)
    trend = fit(trail.points)
    assert trend is not None and trend.r2 > 0.95
    assert abs(trend.slope * 3600 - 1e9) < 0.02e9
    # 106 GB used of 120 GB at +1 GB/h: full in 14 h
    left = eta(trend, 120e9)
    assert left is not None and abs(left / 3600 - 14) < 0.3
    assert eta(trend, 50e9) == 0.0, "a rising line is past a limit below it already"
    falling = fit([(t * 60.0, 1e9 - t * 1e6) for t in range(0, 360, 5)])
    assert falling is not None and eta(falling, 2e9) is None, "it moves away: never"


def test_no_forecast_from_too_little_history_or_from_noise() -> None:
    short = Trail(6 * 3600)
    for second in range(0, 600, 30):  # 10 minutes: too short to say anything
        short.add(float(second), second * 1e6)
    assert fit(short.points) is None
    noisy = Trail(6 * 3600)
    for minute in range(0, 360, 5):
        noisy.add(minute * 60.0, 500e6 + (40e6 if minute % 10 else -40e6))
    trend = fit(noisy.points)
    assert trend is not None and not steady_growth(trend)


def test_certificate_renewal_is_overdue_with_a_third_of_its_life_left() -> None:
    day = 86400.0
    assert not renewal_overdue(31 * day, 90 * day)
    assert renewal_overdue(29 * day, 90 * day)


# -- boundaries ---------------------------------------------------------------------------------
def line(
    points: int, span: float, slope: float = 2.0, start: float = 100.0
) -> list[tuple[float, float]]:
    step = span / (points - 1)
    return [(1000.0 + i * step, start + slope * i * step) for i in range(points)]


def test_a_fit_needs_ten_points_over_half_an_hour_and_is_exact_on_a_line() -> None:
    assert fit(line(9, 3600.0)) is None
    assert fit(line(10, 1799.0)) is None
    trend = fit(line(10, 1800.0))
    assert trend is not None
    assert trend.slope == pytest.approx(2.0) and trend.r2 == pytest.approx(1.0)
    assert trend.at == 2800.0 and trend.intercept == pytest.approx(100.0 + 2.0 * 1800.0)
    assert (trend.span, trend.points) == (1800.0, 10)
    flat = fit(line(10, 1800.0, slope=0.0))
    assert flat is not None and flat.r2 == 0.0 and flat.slope == pytest.approx(0.0, abs=1e-9)


def test_eta_is_when_the_line_reaches_the_limit_from_any_now() -> None:
    rising = Trend(slope=2.0, intercept=3700.0, at=2800.0, r2=1.0, span=1800.0, points=10)
    assert eta(rising, 3900.0) == 100.0
    assert eta(rising, 3900.0, now=2850.0) == 50.0
    assert eta(rising, 3700.0) == 0.0, "already there"
    assert eta(rising, 3000.0) == 0.0, "past it, and rising"
    falling = Trend(slope=-2.0, intercept=3700.0, at=2800.0, r2=1.0, span=1800.0, points=10)
    assert eta(falling, 9000.0) is None, "moving away"
    assert eta(falling, 3000.0) == 350.0
    assert eta(falling, 3000.0, now=2900.0) == 250.0
    flat = Trend(slope=0.0, intercept=3700.0, at=2800.0, r2=0.0, span=1800.0, points=10)
    assert eta(flat, 3900.0) is None and eta(flat, 3700.0) == 0.0 and eta(flat, 10.0) == 0.0


def test_steady_growth_is_a_good_fit_that_rose_more_than_a_tenth() -> None:
    def trend(slope: float, r2: float, intercept: float = 100.0) -> Trend:
        return Trend(slope, intercept, 0.0, r2, 1000.0, 10)

    assert steady_growth(trend(0.011, 0.95)), "rose 11 of 100"
    assert not steady_growth(trend(0.01, 0.95)), "rose exactly 10 of 100"
    assert not steady_growth(trend(0.011, 0.89)), "a poor fit"
    assert steady_growth(trend(0.011, 0.9)), "a fit of exactly 0.9 is good enough"
    assert not steady_growth(trend(-0.5, 0.99)), "falling"
    assert steady_growth(trend(0.00011, 0.95, intercept=0.0)), "from 0: a rise of over 0.1"
    assert not steady_growth(trend(0.00009, 0.95, intercept=0.0))
    assert steady_growth(trend(0.011, 0.95, intercept=-100.0)), "the level's size, not its sign"


def test_a_trail_keeps_its_span_thinned_to_its_cap_newest_value_winning() -> None:
    trail = Trail(span=100.0, cap=10)  # a point per 10 s at most
    for at in range(0, 201, 5):
        trail.add(float(at), float(at))
    times = [at for at, _ in trail.points]
    assert times[0] >= 100.0 and times[-1] in (195.0, 200.0)
    assert all(b - a >= 10.0 for a, b in itertools.pairwise(times))
    assert trail.points[-1][1] == 200.0, "the newest value wins its slot"
    edge = Trail(span=100.0, cap=10)
    edge.add(0.0, 1.0)
    edge.add(10.0, 2.0)
    assert [v for _, v in edge.points] == [1.0, 2.0], "exactly a slot apart: a new point"
    edge.add(100.0, 3.0)
    assert edge.points[0] == (0.0, 1.0), "exactly a span old: kept"
    edge.add(110.0, 4.0)
    assert edge.points[0] == (10.0, 2.0)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (1.0, "1m"),
        (59.0, "1m"),
        (61.0, "2m"),
        (3599.0, "60m"),
        (3600.0, "1.0h"),
        (5400.0, "1.5h"),
        (72 * 3600.0 - 1, "72.0h"),
        (72 * 3600.0, "3d"),
        (10 * 86400.0, "10d"),
    ],
)
def test_an_eta_is_shown_in_minutes_hours_or_days(seconds: float, shown: str) -> None:
    assert format_eta(seconds) == shown


def test_renewal_is_overdue_below_exactly_a_third() -> None:
    assert not renewal_overdue(30.0, 90.0)
    assert renewal_overdue(29.9, 90.0)
    assert not renewal_overdue(-1.0, 0.0), "no lifetime known"
