"""Findings: one diagnosis, audit or cost conclusion each — what it is about, how bad, the
numbers that show it and what to do. Advisors and analyses produce them; ``report/`` renders
them. A leaf model: it imports nothing of Watchkeeper's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Evidence = dict[str, float | int | str | None]


class Severity(StrEnum):
    critical = "critical"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Chart:
    """A series that shows a finding (drawn in the HTML report; not part of the JSON)."""

    label: str
    unit: str
    times: tuple[float, ...]
    values: tuple[float, ...]
    marker: float | None = None
    """A time to mark (the onset of a change)."""


@dataclass(frozen=True, slots=True)
class Finding:
    source: str
    """What produced it: postgres, redis, host, drift, phase, ..."""
    severity: Severity
    title: str
    """One line a person reads first ("Sequential scans on orders (2.1 M rows)")."""
    subject: str
    """The table, index, monitor, mount, key... it is about."""
    evidence: Evidence = field(default_factory=dict)
    """Named numbers (or short text) that show it."""
    recommendation: str = ""
    """What to do, as concretely as known (the exact CREATE INDEX)."""
    impact: float = 0.0
    """Order within a severity: larger first (time spent, bytes, share of a limit)."""
    chart: Chart | None = None
    rule: str = ""
    """A stable name of the test that produced it ("csp-not-implemented", "tls-1.0-offered"),
    the same from run to run while the title's numbers change: SARIF's ruleId is
    ``source/rule``, and a monitor compares runs by it. Empty: derived from the title."""

    @property
    def rule_id(self) -> str:
        """``source/rule``, or ``source/`` and the title's words without numbers."""
        if self.rule:
            return f"{self.source}/{self.rule}"
        words = "".join(c.lower() if c.isalpha() else " " for c in self.title).split()
        return f"{self.source}/{'-'.join(words[:8]) or 'finding'}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "severity": self.severity.value,
            "title": self.title,
            "subject": self.subject,
            "evidence": dict(self.evidence),
            "recommendation": self.recommendation,
        }
        if self.rule:
            out["rule"] = self.rule
        return out


def from_json(data: dict[str, Any]) -> Finding:
    """A Finding back from ``Finding.as_json`` (a stored audit report's); unknown severities
    read as info, evidence keeps numbers and short text only."""
    try:
        severity = Severity(str(data.get("severity")))
    except ValueError:
        severity = Severity.info
    evidence: Evidence = {}
    raw = data.get("evidence")
    if isinstance(raw, dict):
        for key, value in raw.items():
            if value is None or isinstance(value, int | float | str):
                evidence[str(key)] = value
            else:
                evidence[str(key)] = str(value)
    return Finding(
        source=str(data.get("source") or "unknown"),
        severity=severity,
        title=str(data.get("title") or ""),
        subject=str(data.get("subject") or ""),
        evidence=evidence,
        recommendation=str(data.get("recommendation") or ""),
        rule=str(data.get("rule") or ""),
    )


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Most important first: by severity, then impact, then source and subject (stable)."""
    return sorted(findings, key=lambda f: (f.severity.rank, -f.impact, f.source, f.subject))
