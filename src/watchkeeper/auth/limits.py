"""Login attempts counted per key (an address, a name, a pair) in a sliding window.

An attempt is *reserved* before its password is checked and taken back only if it
succeeded. Counting after the check let a burst of concurrent requests all pass the limit
while their checks were still running (150 at once got 119 password checks through a limit
of 20); reserving first makes the check-and-count one step on the event loop's thread.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 10_000
"""Keys kept at most; past that the quiet ones are forgotten first, then the oldest."""


class Limiter:
    """At most ``limit`` attempts per key within ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._attempts: dict[str, deque[float]] = {}

    def count(self, key: str) -> int:
        """Attempts within the window."""
        attempts = self._trim(key)
        return len(attempts) if attempts else 0

    def blocked(self, key: str) -> float | None:
        """Seconds until one more attempt is allowed, or None if it is now."""
        attempts = self._trim(key)
        if attempts is None or len(attempts) < self.limit:
            return None
        return max(0.0, attempts[0] + self.window - self._clock())

    def reserve(self, key: str) -> float | None:
        """Count an attempt now, if one is allowed (None); else seconds to wait."""
        wait = self.blocked(key)
        if wait is None:
            self.fail(key)
        return wait

    def fail(self, key: str) -> None:
        """Count an attempt unconditionally."""
        self._attempts.setdefault(key, deque()).append(self._clock())
        if len(self._attempts) > MAX_KEYS:
            self._shrink()

    def forgive(self, key: str) -> None:
        """Take back the newest attempt (it succeeded, or was never made)."""
        attempts = self._attempts.get(key)
        if attempts:
            attempts.pop()
            if not attempts:
                del self._attempts[key]

    def reset(self, key: str) -> None:
        self._attempts.pop(key, None)

    def _shrink(self) -> None:
        for stale in [k for k in list(self._attempts) if not self._trim(k)]:
            self._attempts.pop(stale, None)
        while len(self._attempts) > MAX_KEYS:  # a flood of live keys: the oldest go first
            self._attempts.pop(next(iter(self._attempts)))

    def _trim(self, key: str) -> deque[float] | None:
        attempts = self._attempts.get(key)
        if attempts is None:
            return None
        edge = self._clock() - self.window
        while attempts and attempts[0] <= edge:
            attempts.popleft()
        if not attempts:
            del self._attempts[key]
            return None
        return attempts
