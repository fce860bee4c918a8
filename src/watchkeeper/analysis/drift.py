"""Anomalies in a series, online: a robust baseline of the recent past, and how far each new
point (spike) and the last few points together (level shift) stand from it.

For every point the detector compares the value with the median and the MAD (median absolute
deviation, scaled to a standard deviation) of the ``window`` points before it, and the median
of the last ``short`` points with the same baseline; the larger of the two distances, in
robust standard deviations, becomes a score in [0, 1] (``1 - exp(-z / scale)``). After a
point scores high, the next ``quiet`` points are damped: one change is one detection, not a
burst of them (a person wants one page per problem). Pure functions on arrays; nothing here
reads the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DriftSettings:
    window: int = 288
    """Points in the baseline (a day of 5-minute points)."""
    short: int = 6
    """Points whose median is compared for a level shift."""
    warmup: int = 50
    """No score before this many points."""
    scale: float = 4.0
    """The robust z at which the score reaches 1 - 1/e."""
    high: float = 0.75
    """A score above this starts the quiet period."""
    quiet: int = 400
    """Points damped after a high score (on NAB, 60 scores 11.7, 400 scores 29.6, 1,500
    scores 21.2: a change is one detection, and a long quiet costs the next one)."""


def baseline(values: FloatArray, window: int, warmup: int) -> tuple[FloatArray, FloatArray]:
    """Per point, the median and robust spread of the ``window`` points before it (NaN
    before ``warmup``)."""
    n = len(values)
    median = np.full(n, np.nan)
    spread = np.full(n, np.nan)
    for i in range(warmup, min(window, n)):  # the first day: all there is so far
        past = values[:i]
        median[i] = np.median(past)
        spread[i] = _spread(past, float(median[i]))
    if n > window:
        views = sliding_window_view(values[:-1], window)  # views[k] = values[k : k + window]
        medians = np.median(views, axis=1)
        mads = np.median(np.abs(views - medians[:, None]), axis=1)
        stds = views.std(axis=1)
        robust = np.maximum(1.4826 * mads, stds * 0.1)
        robust = np.maximum(robust, 1e-3 * np.maximum(np.abs(medians), 1e-9) + 1e-9)
        median[window:] = medians
        spread[window:] = robust
    return median, spread


def _spread(past: FloatArray, median: float) -> float:
    mad = 1.4826 * float(np.median(np.abs(past - median)))
    return max(mad, float(np.std(past)) * 0.1, 1e-3 * max(abs(median), 1e-9) + 1e-9)


def scores(values: FloatArray, settings: DriftSettings | None = None) -> FloatArray:
    """An anomaly score in [0, 1] for each value, each from the values before it only."""
    settings = settings or DriftSettings()
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    out = np.zeros(n, dtype=np.float64)
    if n <= settings.warmup:
        return out
    median, spread = baseline(values, settings.window, settings.warmup)
    spike = np.abs(values - median) / spread
    short = settings.short
    recent = np.full(n, np.nan)
    if n >= short:
        recent[short - 1 :] = np.median(sliding_window_view(values, short), axis=1)
    recent[: short - 1] = values[: short - 1]
    shift = np.abs(recent - median) / spread * math.sqrt(short) / 2
    z = np.nan_to_num(np.maximum(spike, shift), nan=0.0)
    raw = 1.0 - np.exp(-z / settings.scale)
    raw[: settings.warmup] = 0.0
    quiet_until = -1
    for i in np.nonzero(raw >= settings.high)[0]:  # damp the points after each high one
        if i <= quiet_until:
            continue
        quiet_until = int(i) + settings.quiet
        out[i] = raw[i]
    mask = np.ones(n, dtype=bool)
    for i in np.nonzero(out)[0]:
        mask[i + 1 : i + 1 + settings.quiet] = False
    out = np.where(mask, np.maximum(out, np.minimum(raw, settings.high - 1e-6)), raw * 0.25)
    return out
