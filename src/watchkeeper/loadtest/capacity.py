"""``wk capacity``: the highest arrival rate that holds the SLO, how the target scales, and
what it takes to meet an expected peak.

1. Steps: open-model runs at doubling rates up to ``--max-rate``, each judged over its
   steady window (the first ``warmup`` seconds left out), until one fails; then bisection
   between the last rate that held and the first that did not, to within 5 %.
2. A concurrency sweep (closed model, ≥ 6 points from 1, its users held to ``--max-rate``
   together: a load that reaches the cap is the last) fitted with the Universal Scalability
   Law: contention α, coherency β, the peak concurrency N* and X_roof. A fit that explains
   little of the sweep (R² under ``MIN_R_SQUARED``) is no model: it is shown as such, and the
   verdict falls back to what was measured.
3. The knee: the first step whose p99 is over twice the lightest step's.
4. Resources sampled throughout (the local process behind the port, or ``--metrics``): the
   first to pass 80 % as the rate rose is what saturates first.
5. The plan: sustainable rate, headroom against the expected peak, replicas needed at a 70 %
   utilisation ceiling.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from watchkeeper.loadtest import usl
from watchkeeper.loadtest.generator import Settings, Tally
from watchkeeper.loadtest.plan import Threshold, constant
from watchkeeper.loadtest.resources import Sampler, first_saturated
from watchkeeper.loadtest.results import error_rate, judge, latency_ms
from watchkeeper.loadtest.runner import Job, run
from watchkeeper.loadtest.target import Target

CEILING = 0.7
"""Plan replicas so that each runs at no more than this share of its sustainable rate."""
MIN_R_SQUARED = 0.8
"""A USL fit explaining less of the sweep's variance than this gives no scaling verdict."""
AT_CAP = 0.9
"""A sweep point within this share of ``--max-rate`` measured the cap, not the target."""


@dataclass(frozen=True)
class Options:
    thresholds: tuple[Threshold, ...]
    step_seconds: float = 30.0
    warmup: float = 5.0
    sweep_seconds: float = 15.0
    start_rate: float = 50.0
    max_rate: float = 20_000.0
    loads: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    cooldown: float = 60.0
    """After a failed step, how long to wait at most for the target to recover."""
    workers: int = 1
    expect: float | None = None
    """--expect 10x: the peak to plan for, as a multiple of today's traffic."""
    current_rps: float | None = None
    peak_rps: float | None = None


@dataclass
class Step:
    rate: float
    summary: dict[str, Any]
    passed: bool
    resources: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Point:
    """One load of the concurrency sweep: its steady throughput (answers per second)."""

    concurrency: int
    throughput: float
    capped: bool = False
    """The users were held to ``--max-rate``: the target may do more than this."""


@dataclass
class Capacity:
    steps: list[Step]
    sustainable: float | None
    first_failing: float | None
    sweep: list[Point]
    fit: usl.Fit | None
    fit_error: str | None
    knee: float | None
    saturated: tuple[str, float, float] | None
    notes: list[str]
    plan: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        fit = self.fit
        return {
            "sustainable_rps": self.sustainable,
            "first_failing_rps": self.first_failing,
            "knee_rps": self.knee,
            "steps": [
                {
                    "rate": s.rate,
                    "passed": s.passed,
                    "achieved_rps": s.summary["achieved_rps"],
                    "error_rate": s.summary["error_rate"],
                    "latency_ms": s.summary["latency_ms"],
                    "thresholds": s.summary["thresholds"],
                    "resources": s.resources,
                }
                for s in self.steps
            ],
            "sweep": [
                {"concurrency": p.concurrency, "throughput_rps": p.throughput, "capped": p.capped}
                for p in self.sweep
            ],
            "measured_peak": None
            if (peak := measured_peak(self.sweep)) is None
            else {"concurrency": peak.concurrency, "throughput_rps": peak.throughput},
            "usl": None
            if fit is None
            else {
                "alpha": fit.alpha,
                "beta": fit.beta,
                "gamma": fit.gamma,
                "r_squared": fit.r_squared,
                "peak_concurrency": fit.peak_n,
                "peak_throughput_rps": fit.peak_throughput,
                "roof_rps": None if math.isinf(fit.roof) else fit.roof,
                "extrapolated": fit.extrapolated,
                "trusted": trusted(fit),
            },
            "usl_error": self.fit_error,
            "saturates_first": None
            if self.saturated is None
            else {
                "resource": self.saturated[0],
                "at_rps": self.saturated[1],
                "share": self.saturated[2],
            },
            "notes": self.notes,
            "plan": self.plan,
        }


Progress = Callable[[str], None]


def steady(tally: Tally, warmup: float, seconds: float) -> dict[str, Any]:
    """Latency, errors and rate over the steady part of a step (sent after ``warmup``; the
    generator counted it apart, see ``Settings.steady_after``)."""
    completed = errors = offered = 0
    first, last = int(warmup), int(seconds)
    for at, second in tally.seconds.items():
        if first <= at < last:
            completed += second.completed
            errors += second.errors
            offered += second.offered
    span = max(1, last - first)
    return {
        "achieved_rps": round(completed / span, 2),
        "offered_rps": round(offered / span, 2),
        "error_rate": error_rate(tally.steady_errors, tally.steady_sent),
        "latency_ms": latency_ms(tally.steady),
    }


