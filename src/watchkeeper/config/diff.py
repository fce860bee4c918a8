"""What changed between two validated configs: the report of a live reload (``wk reload``,
``SIGHUP``, ``wk up --watch``), and the settings a running ``wk up`` cannot take without a
restart.

Things are matched by their identity — a monitor or route by name, a status page by path, a
maintenance window by name — and compared by value, never by where they are written: moving a
monitor down the file changes its line, not the monitor. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from watchkeeper.config.models import Config, Monitor, Route

T = TypeVar("T")

RESTART_SETTINGS: tuple[tuple[str, Callable[[Config], object]], ...] = (
    ("storage", lambda c: c.storage),
    ("server.listen", lambda c: c.server.listen),
    ("server.trusted_proxies", lambda c: c.server.trusted_proxies),
    ("server.connections_per_address", lambda c: c.server.connections_per_address),
    (
        "server.public_url (http ↔ https: Secure cookies)",
        lambda c: (c.server.public_url or "").split(":")[0],
    ),
    ("engine.concurrency", lambda c: c.engine.concurrency),
    ("engine.per_host", lambda c: c.engine.per_host),
    ("engine.resolvers", lambda c: c.engine.resolvers),
)
"""Settings a running ``wk up`` took at start and keeps: the store and the socket it
opened, its connection limits, whether its cookies are Secure, the scheduler's limits and
the resolver its checks share. A reload reports their change as "needs a restart"."""

LIVE_SETTINGS: tuple[tuple[str, Callable[[Config], object]], ...] = (
    ("defaults", lambda c: c.defaults),
    ("retention", lambda c: c.retention),
    ("engine.flush_timeout", lambda c: c.engine.flush_timeout),
    ("server.public_url", lambda c: c.server.public_url),
    ("projects", lambda c: c.projects),
    ("rum", lambda c: c.rum),
)
"""Settings a reload applies (defaults show as the monitors they change)."""

_MONITOR_FIELD_NAMES = {
    "expectations": "expect",
    "warnings": "warn",
    "depends_on": "depends_on",
}
_MONITOR_SHADOW_FIELDS = frozenset(
    {"line", "check", "wants", "host_key", "expect_texts", "warn_texts", "target"}
)
"""Fields that follow from others (shown through those) or say where, not what."""


@dataclass(frozen=True, slots=True)
class Changed:
    """One thing kept under its name whose definition changed, and what of it."""

    name: str
    fields: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name} ({', '.join(self.fields)})" if self.fields else self.name


@dataclass(frozen=True, slots=True)
class Section:
    """Added, removed and changed things of one kind (monitors, routes, ...)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[Changed, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [{"name": c.name, "fields": list(c.fields)} for c in self.changed],
        }

    def summary(self, noun: str) -> str:
        """``monitors: +db, -old, ~api (interval)``; empty when nothing changed."""
        if not self:
            return ""
        parts = [
            *(f"+{name}" for name in self.added),
            *(f"-{name}" for name in self.removed),
            *(f"~{change}" for change in self.changed),
        ]
        return f"{noun}: {', '.join(parts)}"


@dataclass(frozen=True, slots=True)
class ConfigChanges:
    """Everything a reload from ``old`` to ``new`` changes, and what it cannot."""

    monitors: Section = Section()
    routes: Section = Section()
    status_pages: Section = Section()
    maintenance: Section = Section()
    settings: tuple[str, ...] = ()
    """Live settings that changed (applied)."""
    restart: tuple[str, ...] = field(default_factory=tuple)
    """Settings that changed but need a restart (the running values stay)."""

    def __bool__(self) -> bool:
        return bool(
            self.monitors
            or self.routes
            or self.status_pages
            or self.maintenance
            or self.settings
            or self.restart
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "monitors": self.monitors.to_json(),
            "routes": self.routes.to_json(),
            "status_pages": self.status_pages.to_json(),
            "maintenance": self.maintenance.to_json(),
            "settings": list(self.settings),
            "restart": list(self.restart),
        }

    def lines(self) -> list[str]:
        """One line per kind of thing that changed (none: nothing did)."""
        found = [
            self.monitors.summary("monitors"),
            self.routes.summary("routes"),
            self.status_pages.summary("status pages"),
            self.maintenance.summary("maintenance"),
        ]
        if self.settings:
            found.append(f"settings: {', '.join(self.settings)}")
        if self.restart:
            found.append(f"needs a restart (running values kept): {', '.join(self.restart)}")
        return [line for line in found if line]


