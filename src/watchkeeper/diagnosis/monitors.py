"""Findings about monitors, from the store a running ``wk up`` writes: did the latency shift,
trend or spike in the last ``since``, which phase moved against the baseline before it, and did
failures become more frequent.

The recent period is ``[now - since, now)``; the baseline is the ``baseline`` seconds before
it. Latency is looked at as a p95 per bucket (5 minutes, or less for short periods), which is
steadier than single checks and what a person quotes ("p95 rose from 120 ms to 340 ms").
A spike is a recent bucket above the baseline's median by six robust deviations and half the
median; the online detector (``anomaly: on``) is what catches changes as they happen.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.analysis import change, phases
from watchkeeper.findings import Chart, Finding, Severity
from watchkeeper.store import Store
from watchkeeper.store.series import pick
from watchkeeper.units import format_duration, format_ms, format_value, plural

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Window:
    now: float
    since: float
    """Length of the recent period, seconds."""
    baseline: float
    """Length of the baseline before it, seconds."""

    @property
    def start(self) -> float:
        return self.now - self.since

    @property
    def baseline_start(self) -> float:
        return self.start - self.baseline


def bucket_width(since: float) -> float:
    """5-minute buckets when the recent period holds at least 24 of them; down to 5 s."""
    for width in (300.0, 60.0, 30.0, 10.0):
        if since / width >= 24:
            return width
    return 5.0


def diagnose_monitor(store: Store, monitor: str, window: Window) -> list[Finding]:
    rows = store.phase_rows(monitor, window.baseline_start, window.now)
    ts = _array(rows["ts"])
    if len(ts) == 0:
        return []
    ok = _array(rows["ok"]) > 0.5
    recent = ts >= window.start
    findings: list[Finding] = []
    findings += _failures(monitor, ok, recent, window)
    good = ok & np.isfinite(_array(rows["total"]))
    total = _array(rows["total"])
    latency, onset, recurring = _latency_changes(monitor, ts[good], total[good], window)
    findings += latency
    # which phase moved: across the level shift when there is one, else baseline vs recent
    split = ts >= onset if onset is not None else recent
    before = {name: _array(rows[name])[good & ~split] for name in ("total", *phases.PHASES)}
    after = {name: _array(rows[name])[good & split] for name in ("total", *phases.PHASES)}
    found = phases.blame(before, after)
    if found is not None and found.moved:
        findings.append(_phase_finding(monitor, found, pattern=recurring))
    findings += _metric_shifts(store, monitor, window)
    return findings


MAX_SERIES = 30
"""Series of one monitor looked at (a scrape may keep hundreds)."""


def _metric_shifts(store: Store, monitor: str, window: Window) -> list[Finding]:
    """A level shift in the recent period of each numeric series the monitor keeps
    (``pg.connections``, ``disk./.used_pct``, ``redis.used_memory``...), told when it at
    least halved or grew by half: these are clues, not problems of their own."""
    names = store.sample_names(monitor, window.start)[:MAX_SERIES]
    if not names:
        return []
    resolution = pick(window.baseline_start, window.now)
    width = bucket_width(window.since)
    out: list[Finding] = []
    for latest in names:
        points = store.samples(
            monitor, latest.name, window.baseline_start, window.now, resolution, newest=True
        )
        if len(points) < 24:
            continue
        times, means = change.buckets(
            [p.at for p in points], [p.mean for p in points], width, quantile=50.0
        )
        shift = change.level_shift(times, means, min_ratio=0.5, alpha=1e-6)
        if shift is None or shift.onset < window.start:
            continue
        pct = shift.change_pct
        out.append(
            Finding(
                source="drift",
                severity=Severity.info,
                title=f"{monitor}: {latest.name} {'rose' if shift.after > shift.before else 'fell'}"
                f" from {format_value(shift.before, latest.name)} to "
                f"{format_value(shift.after, latest.name)} at "
                f"{_clock(shift.onset)}" + (f" ({pct:+.0f} %)" if pct is not None else ""),
                subject=f"{monitor} {latest.name}",
                evidence={
                    "before": round(shift.before, 4),
                    "after": round(shift.after, 4),
                    "change_pct": None if pct is None else round(pct, 1),
                    "onset": _iso(shift.onset),
                },
                recommendation="A clue for the other findings: see whether it moved at the "
                "same time as the latency.",
                impact=0.0 if pct is None else abs(pct) / 100.0,
                chart=Chart(
                    f"{monitor} {latest.name}",
                    "",
                    tuple(float(t) for t in times),
                    tuple(float(v) for v in means),
                    shift.onset,
                ),
            )
        )
    return out


def _array(values: Sequence[float | None]) -> FloatArray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _failures(
    monitor: str, ok: npt.NDArray[np.bool_], recent: npt.NDArray[np.bool_], window: Window
) -> list[Finding]:
    now_checks, before_checks = int(recent.sum()), int((~recent).sum())
    if now_checks < 10:
        return []
    now_rate = float((~ok & recent).sum()) / now_checks
    # fewer than ten checks before are no baseline: they neither excuse nor compare
    before_rate = float((~ok & ~recent).sum()) / before_checks if before_checks >= 10 else 0.0
    if now_rate < 0.01 or now_rate < 2 * before_rate + 0.005:
        return []
    severity = Severity.critical if now_rate >= 0.25 else Severity.warning
    return [
        Finding(
            source="drift",
            severity=severity,
            title=f"{monitor}: {now_rate:.1%} of checks failed in the last "
            f"{_span(window.since)} "
            + (f"(before: {before_rate:.1%})" if before_checks >= 10 else "(no baseline before)"),
            subject=monitor,
            evidence={
                "failed_pct": round(100 * now_rate, 2),
                "baseline_failed_pct": round(100 * before_rate, 2),
                "checks": now_checks,
                "baseline_checks": before_checks,
            },
            recommendation=f"See `wk history {monitor} --since {_span(window.since)}` for "
            "the failures and their errors.",
            impact=now_rate,
        )
    ]


def _latency_changes(
    monitor: str, ts: FloatArray, total: FloatArray, window: Window
) -> tuple[list[Finding], float | None, bool]:
    """Findings about the latency, the onset of a level shift in the recent period, and
    whether that shift is a daily or weekly pattern."""
    width = bucket_width(window.since)
    times, p95 = change.buckets(ts, total, width)
    if len(times) < 12:
        return [], None, False
    chart = Chart(
        label=f"{monitor} latency p95 per {_span(width)}",
        unit="ms",
        times=tuple(float(t) for t in times),
        values=tuple(round(float(v), 3) for v in p95),
    )
    out: list[Finding] = []
    every: str | None = None
    shift = change.level_shift(times, p95)
    if shift is not None and shift.onset >= window.start:
        rose = shift.after > shift.before
        pct = shift.change_pct
        span = max(6 * width, min(3600.0, window.since))
        period = change.recurs(times, p95, shift, width=width, span=span)
        every = {change.DAY: "every day", 7 * change.DAY: "every week"}.get(period or 0.0)
        out.append(
            Finding(
                source="drift",
                severity=Severity.warning if rose and every is None else Severity.info,
                title=f"{monitor}: latency p95 {'rose' if rose else 'fell'} from "
                f"{format_ms(shift.before)} to {format_ms(shift.after)} at {_clock(shift.onset)}"
                + (f" ({pct:+.0f} %)" if pct is not None else "")
                + (f", as it does {every} at this time" if every else ""),
                subject=monitor,
                evidence={
                    "before_p95_ms": round(shift.before, 1),
                    "after_p95_ms": round(shift.after, 1),
                    "change_pct": None if pct is None else round(pct, 1),
                    "onset": _iso(shift.onset),
                    "buckets_before": shift.points_before,
                    "buckets_after": shift.points_after,
                    "recurs_every_s": period,
                },
                recommendation=(
                    f"A pattern ({every}): load that comes at this hour. Plan capacity for "
                    "it (`wk capacity`) rather than chase it."
                    if every
                    else "Look at what changed at that moment (a deploy, a config change, a "
                    "dependency); the phase finding says which part of the request moved."
                    if rose
                    else "Faster than before: nothing to do."
                ),
                impact=abs(shift.after - shift.before),
                chart=Chart(chart.label, chart.unit, chart.times, chart.values, shift.onset),
            )
        )
    elif shift is None:
        slope = change.trend(times, p95)
        if slope is not None and slope.end > slope.start:
            pct = slope.change_pct
            out.append(
                Finding(
                    source="drift",
                    severity=Severity.warning,
                    title=f"{monitor}: latency p95 creeping up, {format_ms(slope.start)} → "
                    f"{format_ms(slope.end)} over {_span(slope.span_s)}"
                    + (f" ({pct:+.0f} %)" if pct is not None else ""),
                    subject=monitor,
                    evidence={
                        "start_p95_ms": round(slope.start, 1),
                        "end_p95_ms": round(slope.end, 1),
                        "slope_ms_per_day": round(slope.slope_per_day, 2),
                        "kendall_tau": round(slope.tau, 3),
                    },
                    recommendation="A slow rise is usually growth: a table without an index "
                    "getting bigger, a cache hit rate falling, a queue building up. Run "
                    "`wk diagnose --postgres DSN --redis URL --host` next to it.",
                    impact=slope.end - slope.start,
                    chart=chart,
                )
            )
    recent = times >= window.start
    usual = p95[~recent] if (~recent).sum() >= 12 else p95
    baseline = float(np.median(usual))
    spread = max(1.4826 * float(np.median(np.abs(usual - baseline))), 0.05 * baseline, 0.5)
    spikes = np.flatnonzero(recent & (p95 > baseline + max(6 * spread, 0.5 * baseline)))
    if len(spikes) and (shift is None or shift.onset < window.start):
        worst = int(spikes[np.argmax(p95[spikes])])
        out.append(
            Finding(
                source="drift",
                severity=Severity.info,
                title=f"{monitor}: {plural(len(spikes), 'latency spike')}"
                f" in the last {_span(window.since)}, worst {format_ms(float(p95[worst]))} at "
                f"{_clock(float(times[worst]))} (usual p95 {format_ms(baseline)})",
                subject=monitor,
                evidence={
                    "spikes": len(spikes),
                    "worst_p95_ms": round(float(p95[worst]), 1),
                    "worst_at": _iso(float(times[worst])),
                    "usual_p95_ms": round(baseline, 1),
                },
                recommendation="Short spikes that come back are often garbage collection, "
                "a cron job or a noisy neighbour: compare their times with the host's.",
                impact=float(p95[worst]) - baseline,
                chart=Chart(chart.label, chart.unit, chart.times, chart.values, times[worst]),
            )
        )
    onset = shift.onset if shift is not None and shift.onset >= window.start else None
    return out, onset, every is not None


def _phase_finding(monitor: str, found: phases.PhaseBlame, *, pattern: bool = False) -> Finding:
    top = found.moved[0]
    slower = top.delta_ms > 0
    evidence: dict[str, float | int | str | None] = {
        "total_before_ms": round(found.total_before_ms, 1),
        "total_after_ms": round(found.total_after_ms, 1),
    }
    for shift in found.shifts:
        evidence[f"{shift.phase}_before_ms"] = round(shift.before_ms, 2)
        evidence[f"{shift.phase}_after_ms"] = round(shift.after_ms, 2)
    evidence["moved"] = ",".join(s.phase for s in found.moved)
    advice = {
        "ttfb": "The server takes longer to answer: profile the endpoint and what it waits on "
        "(run the Postgres and Redis advisors against its database and cache).",
        "connect": "The TCP handshake takes longer: the path to the server (routing, packet "
        "loss) or a full accept queue (raise the backlog, add workers).",
        "dns": "Resolution takes longer: the resolver or the DNS provider; a local caching "
        "resolver hides it.",
        "tls": "The handshake takes longer: server CPU, a longer certificate chain, OCSP "
        "fetches; enable session resumption and OCSP stapling.",
        "transfer": "The body takes longer to arrive: a bigger response or less bandwidth; "
        "compress it or page it.",
    }[top.phase]
    return Finding(
        source="phase",
        severity=Severity.warning
        if slower and found.total_moved and not pattern
        else Severity.info,
        title=f"{monitor}: {found.summary()}",
        subject=monitor,
        evidence=evidence,
        recommendation=advice if slower else "Faster than the baseline: nothing to do.",
        impact=abs(top.delta_ms),
    )


def _span(seconds: float) -> str:
    return format_duration(seconds)


def _clock(at: float, *, now: float | None = None) -> str:
    """Local time of day, with the date when it is not today's."""
    when = dt.datetime.fromtimestamp(at).astimezone()
    today = dt.datetime.fromtimestamp(now if now is not None else time.time()).astimezone()
    if when.date() == today.date():
        return when.strftime("%H:%M %Z")
    return when.strftime("%Y-%m-%d %H:%M %Z")


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")
