"""The Core Web Vitals as web-vitals measures them: their names, units, sane bounds, the
device classes, and the ratings (Google's thresholds). Pure.

A value at a threshold gets the better rating, as in web-vitals: LCP 2500 ms is good,
2500.1 ms needs improvement.
"""

from __future__ import annotations

from enum import StrEnum


class Rating(StrEnum):
    GOOD = "good"
    NEEDS_IMPROVEMENT = "needs-improvement"
    POOR = "poor"


METRICS = ("LCP", "INP", "CLS", "FCP", "TTFB")
"""What the loader reports (web-vitals' onLCP, onINP, onCLS, onFCP, onTTFB)."""

THRESHOLDS: dict[str, tuple[float, float]] = {
    "LCP": (2500.0, 4000.0),
    "INP": (200.0, 500.0),
    "CLS": (0.1, 0.25),
    "FCP": (1800.0, 3000.0),
    "TTFB": (800.0, 1800.0),
}
"""(good up to and including, needs improvement up to and including); above: poor."""

UNITS: dict[str, str] = {"LCP": "ms", "INP": "ms", "CLS": "", "FCP": "ms", "TTFB": "ms"}
"""Milliseconds for the timings; CLS is a unitless score."""

MAXIMUM: dict[str, float] = {
    "LCP": 600_000.0,
    "INP": 120_000.0,
    "CLS": 100.0,
    "FCP": 600_000.0,
    "TTFB": 600_000.0,
}
"""The largest value taken: ten minutes to paint, two minutes for one interaction, a layout
shift score of 100 (real pages stay under 10). Anything past it is refused as garbage."""

DEVICES = ("mobile", "tablet", "desktop")
"""Device classes the loader tells apart (``navigator.userAgentData``, the screen's size)."""

ALL_DEVICES = "all"
"""The device of a summary over every class."""


def rate(metric: str, value: float) -> Rating:
    """web-vitals' rating of ``value`` for ``metric`` (at a threshold: the better one)."""
    good, poor = THRESHOLDS[metric]
    if value <= good:
        return Rating.GOOD
    if value <= poor:
        return Rating.NEEDS_IMPROVEMENT
    return Rating.POOR


def format_value(metric: str, value: float) -> str:
    """``2.51 s``, ``180 ms``, ``0.12``: a value as people read it."""
    if UNITS[metric] != "ms":
        return "0" if not value else (f"{value:.2f}" if value >= 0.01 else f"{value:.3f}")
    return format_ms(value)


def format_ms(value: float) -> str:
    """Milliseconds: ``180 ms``, ``2.51 s``."""
    if abs(value) >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"
