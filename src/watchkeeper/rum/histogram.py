"""Log-bucketed histograms of one metric's values, cheap to add to, merge and keep.

Each metric has a fixed, sorted list of bucket edges: 0, then values growing by 2 % from
1 ms (CLS: 0.0001) to the metric's maximum, with web-vitals' two thresholds inserted as
edges of their own. Bucket ``i`` holds the values in ``(edges[i-1], edges[i]]`` (bucket 0:
exactly 0). A quantile is answered with its bucket's upper edge: at most 2 % above the true
value, and — since every threshold is an edge — always in the same rating as the samples
it stands for (a p75 of exactly 2500 ms stays "good").

A histogram is a sparse ``{bucket: count}``; stored as JSON ``[bucket, count, ...]``. The
edges are part of the stored format: changing them needs a migration of stored rows.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping

from watchkeeper.rum.vitals import MAXIMUM, METRICS, THRESHOLDS

GROWTH = 1.02
_SMALLEST = {"CLS": 0.0001}
_DEFAULT_SMALLEST = 1.0


def _edges(metric: str) -> tuple[float, ...]:
    smallest = _SMALLEST.get(metric, _DEFAULT_SMALLEST)
    largest = MAXIMUM[metric]
    edges = {0.0, largest, *THRESHOLDS[metric]}
    step = 0
    while True:
        edge = float(f"{smallest * GROWTH**step:.6g}")
        if edge >= largest:
            break
        edges.add(edge)
        step += 1
    return tuple(sorted(edges))


EDGES: dict[str, tuple[float, ...]] = {metric: _edges(metric) for metric in METRICS}
"""Each metric's bucket edges (a frozen format: see the module's docstring)."""


def bucket(metric: str, value: float) -> int:
    """The bucket of ``value`` (0 ≤ value ≤ the metric's maximum, checked by the caller)."""
    return bisect_left(EDGES[metric], value)


def upper_edge(metric: str, index: int) -> float:
    return EDGES[metric][index]


def quantile(metric: str, counts: Mapping[int, int], q: float) -> float | None:
    """The smallest bucket edge at or under which at least ``q`` of the samples lie (the
    upper edge of the bucket holding the ``ceil(q·n)``-th smallest); None when empty."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return EDGES[metric][index]
    return EDGES[metric][max(counts)]  # pragma: no cover - the loop always reaches rank


def merge(into: dict[int, int], counts: Mapping[int, int]) -> None:
    """Add ``counts`` to ``into``."""
    for index, count in counts.items():
        into[index] = into.get(index, 0) + count


def encode(counts: Mapping[int, int]) -> str:
    """``[bucket, count, ...]`` in bucket order, empty buckets left out."""
    flat: list[int] = []
    for index in sorted(counts):
        if counts[index] > 0:
            flat += (index, counts[index])
    return json.dumps(flat, separators=(",", ":"))


def decode(text: str) -> dict[int, int]:
    """The counts ``encode`` wrote (a malformed row decodes to what of it makes sense)."""
    try:
        flat = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(flat, list):
        return {}
    out: dict[int, int] = {}
    for index, count in zip(flat[::2], flat[1::2], strict=False):
        if type(index) is int and type(count) is int and count > 0 and index >= 0:
            out[index] = out.get(index, 0) + count
    return out


def total(histograms: Iterable[Mapping[int, int]]) -> int:
    return sum(sum(h.values()) for h in histograms)