def diff_configs(old: Config, new: Config) -> ConfigChanges:
    """What reloading ``new`` over a running ``old`` changes."""
    return ConfigChanges(
        monitors=diff_monitors(old.monitors, new.monitors),
        routes=_section(
            {r.name: r for r in old.routes}, {r.name: r for r in new.routes}, _route_fields
        ),
        status_pages=_section(
            {p.path: p for p in old.status_pages},
            {p.path: p for p in new.status_pages},
            lambda a, b: _model_fields(a, b),
        ),
        maintenance=_section(
            {w.name: w for w in old.maintenance},
            {w.name: w for w in new.maintenance},
            lambda a, b: _dataclass_fields(a, b, frozenset()),
        ),
        settings=tuple(name for name, read in LIVE_SETTINGS if read(old) != read(new)),
        restart=tuple(name for name, read in RESTART_SETTINGS if read(old) != read(new)),
    )


def with_running_settings(old: Config, new: Config) -> Config:
    """``new`` with the settings that need a restart set back to the running ``old``
    values (what a reload applies: they are reported, and otherwise ignored)."""
    server = new.server.model_copy(
        update={
            "listen": old.server.listen,
            "trusted_proxies": old.server.trusted_proxies,
            "connections_per_address": old.server.connections_per_address,
        }
    )
    engine = new.engine.model_copy(
        update={
            "concurrency": old.engine.concurrency,
            "per_host": old.engine.per_host,
            "resolvers": old.engine.resolvers,
        }
    )
    return dataclasses.replace(new, storage=old.storage, server=server, engine=engine)


def diff_monitors(old: Iterable[Monitor], new: Iterable[Monitor]) -> Section:
    """Monitors added, removed and changed (by name), in the new file's order."""
    return _section({m.name: m for m in old}, {m.name: m for m in new}, monitor_changes)


def monitor_changes(old: Monitor, new: Monitor) -> tuple[str, ...]:
    """The keys of a monitor that differ, as a user writes them (``interval``, ``expect``,
    ``http`` for its target and check settings, ``kind``); empty: the same monitor."""
    if old.kind != new.kind:
        return ("kind",)
    found = []
    for name in _dataclass_fields(old, new, _MONITOR_SHADOW_FIELDS):
        found.append(new.kind if name == "settings" else _MONITOR_FIELD_NAMES.get(name, name))
    return tuple(found)


def same_route(old: Route, new: Route) -> bool:
    """The same route, wherever it is written."""
    return not _route_fields(old, new)


def _route_fields(old: Route, new: Route) -> tuple[str, ...]:
    if old.kind != new.kind:
        return ("kind",)
    return tuple(
        new.kind if name == "settings" else name
        for name in _dataclass_fields(old, new, frozenset({"line", "notifier", "target"}))
    )


def _section(
    old: Mapping[Hashable, T],
    new: Mapping[Hashable, T],
    changes: Callable[[T, T], tuple[str, ...]],
) -> Section:
    changed = []
    for key, item in new.items():
        before = old.get(key)
        if before is None:
            continue
        fields = changes(before, item)
        if fields:
            changed.append(Changed(str(key), fields))
    return Section(
        added=tuple(str(key) for key in new if key not in old),
        removed=tuple(str(key) for key in old if key not in new),
        changed=tuple(changed),
    )


def _dataclass_fields(old: Any, new: Any, ignored: frozenset[str]) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(old)
        if f.name not in ignored and getattr(old, f.name) != getattr(new, f.name)
    )


def _model_fields(old: Any, new: Any) -> tuple[str, ...]:
    return tuple(
        name for name in type(old).model_fields if getattr(old, name) != getattr(new, name)
    )
