"""The evidence of restore drills: for each backup with a drill, its last successful
restore, RTO and RPO against the objectives, and how many drills passed (what
``wk drill report`` and ``/api/v1/drills`` state)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchkeeper.config import Monitor
    from watchkeeper.store import Store

LOOK_BACK = 200
"""Drills read per backup."""


@dataclass(slots=True)
class Evidence:
    """One backup's drills, as the report states them."""

    backup: str
    drill: str
    every: float
    rto_objective: float | None
    rpo_objective: float | None
    latest: dict[str, Any] | None
    last_success: dict[str, Any] | None
    drills: int
    passed: int

    @property
    def status(self) -> str:
        """``ok``, ``never drilled``, ``failing``, ``overdue`` or ``objective missed``."""
        if self.latest is None:
            return "never drilled"
        if not self.latest.get("ok"):
            return "failing"
        success = self.last_success or {}
        if time.time() - float(success.get("started_at") or 0) > self.every * 1.5:
            return "overdue"
        if any(missed_objective(str(w)) for w in self.latest.get("warnings") or []):
            return "objective missed"
        return "ok"

    @property
    def warnings(self) -> list[str]:
        """The latest drill's warnings: missed objectives and others (a clean-up left for
        the next start), which are listed but leave the status ``ok``."""
        return [str(w) for w in (self.latest or {}).get("warnings") or []]

    def as_json(self) -> dict[str, Any]:
        success = self.last_success or {}
        return {
            "backup": self.backup,
            "drill": self.drill,
            "status": self.status,
            "every_s": self.every,
            "objectives": {"rto_s": self.rto_objective, "rpo_s": self.rpo_objective},
            "last_drill_at": (self.latest or {}).get("started_at"),
            "last_success_at": success.get("started_at"),
            "last_success_backup": (success.get("backup") or {}).get("name"),
            "rto_s": success.get("rto_s"),
            "rpo_s": success.get("rpo_s"),
            "drills": self.drills,
            "passed": self.passed,
            "warnings": self.warnings,
        }


def missed_objective(warning: str) -> bool:
    """Is ``warning`` (a drill record's) a missed RTO or RPO (``drill._objectives``)?"""
    return (warning.startswith("restore took ") and " above the RTO of " in warning) or (
        warning.startswith("the restored backup was ") and " above the RPO of " in warning
    )


def evidence(
    monitors: Iterable[Monitor], store: Store, look_back: int = LOOK_BACK
) -> list[Evidence]:
    """Each drill monitor's standing, from its stored drills (blocking: reads the store)."""
    rows: list[Evidence] = []
    for monitor in monitors:
        if monitor.kind != "drill":
            continue
        settings: Any = monitor.settings
        plan = settings.backup.drill
        records = [r.body for r in store.reports(monitor.name, look_back)]
        rows.append(
            Evidence(
                backup=settings.monitor,
                drill=monitor.name,
                every=plan.every,
                rto_objective=plan.rto,
                rpo_objective=plan.rpo,
                latest=records[0] if records else None,
                last_success=next((r for r in records if r.get("ok")), None),
                drills=len(records),
                passed=sum(1 for r in records if r.get("ok")),
            )
        )
    return rows
