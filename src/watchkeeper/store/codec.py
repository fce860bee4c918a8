"""Results and Transitions to table rows and back.

Phases are seconds in a Result and milliseconds in the ``*_ms`` columns. Reading back divides
by 1000 and snaps to the nanosecond when that reproduces the stored value exactly, so phases
with nanosecond resolution come back equal; any other float comes back within one ulp.
Text never carries NUL characters into the database (PostgreSQL refuses them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from watchkeeper.model import Phases, Result, State, Transition

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
)

STORED_FIELDS = RESULT_COLUMNS[1:]
"""What a read selects, after the monitor: everything :func:`result_from_row` needs."""


def result_row(result: Result, monitor_id: int) -> ResultRow:
    """One ``results`` row; kept flat and inline because the writer calls it per result."""
    phases = result.phases
    error = result.error
    if error is not None and "\x00" in error:
        error = _clean(error)
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
    )


def result_from_row(monitor: str, kind: str, row: Sequence[Any]) -> Result:
    """A Result from the ``STORED_FIELDS`` of one row."""
    ts, ok, status, error, failures, total, dns, connect, tls, ttfb, transfer, warnings = row
    return Result(
        monitor=monitor,
        kind=kind,
        started_at=float(ts),
        ok=bool(ok),
        phases=Phases(
            dns=seconds(dns),
            connect=seconds(connect),
            tls=seconds(tls),
            ttfb=seconds(ttfb),
            transfer=seconds(transfer),
            total=seconds(total),
        ),
        failures=list(json.loads(failures)) if failures else [],
        error=error,
        status=None if status is None else int(status),
        warnings=list(json.loads(warnings)) if warnings else [],
    )


def seconds(milliseconds: float | None) -> float | None:
    """Milliseconds back to seconds, at nanosecond resolution when the value has it."""
    if milliseconds is None:
        return None
    value = milliseconds / 1000.0
    snapped = round(value, 9)
    return snapped if snapped * 1000.0 == milliseconds else value


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
