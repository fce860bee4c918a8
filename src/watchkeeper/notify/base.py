"""What every notifier provides, and the Message it delivers.

A notifier kind is one module exposing ``NOTIFIER = NotifierKind(...)``: its settings model
(the value under its key in a route, e.g. ``webhook: https://...`` or the mapping form) and a
factory that builds a Notifier for one route. ``send`` delivers one Message or raises
TransportError — ``permanent=True`` when retrying cannot help (a 4xx, a bad URL), which marks
the route broken instead of retrying for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

S = TypeVar("S", bound="NotifierSettings")


class NotifierSettings(BaseModel):
    """Base of every notifier kind's settings; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shorthand_field: ClassVar[str] = "url"
    """The field the value under the kind key fills: ``webhook: https://...``."""

    def target(self) -> str:
        """Where messages go, for tables, logs and the API: ``scheme://host`` at most, never
        a path, query or userinfo (where a notification URL keeps its token)."""
        return ""


class TransportError(Exception):
    """A delivery failed; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


ERROR_FIELDS = ("issue", "count", "users", "release", "environment")
"""The fields of an error alert only (left out of a monitor's alert's JSON)."""


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One monitor's part of a notification, as it was when the event happened."""

    monitor: str
    state: str
    previous_state: str
    at: float
    """When the state changed (epoch seconds)."""
    since: float
    """When the incident began."""
    kind: str = ""
    target: str = ""
    reason: str | None = None
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    cause: str | None = None
    """The monitor this one depends on that was down (this one is down because of it)."""
    affected: tuple[str, ...] = ()
    """Monitors that depend on this one and are down with it."""
    runbook: str | None = None
    url: str | None = None
    incident: int | None = None
    severity: str = "critical"
    tags: tuple[str, ...] = ()
    event: str = "firing"
    """``firing``, ``resolved``, ``reminder`` or ``escalation``; for an error alert ``new``,
    ``regression``, ``spike`` or ``flood`` (more new issues in an hour than are told)."""
    duration: float | None = None
    """For a resolution: how long the incident lasted."""
    issue: int | None = None
    """An error alert (``event`` ``new``, ``regression``, ``spike`` or ``flood``): the
    issue's id; the fields below are set for those only (``monitor`` is then the project)."""
    count: int | None = None
    """The issue's events in all (a spike: in the minute)."""
    users: int | None = None
    release: str | None = None
    environment: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("failures", "warnings", "affected", "tags"):
            data[key] = list(data[key])
        if self.issue is None:  # a monitor's alert: the body it always had
            for key in ERROR_FIELDS:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertItem:
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        for key in ("failures", "warnings", "affected", "tags"):
            fields[key] = tuple(fields.get(key) or ())
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Message:
    """A notification for one route: one or more alert items, rendered."""

    route: str
    dedup_key: str
    event: str
    """``firing``, ``resolved``, ``mixed`` (a group holding both), ``reminder``,
    ``escalation`` or ``test``."""
    title: str
    text: str
    items: tuple[AlertItem, ...] = ()
    created_at: float = 0.0
    dashboard: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "dedup_key": self.dedup_key,
            "event": self.event,
            "title": self.title,
            "text": self.text,
            "items": [item.to_json() for item in self.items],
            "created_at": self.created_at,
            "dashboard": self.dashboard,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(
            route=data["route"],
            dedup_key=data["dedup_key"],
            event=data["event"],
            title=data["title"],
            text=data["text"],
            items=tuple(AlertItem.from_json(item) for item in data.get("items", ())),
            created_at=float(data.get("created_at") or 0.0),
            dashboard=data.get("dashboard"),
        )


class Notifier(Protocol):
    """Delivers Messages for one route."""

    refresh_every: float | None
    """Seconds between ``refresh`` calls (Alertmanager wants firing alerts re-sent)."""

    async def send(self, message: Message) -> None: ...

    async def refresh(self, firing: Sequence[AlertItem]) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """What a notifier may want to know about its route besides its settings."""

    name: str
    timeout: float = 10.0
    dashboard: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NotifierKind(Generic[S]):
    """The registry entry of one kind."""

    name: str
    settings: type[S]
    create: Callable[[S, RouteInfo], Notifier]
