"""A saved assessment, and what changed since: items that appeared, went away or changed
severity, and the baseline numbers that moved (uptime, latency, grades, SLO budgets, the
sustainable rate, the monthly bill).

The baseline is the assessment's JSON, kept in the store (``meta``, key ``KEY``); saving
again replaces it. Items are matched by their key (rule and subject), so a finding whose
numbers moved is the same item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

KEY = "assess.baseline"
MOST_BYTES = 4 * 1024 * 1024
"""A baseline larger than this is cut to its items and facts (no per-section detail)."""

_RANK = {"critical": 0, "warning": 1, "info": 2}
_GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F")

LATENCY_SHARE = 0.2
"""A p95 that moved by more than this share (and ``LATENCY_FLOOR_MS``) changed."""
LATENCY_FLOOR_MS = 5.0
UPTIME_POINTS = 0.05
"""Uptime that moved by more than this many percentage points changed."""


def encode(report: dict[str, Any]) -> str:
    text = json.dumps(report, separators=(",", ":"), default=str)
    if len(text.encode()) <= MOST_BYTES:
        return text
    slim = {k: v for k, v in report.items() if k not in ("sections", "findings")}
    if "capacity" in slim.get("facts", {}):
        slim["facts"]["capacity"].pop("result", None)
    return json.dumps(slim, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class Change:
    direction: str
    """``improved`` or ``regressed``."""
    what: str
    """One line: "new critical: api is down", "p95 of api 120 ms → 310 ms"."""
    key: str = ""


@dataclass(slots=True)
class Comparison:
    since: float
    changes: list[Change] = field(default_factory=list)

    @property
    def improved(self) -> list[Change]:
        return [c for c in self.changes if c.direction == "improved"]

    @property
    def regressed(self) -> list[Change]:
        return [c for c in self.changes if c.direction == "regressed"]

    def as_json(self) -> dict[str, Any]:
        return {
            "baseline_generated": self.since,
            "improved": [{"what": c.what, "key": c.key or None} for c in self.improved],
            "regressed": [{"what": c.what, "key": c.key or None} for c in self.regressed],
        }


def compare(now: dict[str, Any], before: dict[str, Any]) -> Comparison:
    out = Comparison(float(before.get("generated") or 0))
    _items(out, now.get("items") or [], before.get("items") or [], set(now.get("covered") or []))
    facts, old = now.get("facts") or {}, before.get("facts") or {}
    _monitors(
        out, facts.get("status", {}).get("monitors", {}), old.get("status", {}).get("monitors", {})
    )
    _slos(out, facts.get("status", {}).get("slos", {}), old.get("status", {}).get("slos", {}))
    _grades(out, facts.get("audit", {}).get("grades", {}), old.get("audit", {}).get("grades", {}))
    _number(
        out,
        "sustainable rate",
        "req/s",
        facts.get("capacity", {}).get("sustainable_rps"),
        old.get("capacity", {}).get("sustainable_rps"),
        higher_is_better=True,
    )
    _number(
        out,
        "monthly cost",
        "",
        facts.get("cost", {}).get("monthly_cost"),
        old.get("cost", {}).get("monthly_cost"),
        higher_is_better=False,
    )
    return out


def _title(entry: dict[str, Any]) -> str:
    finding = entry.get("finding") or {}
    return f"{finding.get('severity', '?')}: {finding.get('title', '?')}"


def _items(
    out: Comparison,
    now: list[dict[str, Any]],
    before: list[dict[str, Any]],
    covered: set[str],
) -> None:
    """New and changed items; a baseline item missing now is fixed only where this run
    looked again (its scope is ``covered``): one run without --target does not fix the
    target's audit findings."""
    old = {str(e.get("key")): e for e in before}
    new = {str(e.get("key")): e for e in now}
    for key, entry in new.items():
        previous = old.get(key)
        severity = (entry.get("finding") or {}).get("severity", "info")
        if previous is None:
            if severity != "info":
                out.changes.append(Change("regressed", "new " + _title(entry), key))
            continue
        was = (previous.get("finding") or {}).get("severity", "info")
        if _RANK.get(severity, 2) < _RANK.get(was, 2):
            out.changes.append(Change("regressed", f"{was} → {_title(entry)}", key))
        elif _RANK.get(severity, 2) > _RANK.get(was, 2):
            out.changes.append(Change("improved", f"{was} → {_title(entry)}", key))
    for key, entry in old.items():
        if key in new or entry.get("scope") not in covered:
            continue
        if (entry.get("finding") or {}).get("severity") != "info":
            out.changes.append(Change("improved", "gone: " + _title(entry), key))


def _monitors(out: Comparison, now: dict[str, Any], before: dict[str, Any]) -> None:
    for name, row in now.items():
        old = before.get(name)
        if not isinstance(old, dict):
            continue
        up, was = row.get("uptime_pct"), old.get("uptime_pct")
        if (
            isinstance(up, int | float)
            and isinstance(was, int | float)
            and abs(up - was) > UPTIME_POINTS
        ):
            out.changes.append(
                Change(
                    "improved" if up > was else "regressed",
                    f"uptime of {name} {was:.2f} % → {up:.2f} %",
                )
            )
        p95, was_p95 = row.get("latency_p95_ms"), old.get("latency_p95_ms")
        if isinstance(p95, int | float) and isinstance(was_p95, int | float) and was_p95 > 0:
            moved = p95 - was_p95
            if abs(moved) > LATENCY_FLOOR_MS and abs(moved) / was_p95 > LATENCY_SHARE:
                out.changes.append(
                    Change(
                        "improved" if moved < 0 else "regressed",
                        f"p95 latency of {name} {was_p95:g} ms → {p95:g} ms",
                    )
                )


def _slos(out: Comparison, now: dict[str, Any], before: dict[str, Any]) -> None:
    for name, row in now.items():
        old = before.get(name)
        if not isinstance(old, dict):
            continue
        left, was = row.get("budget_remaining_pct"), old.get("budget_remaining_pct")
        if isinstance(left, int | float) and isinstance(was, int | float) and abs(left - was) >= 5:
            out.changes.append(
                Change(
                    "improved" if left > was else "regressed",
                    f"error budget of {name} {was:g} % → {left:g} % left",
                )
            )


def _grades(out: Comparison, now: dict[str, Any], before: dict[str, Any]) -> None:
    for name, row in now.items():
        old = before.get(name)
        if not isinstance(old, dict):
            continue
        grade, was = row.get("grade"), old.get("grade")
        if grade == was or grade not in _GRADES or was not in _GRADES:
            continue
        better = _GRADES.index(grade) < _GRADES.index(was)
        out.changes.append(
            Change("improved" if better else "regressed", f"audit grade of {name} {was} → {grade}")
        )


def _number(
    out: Comparison,
    label: str,
    unit: str,
    now: Any,
    before: Any,
    *,
    higher_is_better: bool,
) -> None:
    if not isinstance(now, int | float) or not isinstance(before, int | float) or now == before:
        return
    if before and abs(now - before) / abs(before) < 0.05:
        return
    better = (now > before) == higher_is_better
    suffix = f" {unit}" if unit else ""
    out.changes.append(
        Change("improved" if better else "regressed", f"{label} {before:,.0f} → {now:,.0f}{suffix}")
    )