def measure(
    target: Target,
    settings: Settings,
    options: Options,
    *,
    sampler: Sampler | None = None,
    progress: Progress | None = None,
) -> Capacity:
    say = progress or (lambda text: None)
    steps: list[Step] = []

    def step(rate: float) -> Step:
        say(f"step: {rate:,.0f} req/s for {options.step_seconds:g}s")
        started = time.monotonic()
        job = Job(
            target,
            replace(settings, steady_after=options.warmup),
            profile=constant(rate, options.step_seconds),
        )
        tally = run(job, options.workers, None)
        summary = steady(tally, options.warmup, options.step_seconds)
        summary["thresholds"] = judge(summary, options.thresholds)
        passed = all(t["passed"] for t in summary["thresholds"])
        # an open-model step that could not deliver its rate has not held it either
        if summary["achieved_rps"] < 0.95 * rate:
            passed = False
            summary["thresholds"].append(
                {
                    "threshold": "achieved ≥ 95% of offered",
                    "observed": summary["achieved_rps"],
                    "shown": f"{summary['achieved_rps']:,.0f}/s",
                    "passed": False,
                }
            )
        resources = sampler.window(started + options.warmup, time.monotonic()) if sampler else {}
        found = Step(rate, summary, passed, resources)
        steps.append(found)
        p50 = summary["latency_ms"]["p50"]
        if passed and p50 is not None and not baseline:
            baseline.append(float(p50))
        if not passed and not settle():
            broken.append(rate)
            say(f"  the target had not recovered {options.cooldown:g}s after {rate:,.0f} req/s")
        verdict = "held" if passed else "failed"
        say(
            f"  {verdict}: p99 {summary['latency_ms']['p99']} ms, errors "
            f"{summary['error_rate'] * 100:.2f}%, {summary['achieved_rps']:,.0f} req/s answered"
        )
        return found

    baseline: list[float] = []

    def settle() -> bool:
        """After a step that failed, wait for the target to work off its backlog (a probe
        answered about as fast as at the lightest load), so the next step starts clean.
        False when it does not recover in ``cooldown`` seconds."""
        deadline = time.monotonic() + options.cooldown
        while time.monotonic() < deadline:
            probe = run(Job(target, capped, users=1, seconds=0.5), 1, None)
            p50 = probe.latency.get_value_at_percentile(50) / 1000
            if probe.completed and (not baseline or p50 <= 3 * baseline[0] + 5):
                return True
            say("  waiting for the target to recover…")
        return False

    broken: list[float] = []
    capped = replace(settings, max_rate=options.max_rate)

    rate = min(options.start_rate, options.max_rate)
    best: float | None = None
    failing: float | None = None
    while True:
        if step(rate).passed:
            best = rate
            if rate >= options.max_rate:
                break
            rate = min(rate * 2, options.max_rate)  # the last step lands on the cap
        else:
            failing = rate
            break
    if failing is not None and best is not None and not broken:
        for _ in range(6):
            if failing / best <= 1.05 or broken:
                break
            middle = (best + failing) / 2
            if step(middle).passed:
                best = middle
            else:
                failing = middle
    sweep = concurrency_sweep(target, settings, options, say) if not broken else []
    below = [p for p in sweep if not p.capped]
    fit: usl.Fit | None = None
    fit_error = None
    try:
        fit = usl.fit([p.concurrency for p in below], [p.throughput for p in below])
    except ValueError as exc:
        fit_error = str(exc)
        if broken:
            fit_error = "no concurrency sweep: the target had not recovered"
        elif len(below) < len(sweep):
            fit_error += (
                f" below the --max-rate cap ({options.max_rate:,.0f} req/s), which "
                f"{sweep[-1].concurrency} concurrent users reached: raise --max-rate"
            )
    knee = find_knee(steps)
    saturated = first_saturated([(s.rate, s.resources) for s in steps])
    notes = list(sampler.notes) if sampler else []
    if broken:
        notes.append(
            f"the target had not recovered {options.cooldown:g}s after the step at "
            f"{broken[0]:,.0f} req/s (it was still working off that step's backlog): the search "
            "stopped there. A target that collapses under overload needs load shedding"
        )
    if best is None:
        notes.append(
            f"even {options.start_rate:g} req/s did not hold the SLO: start lower (--start-rate)"
        )
    if failing is None:
        notes.append(
            f"every step held up to the --max-rate cap ({options.max_rate:,.0f} req/s): the "
            "real limit is higher"
        )
    if sweep and sweep[-1].capped:
        notes.append(
            f"the concurrency sweep stopped at {sweep[-1].concurrency} users: they reached the "
            f"--max-rate cap ({options.max_rate:,.0f} req/s), and more would only measure the "
            "cap"
        )
    warning = fit_warning(fit)
    if warning is not None:
        notes.append(warning)
    elif fit is not None and fit.extrapolated:
        notes.append(
            "the concurrency sweep never reached the throughput peak: N* and the peak are "
            "extrapolated (sweep higher --loads)"
        )
    return Capacity(
        steps=sorted(steps, key=lambda s: s.rate),
        sustainable=best,
        first_failing=failing,
        sweep=sweep,
        fit=fit,
        fit_error=fit_error,
        knee=knee,
        saturated=saturated,
        notes=notes,
        plan=make_plan(best, options, fit, sweep),
    )


