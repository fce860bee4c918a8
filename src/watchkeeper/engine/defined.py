"""Monitors defined through the API: read back from the store when ``wk up`` starts (a
definition that no longer holds is left out and reported, never fatal), and kept in one
transaction with what belongs to them when the API defines one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper import checks
from watchkeeper.config import Config, Monitor, load_api_monitor
from watchkeeper.errors import ConfigError
from watchkeeper.store import Store, definitions, pings

if TYPE_CHECKING:
    from watchkeeper.engine.heartbeats import Claim, Heartbeats


@dataclass(frozen=True, slots=True)
class Broken:
    """A stored definition that is not watched: why, and its kind if it names one."""

    name: str
    reason: str
    kind: str = ""


@dataclass(slots=True)
class Defined:
    """What the store's definitions come to against today's config."""

    monitors: list[Monitor] = field(default_factory=list)
    broken: list[Broken] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)
    """Names the config's monitors took over (the config's is watched)."""

    def lines(self) -> list[str]:
        """One line for each definition left out, to print once at start-up."""
        return [
            *(
                f"API monitor '{name}' is shadowed by the config's monitor of that name; "
                "the config's is watched"
                for name in self.shadowed
            ),
            *(
                f"skipping monitor '{b.name}' defined through the API: {b.reason} "
                f"(PUT a valid one or DELETE /api/v1/monitors/{b.name})"
                for b in self.broken
            ),
        ]


class ApiDefinitions:
    """A running ``wk up``'s view of its API-defined monitors beyond the engine's own: which
    stored definitions are broken, and a lock so definitions change one at a time."""

    def __init__(self, broken: Iterable[Broken] = ()) -> None:
        self.broken: dict[str, Broken] = {b.name: b for b in broken}
        self.changing = asyncio.Lock()


def api_monitors(store: Store, config: Config) -> Defined:
    """The stored definitions validated against today's config. One is left out (and
    listed) when it is shadowed by a config monitor of the same name, or no longer valid: a
    route or parent it named was removed from the config, it breaks a rule made since, its
    heartbeat UUID is another watched monitor's. Reads only."""
    with store.read() as connection:
        found = definitions.api_monitors(connection)
        held = pings.holders(connection)
    stored_uuid = {name: uuid for uuid, name in held.items()}
    claimed: dict[str, str] = {}
    for monitor in config.monitors:
        uuid = _uuid_of(monitor, stored_uuid)
        if uuid is not None:
            claimed.setdefault(uuid, monitor.name)
    defined = Defined()
    for definition in found:
        name = definition.name
        if config.monitor(name) is not None:
            defined.shadowed.append(name)
            continue
        if definition.unreadable is not None:
            defined.broken.append(Broken(name, definition.unreadable))
            continue
        try:
            monitor = load_api_monitor(
                definition.spec, config, [*config.monitors, *defined.monitors]
            )
        except ConfigError as exc:
            reasons = [line.removeprefix("api: ") for line in exc.lines()]
            defined.broken.append(Broken(name, "; ".join(reasons), _kind(definition.spec)))
            continue
        uuid = _uuid_of(monitor, stored_uuid)
        if uuid is not None and claimed.get(uuid, name) != name:
            reason = f"heartbeat uuid {uuid} is already used by monitor '{claimed[uuid]}'"
            defined.broken.append(Broken(name, reason, monitor.kind))
            continue
        if uuid is not None:
            claimed[uuid] = name
        defined.monitors.append(monitor)
    return defined


def keep(
    store: Store,
    heartbeats: Heartbeats,
    monitor: Monitor,
    spec: Mapping[str, Any],
    by: str | None,
    now: float,
) -> Claim | None:
    """Store a monitor defined through the API: its definition, its monitors row and (a
    heartbeat) its ping UUID in one transaction, all or nothing. Blocking: call it in a
    thread, then ``watch`` with what it returns on the event loop (the heartbeat registry is
    the loop's). Raises ``pings.UuidTaken`` when a watched monitor has its UUID, StoreError."""
    row = (monitor.name, monitor.kind, monitor.target)
    with store.registering([row]) as (connection, ids):
        definitions.put_api_monitor(connection, monitor.name, dict(spec), by, now)
        if monitor.kind == "heartbeat":
            return heartbeats.claim(connection, monitor, ids[monitor.name], now)
    return None


def watch(heartbeats: Heartbeats, monitor: Monitor, claim: Claim | None) -> None:
    """Take pings for a kept heartbeat monitor (or none, if it is no heartbeat any more). On
    the event loop: a ping is never handled halfway through the registry changing."""
    if claim is not None:
        heartbeats.register(claim)
    else:  # it may have been a heartbeat until now
        heartbeats.forget(monitor.name)


def uuid_clash(heartbeats: Heartbeats, monitor: Monitor) -> str | None:
    """Why ``monitor`` cannot have the ping UUID it declares (another watched monitor has
    it), or None."""
    uuid = monitor.heartbeat_uuid
    holder = heartbeats.registry.by_uuid.get(uuid) if uuid is not None else None
    if holder is None or holder == monitor.name:
        return None
    return str(pings.UuidTaken(uuid or "", holder))


def remove(store: Store, name: str) -> bool:
    """Delete a stored definition (its history and ping UUID stay). Blocking."""
    with store.transaction() as connection:
        return definitions.delete_api_monitor(connection, name)


def _uuid_of(monitor: Monitor, stored: Mapping[str, str]) -> str | None:
    """The ping UUID a heartbeat monitor will have: the one it declares, else its stored
    one (None: it gets a new one)."""
    if monitor.kind != "heartbeat":
        return None
    return monitor.heartbeat_uuid or stored.get(monitor.name)


def _kind(spec: Any) -> str:
    if isinstance(spec, dict):
        return next((key for key in spec if key in checks.KINDS), "")
    return ""
