"""Forecasts: a line through the recent past and when it meets a limit (pure functions; the
host check's use of them is in tests/checks/test_host.py)."""

from __future__ import annotations

from watchkeeper.analysis.forecast import Trail, eta, fit, renewal_overdue, steady_growth


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
