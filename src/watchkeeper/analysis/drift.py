"""Anomalies in a series, online: how new is what the series does now, against what it has
done before, and how unusual is that newness for this series.

1. Values are put in bins (the range of the first day of points, ``learn_least`` to
   ``learn`` of them, split into ``bins``, shifted half a bin down; a value outside that
   range gets a bin of its own). Each *channel* counts how often each bin was seen among the
   last ``memory`` points; one channel also keys the bin by the hour of the day (from the
   timestamps), so a value that is usual at noon but not at 3 a.m. is new at 3 a.m.; it
   counts once ``season_span`` of data is seen. Nothing reads the spacing of the points, so
   gaps and uneven sampling are not new in themselves.
2. A point's *novelty* is the mean over the channels of ``1 / (1 + count / familiar)``: 1 for
   a bin never seen, near 0 for a common one. A spike lands in an empty bin; after a level
   shift every point does, until the new level becomes familiar.
3. The *anomaly likelihood*: the mean novelty of the last ``short`` points is compared with
   the mean and spread of that same mean over the ``long`` points before it (the spread at
   least ``min_spread``). Its Gaussian tail probability, in decades (``-log10``), says how
   rare the present is for this series; a noisy series is always a little novel and must be
   much more so to score. The score is ``d / (d + d0)``, in [0, 1]; ``alarm_decades`` of
   them score ``high`` (0.9).
4. After a point scores ``high``, the next ``quiet`` points are damped: one change is one
   detection, not a burst of them (a person wants one page per problem).

Each score comes from its value and the values before it only. ``Detector`` is the online
form (one per monitor: ``update`` a point, get its score, in bounded memory); ``scores`` runs
one over an array. Pure computation: nothing here reads the store.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr

FloatArray = npt.NDArray[np.float64]

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """The defaults are the best of ``bench/nab_cv.py``'s grid on the whole NAB subset
    (77.9, in-sample); what that choice scores on a category it was not made on is the
    cross-validated score (leave one category out: 70.0 at ``high``, the threshold the
    engine uses; the record is ``bench/results/nab_cv.md``). Change them only through the
    sweep: a setting that raises the in-sample score and lowers the cross-validated one is a
    regression. The NAB figures in the fields' notes are older, in-sample, from changing one
    field at a time (before the warm-up and the daily channel followed time)."""

    channels: tuple[tuple[int, int], ...] = ((8, 0), (16, 0), (4, 24))
    """(bins across the learnt range, parts of the day; 0 = the time is ignored) per channel.
    On NAB the coarse and fine value channels alone score 64.7; with the hour-of-day channel
    75.7 (by 12 parts of the day, 71.3)."""
    margin: float = 0.5
    """Bins the grid is moved down by: with 0.5 the learnt lowest and highest values sit in
    the middle of a bin, and a value just past them is not new (on NAB 0 scores 74.1, 0.25
    76.2, 0.5 75.7)."""
    learn: int = 400
    """Most points whose range sets the bins (counted from the first point). Their novelty
    counts as 0 in the usual (a low start, which on NAB scores 75.7 against 70.9 without
    them)."""
    learn_least: int = 200
    """Fewest points whose range sets the bins: the bins are set at ``learn`` points, or
    earlier once ``learn_span`` of time is seen (at least this many points), so hourly or
    sparse data is scored after 10 days and not after ``learn`` points (17 days). Swept: 50,
    100, 200."""
    learn_span: float = DAY
    """Time (seconds) whose points may set the bins before ``learn`` of them are seen."""
    settle: int = 50
    """No score before this many points after the bins are set: the warm-up (338 points for
    data 5 minutes apart, 250 for hourly data, 450 for data a minute apart or closer)."""
    memory: int = 4000
    """Points whose bins are counted (the ring each channel keeps)."""
    familiar: float = 1.0
    """Sightings of a bin at which its novelty is 1/2 (on NAB 2 scores 72.2)."""
    short: int = 3
    """Points whose mean novelty is the present (on NAB 2 scores 74.8, 4 70.1)."""
    long: int = 4000
    """Points before them whose mean novelty is the usual (its mean and spread)."""
    min_spread: float = 0.03
    """Floor on the usual spread of the mean novelty (swept: 0.02, 0.025, 0.03)."""
    alarm_decades: float = 8.0
    """A tail probability of 10^-alarm_decades scores ``high`` (the score is monotonic in it,
    and NAB picks its threshold: what matters is where the quiet period starts; swept: 8,
    10, 12)."""
    high: float = 0.9
    """A score at or above this is a detection and starts the quiet period."""
    quiet: int = 200
    """Points damped after a detection (on NAB, 100 scores 75.3, 400 70.9)."""
    quiet_span: float = 60_000.0
    """The quiet period also ends this many seconds after the detection (whichever comes
    first; 0: by points only): 200 points of 5 minutes, and not 200 hourly points, more than
    a week (the stress shapes of bench/nab_cv.py: coarse 58.5 without, 65.3 with)."""
    damp: float = 0.25
    """Damped scores are at most ``high * damp``."""
    step: float = 300.0
    """Seconds between points when no times are given."""
    part_seen: int = 10
    """Points a part of the day must have been seen (and ``season_span`` of data) before its
    channel counts: until then every value is new there, only because that hour is."""
    season_span: float = 2 * DAY
    """Time (seconds, since the first point) before a channel by part of the day counts at
    all: one day says nothing of what is daily (without it, data finer than 5 minutes
    reaches a new part of its first day after the bins are set and reads as new)."""
    season_share: float = 0.0
    """Share of the values' variance (in the channel's memory) the parts of the day must
    explain for the channel to count (0: any). Tried on NAB: 0.05 lowers every fold's
    training score (by 2 to 8 points): the (value, hour) bins find changes even in series
    whose daily shape is weak."""


class Detector:
    """The detector, one point at a time; ``update`` returns the new point's score, the
    same as ``scores`` gives it in the whole series. Memory: a few rings of ``memory`` and
    ``long`` points."""

    def __init__(self, settings: DriftSettings | None = None) -> None:
        self.settings = s = settings or DriftSettings()
        self._seen = 0
        self._start = 0.0  # time of the first point
        self._first: list[tuple[float, float]] = []  # the first points, until the bins are set
        self._scored_from = -1  # index of the first scored point, once the bins are set
        self._low = 0.0
        self._width: list[float] = []  # per channel: value width of a bin
        self._counts: list[Counter[tuple[int, int]]] = [Counter() for _ in s.channels]
        self._parts: list[Counter[int]] = [Counter() for _ in s.channels]  # points per part
        self._ring: list[deque[tuple[int, int, float]]] = [deque() for _ in s.channels]
        # per channel by part of the day, for the share of the variance the parts explain:
        # the sum of the values (in bins) per part, the sum over parts of sum**2 / count,
        # and the sum of the values and of their squares
        self._part_sums: list[dict[int, float]] = [{} for _ in s.channels]
        self._between = [0.0 for _ in s.channels]
        self._total = [0.0 for _ in s.channels]
        self._squares_in = [0.0 for _ in s.channels]
        self._novelty: deque[float] = deque(maxlen=s.short)
        self._present: deque[float] = deque()  # the ``long`` last mean novelties
        self._sum = 0.0
        self._squares = 0.0
        self._quiet_until = -1
        self._quiet_until_time = -math.inf
        self._when = 0.0

    @property
    def seen(self) -> int:
        """Values learnt so far (non-finite ones are not)."""
        return self._seen

    def update(self, value: float, time: float | None = None) -> float:
        """The score in [0, 1] of ``value`` (at ``time``, epoch seconds; without it, the
        points are taken ``step`` seconds apart). A value that is not finite scores 0 and is
        not learnt."""
        s = self.settings
        if not math.isfinite(value):
            return 0.0
        index = self._seen
        self._seen += 1
        when = float(index) * s.step if time is None else float(time)
        if index == 0:
            self._start = when
        self._when = when
        if self._scored_from < 0:
            self._first.append((value, when))
            span = when - self._start
            if index + 1 >= s.learn or (index + 1 >= s.learn_least and span >= s.learn_span):
                self._set_bins()
                self._scored_from = index + 1 + s.settle
            return self._score(index, 0.0)
        return self._score(index, self._count(value, when))

    def _set_bins(self) -> None:
        values = [value for value, _ in self._first]
        self._low, top = min(values), max(values)
        for bins, _ in self.settings.channels:
            width = (top - self._low) / bins
            self._width.append(width if width > 0 else max(abs(self._low), 1.0) * 0.01)
        for value, when in self._first:  # learn the first points' bins, now known
            self._count(value, when)
        self._first = []

    def _count(self, value: float, when: float) -> float:
        """Count the point's bin in every channel; its novelty (from the counts before)."""
        s = self.settings
        total = 0.0
        channels = 0
        for k, (_, parts) in enumerate(s.channels):
            part = int((when % DAY) // (DAY / parts)) if parts else 0
            place = (value - self._low) / self._width[k]
            key = (math.floor(place + s.margin), part)
            counts, ring, seen = self._counts[k], self._ring[k], self._parts[k]
            if not parts or (seen[part] >= s.part_seen and self._seasonal(k, when)):
                total += 1.0 / (1.0 + counts[key] / s.familiar)
                channels += 1
            counts[key] += 1
            seen[part] += 1
            share = parts and s.season_share > 0  # the sums are read only then
            if share:
                self._add(k, part, place, 1)
            ring.append((key[0], part, place))
            if len(ring) > s.memory:
                bin_, old_part, old_place = ring.popleft()
                old = (bin_, old_part)
                counts[old] -= 1
                seen[old_part] -= 1
                if counts[old] == 0:
                    del counts[old]
                if share:
                    self._add(k, old_part, old_place, -1)
        return total / channels if channels else 0.0

    def _add(self, k: int, part: int, place: float, sign: int) -> None:
        """Add (``sign`` 1) or drop (-1) a value of channel ``k``'s ``part`` of the day in
        the sums its explained variance comes from (the part's count already changed)."""
        sums, n = self._part_sums[k], self._parts[k][part]
        before = sums.get(part, 0.0)
        after = before + sign * place
        if n - sign > 0:
            self._between[k] -= before * before / (n - sign)
        if n > 0:
            self._between[k] += after * after / n
            sums[part] = after
        else:
            sums.pop(part, None)
        self._total[k] += sign * place
        self._squares_in[k] += sign * place * place

    def _seasonal(self, k: int, when: float) -> bool:
        """Does channel ``k`` (by part of the day) count now: ``season_span`` of data seen,
        and its parts explaining ``season_share`` of the variance in its memory."""
        s = self.settings
        if when - self._start < s.season_span:
            return False
        if s.season_share <= 0.0:
            return True
        n = len(self._ring[k])
        if n < 2:
            return False
        grand = self._total[k] * self._total[k] / n
        spread = self._squares_in[k] - grand
        return spread > 0 and (self._between[k] - grand) >= s.season_share * spread

    def _score(self, index: int, novelty: float) -> float:
        s = self.settings
        self._novelty.append(novelty)
        present = sum(self._novelty) / len(self._novelty)
        z = 0.0
        if self._present:
            n = len(self._present)
            mean = self._sum / n
            spread = math.sqrt(max(self._squares / n - mean * mean, 0.0))
            z = (present - mean) / max(spread, s.min_spread)
        self._present.append(present)
        self._sum += present
        self._squares += present * present
        if len(self._present) > s.long:
            old = self._present.popleft()
            self._sum -= old
            self._squares -= old * old
        if self._scored_from < 0 or index < self._scored_from:
            return 0.0
        score = likelihood_score(z, s)
        if index <= self._quiet_until and (
            s.quiet_span <= 0 or self._when <= self._quiet_until_time
        ):
            return min(score, s.high) * s.damp
        if score >= s.high:
            self._quiet_until = index + s.quiet
            self._quiet_until_time = self._when + s.quiet_span
        return score


def likelihood_score(z: float, settings: DriftSettings | None = None) -> float:
    """The score of a present ``z`` spreads above the usual: its Gaussian tail probability in
    decades ``d`` (``-log10``), as ``d / (d + d0)``, where ``d0`` puts ``alarm_decades`` at
    exactly ``high``. Rises with ``z``, from 0 (a present far below the usual)."""
    s = settings or DriftSettings()
    decades = max(-float(log_ndtr(-z)) / math.log(10.0), 0.0)
    d0 = s.alarm_decades * (1.0 - s.high) / s.high
    return decades / (decades + d0)


def scores(
    values: FloatArray, settings: DriftSettings | None = None, *, times: FloatArray | None = None
) -> FloatArray:
    """An anomaly score in [0, 1] for each value, each from the values before it only
    (``times``: epoch seconds of the values; without them, ``step`` seconds apart)."""
    detector = Detector(settings)
    values = np.asarray(values, dtype=np.float64)
    if times is None:
        return np.array([detector.update(float(v)) for v in values], dtype=np.float64)
    stamps = np.asarray(times, dtype=np.float64)
    if stamps.shape != values.shape:
        raise ValueError(f"{len(stamps)} times for {len(values)} values")
    found = [detector.update(float(v), float(t)) for v, t in zip(values, stamps, strict=True)]
    return np.array(found, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Change:
    """The strongest detection of a series, in words a report can use: "p95 rose from
    ``before`` to ``after`` at ``time`` (``relative``)"."""

    index: int
    """Where it was detected: the highest-scoring point (the first, on a tie)."""
    time: float | None
    """Its time (epoch seconds), when times were given."""
    score: float
    before: float
    """Median of the ``span`` points before it: the usual level."""
    after: float
    """Median of the point and the ``span_after`` - 1 after it: the new level (back at
    ``before`` after a lone spike)."""
    peak: float
    """The value among those farthest from ``before`` (the spike itself, for a spike)."""
    relative: float | None
    """``(after - before) / |before|`` (None when ``before`` is 0); ``+1.83`` is +183 %."""


def describe_change(
    values: FloatArray,
    found: FloatArray,
    *,
    threshold: float | None = None,
    times: FloatArray | Sequence[float] | None = None,
    span: int = 288,
    span_after: int = 12,
) -> Change | None:
    """The highest-scoring detection (``found``: the series' ``scores``) as a ``Change``, or
    None when no score reaches ``threshold`` (the settings' ``high`` by default). It reads
    points after the detection (it describes, it does not detect)."""
    values = np.asarray(values, dtype=np.float64)
    found = np.asarray(found, dtype=np.float64)
    if values.shape != found.shape:
        raise ValueError(f"{len(found)} scores for {len(values)} values")
    level = DriftSettings().high if threshold is None else threshold
    above = np.flatnonzero(found >= level)
    if len(above) == 0:
        return None
    index = int(above[np.argmax(found[above])])
    past = values[max(index - span, 0) : index]
    past = past[np.isfinite(past)]
    later = values[index : index + max(span_after, 1)]
    later = later[np.isfinite(later)]
    now = float(values[index])
    before = float(np.median(past)) if len(past) else now
    after = float(np.median(later)) if len(later) else now
    peak = float(later[np.argmax(np.abs(later - before))]) if len(later) else now
    when = None if times is None else float(np.asarray(times, dtype=np.float64)[index])
    relative = (after - before) / abs(before) if before != 0 else None
    return Change(index, when, float(found[index]), before, after, peak, relative)
