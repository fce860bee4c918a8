"""What the tallies say: the p75 of each page group, device class and metric over a window,
its rating, and the shares of good / needs-improvement / poor samples; the same over time.
Pure functions on ``rum.rows.Tally`` lists.

The p75 is web-vitals' and CrUX's yardstick: a page group is "good" for a metric when at
least three in four of its page views were. It is read from the merged histograms (see
``rum.histogram``: at most 2 % above the true value, always in the true value's rating).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from watchkeeper.rum.histogram import merge, quantile
from watchkeeper.rum.rows import Tally
from watchkeeper.rum.vitals import ALL_DEVICES, METRICS, Rating, rate

PERCENTILE = 0.75


@dataclass(frozen=True, slots=True)
class Summary:
    """One (page group, device, metric) over a window."""

    page: str
    device: str
    metric: str
    samples: int
    p75: float | None
    rating: Rating | None
    good: float
    """Shares of the samples, 0 to 1 (all 0 without samples)."""
    needs_improvement: float
    poor: float

    def to_json(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "device": self.device,
            "metric": self.metric,
            **_judged(self.samples, self.p75, self.rating, self),
        }


@dataclass(frozen=True, slots=True)
class Point:
    """One step of a series: the p75 and the shares of the samples received in it."""

    at: float
    samples: int
    p75: float | None
    rating: Rating | None
    good: float
    needs_improvement: float
    poor: float

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, **_judged(self.samples, self.p75, self.rating, self)}


class _Shares(Protocol):
    @property
    def good(self) -> float: ...
    @property
    def needs_improvement(self) -> float: ...
    @property
    def poor(self) -> float: ...


def _judged(
    samples: int, p75: float | None, rating: Rating | None, shares: _Shares
) -> dict[str, Any]:
    """The JSON fields a summary and a point of a series share."""
    return {
        "samples": samples,
        "p75": p75,
        "rating": None if rating is None else str(rating),
        "good": round(shares.good, 4),
        "needs_improvement": round(shares.needs_improvement, 4),
        "poor": round(shares.poor, 4),
    }


@dataclass(slots=True)
class _Sum:
    counts: dict[int, int]
    samples: int = 0
    good: int = 0
    needs_improvement: int = 0
    poor: int = 0

    def add(self, tally: Tally) -> None:
        merge(self.counts, tally.counts)
        self.samples += tally.samples
        self.good += tally.good
        self.needs_improvement += tally.needs_improvement
        self.poor += tally.poor

    def shares(self) -> tuple[float, float, float]:
        if self.samples <= 0:
            return 0.0, 0.0, 0.0
        n = self.samples
        return self.good / n, self.needs_improvement / n, self.poor / n


def p75(metric: str, tallies: Iterable[Tally]) -> tuple[float | None, Rating | None, int]:
    """The p75 of ``tallies`` (all of ``metric``), its rating, and how many samples."""
    total = _Sum({})
    for tally in tallies:
        total.add(tally)
    value = quantile(metric, total.counts, PERCENTILE)
    return value, None if value is None else rate(metric, value), total.samples


def _summary(page: str, device: str, metric: str, total: _Sum) -> Summary:
    value = quantile(metric, total.counts, PERCENTILE)
    good, middle, poor = total.shares()
    return Summary(
        page=page,
        device=device,
        metric=metric,
        samples=total.samples,
        p75=value,
        rating=None if value is None else rate(metric, value),
        good=good,
        needs_improvement=middle,
        poor=poor,
    )


def summarize(tallies: Iterable[Tally], *, combined: bool = True) -> list[Summary]:
    """A Summary per (page group, device, metric) found in ``tallies``, and with
    ``combined`` one per (page group, metric) over every device (device ``all``); sorted
    by page group, device (``all`` first) and the metrics' usual order."""
    sums: dict[tuple[str, str, str], _Sum] = {}
    for tally in tallies:
        keys = [(tally.page, tally.device, tally.metric)]
        if combined:
            keys.append((tally.page, ALL_DEVICES, tally.metric))
        for key in keys:
            total = sums.get(key)
            if total is None:
                total = sums[key] = _Sum({})
            total.add(tally)
    order = {metric: index for index, metric in enumerate(METRICS)}
    return [
        _summary(*key, total)
        for key, total in sorted(
            sums.items(),
            key=lambda item: (
                item[0][0],
                item[0][1] != ALL_DEVICES,
                item[0][1],
                order.get(item[0][2], 99),
            ),
        )
    ]


def summary_of(page: str, device: str | None, metric: str, tallies: Iterable[Tally]) -> Summary:
    """The Summary of one page group and metric, on one device class or (None) all."""
    total = _Sum({})
    for tally in tallies:
        if (
            tally.page == page
            and tally.metric == metric
            and (device is None or tally.device == device)
        ):
            total.add(tally)
    return _summary(page, device or ALL_DEVICES, metric, total)


def series(metric: str, tallies: Iterable[Tally], step: float) -> list[Point]:
    """The p75 and shares of ``tallies`` (one metric; any pages and devices asked for) per
    ``step`` seconds, oldest first; steps without samples are left out."""
    steps: dict[float, _Sum] = {}
    for tally in tallies:
        at = tally.at - tally.at % step
        total = steps.get(at)
        if total is None:
            total = steps[at] = _Sum({})
        total.add(tally)
    points = []
    for at in sorted(steps):
        total = steps[at]
        value = quantile(metric, total.counts, PERCENTILE)
        good, middle, poor = total.shares()
        points.append(
            Point(
                at=at,
                samples=total.samples,
                p75=value,
                rating=None if value is None else rate(metric, value),
                good=good,
                needs_improvement=middle,
                poor=poor,
            )
        )
    return points


def pick_step(span: float, most_points: int = 300) -> float:
    """A step from 1 minute up (1, 5, 15, 60 minutes, 6 hours, a day) that gives at most
    ``most_points`` points over ``span`` seconds."""
    for step in (60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0):
        if span / step <= most_points:
            return step
    return 86400.0


def worst_first(samples: Sequence[Any], limit: int) -> list[Any]:
    """Samples (anything with ``value`` and ``id``), one per id, the worst first."""
    best: dict[str, Any] = {}
    for sample in samples:
        kept = best.get(sample.id)
        if kept is None or sample.value > kept.value:
            best[sample.id] = sample
    return sorted(best.values(), key=lambda s: (-s.value, s.id))[:limit]
