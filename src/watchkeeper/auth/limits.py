"""Login attempts counted per key (an address, a name, a pair) in a sliding window.

An attempt is *reserved* before its password is checked and taken back only if it
succeeded. Counting after the check let a burst of concurrent requests all pass the limit
while their checks were still running (150 at once got 119 password checks through a limit
of 20); reserving first makes the check-and-count one step on the event loop's thread.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 10_000
"""Keys kept at most; past that the one used longest ago is forgotten (a key under attack
is used all the time, so it stays)."""


def address_key(host: str) -> str:
    """The key a client address is counted under: an IPv4 address as it is (also when it
    comes IPv4-mapped), an IPv6 address by its /64 (one host usually holds a whole /64, and
    could otherwise take a fresh address for every try)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Limiter:
    """At most ``limit`` attempts per key within ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._attempts)

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
        attempts = self._attempts.get(key)
        if attempts is None:
            attempts = self._attempts[key] = deque()
            if len(self._attempts) > MAX_KEYS:
                self._attempts.popitem(last=False)
        else:
            self._attempts.move_to_end(key)
        attempts.append(self._clock())

    def forgive(self, key: str) -> None:
        """Take back the newest attempt (it succeeded, or was never made)."""
        attempts = self._attempts.get(key)
        if attempts:
            attempts.pop()
            if not attempts:
                del self._attempts[key]

    def reset(self, key: str) -> None:
        self._attempts.pop(key, None)

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
