"""Points in time as API callers write them: ``1h`` (ago), epoch seconds, or ISO 8601."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

from watchkeeper.units import parse_duration


def parse_time(text: str, now: float | None = None) -> float:
    """``"6h"`` → now - 6 h; ``"1732800000"`` → that epoch; ``"2026-11-28T12:00:00Z"`` → epoch.

    Raises ValueError with a hint."""
    now = time.time() if now is None else now
    value = text.strip()
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(ValueError):
        return now - parse_duration(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"bad time '{text}': use a duration ago (6h), epoch seconds or ISO 8601"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
