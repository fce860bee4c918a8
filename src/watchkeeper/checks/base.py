"""What every check kind provides, and the per-run Attempt a probe reports into.

A kind is one module exposing ``CHECK = CheckKind(...)``: its settings model (the value under
its key in a monitor, e.g. ``http: {url: ...}`` or the ``http: https://...`` shorthand), the
subjects its Observations carry for expectations, the expectations it applies when the user
wrote none of their own, and ``probe``, which fills an Attempt's Observation.

Expected failures (refused, timeout, bad certificate...) set ``observation.error`` to one line;
a probe never lets them escape. The runner enforces the timeout and reads ``Attempt.phase`` to
say which phase timed out.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from watchkeeper.expect import SubjectTable
from watchkeeper.model import Observation

T = TypeVar("T")
S = TypeVar("S", bound="CheckSettings")


class CheckSettings(BaseModel):
    """Base of every kind's settings. Unknown keys are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shorthand_field: ClassVar[str] = ""
    """The field a bare string fills: ``http: https://x`` means ``http: {url: https://x}``."""

    @classmethod
    def expand(cls, value: object) -> object:
        """Turn the shorthand into the mapping form; mappings pass through."""
        if isinstance(value, str) and cls.shorthand_field:
            return {cls.shorthand_field: value}
        return value

    def host_key(self) -> str:
        """The peer this check talks to, for per-host concurrency limits."""
        return ""

    def target(self) -> str:
        """A short description of what is probed, for tables and logs."""
        return ""

    def timeout_problem(self, timeout: float) -> str | None:
        """Why these settings cannot be probed within ``timeout`` seconds (the monitor's), or
        None: the config loader reports it at the kind's key (a ping's schedule)."""
        return None


class Resources:
    """Things shared by the checks of one engine run (an HTTP session, DNS resolvers).

    Created lazily by the first check that needs them and closed once at shutdown.
    """

    def __init__(
        self, nameservers: tuple[str, ...] = (), settings: dict[str, Any] | None = None
    ) -> None:
        self._items: dict[str, Any] = {}
        self.nameservers = nameservers
        """DNS servers (``ip[:port]``) for resolving targets; empty means the system's."""
        self.settings: dict[str, Any] = settings or {}
        """Engine settings a kind's shared things are made with (``browser``: the pool's
        options)."""

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        if key not in self._items:
            self._items[key] = factory()
        item: T = self._items[key]
        return item

    async def aclose(self) -> None:
        items, self._items = list(self._items.values()), {}
        for item in items:
            closer = getattr(item, "close", None) or getattr(item, "aclose", None)
            if closer is None:
                continue
            outcome = closer()
            if inspect.isawaitable(outcome):
                await outcome


@dataclass(slots=True)
class Attempt:
    """One run of one check: the Observation being filled and the phase clock.

    ``begin(phase)`` starts timing a phase, ``end(phase)`` adds the elapsed time to it (phases
    add up across redirects). ``phase`` names the phase in progress, so a timeout can say where.
    """

    resources: Resources
    timeout: float
    wants: frozenset[str] = frozenset()
    monitor: str = ""
    """The monitor's name (for passive kinds that keep state per monitor)."""
    observation: Observation = field(default_factory=lambda: Observation(started_at=time.time()))
    phase: str | None = None
    waiting_for: str | None = None
    """What the phase in progress waits for, when the phase's name alone would mislead (an
    MQTT CONNACK in ``ttfb``, a WebSocket's reply in ``transfer``): a timeout says so."""
    _phase_started: float = 0.0

    def begin(self, phase: str, waiting_for: str | None = None) -> None:
        self.phase = phase
        self.waiting_for = waiting_for
        self._phase_started = time.perf_counter()

    def end(self, phase: str) -> float:
        elapsed = time.perf_counter() - self._phase_started if self.phase == phase else 0.0
        phases = self.observation.phases
        setattr(phases, phase, (getattr(phases, phase) or 0.0) + elapsed)
        self.phase = None
        self.waiting_for = None
        return elapsed

    def fail(self, reason: str) -> None:
        """Record why the probe could not complete (one line); the first reason wins."""
        if self.observation.error is None:
            self.observation.error = reason

    def warn(self, reason: str) -> None:
        """The target answers, but not well: the monitor is degraded (not down)."""
        self.observation.warnings.append(reason)

    def wanted(self, key: str) -> bool:
        """Does any expectation of this monitor look at ``key`` (e.g. ``tcp.banner``)?"""
        return key in self.wants


Probe = Callable[[S, Attempt], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CheckKind(Generic[S]):
    """The registry entry of one kind."""

    name: str
    settings: type[S]
    subjects: SubjectTable
    probe: Probe[S]
    default_expect: tuple[str, ...] = ()
    interval: float | None = None
    """Seconds between checks when the monitor and ``defaults`` set none (an audit: daily)."""
    timeout: float | None = None
    """Seconds a check may take when the monitor and ``defaults`` set none."""
    confirm: int | None = None
    """``confirm``/``recover`` for this kind when the monitor sets none (a heartbeat's
    failure ping is news at once; the engine's default of 2 is for probes that can blip)."""
    warm: Callable[[Resources], Awaitable[None]] | None = None
    """What to start before the first probe, in the background, when a monitor of this kind
    is scheduled (a browser: starting one would otherwise count against the first journey's
    timeout). A failure is left for that probe to report."""
    runtime: tuple[str, ...] = ()
    """The modules its probe imports on first use (the drivers: aiohttp, psycopg...), which
    ``checks.prepare`` imports before the engine probes: loading a config must not pay for
    them, and an import inside a probe would hold up the event loop and every check in
    flight (tests/checks/test_prepare.py keeps this list whole)."""
