"""Results and Transitions to table rows and back.

Phases are seconds in a Result and whole nanoseconds in the store (the ``*_ns`` columns and
chunks): a phase comes back as ``nanoseconds / 1e9``, so phases a clock measured (whole
nanoseconds) come back equal, and any other float within half a nanosecond. A phase that is
not finite, or longer than ``MAX_PHASE`` seconds, is stored as not applicable. A check's
series (``metrics``) are stored with it as JSON, which gives every float back bit for bit.
Text never carries NUL characters into the database (PostgreSQL refuses them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from watchkeeper.model import Phases, Result, State, Transition
from watchkeeper.store.chunks import Check

MAX_PHASE = 1e9
"""Seconds (31 years): longer phases are not durations a check measured."""
_LIMIT = MAX_PHASE * 1e9

ResultRow = tuple[
    int,
    float,
    bool,
    int | None,
    str | None,
    str | None,
    int | None,
    int | None,
    int | None,
    int | None,
    int | None,
    int | None,
    str | None,
    str | None,
]
"""``RESULT_COLUMNS`` in order."""

RESULT_COLUMNS = (
    "monitor_id",
    "ts",
    "ok",
    "status",
    "error",
    "failures",
    "total_ns",
    "dns_ns",
    "connect_ns",
    "tls_ns",
    "ttfb_ns",
    "transfer_ns",
    "warnings",
    "metrics",
)

METRIC_NAME_LIMIT = 200


def result_row(result: Result, monitor_id: int) -> ResultRow:
    """One ``results`` row; kept flat and inline because the writer calls it per result."""
    phases = result.phases
    error = result.error
    if error is not None and "\x00" in error:
        error = _clean(error)
    metrics = result.metrics
    return (
        monitor_id,
        result.started_at,
        bool(result.ok),
        result.status,
        error,
        json.dumps(result.failures, ensure_ascii=False) if result.failures else None,
        nanoseconds(phases.total),
        nanoseconds(phases.dns),
        nanoseconds(phases.connect),
        nanoseconds(phases.tls),
        nanoseconds(phases.ttfb),
        nanoseconds(phases.transfer),
        json.dumps(result.warnings, ensure_ascii=False) if result.warnings else None,
        json.dumps({name[:METRIC_NAME_LIMIT]: value for name, value in metrics.items()})
        if metrics
        else None,
    )


def nanoseconds(seconds: float | None) -> int | None:
    """A phase as the store keeps it: whole nanoseconds, None when it cannot be one."""
    if seconds is None:
        return None
    value = seconds * 1e9
    return round(value) if -_LIMIT < value < _LIMIT else None


def check_from_row(row: Sequence[Any]) -> Check:
    """A Check from ``ts, ok, status, error, failures, *phases (ns), warnings, metrics``."""
    ts, ok, status, error, failures, *phases, warnings, metrics = row
    return Check(
        float(ts),
        bool(ok),
        None if status is None else int(status),
        error,
        json.loads(failures) if failures else [],
        json.loads(warnings) if warnings else [],
        tuple(None if value is None else int(value) for value in phases),
        json.loads(metrics, parse_int=float) if metrics else {},
    )


def result_from(
    monitor: str,
    kind: str,
    ts: float,
    ok: bool,
    status: int | None,
    seconds: Sequence[float | None],
    texts: tuple[str | None, list[str], list[str]],
) -> Result:
    """A Result from what the store keeps; ``seconds`` in ``chunks.PHASES`` order."""
    total, dns, connect, tls, ttfb, transfer = seconds
    error, failures, warnings = texts
    return Result(
        monitor=monitor,
        kind=kind,
        started_at=ts,
        ok=ok,
        phases=Phases(dns=dns, connect=connect, tls=tls, ttfb=ttfb, transfer=transfer, total=total),
        failures=list(failures),
        error=error,
        status=status,
        warnings=list(warnings),
    )


def transition_row(transition: Transition, monitor_id: int) -> dict[str, Any]:
    return {
        "monitor_id": monitor_id,
        "at": transition.at,
        "from_state": transition.from_state.value,
        "to_state": transition.to_state.value,
        "reason": None if transition.reason is None else _clean(transition.reason),
    }


def transition_from_row(monitor: str, row: Sequence[Any]) -> Transition:
    """A Transition from ``(at, from_state, to_state, reason)``."""
    at, from_state, to_state, reason = row
    return Transition(monitor, float(at), State(from_state), State(to_state), reason)


def _clean(text: str) -> str:
    return text.replace("\x00", "\ufffd")
