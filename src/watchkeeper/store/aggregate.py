"""Pure numbers behind rollups and summaries: no I/O, plain numpy arrays in and out.

Percentiles are numpy's default (linear interpolation between closest ranks). A missing
latency is NaN and is left out of that phase's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.store.schema import ROLLUP_PHASES

FloatArray = npt.NDArray[np.float64]

PERCENTILES = (50.0, 95.0, 99.0)

RAW_COLUMNS = ("monitor_id", "ts", "ok", *(f"{phase}_ms" for phase in ROLLUP_PHASES))
"""The columns :func:`buckets` expects in a raw matrix, in order."""


@dataclass(frozen=True, slots=True)
class Statistics:
    """How one group of checks went; latencies in milliseconds."""

    checks: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


def buckets(raw: FloatArray, width: int) -> list[tuple[float | int | None, ...]]:
    """Rollup rows ``(monitor_id, bucket, checks, failures, <phase>_<p50|p95|p99|max>...)``.

    ``raw`` has one row per result and the ``RAW_COLUMNS``; each bucket is the half-open
    interval ``[bucket, bucket + width)`` of epoch seconds. Vectorised over all buckets at
    once: one sort per phase instead of one percentile call per bucket and phase.
    """
    if raw.shape[0] == 0:
        return []
    monitor = raw[:, 0].astype(np.int64)
    start = (np.floor(raw[:, 1] / width) * width).astype(np.int64)
    order = np.lexsort((start, monitor))
    monitor, start, raw = monitor[order], start[order], raw[order]
    new_group = np.empty(raw.shape[0], dtype=bool)
    new_group[0] = True
    new_group[1:] = (np.diff(monitor) != 0) | (np.diff(start) != 0)
    group = np.cumsum(new_group) - 1
    groups = int(group[-1]) + 1
    checks = np.bincount(group, minlength=groups)
    failures = checks - np.bincount(group, weights=raw[:, 2] != 0, minlength=groups).astype(
        np.int64
    )
    columns = [
        _grouped_statistics(raw[:, column], group, groups)
        for column in range(3, 3 + len(ROLLUP_PHASES))
    ]
    values = np.concatenate(columns, axis=1)
    firsts = np.flatnonzero(new_group)
    return [
        (int(m), int(b), int(c), int(f), *(None if v != v else v for v in row))
        for m, b, c, f, row in zip(
            monitor[firsts].tolist(),
            start[firsts].tolist(),
            checks.tolist(),
            failures.tolist(),
            values.tolist(),
            strict=True,
        )
    ]


def _grouped_statistics(
    values: FloatArray, group: npt.NDArray[np.int64], groups: int
) -> FloatArray:
    """``(groups, 4)``: p50, p95, p99 and max of the non-NaN values of each group (NaN if none)."""
    present = ~np.isnan(values)
    values, group = values[present], group[present]
    order = np.lexsort((values, group))
    values, group = values[order], group[order]
    counts = np.bincount(group, minlength=groups)
    starts = np.cumsum(counts) - counts
    out = np.full((groups, 4), np.nan)
    has = counts > 0
    counts, starts = counts[has], starts[has]
    for index, percentile in enumerate(PERCENTILES):
        position = (counts - 1) * (percentile / 100.0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, counts - 1)
        low, high = values[starts + below], values[starts + above]
        out[has, index] = _lerp(low, high, position - below)
    out[has, 3] = values[starts + counts - 1]
    return out


def _lerp(low: FloatArray, high: FloatArray, fraction: FloatArray) -> FloatArray:
    """numpy's own linear interpolation (exact at both ends), so rollups match np.percentile."""
    difference = high - low
    result: FloatArray = np.where(
        fraction >= 0.5, high - difference * (1 - fraction), low + difference * fraction
    )
    return result


def describe(latencies: FloatArray, ok: FloatArray | None = None) -> Statistics:
    """Percentiles and max of the non-NaN ``latencies``; failures counted from ``ok``."""
    checks = int(latencies.shape[0])
    failures = 0 if ok is None else int(checks - np.count_nonzero(ok))
    present = latencies[~np.isnan(latencies)]
    if present.size == 0:
        return Statistics(checks, failures, None, None, None, None)
    p50, p95, p99 = (float(v) for v in np.percentile(present, PERCENTILES))
    return Statistics(checks, failures, p50, p95, p99, float(present.max()))


def combine(parts: list[Statistics]) -> Statistics:
    """Merge per-bucket statistics: sums, exact max, count-weighted percentiles.

    A percentile is approximated as the count-weighted percentile of the buckets' own values
    for it (p95 over buckets of their p95s): a slow bucket is not averaged away.
    """
    checks = sum(part.checks for part in parts)
    failures = sum(part.failures for part in parts)
    maxima = [part.max for part in parts if part.max is not None]
    percentiles: list[float | None] = []
    for index, percentile in enumerate(PERCENTILES):
        pairs = [
            (value, part.checks)
            for part in parts
            if (value := (part.p50, part.p95, part.p99)[index]) is not None
        ]
        percentiles.append(weighted_percentile(pairs, percentile))
    p50, p95, p99 = percentiles
    return Statistics(checks, failures, p50, p95, p99, max(maxima) if maxima else None)


def weighted_percentile(pairs: list[tuple[float, int]], percentile: float) -> float | None:
    """The smallest value whose cumulative weight reaches ``percentile`` % of the total."""
    if not pairs:
        return None
    values = np.array([value for value, _ in pairs], dtype=np.float64)
    weights = np.array([max(weight, 1) for _, weight in pairs], dtype=np.float64)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    threshold = percentile / 100.0 * cumulative[-1]
    position = int(np.searchsorted(cumulative, threshold, side="left"))
    return float(values[order][min(position, len(pairs) - 1)])
