"""Maintenance windows and silences: which monitors' notifications are held right now.

Pure functions on plain data: a window is active between its start and end, or, if it
recurs, for ``duration`` after each time its cron expression fires in its time zone (so a
02:00 window stays at 02:00 local time across daylight-saving changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from watchkeeper.config import MaintenanceWindow
from watchkeeper.store.alerts import Silence


def window_active(window: MaintenanceWindow, now: float) -> bool:
    if window.cron is None:
        return (
            window.start is not None
            and window.end is not None
            and (window.start <= now < window.end)
        )
    assert window.duration is not None
    # the latest time the schedule fired at or before now (a second later, looking back)
    local = datetime.fromtimestamp(now, ZoneInfo(window.tz)) + timedelta(seconds=1)
    began = float(croniter(window.cron, local).get_prev(datetime).timestamp())
    return began <= now < began + window.duration


class Mutes:
    """What holds a monitor's notifications at ``now``: a window or a silence (or nothing)."""

    def __init__(
        self, windows: Sequence[MaintenanceWindow], silences: Iterable[Silence], now: float
    ) -> None:
        self._windows = [w for w in windows if window_active(w, now)]
        self._silences = [s for s in silences if s.active(now)]

    def reason(self, monitor: str, tags: tuple[str, ...]) -> str | None:
        """Why ``monitor`` is muted now, or None."""
        for window in self._windows:
            if window.covers(monitor, tags):
                return f"maintenance window '{window.name}'"
        for silence in self._silences:
            if silence.covers(monitor, tags):
                why = f" ({silence.reason})" if silence.reason else ""
                return f"silence #{silence.id}{why}"
        return None
