"""Findings about errors, from the issues' minute counts the error tracker keeps: an issue
whose events per minute rose sharply in the diagnosis window (one finding per project), and
the one that rose at the moment a monitor's latency shifted (a finding of its own, naming
the monitor: the lead a person wants first).

A rise (a pure rule, ``rises``) at minute ``t`` of an issue, minutes without events counting 0:

    level   = median of the ``BEFORE`` (30) minutes before t
    spread  = 1.4826 × their MAD
    bar     = max(MIN_RATE, FACTOR × (level + 3 × spread))      MIN_RATE = 5, FACTOR = 3
    rise    ⇔  count(t) > bar  and  mean of the ``AFTER`` (5) minutes from t > bar

and ``t`` is its onset when the minute before was not one (a run of rises is one rise; one
that began before the window is not one in it). The
median and MAD are those of the alerts' spike rule (``errortrack.spikes``): a busy minute or
two before does not hide a rise, and a steady rate is never one. A rise goes with a latency
level shift when its onset is within ``NEAR`` buckets (two) of the shift's onset (the shift's
onset is known to a bucket, the rise's to a minute).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watchkeeper.diagnosis.monitors import Window, _clock, _iso
from watchkeeper.findings import Finding, Severity
from watchkeeper.store import Store
from watchkeeper.store.issues import Issue
from watchkeeper.units import plural

BEFORE = 30
"""Minutes before a minute that make its baseline."""
AFTER = 5
"""Minutes from a rise's onset whose mean must stay above the bar."""
MIN_RATE = 5
"""Events a minute below which nothing is a rise."""
FACTOR = 3.0
NEAR = 2
"""Buckets of the latency series (5 minutes for a day) a rise may be from a shift's onset."""
MOST_ISSUES = 20
"""Rising issues told of at most (the largest rises)."""


@dataclass(frozen=True, slots=True)
class Rise:
    """An issue's events per minute rising at ``onset`` from ``before`` to ``after``."""

    onset: float
    before: float
    after: float

    @property
    def size(self) -> float:
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class IssueRise:
    issue: Issue
    rise: Rise


