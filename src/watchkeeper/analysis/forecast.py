"""Forecasts: when a steadily changing quantity reaches a limit.

``Trail`` keeps the recent points of one quantity (a disk's used bytes, a process's resident
memory); ``fit`` draws the least-squares line through them, as Prometheus's
``predict_linear`` does, and ``eta`` says when that line reaches a limit. The standard
node_exporter alert (``NodeFilesystemSpaceFillingUp``) is the model for disks: filling up
within 24 hours at the last 6 hours' rate while over 60 % used (4 hours: critical).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

DISK_SPAN = 6 * 3600.0
"""The history a disk forecast fits (node_exporter's rule uses 6 h)."""
DISK_WARN_WITHIN = 24 * 3600.0
DISK_CRITICAL_WITHIN = 4 * 3600.0
DISK_MIN_USED_PCT = 60.0
MIN_POINTS = 10
MIN_SPAN = 1800.0
"""A forecast needs at least this much history (a line through 2 minutes is noise)."""


@dataclass(frozen=True, slots=True)
class Trend:
    slope: float
    """Change per second."""
    intercept: float
    """The fitted value at ``at``."""
    at: float
    r2: float
    """How well a line explains the points (1: exactly; near 0: no trend)."""
    span: float
    points: int


class Trail:
    """The last ``span`` seconds of one quantity (at most ``cap`` points, thinned evenly)."""

    def __init__(self, span: float, cap: int = 720) -> None:
        self.span = span
        self.cap = cap
        self.points: deque[tuple[float, float]] = deque()

    def add(self, at: float, value: float) -> None:
        if self.points and at - self.points[-1][0] < self.span / self.cap:
            self.points[-1] = (self.points[-1][0], value)  # keep the spacing: newest wins
        else:
            self.points.append((at, value))
        while self.points and self.points[0][0] < at - self.span:
            self.points.popleft()


def fit(points: deque[tuple[float, float]] | list[tuple[float, float]]) -> Trend | None:
    """The least-squares line through ``points`` (None with too few, or too short a span)."""
    if len(points) < MIN_POINTS:
        return None
    data = np.asarray(points, dtype=np.float64)
    times, values = data[:, 0], data[:, 1]
    span = float(times[-1] - times[0])
    if span < MIN_SPAN:
        return None
    now = float(times[-1])
    x = times - now
    slope, intercept = np.polyfit(x, values, 1)
    fitted = slope * x + intercept
    total = float(np.sum((values - values.mean()) ** 2))
    r2 = 1.0 - float(np.sum((values - fitted) ** 2)) / total if total > 0 else 0.0
    return Trend(float(slope), float(intercept), now, r2, span, len(points))


def eta(trend: Trend, limit: float, now: float | None = None) -> float | None:
    """Seconds from ``now`` until the line reaches ``limit`` (None: it moves away or is
    flat; 0: already there)."""
    now = trend.at if now is None else now
    value = trend.intercept + trend.slope * (now - trend.at)
    if (limit - value) * trend.slope <= 0 or trend.slope == 0:
        return 0.0 if value >= limit and trend.slope >= 0 else None
    return (limit - value) / trend.slope


def renewal_overdue(expires_in: float, lifetime: float) -> bool:
    """A certificate with less than a third of its lifetime left was not renewed when ACME
    clients renew (certbot: 30 of 90 days), so renewal is probably broken."""
    return lifetime > 0 and expires_in < lifetime / 3


def steady_growth(trend: Trend, *, min_r2: float = 0.9, min_rise: float = 0.1) -> bool:
    """A steady climb (a leak), not noise: a line explains the points well and it rose by
    more than ``min_rise`` of its level over the span."""
    level = abs(trend.intercept) or 1.0
    return trend.slope > 0 and trend.r2 >= min_r2 and trend.slope * trend.span > min_rise * level


def format_eta(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, math.ceil(seconds / 60))}m"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.0f}d"
