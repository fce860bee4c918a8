"""``audit``: a site's security and delivery audit, run on a schedule (daily by default): the
Observatory grade and score, each Observatory test's score modifier and every finding's count
become series; a grade that drops below the last run's, below ``min_grade``, or a critical
finding that was not there before degrades the monitor (the site still answers: it is not
down) and notifies through its routes like any other state change.

    - {name: shop-audit, audit: https://shop.example.com}
    - name: api-audit
      audit: {url: "https://api.example.com/", min_grade: B, ports: true}
      interval: 12h

Facts for expectations: ``audit.score``, ``audit.grade``, ``audit.critical``,
``audit.warnings``, ``audit.findings`` (how many), ``audit.tests_failed`` and, per
Observatory test, ``observatory.<test>`` (its score modifier). An unreachable site fails the
check (down), as any probe that gets no answer does.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from watchkeeper.checks._net import readable_ca_file
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType

_GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F")
_TESTS = (
    "content-security-policy",
    "cookies",
    "cross-origin-resource-sharing",
    "redirection",
    "referrer-policy",
    "strict-transport-security",
    "subresource-integrity",
    "x-content-type-options",
    "x-frame-options",
    "cross-origin-resource-policy",
)

_last: dict[str, tuple[str | None, frozenset[str]]] = {}
"""Per monitor: the last run's grade and critical findings' rule ids (reset by a restart:
the first run after it sets the reference)."""


class AuditSettings(CheckSettings):
    shorthand_field = "url"

    url: str
    min_grade: str | None = None
    """Degrade when the grade is worse than this (e.g. B)."""
    headers: bool = True
    tls: bool = True
    exposure: bool = True
    delivery: bool = True
    ports: bool = False
    """Also connect-scan the host's common service ports."""
    ca_file: str | None = None

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from watchkeeper.audit.target import Target

        return Target.parse(value).url

    @field_validator("min_grade")
    @classmethod
    def _grade(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in _GRADES:
            raise ValueError(f"min_grade must be one of {', '.join(_GRADES)}")
        return value.upper() if value else value

    def host_key(self) -> str:
        from watchkeeper.audit.target import Target

        target = Target.parse(self.url)
        return f"{target.host}:{target.port}"

    def target(self) -> str:
        return self.url

    def parts(self) -> frozenset[str]:
        wanted = {
            "headers": self.headers,
            "tls": self.tls,
            "exposure": self.exposure,
            "delivery": self.delivery,
        }
        return frozenset(name for name, on in wanted.items() if on)


async def probe(settings: AuditSettings, attempt: Attempt) -> None:
    from watchkeeper.audit.run import Options, audit, below
    from watchkeeper.audit.target import Target

    options = Options(
        timeout=min(10.0, attempt.timeout),
        deadline=max(1.0, attempt.timeout - 0.5),
        parts=settings.parts(),
        ports=settings.ports,
        ca_file=settings.ca_file,
    )
    report = await audit(Target.parse(settings.url), options)
    if not report.reachable:
        attempt.fail(report.errors[0] if report.errors else "site unreachable")
        return
    facts = attempt.observation.facts
    facts.update(_facts(report))
    attempt.observation.detail = report.as_json()
    critical = frozenset(f.rule_id for f in report.findings if f.severity.value == "critical")
    before = _last.get(attempt.monitor)
    _last[attempt.monitor] = (report.grade, critical)
    if settings.min_grade and below(report.grade, settings.min_grade):
        attempt.warn(f"grade {report.grade or 'none'} is below {settings.min_grade}")
    if before is not None:
        old_grade, old_critical = before
        if old_grade is not None and below(report.grade, old_grade):
            attempt.warn(f"grade dropped from {old_grade} to {report.grade or 'none'}")
        new = sorted(critical - old_critical)
        if new:
            titles = [f.title for f in report.findings if f.rule_id in new]
            attempt.warn("new critical finding: " + "; ".join(titles[:3]))
    for error in report.errors:
        attempt.warn(f"audit incomplete: {error}")


def _facts(report: Any) -> dict[str, Any]:
    counts = {"critical": 0, "warning": 0, "info": 0}
    for finding in report.findings:
        counts[finding.severity.value] += 1
    facts: dict[str, Any] = {
        "audit.critical": counts["critical"],
        "audit.warnings": counts["warning"],
        "audit.findings": len(report.findings),
    }
    if report.scorecard is not None:
        facts["audit.score"] = report.score
        facts["audit.grade"] = report.grade
        facts["audit.tests_failed"] = sum(
            1 for outcome in report.scorecard.tests.values() if not outcome.passed
        )
        for name, outcome in report.scorecard.tests.items():
            facts[f"observatory.{name}"] = outcome.modifier
    return facts


CHECK = CheckKind(
    name="audit",
    settings=AuditSettings,
    subjects={
        "audit.score": ValueType.NUMBER,
        "audit.grade": ValueType.TEXT,
        "audit.critical": ValueType.NUMBER,
        "audit.warnings": ValueType.NUMBER,
        "audit.findings": ValueType.NUMBER,
        "audit.tests_failed": ValueType.NUMBER,
        **{f"observatory.{name}": ValueType.NUMBER for name in _TESTS},
    },
    probe=probe,
    interval=86400.0,
    timeout=120.0,
    confirm=1,
    runtime=(
        "aiohttp",
        "cryptography",
        "cryptography.x509",
        "cryptography.x509.oid",
        "watchkeeper.audit.run",
        "watchkeeper.audit._http",
    ),
)
