"""The parts of an assessment, each a ``Section``: what it found (Findings with a link each),
the numbers that make the baseline (``facts``), and what could not be looked at.

Store reads here are blocking: ``run.assess`` calls them on a thread. Nothing here writes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper.findings import Finding, Severity, from_json
from watchkeeper.units import format_duration

if TYPE_CHECKING:
    from watchkeeper.config import Config, Monitor
    from watchkeeper.store import Store

UPTIME_WARNING = 0.999
"""Uptime over the look-back below this is a warning ("three nines")."""
UPTIME_CRITICAL = 0.99
"""... and below this critical (7 h 18 min down in a month)."""
UPTIME_MIN_WATCHED = 3600.0
UPTIME_MIN_CHECKS = 20
"""Uptime is judged once a monitor has been watched this long, with this many checks: two
failures of six in the first minute are a start-up, not a record."""
BACKED_UP_KINDS = frozenset({"postgres", "mysql", "redis"})
"""Kinds that hold data a team would want restored: one without any backup monitor is a
warning."""


@dataclass(slots=True)
class Section:
    name: str
    findings: list[tuple[Finding, str]] = field(default_factory=list)
    """Each with where to see it (a dashboard path or a command)."""
    facts: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: str = ""
    """Why it was not run ("no target given"), or empty."""

    def add(self, finding: Finding, link: str = "") -> None:
        self.findings.append((finding, link))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "facts": self.facts,
            "errors": list(self.errors),
            "skipped": self.skipped or None,
            "findings": len(self.findings),
        }


def _pct(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value * 100, digits)


def _ms(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value * 1000, 1)


def monitor_link(name: str) -> str:
    from urllib.parse import quote

    return f"/monitors/{quote(name, safe='')}"


# -- availability: states, uptime, latency, routes, SLOs -----------------------------------
def status(
    config: Config, store: Store, monitors: Sequence[Monitor], now: float, lookback: float
) -> Section:
    """Each monitor's state now, its uptime and latency over ``lookback``, broken alert
    routes and open incidents; each SLO's budget."""
    from watchkeeper.model import State
    from watchkeeper.store import alerts as db

    section = Section("status")
    states = store.states()
    rows: dict[str, dict[str, Any]] = {}
    for monitor in monitors:
        stored = states.get(monitor.name)
        summary = store.summary(monitor.name, now - lookback, now)
        state = stored.state.value if stored is not None else "unknown"
        rows[monitor.name] = {
            "kind": monitor.kind,
            "state": state,
            "uptime_pct": _pct(summary.uptime),
            "checks": summary.checks,
            "latency_p50_ms": _ms(summary.latency_p50),
            "latency_p95_ms": _ms(summary.latency_p95),
            "latency_p99_ms": _ms(summary.latency_p99),
        }
        source = "backup" if monitor.kind in ("backup", "drill") else "status"
        link = monitor_link(monitor.name)
        first = store.first_time(monitor.name, now - lookback) if summary.checks else None
        watched = lookback if first is None else min(lookback, max(0.0, now - first))
        uptime = summary.uptime
        if stored is not None and stored.state in (State.DOWN, State.DEGRADED):
            down = stored.state is State.DOWN
            reason = stored.reason or ""
            section.add(
                Finding(
                    source=source,
                    severity=Severity.critical if down else Severity.warning,
                    title=f"{monitor.name} is {state}"
                    + (f": {reason}" if reason else "")
                    + f" (for {format_duration(max(0.0, now - stored.since))})",
                    subject=monitor.name,
                    evidence={
                        "state": state,
                        "for_s": round(max(0.0, now - stored.since)),
                        "uptime_pct": _pct(uptime),
                        "reason": reason,
                    },
                    recommendation="Look at the monitor's last results and open incident; "
                    "wk diagnose -m " + monitor.name + " says what changed.",
                    rule=f"monitor-{state}",
                ),
                link,
            )
        elif (
            uptime is not None
            and watched >= UPTIME_MIN_WATCHED
            and summary.checks >= UPTIME_MIN_CHECKS
            and uptime < UPTIME_WARNING
        ):
            # (a monitor down now says so above, its uptime in the evidence)
            section.add(
                Finding(
                    source=source,
                    severity=Severity.critical if uptime < UPTIME_CRITICAL else Severity.warning,
                    title=f"{monitor.name} was up {uptime * 100:.2f} % of "
                    + (
                        f"the last {format_duration(lookback)}"
                        if watched >= lookback * 0.99
                        else f"the {format_duration(watched)} it has been watched"
                    ),
                    subject=monitor.name,
                    evidence={
                        "uptime_pct": _pct(uptime),
                        "checks": summary.checks,
                        "failures": summary.failures,
                        "watched_s": round(watched),
                        "downtime_s": round((1 - uptime) * watched),
                    },
                    recommendation="Read its incidents (wk incidents) for the causes that "
                    "recur; a dependency that fails with it belongs in depends_on.",
                    rule="uptime-below-target",
                    impact=1 - uptime,
                ),
                link,
            )
    section.facts["monitors"] = rows
    with store.read() as connection:
        health = db.route_health(connection)
        open_incidents = db.incidents(connection, open_only=True, limit=1000)
    section.facts["open_incidents"] = len(open_incidents)
    for route in health.values():
        if route.broken_since is None:
            continue
        section.add(
            Finding(
                source="status",
                severity=Severity.critical,
                title=f"alert route '{route.route}' has been failing for "
                f"{format_duration(max(0.0, now - route.broken_since))}: alerts do not arrive",
                subject=route.route,
                evidence={"last_error": str(route.last_error or "")[:200]},
                recommendation="wk notify test "
                + route.route
                + " shows the error; fix the route's URL or credentials.",
                rule="route-broken",
            ),
            "wk notify test " + route.route,
        )
    _slos(section, config, store, now)
    return section


