"""Results and Transitions to table rows and back.

Phases are seconds in a Result, milliseconds in the ``*_ms`` columns (as cheap to write as it
gets) and whole nanoseconds in chunks. Read from either, a phase is ``round(ms * 1e6)``
nanoseconds and comes back as ``nanoseconds / 1e9``: the same whichever tier holds it, equal
to what was written when a clock measured it (whole nanoseconds), and any other float within
half a nanosecond. A phase that is not finite, or longer than ``MAX_PHASE`` seconds, reads as
not applicable. A check's
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
_LIMIT_MS = MAX_PHASE * 1000.0


def nanoseconds(milliseconds: float | None) -> int | None:
    """A stored phase (``*_ms``) as whole nanoseconds, None when it is no duration."""
    if milliseconds is None or not -_LIMIT_MS < milliseconds < _LIMIT_MS:
        return None
    return round(milliseconds * 1e6)


ResultRow = tuple[
    int,
    float,
    bool,
    int | None,
    str | None,
    str | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
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
    "total_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "transfer_ms",
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
        None if (total := phases.total) is None else total * 1000.0,
        None if (dns := phases.dns) is None else dns * 1000.0,
        None if (connect := phases.connect) is None else connect * 1000.0,
        None if (tls := phases.tls) is None else tls * 1000.0,
        None if (ttfb := phases.ttfb) is None else ttfb * 1000.0,
        None if (transfer := phases.transfer) is None else transfer * 1000.0,
        json.dumps(result.warnings, ensure_ascii=False) if result.warnings else None,
        json.dumps({name[:METRIC_NAME_LIMIT]: value for name, value in metrics.items()})
        if metrics
        else None,
    )


def check_from_row(row: Sequence[Any]) -> Check:
    """A Check from ``ts, ok, status, error, failures, *phases (ms), warnings, metrics``."""
    ts, ok, status, error, failures, *phases, warnings, metrics = row
    return Check(
        float(ts),
        bool(ok),
        None if status is None else int(status),
        error,
        json.loads(failures) if failures else [],
        json.loads(warnings) if warnings else [],
        tuple([nanoseconds(value) for value in phases]),
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
