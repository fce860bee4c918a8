"""What to do first: each Finding of an assessment becomes an Item scored risk × impact ÷ effort.

- **Risk** (how likely it hurts, 1–3): the finding's severity — critical 3, warning 2, info 1.
- **Impact** (how much it hurts when it does, 1–3): by area. An outage, lost data and an
  open door cost the business most (3); a slower app or a capacity shortfall costs users
  some (2); money spent needlessly is a cost, not harm (1, or 2 from ``BIG_SAVING`` a month
  up). A critical security finding stays 3, a warning one 2.
- **Effort** (1–3): what the fix usually takes. A header, a config line, an index or a drill
  run is an hour (1); resizing a machine, fixing a backup job or tuning a database is a day
  (2); a regression to find in code or a change of architecture is more (3). Known by the
  finding's source; a recommendation is not parsed.

The score is risk × impact ÷ effort (⅓ to 9): a critical outage that a restart fixes comes
before a warning that needs a rewrite. Equal scores keep the findings' own order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from watchkeeper.findings import Finding, Severity

AREAS = {
    "status": "availability",
    "slo": "availability",
    "headers": "security",
    "tls": "security",
    "exposure": "security",
    "delivery": "performance",
    "drift": "performance",
    "phase": "performance",
    "postgres": "performance",
    "redis": "performance",
    "host": "performance",
    "resolver": "performance",
    "errors": "errors",
    "backup": "backups",
    "drill": "backups",
    "capacity": "capacity",
    "cost": "cost",
}
"""The area of each Finding source; others are ``other``."""

_IMPACT = {
    "availability": 3,
    "backups": 3,
    "security": 2,
    "errors": 2,
    "performance": 2,
    "capacity": 2,
    "cost": 1,
    "other": 1,
}
_EFFORT = {
    "status": 2,
    "slo": 2,
    "headers": 1,
    "tls": 1,
    "exposure": 1,
    "delivery": 1,
    "postgres": 1,
    "redis": 1,
    "host": 2,
    "resolver": 1,
    "drift": 3,
    "phase": 3,
    "errors": 2,
    "backup": 2,
    "drill": 1,
    "capacity": 3,
    "cost": 2,
}
_RISK = {Severity.critical: 3, Severity.warning: 2, Severity.info: 1}
EFFORT_WORDS = {1: "low", 2: "medium", 3: "high"}

BIG_SAVING = 100.0
"""Monthly saving (in the catalog's currency) from which a cost finding's impact is 2."""


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to do, with why it ranks where it does."""

    finding: Finding
    area: str
    risk: int
    impact: int
    effort: int
    link: str = ""
    """Where to see it: a dashboard path (``/monitors/api``) or a command to run."""
    scope: str = ""
    """What part of the assessment looked for it (``status:status``, ``audit:/monitors/site``):
    a baseline item that is gone counts as fixed only where this run looked again."""

    @property
    def score(self) -> float:
        return round(self.risk * self.impact / self.effort, 2)

    @property
    def key(self) -> str:
        """Stable from run to run while the numbers change: compares against a baseline."""
        text = f"{self.finding.rule_id}\x00{self.finding.subject}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "area": self.area,
            "score": self.score,
            "risk": self.risk,
            "impact": self.impact,
            "effort": EFFORT_WORDS[self.effort],
            "link": self.link,
            "scope": self.scope,
            "finding": self.finding.as_json(),
        }


def area_of(finding: Finding) -> str:
    return AREAS.get(finding.source, "other")


def item(finding: Finding, link: str = "", scope: str = "") -> Item:
    area = area_of(finding)
    impact = _IMPACT[area]
    if area == "security" and finding.severity is Severity.critical:
        impact = 3
    if area == "cost":
        saving = finding.evidence.get("monthly_saving")
        if isinstance(saving, int | float) and saving >= BIG_SAVING:
            impact = 2
    return Item(
        finding=finding,
        area=area,
        risk=_RISK[finding.severity],
        impact=impact,
        effort=_EFFORT.get(finding.source, 2),
        link=link,
        scope=scope,
    )


def rank(items: Iterable[Item]) -> list[Item]:
    """Highest score first; then severity; the given order breaks ties (stable)."""
    return sorted(items, key=lambda i: (-i.score, i.finding.severity.rank))
