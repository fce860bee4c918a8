"""When an issue's events per minute are a spike: beyond its own recent baseline. Pure.

The rule, for the count ``c`` of an issue's current minute (the total so far):

    previous  = the issue's counts in each of the ``WINDOW`` (60) minutes before, a minute
                without events counting 0, minutes before the issue was first seen left out
    level     = median(previous)
    spread    = 1.4826 × MAD(previous)       (the median absolute deviation, scaled to σ)
    baseline  = level + 3 × spread
    spike     ⇔  c > max(FLOOR, FACTOR × baseline)          FLOOR = 10, FACTOR = 3

The median and the MAD ignore the odd busy minute (a burst an hour ago does not raise the
bar; half the minutes would have to be busy), and the floor keeps a quiet issue's few events
from counting as a spike. A steady rate never fires: its minutes stay within a factor of
the median, far below three times it. An issue is not looked at for a spike within
``SETTLE`` (10) minutes of being first seen or reopened: its new-issue or regression alert
has said so already, and a baseline of a few minutes means little.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WINDOW = 60
"""Minutes before the current one that make the baseline."""
FLOOR = 10
"""Events in a minute below which nothing is a spike."""
FACTOR = 3.0
"""How many times the baseline a minute must exceed."""
SETTLE = 10
"""Minutes after an issue is first seen or reopened before a spike is looked for."""
MAD_SCALE = 1.4826
"""MAD × this estimates the standard deviation of normally distributed counts."""


@dataclass(frozen=True, slots=True)
class Baseline:
    level: float
    """Median events per minute over the window."""
    spread: float
    """1.4826 × the MAD of the window's counts."""

    @property
    def threshold(self) -> float:
        """A minute with more events than this is a spike."""
        return max(float(FLOOR), FACTOR * (self.level + 3.0 * self.spread))


NO_HISTORY = Baseline(math.inf, 0.0)
"""For an issue too young (or too lately reopened) to judge: nothing is a spike."""


def baseline_of(previous: Sequence[int]) -> Baseline:
    """The baseline of the counts of the minutes before (zeros included)."""
    if not previous:
        return NO_HISTORY
    level = float(statistics.median(previous))
    spread = MAD_SCALE * float(statistics.median(abs(count - level) for count in previous))
    return Baseline(level, spread)


def window(
    counts: Mapping[int, int], minute: int, since: float, *, size: int = WINDOW
) -> list[int] | None:
    """The counts of the ``size`` minutes before ``minute`` (epoch seconds of its start),
    zero where ``counts`` (minute start → count) has none, from the minute of ``since`` (when
    the issue was first seen or reopened) on; None when ``since`` is within ``SETTLE``
    minutes of ``minute``."""
    first = int(since // 60) * 60
    if minute - first < SETTLE * 60:
        return None
    start = max(first, minute - size * 60)
    return [counts.get(at, 0) for at in range(start, minute, 60)]


def baseline_for(counts: Mapping[int, int], minute: int, since: float) -> Baseline:
    """The baseline an issue's ``minute`` is judged against (``NO_HISTORY`` when young)."""
    previous = window(counts, minute, since)
    return NO_HISTORY if previous is None else baseline_of(previous)


def is_spike(count: int, baseline: Baseline) -> bool:
    return count > baseline.threshold
