"""RUM beacons summed in memory: per (page group, device, metric, minute) a histogram and
the good / needs-improvement / poor counts, per (page group, device, metric, hour) the
``WORST_KEPT`` worst samples. A closed minute is taken out (``take``) and written as one
row per key, so the store sees a few hundred rows a minute whatever the traffic. Pure: the
clock is given.

Duplicates: a metric id seen before counts once. web-vitals reports a metric again with the
same id when its value grows after a first report (CLS or INP after the page came back from
the background): while the first report's minute is still here, the newer value replaces
it; once that minute is written, the report is dropped as a duplicate. The ids remembered
are bounded (``MOST_IDS``, the oldest forgotten first), and kept as hashes, never as text.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

from watchkeeper.rum.beacon import KEPT_PATH, Report
from watchkeeper.rum.histogram import EDGES
from watchkeeper.rum.rows import Sample, Tally
from watchkeeper.rum.vitals import THRESHOLDS

WORST_KEPT = 10
"""Worst samples kept per (page group, device, metric, hour)."""
MOST_IDS = 200_000
"""Metric ids remembered for deduplication (about 30 MB at most)."""

Key = tuple[str, str, str]
"""(page group, device, metric)"""


class Outcome(Enum):
    ADDED = "added"
    REPLACED = "replaced"
    DUPLICATE = "duplicate"


@dataclass(slots=True)
class _Open:
    """An open minute's tally of one key."""

    counts: dict[int, int] = field(default_factory=dict)
    samples: int = 0
    ratings: list[int] = field(default_factory=lambda: [0, 0, 0])

    def add(self, index: int, rating: int, times: int = 1) -> None:
        self.counts[index] = self.counts.get(index, 0) + times
        self.samples += times
        self.ratings[rating] += times

    def freeze(self, at: float, key: Key) -> Tally:
        good, middle, poor = self.ratings
        return Tally(at, *key, self.samples, good, middle, poor, dict(self.counts))


@dataclass(slots=True, order=True)
class _Worst:
    value: float
    sample: Sample = field(compare=False)


def _rating(metric: str, value: float) -> int:
    good, poor = THRESHOLDS[metric]
    return 0 if value <= good else (1 if value <= poor else 2)


RATINGS = ("good", "needs-improvement", "poor")


class Aggregator:
    def __init__(self, worst_kept: int = WORST_KEPT, most_ids: int = MOST_IDS) -> None:
        self.worst_kept = worst_kept
        self.most_ids = most_ids
        self.minutes: dict[int, dict[Key, _Open]] = {}
        self._seen: OrderedDict[int, tuple[int, Key, int, int, float]] = OrderedDict()
        """hash(id) → (minute, key, bucket, rating, value) of the report counted for it."""
        self._worst: dict[tuple[Key, int], list[_Worst]] = {}
        self._fresh: dict[str, _Worst] = {}
        """Samples that entered a worst list since the last ``take``, by id."""

    def add(self, report: Report, page: str, now: float) -> Outcome:
        """Count one report of page group ``page`` received at ``now``."""
        metric = report.metric
        key = (page, report.device, metric)
        value = report.value
        index = bisect_left(EDGES[metric], value)
        rating = _rating(metric, value)
        marker = hash(report.id)
        seen = self._seen.get(marker)
        if seen is not None:
            minute, old_key, old_index, old_rating, old_value = seen
            tallies = self.minutes.get(minute)
            if tallies is None or old_key != key or old_value == value:
                return Outcome.DUPLICATE
            tally = tallies[key]
            tally.add(old_index, old_rating, -1)
            if tally.counts[old_index] == 0:
                del tally.counts[old_index]
            tally.add(index, rating)
            self._seen[marker] = (minute, key, index, rating, value)
            self._keep_worst(report, key, value, rating, now)
            return Outcome.REPLACED
        minute = int(now // 60) * 60
        open_minute = self.minutes.get(minute)
        if open_minute is None:
            open_minute = self.minutes[minute] = {}
        counting = open_minute.get(key)
        if counting is None:
            counting = open_minute[key] = _Open()
        counting.add(index, rating)
        self._seen[marker] = (minute, key, index, rating, value)
        if len(self._seen) > self.most_ids:
            self._seen.popitem(last=False)
        self._keep_worst(report, key, value, rating, now)
        return Outcome.ADDED

    def _keep_worst(self, report: Report, key: Key, value: float, rating: int, now: float) -> None:
        hour = int(now // 3600) * 3600
        worst = self._worst.get((key, hour))
        if worst is None:
            worst = self._worst[(key, hour)] = []
        if len(worst) >= self.worst_kept and value <= worst[0].value:
            return
        for index, kept in enumerate(worst):  # a new value of a metric kept: replace it
            if kept.sample.id == report.id:
                del worst[index]
                break
        sample = Sample(
            id=report.id,
            at=now,
            page=key[0],
            device=key[1],
            metric=key[2],
            value=value,
            rating=RATINGS[rating],
            path=report.path[:KEPT_PATH],
            navigation=report.navigation,
            attribution=report.attribution,
        )
        entry = _Worst(value, sample)
        insort(worst, entry)
        if len(worst) > self.worst_kept:
            del worst[0]
        self._fresh[report.id] = entry

    def take(self, before: float) -> tuple[list[Tally], list[Sample]]:
        """Take out the minutes that ended by ``before`` (their tallies, one per key) and
        the samples that became worst since the last take and still are; worst lists of
        hours that ended an hour before ``before`` are forgotten."""
        closed = [minute for minute in self.minutes if minute + 60 <= before]
        tallies = [
            tally.freeze(float(minute), key)
            for minute in sorted(closed)
            for key, tally in self.minutes.pop(minute).items()
            if tally.samples > 0
        ]
        return tallies, self._take_samples(before)

    def take_all(self) -> tuple[list[Tally], list[Sample]]:
        """Everything still open (at shutdown)."""
        return self.take(float("inf"))

    def _take_samples(self, before: float) -> list[Sample]:
        kept = {id(entry) for worst in self._worst.values() for entry in worst}
        samples = [entry.sample for entry in self._fresh.values() if id(entry) in kept]
        self._fresh = {}
        if before != float("inf"):
            horizon = int(before // 3600) * 3600 - 3600
            for stale in [k for k in self._worst if k[1] < horizon]:
                del self._worst[stale]
        return samples

    def open_tallies(self, since: float, until: float) -> list[Tally]:
        """The minutes still here that start in ``[since, until)``, as tallies."""
        return [
            tally.freeze(float(minute), key)
            for minute, tallies in self.minutes.items()
            if since <= minute < until
            for key, tally in tallies.items()
            if tally.samples > 0
        ]

    def open_samples(self, since: float, until: float) -> list[Sample]:
        """The worst samples held here received in ``[since, until)``."""
        return [
            entry.sample
            for worst in self._worst.values()
            for entry in worst
            if since <= entry.sample.at < until
        ]