def _slos(section: Section, config: Config, store: Store, now: float) -> None:
    from watchkeeper.analysis.slo import Minutes, assess, describe
    from watchkeeper.checks.slo import SloSettings, Tracked
    from watchkeeper.engine.slos import seed

    rows: dict[str, dict[str, Any]] = {}
    for monitor in config.monitors:
        if monitor.kind != "slo":
            continue
        settings = monitor.settings
        assert isinstance(settings, SloSettings)
        tracked = Tracked(settings, Minutes(settings.window))
        seed(store, tracked, now)
        found = assess(tracked.minutes, settings.objective, settings.window, now)
        remaining = found.budget_remaining
        rows[monitor.name] = {
            "objective_pct": round(settings.objective * 100, 4),
            "sli_pct": _pct(found.sli, 4),
            "budget_remaining_pct": None if remaining is None else round(remaining * 100, 2),
            "alert": found.severity,
        }
        severity: Severity | None = None
        if found.severity == "page" or (remaining is not None and remaining <= 0):
            severity = Severity.critical
        elif found.severity == "ticket" or (remaining is not None and remaining < 0.25):
            severity = Severity.warning
        if severity is None:
            continue
        section.add(
            Finding(
                source="slo",
                severity=severity,
                title=f"SLO {monitor.name}: {describe(found)}",
                subject=monitor.name,
                evidence={
                    "objective_pct": rows[monitor.name]["objective_pct"],
                    "sli_pct": rows[monitor.name]["sli_pct"],
                    "budget_remaining_pct": rows[monitor.name]["budget_remaining_pct"],
                },
                recommendation="Spend the rest of the window on reliability before features "
                f"(wk slo); the failures are {settings.monitor}'s.",
                rule="slo-burning",
            ),
            monitor_link(monitor.name),
        )
    section.facts["slos"] = rows


# -- security: the audit monitors' last reports, and a live audit of --target -------------
def stored_audits(config: Config, store: Store, now: float) -> Section:
    section = Section("audit")
    names = [m.name for m in config.monitors if m.kind == "audit"]
    reports = store.latest_reports(names) if names else {}
    grades: dict[str, Any] = {}
    links: list[str] = []
    for name in names:
        report = reports.get(name)
        if report is None:
            section.errors.append(f"audit monitor {name} has no report yet (wk up runs it)")
            continue
        body = report.body
        if not body.get("errors"):
            links.append(monitor_link(name))
        grades[name] = {
            "target": body.get("target"),
            "grade": body.get("grade"),
            "score": body.get("score"),
            "at": round(report.at),
        }
        for data in body.get("findings") or []:
            if isinstance(data, dict):
                section.add(from_json(data), monitor_link(name))
    section.facts["grades"] = grades
    section.facts["links"] = links
    if not names:
        section.skipped = "no audit: monitor in the config"
    return section


async def live_audit(url: str) -> Section:
    from watchkeeper.audit.run import Options, audit
    from watchkeeper.audit.target import Target, TargetError

    section = Section("audit")
    try:
        target = Target.parse(url)
    except TargetError as exc:
        section.errors.append(str(exc))
        return section
    report = await audit(target, Options())
    section.facts["grades"] = {
        url: {"target": url, "grade": report.grade, "score": report.score, "at": round(time.time())}
    }
    section.errors += [f"audit of {url}: {e}" for e in report.errors]
    section.facts["links"] = [] if report.errors or not report.reachable else [f"wk audit {url}"]
    for finding in report.findings:
        section.add(finding, f"wk audit {url}")
    return section


# -- backups: drills' standing, backup monitors, databases nobody backs up ----------------
def backups(config: Config, store: Store) -> Section:
    from watchkeeper.backup.evidence import evidence

    section = Section("backups")
    rows: dict[str, Any] = {}
    for found in evidence(config.monitors, store):
        status = found.status
        rows[found.drill] = {
            "backup": found.backup,
            "status": status,
            "drills": found.drills,
            "passed": found.passed,
        }
        if status == "ok":
            continue
        severity = {
            "failing": Severity.critical,
            "never drilled": Severity.warning,
            "overdue": Severity.warning,
            "objective missed": Severity.warning,
        }.get(status, Severity.warning)
        what = {
            "failing": "the last restore drill failed",
            "never drilled": "no restore drill has run yet",
            "overdue": f"no drill has passed for {format_duration(found.every * 1.5)}",
            "objective missed": "the last drill missed its RTO or RPO",
        }.get(status, status)
        section.add(
            Finding(
                source="drill",
                severity=severity,
                title=f"backup {found.backup}: {what}",
                subject=found.backup,
                evidence={"drills": found.drills, "passed": found.passed, "status": status},
                recommendation=f"wk drill {found.drill} runs it now and says which step fails.",
                rule=f"drill-{status.replace(' ', '-')}",
            ),
            f"wk drill {found.drill}",
        )
    section.facts["drills"] = rows
    backed = [m for m in config.monitors if m.kind == "backup"]
    section.facts["backup_monitors"] = len(backed)
    data = [m for m in config.monitors if m.kind in BACKED_UP_KINDS]
    if data and not backed:
        for monitor in data:
            section.add(
                Finding(
                    source="backup",
                    severity=Severity.warning,
                    title=f"{monitor.name} ({monitor.kind}) holds data, and no backup: "
                    "monitor watches its backups",
                    subject=monitor.name,
                    evidence={"backup_monitors": 0},
                    recommendation="Add a backup: monitor on the folder or bucket its dumps "
                    "go to, with a drill: that restores one (README: backups).",
                    rule="no-backup-watched",
                ),
                monitor_link(monitor.name),
            )
    return section


# -- capacity: a short probe of --target, never faster than --max-rate ---------------------
@dataclass(frozen=True, slots=True)
class Probe:
    url: str
    max_rate: float
    slo: str = "p99<500ms,errors<1%"
    step_seconds: float = 3.0
    allow_public: bool = False


def capacity(probe: Probe) -> Section:
    """Blocking: the load generator runs its own loop (one worker process)."""
    from watchkeeper.loadtest import plan as plans
    from watchkeeper.loadtest.capacity import Options, measure
    from watchkeeper.loadtest.generator import Settings
    from watchkeeper.loadtest.target import from_url, is_private

    section = Section("capacity")
    target = from_url(probe.url)
    if not probe.allow_public and not is_private(target.endpoint.host):
        section.skipped = (
            f"{target.endpoint.host} is not a private address: a load test needs --yes"
        )
        return section
    options = Options(
        thresholds=plans.parse_slo(probe.slo),
        step_seconds=probe.step_seconds,
        warmup=min(1.0, probe.step_seconds / 3),
        sweep_seconds=max(1.0, probe.step_seconds * 2 / 3),
        start_rate=min(10.0, probe.max_rate),
        max_rate=probe.max_rate,
        loads=(1, 2, 4, 8, 16, 32),
        cooldown=10.0,
    )
    result = measure(target, Settings(connections=64, timeout=5.0), options)
    plan = result.to_json()
    section.facts = {
        "target": target.endpoint.show(),
        "max_rate_rps": probe.max_rate,
        "slo": probe.slo,
        "sustainable_rps": plan["sustainable_rps"],
        "first_failing_rps": plan["first_failing_rps"],
        "knee_rps": plan["knee_rps"],
        "usl": plan["usl"],
    }
    section.facts["result"] = plan
    held_all = result.first_failing is None
    if result.sustainable is None:
        section.add(
            Finding(
                source="capacity",
                severity=Severity.critical,
                title=f"{target.endpoint.show()} misses the SLO ({probe.slo}) at "
                f"{options.start_rate:g} req/s already",
                subject=target.endpoint.show(),
                evidence={"first_failing_rps": result.first_failing},
                recommendation="wk loadtest at that rate shows which requests are slow; "
                "wk diagnose says where the time goes.",
                rule="capacity-none",
            ),
            f"wk capacity {probe.url}",
        )
    elif held_all:
        section.add(
            Finding(
                source="capacity",
                severity=Severity.info,
                title=f"{target.endpoint.show()} holds the SLO up to the safe limit of "
                f"{probe.max_rate:g} req/s (its real limit is higher)",
                subject=target.endpoint.show(),
                evidence={"sustainable_rps": result.sustainable},
                recommendation="Run wk capacity with a higher --max-rate off peak for the "
                "real limit and a plan for the peak.",
                rule="capacity-at-least",
            ),
            f"wk capacity {probe.url}",
        )
    else:
        section.add(
            Finding(
                source="capacity",
                severity=Severity.warning,
                title=f"{target.endpoint.show()} holds the SLO up to "
                f"{result.sustainable:,.0f} req/s; {result.first_failing:,.0f} req/s fails it",
                subject=target.endpoint.show(),
                evidence={
                    "sustainable_rps": result.sustainable,
                    "first_failing_rps": result.first_failing,
                    "knee_rps": result.knee,
                },
                recommendation="Compare with the expected peak: wk cost --capacity says "
                "what instances that needs and what they cost.",
                rule="capacity-limit",
            ),
            f"wk capacity {probe.url}",
        )
    return section
