"""What one ingest request may hold, and how fast a project may send.

Sizes (each refused with a 413 naming it; see ``Limits``):

    the body as sent (compressed or not)     10 MiB
    the envelope once decompressed           20 MiB
    one event (an envelope's ``event`` item, or a ``store/`` body)    1 MiB
    one transaction, session(s) or client report item                 1 MiB
    one attachment                                                    10 MiB
    items in one envelope                                             100
    aggregates in one ``sessions`` item                               100

Rates: each project has a token bucket for its error events (``rate_limit`` in the config,
``N/DURATION``: a burst of N, refilled at N per DURATION) and one ten times as large for
everything else that is counted (transactions, sessions, attachments). Client reports are
never limited: they say what the SDK dropped. A request whose every limited item is refused
is answered 429; a request of which some items were refused is answered 200. Both carry
``Retry-After`` (the longest wait) and ``X-Sentry-Rate-Limits``
(``seconds:category;category:project`` per limit, comma-separated), which the SDKs honour:
they send nothing of those categories until then.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from watchkeeper.engine.buckets import TokenBuckets

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    body: int = 10 * MIB
    """The request body as it arrives (before decompression)."""
    envelope: int = 20 * MIB
    """The body after decompression."""
    event: int = 1 * MIB
    """One event: an envelope's ``event`` item, or a ``store/`` body."""
    item: int = 1 * MIB
    """One transaction, session, sessions or client report item."""
    attachment: int = 10 * MIB
    """One attachment item."""
    items: int = 100
    """Items in one envelope."""
    aggregates: int = 100
    """Aggregates (or session updates) in one ``sessions`` item."""


LIMITS = Limits()

EVENT_CATEGORIES = ("error", "default", "security")
"""What an event counts as, for the SDKs' rate limits."""
OTHER_FACTOR = 10
"""How much larger the bucket of everything else (transactions, sessions, attachments) is
than a project's event bucket."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Items refused by a rate limit: their categories and for how long."""

    categories: tuple[str, ...]
    seconds: int

    def header(self) -> str:
        """One ``X-Sentry-Rate-Limits`` entry."""
        return f"{self.seconds}:{';'.join(self.categories)}:project"


def rate_limit_headers(refusals: Iterable[Refusal]) -> list[tuple[bytes, bytes]]:
    """``Retry-After`` (the longest wait) and ``X-Sentry-Rate-Limits``; none without
    refusals."""
    found = list(refusals)
    if not found:
        return []
    longest = max(refusal.seconds for refusal in found)
    value = ", ".join(refusal.header() for refusal in found)
    return [(b"retry-after", str(longest).encode()), (b"x-sentry-rate-limits", value.encode())]


class ProjectRates:
    """The token buckets of every project: events, and everything else counted.

    ``take_event``/``take_other`` answer 0.0 when the item may go on, else the seconds until
    one would; a refused item takes nothing. Pure but for the clock (see ``TokenBuckets``).
    """

    def __init__(self, buckets: TokenBuckets | None = None) -> None:
        self._buckets = buckets if buckets is not None else TokenBuckets(most_keys=20_000)

    def take_event(self, project_id: int, burst: int, per_second: float) -> float:
        return self._buckets.take(f"e{project_id}", burst, per_second)

    def take_other(self, project_id: int, burst: int, per_second: float) -> float:
        return self._buckets.take(f"o{project_id}", burst * OTHER_FACTOR, per_second * OTHER_FACTOR)


def retry_seconds(wait: float) -> int:
    """What to tell an SDK to wait: whole seconds, at least one."""
    return max(1, math.ceil(wait))
