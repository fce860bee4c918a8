"""Rate limits for failed logins: a sliding window of failures per key (address, user)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Limiter:
    """At most ``limit`` failures per key within ``window`` seconds; beyond that, ``blocked``
    says how many seconds remain until the oldest failure leaves the window."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, key: str) -> float | None:
        failures = self._trim(key)
        if failures is None or len(failures) < self.limit:
            return None
        return max(0.0, failures[0] + self.window - self._clock())

    def fail(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self._clock())
        if len(self._failures) > 10_000:  # a flood of keys: forget the quiet ones
            for stale in [k for k in list(self._failures) if not self._trim(k)]:
                self._failures.pop(stale, None)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)

    def _trim(self, key: str) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        edge = self._clock() - self.window
        while failures and failures[0] <= edge:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures
