"""What a run of an experiment means: did the steady state hold, which monitors changed and
when, how fast Watchkeeper noticed, who would have been told, did the circuit breakers fail
fast and come back. A pure function of the ``Record``; ``summary`` is the ``--format json``
shape (times in seconds from the first fault, ``null`` where nothing happened)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watchkeeper.chaos.experiment import Broken, Record, StepRun
from watchkeeper.findings import Finding, Severity
from watchkeeper.units import plural

NOT_UP = frozenset({"down", "degraded", "flapping"})


def _rel(at: float | None, origin: float | None) -> float | None:
    if at is None or origin is None:
        return None
    return round(at - origin, 3)


def _step_at(steps: list[StepRun], at: float) -> StepRun | None:
    """The step whose fault was in place at ``at``, or the last one before it."""
    found = None
    for step in steps:
        if step.applied and step.started <= at:
            found = step
    return found


def summary(record: Record) -> dict[str, Any]:
    experiment = record.experiment
    applied = [s for s in record.steps if s.applied]
    first = applied[0].started if applied else None
    last_end = max((s.ended or record.ended or 0.0 for s in applied), default=None)
    windows = [(s.started, s.ended or record.ended or s.started) for s in applied]
    origin = first if first is not None else record.started
    """Times are from the first fault; with none, from the start of the run."""

    def during(at: float) -> bool:
        return any(start <= at <= end for start, end in windows)

    def phase(at: float) -> str:
        if first is None or at < first:
            return "before"
        return "during" if during(at) or (last_end is not None and at <= last_end) else "after"

    watched = set(experiment.steady_state.watched)
    monitors: dict[str, Any] = {}
    names = list(dict.fromkeys([*experiment.monitors, *(s.monitor for s in record.seen)]))
    for name in names:
        seen = [s for s in record.seen if s.monitor == name]
        changes = [c for c in record.changes if c.monitor == name]
        phases: dict[str, Any] = {}
        for label in ("before", "during", "after"):
            part = [s for s in seen if phase(s.started) == label]
            latencies = sorted(s.latency for s in part if s.latency is not None)
            phases[label] = {
                "checks": len(part),
                "failed": sum(1 for s in part if not s.ok),
                "latency_p50_ms": _ms(latencies[len(latencies) // 2]) if latencies else None,
                "latency_max_ms": _ms(latencies[-1]) if latencies else None,
            }
        failing = next(
            (s for s in seen if first is not None and s.started >= first and not s.ok), None
        )
        detected = next(
            (c for c in changes if first is not None and c.at >= first and c.after in NOT_UP),
            None,
        )
        step = _step_at(record.steps, detected.at) if detected else None
        fail_step = _step_at(record.steps, failing.at) if failing else None
        recovered = None
        if detected is not None and last_end is not None:
            back = next((c for c in changes if c.at >= detected.at and c.after == "up"), None)
            if back is not None:
                recovered = round(max(0.0, back.at - last_end), 3)
        down_for = 0.0
        for index, change in enumerate(changes):
            if change.after in NOT_UP and first is not None and change.at >= first:
                ends = changes[index + 1].at if index + 1 < len(changes) else record.ended
                down_for += (ends or change.at) - change.at
        final = changes[-1].after if changes else ("up" if seen and seen[-1].ok else "unknown")
        monitors[name] = {
            "hypothesis": name in watched,
            "interval": record.intervals.get(name),
            "confirm": record.confirm.get(name),
            "phases": phases,
            "changes": [
                {
                    "at": _rel(c.at, origin),
                    "from": c.before,
                    "to": c.after,
                    "reason": c.reason,
                }
                for c in changes
            ],
            "first_failure_after": _rel(failing.at, fail_step.started)
            if failing and fail_step
            else None,
            "detected_after": _rel(detected.at, step.started) if detected and step else None,
            "recovered_after": recovered,
            "not_up_for": round(down_for, 3),
            "routes": record.routes.get(name, {}),
            "state_at_end": final,
        }
    deviations: list[str] = []
    for change in record.changes:
        if (
            change.monitor in watched
            and first is not None
            and change.at >= first
            and change.after in NOT_UP
        ):
            reason = f": {change.reason}" if change.reason else ""
            deviations.append(
                f"{change.monitor} went {change.after} at +{change.at - first:.1f} s{reason}"
            )
    broken: dict[tuple[str, str], list[Broken]] = {}
    for item in record.broken:
        if first is not None and item.at >= first:
            key = (item.monitor, item.expectation or item.failure)
            broken.setdefault(key, []).append(item)
    expectations = []
    for (monitor, expectation), items in broken.items():
        worst = items[0].failure
        expectations.append(
            {
                "monitor": monitor,
                "expectation": expectation,
                "failure": worst,
                "count": len(items),
                "first_at": _rel(min(i.at for i in items), first),
            }
        )
        deviations.append(
            f"{monitor}: {expectation} failed on {plural(len(items), 'check')} (first: {worst})"
        )
    breakers = []
    for breaker in experiment.fail_fast:
        inside = [s for s in record.seen if s.monitor == breaker.monitor and during(s.started)]
        slowest = max((s.latency for s in inside if s.latency is not None), default=None)
        fast = bool(inside) and slowest is not None and slowest <= breaker.latency
        back_at = next(
            (
                s.at
                for s in record.seen
                if s.monitor == breaker.monitor
                and last_end is not None
                and s.started > last_end
                and s.ok
            ),
            None,
        )
        returned = None if back_at is None or last_end is None else round(back_at - last_end, 3)
        ending = monitors.get(breaker.monitor, {}).get("state_at_end")
        recovers = returned is not None and returned <= breaker.recover_within and ending == "up"
        breakers.append(
            {
                "monitor": breaker.monitor,
                "latency_bound_ms": _ms(breaker.latency),
                "checks_during": len(inside),
                "failed_during": sum(1 for s in inside if not s.ok),
                "latency_max_ms": _ms(slowest) if slowest is not None else None,
                "fails_fast": fast,
                "recover_within": breaker.recover_within,
                "recovered_after": returned,
                "recovers": recovers,
                "ok": fast and recovers,
            }
        )
    told = [
        {
            "route": t.route,
            "event": t.event,
            "title": t.title,
            "monitors": t.monitors,
            "at": _rel(t.at, origin) if not t.after_run else None,
            "after_run": t.after_run,
            "dry_run": not record.send,
        }
        for t in record.told
    ]
    quiet = []
    if not told:
        for name, seen in monitors.items():
            if seen["not_up_for"] <= 0:
                continue
            waits = seen["routes"]
            if not waits:
                quiet.append(f"{name} notifies no route")
            elif seen["not_up_for"] >= min(waits.values()):
                quiet.append(f"{name} was not up for {seen['not_up_for']:.1f} s: held by a mute")
            else:
                shown = ", ".join(f"{r}: {w:g} s" for r, w in waits.items())
                quiet.append(
                    f"{name} was not up for {seen['not_up_for']:.1f} s, and recovered before "
                    f"the grouping wait of its routes ({shown}) ended"
                )
    held = (
        record.error is None
        and not record.interrupted
        and bool(record.steady_before)
        and not deviations
        and all(b["ok"] for b in breakers)
    )
    return {
        "experiment": experiment.name,
        "description": experiment.description,
        "held": held,
        "steady_state_before": record.steady_before,
        "not_steady": record.not_steady,
        "interrupted": record.interrupted,
        "error": record.error,
        "started_at": record.started,
        "duration": round((record.ended or record.started) - record.started, 3),
        "steps": [
            {
                "action": s.step.action,
                "fault": s.step.describe(),
                "duration": s.step.duration,
                "applied": s.applied,
                "at": _rel(s.started, first),
                "ended_at": _rel(s.ended, first),
            }
            for s in record.steps
        ],
        "monitors": monitors,
        "deviations": deviations,
        "expectations": expectations,
        "fail_fast": breakers,
        "notifications": told,
        "quiet": quiet,
        "rollback": record.rollback,
        "findings": [f.as_json() for f in findings(record, deviations, breakers, monitors, quiet)],
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def findings(
    record: Record,
    deviations: list[str],
    breakers: list[dict[str, Any]],
    monitors: dict[str, Any],
    quiet: Sequence[str] = (),
) -> list[Finding]:
    experiment = record.experiment
    faults = "; ".join(s.step.describe() for s in record.steps if s.applied) or "no fault"
    found: list[Finding] = []
    if deviations:
        found.append(
            Finding(
                source="chaos",
                severity=Severity.critical,
                title=f"Steady state broke under {faults}",
                subject=experiment.name,
                evidence={"deviations": len(deviations), "first": deviations[0]},
                recommendation=(
                    "Give the call that depends on the faulted service a timeout shorter than "
                    "the check's budget and a fallback (a circuit breaker), so the app still "
                    "answers while the dependency is slow or gone."
                ),
                rule="steady-state-broken",
            )
        )
    for breaker in breakers:
        if breaker["ok"]:
            continue
        why = (
            f"slowest check {breaker['latency_max_ms']} ms over {breaker['latency_bound_ms']} ms"
            if not breaker["fails_fast"]
            else f"not up again within {breaker['recover_within']:g} s of the rollback"
        )
        found.append(
            Finding(
                source="chaos",
                severity=Severity.warning,
                title=f"Circuit breaker of {breaker['monitor']} did not hold: {why}",
                subject=breaker["monitor"],
                evidence={
                    k: breaker[k] for k in ("latency_bound_ms", "latency_max_ms", "recovered_after")
                },
                recommendation=(
                    "Fail fast: bound the dependency call with a timeout and stop calling it "
                    "for a while after failures; close the breaker again on success."
                ),
                rule="breaker-not-fast" if not breaker["fails_fast"] else "breaker-no-recovery",
            )
        )
    if deviations and quiet:
        found.append(
            Finding(
                source="chaos",
                severity=Severity.warning,
                title="The steady state broke and no one would have been told",
                subject=experiment.name,
                evidence={"why": "; ".join(quiet)},
                recommendation=(
                    "If an outage this long matters, shorten the routes' group_wait (or the "
                    "monitor's interval and confirm) so that it is announced."
                ),
                rule="outage-not-announced",
            )
        )
    for name, seen in monitors.items():
        if seen["detected_after"] is not None:
            found.append(
                Finding(
                    source="chaos",
                    severity=Severity.info,
                    title=f"{name} was detected {seen['detected_after']:.1f} s into the fault",
                    subject=name,
                    evidence={
                        "first_failure_after_s": seen["first_failure_after"],
                        "detected_after_s": seen["detected_after"],
                        "interval_s": seen["interval"],
                        "confirm": seen["confirm"],
                    },
                    recommendation=(
                        "Detection takes about confirm × interval after the first failed "
                        "check; shorten the interval of this monitor if that is too slow."
                    ),
                    rule="detection-time",
                )
            )
    return found
