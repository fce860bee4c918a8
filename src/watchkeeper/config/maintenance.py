"""The ``maintenance:`` section: windows in which checks go on but notifications wait."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from watchkeeper.config.models import MaintenanceFields, MaintenanceWindow
from watchkeeper.config.reporting import Reporter
from watchkeeper.config.yamlsource import Path


def load_maintenance(reporter: Reporter, data: Any) -> list[MaintenanceWindow]:
    if data is None:
        return []
    if not isinstance(data, list):
        reporter.problem(
            "maintenance must be a list of windows, e.g. - {name: upgrade, start: "
            "2026-12-01T02:00:00Z, duration: 2h}",
            ("maintenance",),
        )
        return []
    windows: list[MaintenanceWindow] = []
    for index, item in enumerate(data):
        path: Path = ("maintenance", index)
        fields: MaintenanceFields | None = reporter.validate(MaintenanceFields, item, path)
        if fields is None:
            continue
        zone = ZoneInfo(fields.tz)
        start = _epoch(fields.start, zone)
        end = _epoch(fields.end, zone)
        if start is not None and end is None and fields.duration is not None:
            end = start + fields.duration
        if start is not None and end is not None and end <= start:
            reporter.problem("a window must end after it starts", (*path, "end"))
            continue
        windows.append(
            MaintenanceWindow(
                name=fields.name,
                start=start,
                end=end,
                cron=fields.cron,
                duration=fields.duration,
                tz=fields.tz,
                monitors=fields.monitors,
                tags=fields.tags,
                reason=fields.reason,
            )
        )
    return windows


def _epoch(moment: datetime | None, zone: ZoneInfo) -> float | None:
    """A time written without an offset is in the window's ``tz``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()
