"""A finished test as numbers: the summary ``--json`` writes, thresholds judged on it, and the
warnings a careful reader needs (the generator was the bottleneck, sends were late, the
closed model hides stalls)."""

from __future__ import annotations

import math
from typing import Any

from watchkeeper.loadtest.generator import Tally
from watchkeeper.loadtest.plan import Threshold
from watchkeeper.loadtest.runner import Job
from watchkeeper.units import plural

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
BUSY_GENERATOR = 0.9
"""A worker busier than this share of its core may be holding the test back."""


def latency_ms(histogram: Any) -> dict[str, float | None]:
    if histogram.get_total_count() == 0:
        return {**dict.fromkeys(PERCENTILES), "max": None, "mean": None}
    values: dict[str, float | None] = {
        name: round(histogram.get_value_at_percentile(p) / 1000, 3)
        for name, p in PERCENTILES.items()
    }
    values["max"] = round(histogram.get_max_value() / 1000, 3)
    values["mean"] = round(histogram.get_mean_value() / 1000, 3)
    return values


def error_rate(errors: int, sent: int) -> float:
    """The share of the requests sent that failed: the one place it is worked out, for the
    summary, each capacity step and every report. A request counts once: an answer with an
    error status is both an answer and an error, so answers and errors are never added up
    to make the denominator."""
    attempted = max(sent, errors)
    return round(errors / attempted, 6) if attempted else 0.0


def _second_quantiles(second: Any) -> dict[str, float | None]:
    if second.quantiles is None:
        second.close()
    return {k: None if v is None else round(v, 3) for k, v in second.quantiles.items()}


def summarize(
    tally: Tally,
    job: Job,
    workers: int,
    thresholds: tuple[Threshold, ...] = (),
    target: str = "",
) -> dict[str, Any]:
    duration = max(job.duration, 1e-9)
    errors = sum(tally.errors.values())
    answered = tally.completed
    cpu = tally.cpu_seconds / max(tally.wall_seconds, 1e-9) / max(workers, 1)
    summary: dict[str, Any] = {
        "model": job.model,
        "target": target,
        "duration_s": round(duration, 3),
        "workers": workers,
        "offered_rps": round(tally.offered / duration, 2),
        "achieved_rps": round(answered / duration, 2),
        "requests": tally.offered,
        "sent": tally.sent,
        "completed": answered,
        "errors": errors,
        "error_rate": error_rate(errors, tally.sent),
        "errors_by_kind": dict(tally.errors.most_common()),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "retried": tally.retried,
        "late": tally.late,
        "max_late_ms": round(tally.max_late * 1000, 3),
        "dropped": tally.dropped,
        "connections_opened": tally.connections,
        "generator_cpu": round(cpu, 3),
        "latency_ms": latency_ms(tally.latency),
        "service_ms": latency_ms(tally.service),
        "seconds": [
            {
                "t": at,
                "offered": second.offered,
                "achieved": second.completed,
                "errors": second.errors,
                **_second_quantiles(second),
            }
            for at, second in sorted(tally.seconds.items())
            if at < math.ceil(duration)  # the drain after the last arrival is no second of load
        ],
    }
    if job.model == "closed":
        summary["users"] = job.users
    summary["thresholds"] = judge(summary, thresholds)
    summary["passed"] = all(t["passed"] for t in summary["thresholds"])
    summary["warnings"] = warnings(summary)
    return summary


def observed(summary: dict[str, Any], metric: str) -> float:
    if metric == "errors":
        return float(summary["error_rate"])
    if metric == "rps":
        return float(summary["achieved_rps"])
    value = summary["latency_ms"].get(metric)
    return float("inf") if value is None else float(value)


def judge(summary: dict[str, Any], thresholds: tuple[Threshold, ...]) -> list[dict[str, Any]]:
    out = []
    for threshold in thresholds:
        value = observed(summary, threshold.metric)
        out.append(
            {
                "threshold": threshold.text,
                "observed": value if value != float("inf") else None,
                "shown": threshold.show(value) if value != float("inf") else "no answers",
                "passed": threshold.holds(value),
            }
        )
    return out


def warnings(summary: dict[str, Any]) -> list[str]:
    found = []
    if summary["generator_cpu"] > BUSY_GENERATOR:
        found.append(
            f"the generator used {summary['generator_cpu'] * 100:.0f}% of its cores: it may be "
            "the bottleneck, not the target (add --workers, or lower the rate)"
        )
    if summary["model"] == "open":
        if summary["late"]:
            found.append(
                f"{plural(summary['late'], 'request')} went out over 10 ms after their time (up to "
                f"{summary['max_late_ms']:.0f} ms): the connection pool was full or the "
                "generator was busy; their wait is counted in the latency"
            )
        if summary["dropped"]:
            found.append(
                f"{summary['dropped']} arrivals were dropped: the line for a connection was full"
            )
        offered, achieved = summary["offered_rps"], summary["achieved_rps"]
        if offered and achieved < 0.95 * offered:
            found.append(
                f"only {achieved:,.0f} of {offered:,.0f} req/s were answered: the target (or "
                "the connection cap) could not keep up"
            )
    else:
        found.append(
            "closed model: each user waits for its answer before sending again, so a stall "
            "lowers the request rate instead of showing in the latency (coordinated omission);"
            " use the open model (--rate) for latency you can trust"
        )
    return found
