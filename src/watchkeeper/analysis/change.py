"""What changed in a series, looking back: one level shift (when, from what level to what) or a
slow trend, described with numbers a person can act on ("rose from 120 ms to 340 ms at 14:05,
+183 %").

A level shift is the split of the series into a before and an after that explains it best
(least squared deviation from each side's mean, on values winsorised at the median ± 5 robust
deviations so one wild point cannot pick the split), kept when the two sides differ by a rank
test and by at least ``min_ratio`` of the before level. A trend is a Theil–Sen slope kept when
Kendall's tau says it is no accident and it moved the level by ``min_ratio`` over the span.
Both look at the whole series at once (both sides of a change are known), unlike the online
detector in ``drift``. Pure functions on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import kendalltau, mannwhitneyu, theilslopes

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LevelShift:
    onset: float
    """Time of the first point of the new level."""
    index: int
    before: float
    """Median before the onset."""
    after: float
    """Median from the onset on."""
    points_before: int
    points_after: int
    p_value: float

    @property
    def change_pct(self) -> float | None:
        return None if self.before == 0 else 100.0 * (self.after - self.before) / abs(self.before)


@dataclass(frozen=True, slots=True)
class Trend:
    slope_per_day: float
    start: float
    """The fitted level at the first point."""
    end: float
    """The fitted level at the last point."""
    span_s: float
    tau: float
    p_value: float

    @property
    def change_pct(self) -> float | None:
        return None if self.start == 0 else 100.0 * (self.end - self.start) / abs(self.start)


def level_shift(
    times: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    min_points: int = 6,
    min_ratio: float = 0.2,
    alpha: float = 0.001,
) -> LevelShift | None:
    """The most likely single level shift, or None when there is none worth naming."""
    t, v = _finite(times, values)
    n = len(v)
    if n < 2 * min_points:
        return None
    median = float(np.median(v))
    spread = 1.4826 * float(np.median(np.abs(v - median))) or float(np.std(v)) or 1.0
    w = np.clip(v, median - 5 * spread, median + 5 * spread)
    csum = np.cumsum(w)
    csq = np.cumsum(w * w)
    k = np.arange(min_points, n - min_points + 1)
    left_sum, left_sq = csum[k - 1], csq[k - 1]
    right_sum, right_sq = csum[-1] - left_sum, csq[-1] - left_sq
    cost = (left_sq - left_sum**2 / k) + (right_sq - right_sum**2 / (n - k))
    split = int(k[int(np.argmin(cost))])
    old, new = v[:split], v[split:]
    before, after = float(np.median(old)), float(np.median(new))
    if abs(after - before) < min_ratio * max(abs(before), 1e-12):
        return None
    p_value = float(mannwhitneyu(old, new, alternative="two-sided").pvalue)
    if p_value >= alpha:
        return None
    return LevelShift(
        onset=float(t[split]),
        index=split,
        before=before,
        after=after,
        points_before=len(old),
        points_after=len(new),
        p_value=p_value,
    )


DAY = 86_400.0


def _finite(times: npt.ArrayLike, values: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The (time, value) pairs where both are numbers."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v) & np.isfinite(t)
    return t[keep], v[keep]


def recurs(
    times: npt.ArrayLike,
    values: npt.ArrayLike,
    shift: LevelShift,
    *,
    width: float,
    periods: tuple[float, ...] = (DAY, 7 * DAY),
    span: float = 3600.0,
    min_ratio: float = 0.2,
    alpha: float = 0.01,
) -> float | None:
    """Did the same change happen one period earlier (yesterday, a week ago) at the same
    time? The period it recurs at, or None. It recurs when, one period back, the ``span``
    before and after the same moment each hold at least half their buckets (of ``width``
    seconds), differ by a rank test, and moved in the same direction by at least
    ``min_ratio`` of the level and between half and twice as far as now (a daily traffic
    peak is a pattern, not news; yesterday's incident at this hour is not a pattern)."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    now = shift.after - shift.before
    if now == 0:
        return None
    need = max(3, int(span / width / 2))
    for period in periods:
        at = shift.onset - period
        before = v[(t >= at - span) & (t < at) & np.isfinite(v)]
        after = v[(t >= at) & (t < at + span) & np.isfinite(v)]
        if len(before) < need or len(after) < need:
            continue
        level = float(np.median(before))
        then = float(np.median(after)) - level
        if abs(then) < min_ratio * max(abs(level), 1e-12) or not 0.5 <= then / now <= 2.0:
            continue
        if float(mannwhitneyu(before, after, alternative="two-sided").pvalue) < alpha:
            return period
    return None


def trend(
    times: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    min_points: int = 12,
    min_ratio: float = 0.2,
    alpha: float = 0.001,
) -> Trend | None:
    """A steady rise or fall over the whole series, or None."""
    t, v = _finite(times, values)
    if len(v) < min_points or float(t[-1] - t[0]) <= 0:
        return None
    tau, p_value = kendalltau(t, v)
    if not np.isfinite(tau) or p_value >= alpha:
        return None
    slope, intercept, _, _ = theilslopes(v, t)
    start = float(intercept + slope * t[0])
    end = float(intercept + slope * t[-1])
    if abs(end - start) < min_ratio * max(abs(start), 1e-12):
        return None
    return Trend(
        slope_per_day=float(slope) * 86400.0,
        start=start,
        end=end,
        span_s=float(t[-1] - t[0]),
        tau=float(tau),
        p_value=float(p_value),
    )


def buckets(
    times: npt.ArrayLike, values: npt.ArrayLike, width: float, quantile: float = 95.0
) -> tuple[FloatArray, FloatArray]:
    """Per ``width``-second bucket with points, its start and the ``quantile`` of its values
    (a p95 per 5 minutes is steadier than single checks)."""
    t, v = _finite(times, values)
    if len(t) == 0:
        return np.empty(0), np.empty(0)
    slot = np.floor(t / width).astype(np.int64)
    order = np.lexsort((v, slot))  # by bucket, and by value within it
    slot, v = slot[order], v[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(slot)) + 1))
    sizes = np.diff(np.concatenate((starts, [len(v)])))
    position = (sizes - 1) * (quantile / 100.0)  # numpy's linear interpolation, per bucket
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, sizes - 1)
    fraction = position - low
    out = v[starts + low] + (v[starts + high] - v[starts + low]) * fraction
    return slot[starts].astype(np.float64) * width, out
