"""Token buckets by key: ``burst`` takes at once, then ``rate`` a second; a bounded map.

A key's bucket is kept only while it is used: past ``most_keys`` the one unused longest is
forgotten (an idle bucket has refilled anyway, so forgetting it changes nothing unless more
than ``most_keys`` keys are busy at once). Pure: the clock is given.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    def __init__(
        self, most_keys: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._most = most_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """key → (tokens, when counted), least recently used first."""

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, burst: float, rate: float) -> float:
        """Take one token from ``key``'s bucket: 0.0 if there was one, else the seconds
        until there will be (nothing is taken then)."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._most:
            self._buckets.popitem(last=False)
        return wait
