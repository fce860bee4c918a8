"""Leaf domain model: Observation, Result, Phases and State. Imports nothing from Watchkeeper.

Times are epoch seconds (float); durations are seconds (float) inside, milliseconds at the
edges (``--json``, the API, the store's ``*_ms`` columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PHASE_NAMES = ("dns", "connect", "tls", "ttfb", "transfer", "total")


LOCATION_MARK = "#"
"""Between a monitor's name and a location in the store's name of that location's series
(``api#eu-west``): no monitor name holds it."""


def series_name(monitor: str, location: str | None) -> str:
    """The store's name for a monitor's checks from one location (``local``: its own)."""
    return monitor if location is None else f"{monitor}{LOCATION_MARK}{location}"


class State(StrEnum):
    """A monitor's state; only the state machine changes it."""

    UP = "up"
    DOWN = "down"
    DEGRADED = "degraded"
    FLAPPING = "flapping"
    PAUSED = "paused"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class Phases:
    """Where the time of one check went, in seconds; None where a phase does not apply."""

    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    ttfb: float | None = None
    transfer: float | None = None
    total: float | None = None

    def get(self, name: str) -> float | None:
        value: float | None = getattr(self, name)
        return value

    def as_ms(self) -> dict[str, float | None]:
        return {
            name: None if (v := getattr(self, name)) is None else round(v * 1000, 3)
            for name in PHASE_NAMES
        }


@dataclass(slots=True)
class Observation:
    """The raw facts one run of a check produced.

    ``error`` is a one-line reason when the probe could not complete (refused, NXDOMAIN, timeout
    in a phase, bad certificate...). ``facts`` holds what the check saw, keyed by expectation
    subject: ``status``, ``headers`` (lower-case names), ``body`` (bytes, capped),
    ``cert.expires_in`` (seconds), ``cert.issuer``, ``dns.answers``, ``tcp.banner``, ...
    """

    started_at: float
    phases: Phases = field(default_factory=Phases)
    error: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list)
    """What a check itself found not well (an SLO's ticket-level burn): the monitor is
    degraded, as with a failed ``warn:`` expectation."""
    detail: dict[str, Any] | None = None
    """A kind's structured report of this run (an audit's grade, tests and findings), kept
    in the store's ``reports`` beside the result; None for most kinds."""


@dataclass(slots=True)
class Result:
    """An Observation judged against the monitor's expectations: what the store keeps."""

    monitor: str
    kind: str
    started_at: float
    ok: bool
    phases: Phases
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    status: int | None = None
    warnings: list[str] = field(default_factory=list)
    """Soft expectations (``warn:``) that failed: the target answers, but not well."""
    cert_expires_at: float | None = None
    """When the peer's certificate expires, where the check saw one (live only, not stored)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The check's numeric observations by subject (``pg.connections``, ``disk./.used_pct``,
    ``metric.up.value``): stored as series beside the result."""
    detail: dict[str, Any] | None = None
    """The Observation's ``detail`` (a JSON-able report), stored in ``reports``."""
    location: str | None = None
    """Where it was checked from: None for the nodes themselves (``local``), else an
    agent's location (``eu-west``); stored as the monitor's series of that location."""

    @property
    def latency(self) -> float | None:
        return self.phases.total

    @property
    def health(self) -> State:
        """``up`` (all well), ``degraded`` (passed, with warnings) or ``down`` (failed)."""
        if not self.ok:
            return State.DOWN
        return State.DEGRADED if self.warnings else State.UP

    @property
    def reason(self) -> str | None:
        """The one line that says what is wrong: why it failed, else which warnings."""
        if self.ok:
            return "; ".join(self.warnings) or None
        if self.error:
            return self.error
        return "; ".join(self.failures) or "failed"

    @property
    def outcome(self) -> str:
        """``ok``, ``failed`` (an expectation failed) or ``error`` (the probe could not finish)."""
        if self.ok:
            return "ok"
        return "error" if self.error else "failed"

    def to_json(self) -> dict[str, Any]:
        """The ``wk check --json`` object (DESIGN.md contract)."""
        phases = self.phases.as_ms()
        return {
            "monitor": self.monitor,
            "kind": self.kind,
            "ok": self.ok,
            "latency_ms": phases["total"],
            "phases": phases,
            "failures": list(self.failures),
            "warnings": list(self.warnings),
            "metrics": dict(self.metrics),
            "error": self.error,
            "status": self.status,
            "started_at": self.started_at,
        } | ({"location": self.location} if self.location is not None else {})


@dataclass(frozen=True, slots=True)
class Transition:
    """A monitor's state changed: persisted, shown in timelines, and the input to alerting."""

    monitor: str
    at: float
    from_state: State
    to_state: State
    reason: str | None = None
    cause: str | None = None
    """The monitor this one depends on that was down when this one went down."""


@dataclass(frozen=True, slots=True)
class StoredState:
    """A monitor's state as the store last recorded it (restored after a restart)."""

    monitor: str
    state: State
    since: float
    reason: str | None = None
