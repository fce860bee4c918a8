"""What the database checks share: their source, one finding per rule, and "not checked"."""

from __future__ import annotations

from dataclasses import replace

from watchkeeper.findings import Finding, Severity

SOURCE = "exposure"


def merged(findings: list[Finding]) -> list[Finding]:
    """One finding per (rule, subject): the most severe, with the others' evidence added
    (what a stranger saw and what the configuration says, as one finding)."""
    kept: dict[tuple[str, str], Finding] = {}
    for finding in sorted(findings, key=lambda f: f.severity.rank):
        key = (finding.rule, finding.subject)
        first = kept.get(key)
        if first is None:
            kept[key] = finding
            continue
        extra = {k: v for k, v in finding.evidence.items() if k not in first.evidence}
        kept[key] = replace(first, evidence={**first.evidence, **extra})
    return list(kept.values())


def not_checked(kind: str, subject: str, reason: str) -> Finding:
    """A database named in the configuration that could not be reached: silence would read
    as "protected"."""
    return Finding(
        source=SOURCE,
        severity=Severity.info,
        title=f"{kind} at {subject} could not be checked",
        subject=subject,
        evidence={"reason": reason[:300]},
        recommendation="Check the URL in the audit's configuration (host, port), or remove it.",
        rule="database-not-checked",
    )
