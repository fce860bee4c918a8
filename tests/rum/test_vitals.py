"""web-vitals' ratings: a value at a threshold gets the better rating."""

from __future__ import annotations

import pytest

from watchkeeper.rum.vitals import THRESHOLDS, Rating, format_value, rate


@pytest.mark.parametrize(
    ("metric", "value", "rating"),
    [
        ("LCP", 0.0, Rating.GOOD),
        ("LCP", 2500.0, Rating.GOOD),
        ("LCP", 2500.001, Rating.NEEDS_IMPROVEMENT),
        ("LCP", 4000.0, Rating.NEEDS_IMPROVEMENT),
        ("LCP", 4000.001, Rating.POOR),
        ("INP", 200.0, Rating.GOOD),
        ("INP", 200.5, Rating.NEEDS_IMPROVEMENT),
        ("INP", 500.0, Rating.NEEDS_IMPROVEMENT),
        ("INP", 501.0, Rating.POOR),
        ("CLS", 0.0, Rating.GOOD),
        ("CLS", 0.1, Rating.GOOD),
        ("CLS", 0.1000001, Rating.NEEDS_IMPROVEMENT),
        ("CLS", 0.25, Rating.NEEDS_IMPROVEMENT),
        ("CLS", 0.2500001, Rating.POOR),
        ("FCP", 1800.0, Rating.GOOD),
        ("FCP", 1801.0, Rating.NEEDS_IMPROVEMENT),
        ("FCP", 3000.0, Rating.NEEDS_IMPROVEMENT),
        ("FCP", 3000.5, Rating.POOR),
        ("TTFB", 800.0, Rating.GOOD),
        ("TTFB", 800.1, Rating.NEEDS_IMPROVEMENT),
        ("TTFB", 1800.0, Rating.NEEDS_IMPROVEMENT),
        ("TTFB", 1800.1, Rating.POOR),
    ],
)
def test_a_value_is_rated_by_the_web_vitals_thresholds(
    metric: str, value: float, rating: Rating
) -> None:
    assert rate(metric, value) is rating


def test_the_thresholds_are_googles() -> None:
    assert THRESHOLDS == {
        "LCP": (2500, 4000),
        "INP": (200, 500),
        "CLS": (0.1, 0.25),
        "FCP": (1800, 3000),
        "TTFB": (800, 1800),
    }


def test_values_read_as_people_read_them() -> None:
    assert format_value("LCP", 2512.0) == "2.51 s"
    assert format_value("INP", 180.4) == "180 ms"
    assert format_value("CLS", 0.123) == "0.12"
    assert format_value("CLS", 0.004) == "0.004"
    assert format_value("CLS", 0.0) == "0"