def rises(counts: Mapping[int, int], start: float, end: float) -> list[Rise]:
    """The rises of one issue whose onsets are in ``[start, end)``; ``counts``: minute start
    (epoch seconds) → events. Minutes after ``end`` are unknown (not zero)."""
    first, last = int(start // 60) * 60, int(end // 60) * 60
    out: list[Rise] = []
    rising_before = False
    # from BEFORE minutes earlier: a rise that began before the window is not one in it
    for minute in range(first - BEFORE * 60, last, 60):
        count = counts.get(minute, 0)
        if count <= MIN_RATE:
            rising_before = False
            continue
        previous = [counts.get(minute - 60 * i, 0) for i in range(BEFORE, 0, -1)]
        level = float(statistics.median(previous))
        spread = 1.4826 * float(statistics.median(abs(n - level) for n in previous))
        bar = max(float(MIN_RATE), FACTOR * (level + 3 * spread))
        following = [counts.get(minute + 60 * i, 0) for i in range(AFTER) if minute + 60 * i < last]
        after = sum(following) / len(following)
        rising = count > bar and after > bar
        if rising and not rising_before and minute >= first:
            out.append(Rise(float(minute), level, after))
        rising_before = rising
    return out


def find(store: Store, window: Window) -> list[IssueRise]:
    """The largest rises of every issue in the window (``MOST_ISSUES`` at most)."""
    rows = store.error_minute_counts(None, window.start - 2 * BEFORE * 60, window.now)
    by_issue: dict[int, dict[int, int]] = {}
    for row in rows:
        by_issue.setdefault(row.issue_id, {})[row.minute] = row.count
    found: list[tuple[int, Rise]] = []
    for issue_id, counts in by_issue.items():
        if max(counts.values()) <= MIN_RATE:
            continue
        found += [(issue_id, rise) for rise in rises(counts, window.start, window.now)]
    found.sort(key=lambda item: -item[1].size)
    out: list[IssueRise] = []
    issues: dict[int, Issue | None] = {}
    for issue_id, rise in found:
        if issue_id not in issues:
            if len(issues) >= MOST_ISSUES:
                continue
            issues[issue_id] = store.error_issue(issue_id)
        issue = issues[issue_id]
        if issue is not None:
            out.append(IssueRise(issue, rise))
    return out


def _rate(value: float) -> str:
    return f"{value:.3g}"


def _what(issue: Issue) -> str:
    return f"{issue.title}" + (f" (at {issue.culprit})" if issue.culprit else "")


def _evidence(found: IssueRise) -> dict[str, float | int | str | None]:
    issue, rise = found.issue, found.rise
    return {
        "project": issue.project,
        "issue": issue.id,
        "title": issue.title[:200],
        "culprit": issue.culprit,
        "before_per_min": round(rise.before, 2),
        "after_per_min": round(rise.after, 2),
        "onset": _iso(rise.onset),
        "link": f"/errors/{issue.id}",
    }


def per_project(found: Sequence[IssueRise]) -> list[Finding]:
    """One finding per project whose issues rose in the window: its largest rise, and how
    many issues rose."""
    projects: dict[str, list[IssueRise]] = {}
    for item in found:
        projects.setdefault(item.issue.project, []).append(item)
    out = []
    for project, items in projects.items():
        top = max(items, key=lambda item: item.rise.size)
        issue, rise = top.issue, top.rise
        count = len({item.issue.id for item in items})
        others = f" ({plural(count, 'issue')} rose)" if count > 1 else ""
        out.append(
            Finding(
                source="errors",
                severity=Severity.warning,
                title=f"{project}: errors rose at {_clock(rise.onset)}, {issue.title[:120]} "
                f"from {_rate(rise.before)} to {_rate(rise.after)} a minute{others}",
                subject=project,
                evidence={**_evidence(top), "issues_rising": count},
                recommendation=f"Open the issue (/errors/{issue.id}): its stack and releases "
                "say what broke; a release that began then is the first suspect.",
                impact=rise.size,
                rule="error-rise",
            )
        )
    return out


def beside_latency(
    findings: Sequence[Finding], found: Sequence[IssueRise], width: float
) -> list[Finding]:
    """For each latency level shift among ``findings`` (``drift`` with an onset and both
    levels), the issues that rose within ``NEAR`` buckets (``width`` seconds each) of its
    onset."""
    out = []
    for finding in findings:
        onset_text = finding.evidence.get("onset")
        if finding.source != "drift" or "before_p95_ms" not in finding.evidence:
            continue
        if not isinstance(onset_text, str):
            continue
        onset = dt.datetime.fromisoformat(onset_text).timestamp()
        near = NEAR * max(width, 60.0)
        for item in found:
            issue, rise = item.issue, item.rise
            if abs(rise.onset - onset) > near:
                continue
            monitor = finding.subject
            out.append(
                Finding(
                    source="errors",
                    severity=Severity.warning,
                    title=f"{monitor}: latency shifted as {issue.project} began failing: "
                    f"{issue.title[:120]} from {_rate(rise.before)} to {_rate(rise.after)} "
                    f"a minute at {_clock(rise.onset)}",
                    subject=monitor,
                    evidence={
                        **{k: v for k, v in _evidence(item).items() if k != "onset"},
                        "errors_onset": _iso(rise.onset),  # not "onset": told once, here
                        "monitor": monitor,
                        "latency_onset": onset_text,
                        "latency_before_p95_ms": finding.evidence.get("before_p95_ms"),
                        "latency_after_p95_ms": finding.evidence.get("after_p95_ms"),
                    },
                    recommendation=f"Errors began then: {_what(issue)} in {issue.project} "
                    f"(/errors/{issue.id}). Fix the error or the release that brought it; the "
                    "latency moved with it.",
                    impact=finding.impact + rise.size,  # beside the shift, before it
                    rule="error-rise-with-latency",
                )
            )
    return out
