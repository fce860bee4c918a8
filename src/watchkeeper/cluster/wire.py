"""The agent protocol's shapes (``docs``: README, "Running more than one node"): a Result
as JSON, and back — checked and capped, since a node takes them from the network (a stolen
agent token must not be able to store megabytes or crash a node).
"""

from __future__ import annotations

import math
from typing import Any

from watchkeeper.model import PHASE_NAMES, Phases, Result
from watchkeeper.printable import visible

PROTOCOL = 1
"""The agent protocol's version: a node refuses an agent of another (409), and the agent
says so and stops."""
MAX_BODY = 4 * 1024 * 1024
"""Bytes of one push, decoded."""
MAX_RESULTS = 5000
"""Results in one push."""
MAX_TEXT = 1000
"""Characters of an error, a failure or a warning."""
MAX_LINES = 20
"""Failures or warnings of one result."""
MAX_METRICS = 200


class WireError(ValueError):
    """A result that cannot be taken (one line: why)."""


def encode(result: Result) -> dict[str, Any]:
    """A Result for a push: times in the agent's clock, phases in milliseconds."""
    return {
        "monitor": result.monitor,
        "started_at": result.started_at,
        "ok": result.ok,
        "error": result.error,
        "failures": result.failures,
        "warnings": result.warnings,
        "status": result.status,
        "phases": result.phases.as_ms(),
        "metrics": result.metrics,
    }


def decode(item: Any, kind: str, location: str, offset: float) -> Result:
    """A pushed result → Result of ``location``, its time moved by ``offset`` (server clock
    minus the agent's). Raises WireError."""
    if not isinstance(item, dict):
        raise WireError("a result must be an object")
    monitor = item.get("monitor")
    if not isinstance(monitor, str) or not 0 < len(monitor) <= 200:
        raise WireError("monitor must be a name")
    started = _number(item.get("started_at"), "started_at")
    ok = item.get("ok")
    if not isinstance(ok, bool):
        raise WireError("ok must be true or false")
    error = item.get("error")
    if error is not None and not isinstance(error, str):
        raise WireError("error must be text or null")
    status = item.get("status")
    if status is not None and (
        not isinstance(status, int) or isinstance(status, bool) or not 0 <= status < 1000
    ):
        raise WireError("status must be a number below 1000 or null")
    phases = Phases()
    raw_phases = item.get("phases") or {}
    if not isinstance(raw_phases, dict):
        raise WireError("phases must be an object")
    for name in PHASE_NAMES:
        value = raw_phases.get(name)
        if value is not None:
            ms = _number(value, f"phases.{name}")
            if ms < 0:
                raise WireError(f"phases.{name} cannot be negative")
            setattr(phases, name, ms / 1000.0)
    metrics_in = item.get("metrics") or {}
    if not isinstance(metrics_in, dict) or len(metrics_in) > MAX_METRICS:
        raise WireError(f"metrics must be an object of at most {MAX_METRICS} numbers")
    metrics: dict[str, float] = {}
    for key, value in metrics_in.items():
        if (
            isinstance(key, str)
            and len(key) <= 200
            and not isinstance(value, bool)
            and isinstance(value, int | float)
            and math.isfinite(value)
        ):
            metrics[key] = float(value)
    return Result(
        monitor=monitor,
        kind=kind,
        started_at=started + offset,
        ok=ok and not error,
        phases=phases,
        failures=_lines(item.get("failures"), "failures"),
        error=visible(error[:MAX_TEXT]) if error else None,
        status=status,
        warnings=_lines(item.get("warnings"), "warnings"),
        metrics=metrics,
        location=location,
    )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WireError(f"{what} must be a number")
    return float(value)


def _lines(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
        raise WireError(f"{what} must be a list of text")
    return [visible(line[:MAX_TEXT]) for line in value[:MAX_LINES]]