def concurrency_sweep(
    target: Target, settings: Settings, options: Options, say: Progress
) -> list[Point]:
    """Throughput at each of ``options.loads`` users (closed model), the users together held
    to ``options.max_rate``. A load that reaches the cap is the last one run: every higher
    one would measure the cap too."""
    points = []
    warm = min(options.warmup, options.sweep_seconds / 3)
    held = replace(settings, steady_after=warm, max_rate=options.max_rate)
    for users in options.loads:
        say(f"sweep: {users} concurrent users for {options.sweep_seconds:g}s")
        job = Job(target, held, users=users, seconds=options.sweep_seconds)
        tally = run(job, min(options.workers, users), None)
        throughput = float(steady(tally, warm, options.sweep_seconds)["achieved_rps"])
        capped = throughput >= AT_CAP * options.max_rate
        points.append(Point(users, throughput, capped))
        if capped:
            say(f"  {throughput:,.0f} req/s: the --max-rate cap; no higher load is run")
            break
    return points


def measured_peak(sweep: list[Point]) -> Point | None:
    """The sweep's highest throughput (the first load that reached it)."""
    return max(sweep, key=lambda p: p.throughput) if sweep else None


def trusted(fit: usl.Fit) -> bool:
    return fit.r_squared >= MIN_R_SQUARED


def fit_warning(fit: usl.Fit | None) -> str | None:
    """What to say about a fit that is no model of the target (None: it is one, or none)."""
    if fit is None or trusted(fit):
        return None
    return (
        f"the USL fit explains little of the measured throughput (R² {fit.r_squared:.2f}, "
        f"under {MIN_R_SQUARED:g}): its α, β and peak say nothing about this target; go by "
        "the measured sweep and the knee"
    )


def find_knee(steps: list[Step]) -> float | None:
    """The lowest rate whose p99 is over twice the lightest step's (where latency bends)."""
    ordered = [s for s in sorted(steps, key=lambda s: s.rate) if s.summary["latency_ms"]["p99"]]
    if len(ordered) < 2:
        return None
    base = ordered[0].summary["latency_ms"]["p99"]
    for found in ordered[1:]:
        if found.summary["latency_ms"]["p99"] > 2 * base or found.summary["error_rate"] > 0.01:
            return found.rate
    return None


def make_plan(
    sustainable: float | None, options: Options, fit: usl.Fit | None, sweep: list[Point]
) -> dict[str, Any]:
    plan: dict[str, Any] = {"sustainable_rps": sustainable, "utilisation_ceiling": CEILING}
    if sustainable is None:
        plan["verdict"] = "the target did not hold the SLO at any tested rate"
        return plan
    per_replica = sustainable * CEILING
    plan["per_replica_rps_at_ceiling"] = round(per_replica, 1)
    peak: float | None = options.peak_rps
    if peak is None and options.expect is not None and options.current_rps is not None:
        peak = options.current_rps * options.expect
    if peak is not None:
        replicas = max(1, math.ceil(peak / per_replica))
        plan.update(
            peak_rps=round(peak, 1),
            headroom=round(sustainable / peak, 3),
            replicas=replicas,
            verdict=(
                f"one instance holds {sustainable:,.0f} req/s; the peak of {peak:,.0f} req/s "
                + (
                    "fits on this one with room to spare"
                    if replicas == 1
                    else f"needs {replicas} instances at {CEILING:.0%} utilisation"
                )
            ),
        )
    elif options.expect is not None:
        fits_below = sustainable / options.expect
        plan.update(
            expect=options.expect,
            current_rps_that_fits=round(fits_below, 1),
            verdict=(
                f"one instance holds {sustainable:,.0f} req/s, so {options.expect:g}x fits while "
                f"today's peak is under {fits_below:,.0f} req/s ({fits_below * CEILING:,.0f} "
                f"req/s to keep {CEILING:.0%} utilisation); give --current-rps to get a "
                "replica count"
            ),
        )
    else:
        plan["verdict"] = f"one instance holds {sustainable:,.0f} req/s within the SLO"
    highest = measured_peak(sweep)
    if fit is not None and trusted(fit) and fit.peak_n is not None and not fit.extrapolated:
        plan["scaling"] = (
            f"throughput peaks near {fit.peak_n:.0f} concurrent requests "
            f"({fit.peak_throughput:,.0f} req/s); beyond that more load makes it slower"
        )
    elif highest is not None:
        plan["scaling"] = (
            f"measured: the most throughput was {highest.throughput:,.0f} req/s at "
            f"{highest.concurrency} concurrent requests"
            + (" (the --max-rate cap)" if highest.capped else "")
            + ("; no model of how it scales fits the sweep" if fit is not None else "")
        )
    return plan
