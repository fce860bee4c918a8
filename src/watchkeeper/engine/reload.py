"""Live reload: a changed config file applied to a running engine, without a restart.

    asked (SIGHUP, ``wk reload``, the file watch, the API) ─► one reload at a time
    read and validate the file (a lane) ─► invalid: one file:line line, nothing changes
    the API's definitions against it; store rows, states, pings and history of what is new
    (a lane) ─► applied on the event loop in one step (no check sees half of it)

A monitor whose definition is unchanged (it may have moved in the file) keeps its slot on
the schedule, its state, streaks and heartbeat; a changed one keeps its state and starts its
schedule afresh (its first run spread like at start); a removed one stops, its history stays
in the store, and its open incident is closed; an added one comes back with the state the
store last had for its name. Monitors defined through the API are validated against the new
config exactly as at start: usually they are untouched. Routes, status pages, maintenance
windows, defaults and retention take the new values; settings that need a restart (see
``config.diff.RESTART_SETTINGS``) are reported and otherwise ignored. A check in flight
during a reload finishes, and its Result is stored whatever became of its monitor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper.config import Config, Monitor, load_config
from watchkeeper.config.diff import (
    ConfigChanges,
    diff_configs,
    monitor_changes,
    with_running_settings,
)
from watchkeeper.engine.defined import api_monitors, watch
from watchkeeper.engine.heartbeats import Claim
from watchkeeper.engine.ledger import Ledger
from watchkeeper.errors import ConfigError, StoreError
from watchkeeper.lanes import ALERTS, RELOAD
from watchkeeper.model import State
from watchkeeper.state import MonitorStatus
from watchkeeper.store.pings import UuidTaken

if TYPE_CHECKING:
    from watchkeeper.checks.slo import Tracked
    from watchkeeper.engine.defined import Defined
    from watchkeeper.engine.service import Engine

log = logging.getLogger("watchkeeper.engine")
MAX_LISTED = 1000
"""Names listed per change in an Outcome's JSON (the count is always whole)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one reload did: the changes it applied, or why it applied nothing."""

    trigger: str
    path: str
    started_at: float
    finished_at: float
    errors: tuple[str, ...] = ()
    """The file's problems, one file:line line each (the running config stayed)."""
    changes: ConfigChanges = field(default_factory=ConfigChanges)
    notes: tuple[str, ...] = ()
    """What else happened to watched monitors: API definitions left out or now shadowed by
    the config, heartbeats refused their UUID."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """What to tell the user: one line when refused, else a headline and what changed."""
        name = os.path.basename(self.path)
        if self.errors:
            more = len(self.errors) - 1
            rest = f" (and {more} more: wk validate -c {self.path})" if more else ""
            return [
                f"reload of {name} refused ({self.trigger}), the running config stays: "
                f"{self.errors[0]}{rest}"
            ]
        changed = [*self.changes.lines(), *self.notes]
        if not changed:
            return [f"reloaded {name} ({self.trigger}): nothing changed"]
        return [f"reloaded {name} ({self.trigger}):", *(f"  {line}" for line in changed)]

    def to_json(self) -> dict[str, Any]:
        changes = self.changes.to_json()
        for section in changes.values():
            if isinstance(section, dict):
                for key in ("added", "removed", "changed"):
                    section[f"{key}_count"] = len(section[key])
                    section[key] = section[key][:MAX_LISTED]
        return {
            "ok": self.ok,
            "trigger": self.trigger,
            "path": self.path,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "errors": list(self.errors[:MAX_LISTED]),
            "changes": changes,
            "notes": list(self.notes[:MAX_LISTED]),
            "lines": self.lines()[:MAX_LISTED],
        }


@dataclass(slots=True)
class _Prepared:
    """Everything a reload reads and writes in the store before it is applied."""

    defined: Defined
    removed: list[str] = field(default_factory=list)
    put: list[Monitor] = field(default_factory=list)
    renewed: list[Monitor] = field(default_factory=list)
    statuses: dict[str, MonitorStatus] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    slos: dict[str, Tracked] = field(default_factory=dict)
    histories: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    notes: list[str] = field(default_factory=list)


OnOutcome = Callable[[Outcome], Awaitable[None]]


class Reloader:
    """Reloads ``engine``'s config file when asked; one reload at a time."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_outcome: OnOutcome | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``on_outcome`` is awaited with every Outcome before the next reload may begin;
        ``env`` fills ``${VAR}`` (default: this process's environment, as at start)."""
        self.engine = engine
        self._on_outcome = on_outcome
        self._env = env
        self._lock = asyncio.Lock()
        self._asked = asyncio.Event()
        self._triggers: list[str] = []

    def request(self, trigger: str) -> None:
        """Ask for a reload (a signal handler may call it): requests that come while one
        runs are served together by one more, which reads the file after all of them."""
        if trigger not in self._triggers:
            self._triggers.append(trigger)
        self._asked.set()

    async def serve(self) -> None:
        """Serve ``request``s until cancelled."""
        while True:
            await self._asked.wait()
            self._asked.clear()
            trigger, self._triggers = ", ".join(self._triggers), []
            try:
                await self.reload(trigger)
            except Exception:  # a bug: say so, keep serving, keep the running config
                log.exception("reloading the config failed; the running config stays")

    async def reload(self, trigger: str) -> Outcome:
        """Reload the file now (after any reload under way) and say what it did."""
        async with self._lock:
            outcome = await self._reload(trigger)
            if trigger != "API":  # the API's reload is recorded with who asked for it
                await self.engine.activity.record(
                    "system",
                    "config.reload",
                    os.path.basename(outcome.path),
                    outcome="ok" if outcome.ok else "failed",
                    detail=_activity_detail(outcome),
                )
            if self._on_outcome is not None:
                await self._on_outcome(outcome)
        return outcome

    # -- one reload ---------------------------------------------------------------------------
    async def _reload(self, trigger: str) -> Outcome:
        engine = self.engine
        old = engine.config
        started = time.time()

        def refused(*errors: str) -> Outcome:
            return Outcome(trigger, old.path, started, time.time(), errors=errors)

        try:
            new, changes = await RELOAD.run(self._read, old)
        except ConfigError as exc:
            return refused(*exc.lines())
        async with engine.definitions.changing:  # no API definition changes meanwhile
            current = dict(engine.monitors)
            paused = {n for n, s in engine.status.items() if s.state is State.PAUSED}
            broken = set(engine.definitions.broken)
            try:
                prepared = await RELOAD.run(self._prepare, old, new, current, paused, broken)
            except (StoreError, UuidTaken) as exc:
                return refused(f"{old.path}: the store did not answer ({exc})")
            self._apply(new, prepared)
        if prepared.removed:
            try:
                await ALERTS.run(engine.alerting.close_orphans)
            except Exception:  # closed at the next start instead
                log.exception("closing the incidents of removed monitors failed")
        return Outcome(
            trigger, old.path, started, time.time(), changes=changes, notes=tuple(prepared.notes)
        )

    def _read(self, old: Config) -> tuple[Config, ConfigChanges]:
        """The file validated, as it will run (settings that need a restart kept as they
        run), and what it changes. Blocking: CPU-bound for a large file."""
        loaded = load_config(old.path, self._env)
        return with_running_settings(old, loaded), diff_configs(old, loaded)

    def _prepare(
        self,
        old: Config,
        new: Config,
        current: dict[str, Monitor],
        paused: set[str],
        broken: set[str],
    ) -> _Prepared:
        """What the new config comes to against the monitors watched now, with the store's
        rows, states, pings and history of those it adds or replaces. Blocking; changes
        nothing the engine holds."""
        engine, store = self.engine, self.engine.store
        defined = api_monitors(store, new)
        prepared = _Prepared(defined)
        desired = {m.name: m for m in new.monitors}
        for monitor in defined.monitors:
            desired.setdefault(monitor.name, monitor)
        prepared.removed = [name for name in current if name not in desired]
        for name, monitor in desired.items():
            before = current.get(name)
            if before is None or monitor_changes(before, monitor):
                prepared.put.append(monitor)
            elif before is not monitor:
                prepared.renewed.append(monitor)
        if not prepared.put:
            prepared.notes = _notes(old, defined, current, broken)
            return prepared
        store.ensure_monitors((m.name, m.kind, m.target) for m in prepared.put)
        added = [m for m in prepared.put if m.name not in current]
        resumed = [m for m in prepared.put if m.name in paused and not m.paused]
        if added or resumed:
            prepared.statuses.update(engine.stored_statuses([*added, *resumed], store.states()))
        now = time.time()
        prepared.notes = [
            *_notes(old, defined, current, broken),
            *self._claim_pings(prepared, desired, now),
        ]
        for monitor in prepared.put:
            if monitor.kind == "slo":
                prepared.slos[monitor.name] = engine.slos.counted(monitor, now)
            before = current.get(monitor.name)
            if monitor.anomaly and (before is None or set(before.anomaly) != set(monitor.anomaly)):
                try:
                    prepared.histories[monitor.name] = engine.anomalies.history(store, monitor)
                except Exception:  # its detectors start blind; the checks lose nothing
                    log.exception("loading latency history for %s failed", monitor.name)
        try:
            prepared.ledger.seed(store, [m.name for m in added], now)
        except Exception:  # the pages lose history, the checks lose nothing
            log.exception("loading uptime history for the dashboard failed")
        return prepared

    def _claim_pings(
        self, prepared: _Prepared, desired: dict[str, Monitor], now: float
    ) -> list[str]:
        """The ping UUIDs of heartbeat monitors added or changed. A UUID held by a monitor
        the reload removes goes to the one that asks for it (a rename)."""
        store, heartbeats = self.engine.store, self.engine.heartbeats
        wanted = [m for m in prepared.put if m.kind == "heartbeat"]
        if not wanted:
            return []
        watched = {
            store.monitor_id(m.name, m.kind) for m in desired.values() if m.kind == "heartbeat"
        }
        notes = []
        for monitor in wanted:
            try:
                with store.transaction() as connection:
                    prepared.claims[monitor.name] = heartbeats.claim(
                        connection, monitor, store.monitor_id(monitor.name), now, watched
                    )
            except UuidTaken as exc:
                notes.append(f"heartbeat monitor '{monitor.name}' gets no pings: {exc}")
        return notes

    def _apply(self, new: Config, prepared: _Prepared) -> None:
        """On the event loop, with no await: every check and request sees the old config
        or the new one, never a mixture."""
        engine = self.engine
        engine.replace_config(new)
        engine.change_monitors(
            removed=prepared.removed,
            put=prepared.put,
            renewed=prepared.renewed,
            statuses=prepared.statuses,
        )
        for monitor in prepared.put:
            watch(engine.heartbeats, monitor, prepared.claims.get(monitor.name))
            tracked = prepared.slos.get(monitor.name)
            if tracked is not None:
                engine.slos.install(monitor.name, tracked)
            history = prepared.histories.get(monitor.name)
            if history is not None:
                engine.anomalies.feed(monitor, history)
        engine.ledger.take(prepared.ledger)
        engine.definitions.broken.clear()
        engine.definitions.broken.update({b.name: b for b in prepared.defined.broken})


def _activity_detail(outcome: Outcome) -> dict[str, Any]:
    """What the activity log keeps of a reload: its trigger and the first lines it said."""
    return {"trigger": outcome.trigger, "lines": outcome.lines()[:10]}


def _notes(
    old: Config, defined: Defined, current: Mapping[str, Monitor], broken: set[str]
) -> list[str]:
    """API definitions whose fate the reload changed: newly left out, or newly shadowed by a
    config monitor of their name."""
    in_old_config = {m.name for m in old.monitors}
    notes = [
        f"API monitor '{name}' is shadowed by the config's monitor of that name; "
        "the config's is watched"
        for name in defined.shadowed
        if name in current and name not in in_old_config
    ]
    notes += [
        f"API monitor '{b.name}' is no longer watched: {b.reason}"
        for b in defined.broken
        if b.name not in broken
    ]
    return notes
