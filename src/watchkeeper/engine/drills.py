"""The engine's side of restore drills: what a drill needs from the store (the last
successful drill's row counts, its reference), when each drill monitor last ran (so a
restart does not rerun a weekly drill), and the sweep at start that removes what drills
killed mid-way (``kill -9``, a power cut) left behind."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from watchkeeper import lanes
from watchkeeper.config import Monitor
from watchkeeper.store import Store

log = logging.getLogger("watchkeeper.engine")

LOOK_BACK = 30
"""Reports read to find the last successful drill."""


class DrillHistory:
    """``drill.history`` for the drill probes: reads the store on the backups lane."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def previous_counts(self, monitor: str) -> dict[str, int] | None:
        try:
            reports = await lanes.BACKUPS.run(self.store.reports, monitor, LOOK_BACK)
        except Exception:  # the store is away: this drill has no reference, it still runs
            log.warning("drill %s: the previous drill could not be read", monitor)
            return None
        for report in reports:
            body = report.body
            if body.get("ok") and isinstance(body.get("counts"), dict):
                return {str(k): int(v) for k, v in body["counts"].items()}
        return None

    def last_runs(self, monitors: Iterable[Monitor]) -> dict[str, float]:
        """When each drill monitor's newest drill began (blocking)."""
        names = [m.name for m in monitors if m.kind == "drill"]
        if not names:
            return {}
        return {name: report.at for name, report in self.store.latest_reports(names).items()}


def first_due(interval: float, last: float | None, now: float) -> float | None:
    """Seconds from ``now`` until a drill last run at ``last`` is due again; None when it
    is due now (or never ran)."""
    if last is None:
        return None
    left = last + interval - now
    return left if left > 0 else None


async def sweep(monitors: Iterable[Monitor]) -> None:
    """Remove what drills whose process is gone left behind; log each one cleaned."""
    from watchkeeper.backup.drill import scratch_servers
    from watchkeeper.backup.drill import sweep as sweep_ledger

    plans = [
        m.settings.backup.drill  # type: ignore[attr-defined]
        for m in monitors
        if m.kind == "drill" and m.settings.backup.drill is not None  # type: ignore[attr-defined]
    ]
    try:
        for line in await sweep_ledger(scratch_servers(plans)):
            log.warning("drill left over from a previous run removed: %s", line)
    except Exception:
        log.exception("removing what earlier drills left behind failed")
