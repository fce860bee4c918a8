"""Validated configuration: the pydantic pieces of ``watchkeeper.yaml`` and the Monitor they
compile into. Durations are float seconds, sizes int bytes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchkeeper.checks.base import CheckKind, CheckSettings
from watchkeeper.expect import Expectation
from watchkeeper.units import Duration

DEFAULT_PORT = 8844


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    """Values every monitor inherits unless it sets its own."""

    interval: Duration = 30.0
    timeout: Duration = 10.0
    confirm: int = Field(2, ge=1, le=100)
    recover: int = Field(2, ge=1, le=100)
    retry_interval: Duration = 10.0
    tags: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    public: bool = False


class MonitorFields(_Strict):
    """The keys a monitor may carry besides its kind key; None means "from defaults"."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    confirm: int | None = Field(None, ge=1, le=100)
    recover: int | None = Field(None, ge=1, le=100)
    retry_interval: Duration | None = None
    expect: tuple[str, ...] = ()
    tags: tuple[str, ...] | None = None
    public: bool | None = None
    paused: bool = False
    depends_on: tuple[str, ...] = ()
    notify: tuple[str, ...] | None = None

    @field_validator("expect", "tags", "depends_on", "notify", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if value != value.strip() or any(ch in value for ch in "\n\r\t/"):
            raise ValueError("a name may not contain '/', tabs, newlines or edge spaces")
        return value


class ServerConfig(_Strict):
    listen: str = f"127.0.0.1:{DEFAULT_PORT}"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_listen(value)
        return value

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]


def split_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:8844`` / ``[::1]:8844`` / ``:8844`` → (host, port); ValueError otherwise."""
    host, sep, port_text = value.rpartition(":")
    if not sep:
        raise ValueError(f"listen '{value}' needs host:port, e.g. 127.0.0.1:{DEFAULT_PORT}")
    host = host.strip("[]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"listen '{value}': bad port '{port_text}'")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EngineConfig(_Strict):
    """Scheduler limits: checks in flight at once, and per target host."""

    concurrency: int = Field(1000, ge=1, le=100_000)
    per_host: int = Field(100, ge=1, le=100_000)
    flush_timeout: Duration = 30.0
    """At shutdown, how long to keep trying to write queued results to an unreachable store."""
    resolvers: tuple[str, ...] = ()
    """DNS servers (``ip`` or ``ip:port``) that resolve targets; default: /etc/resolv.conf."""

    @field_validator("resolvers")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for server in value:
            host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            try:
                ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                raise ValueError(
                    f"resolver '{server}' must be an IP address (with :port)"
                ) from None
            if port and not (port.isdigit() and 0 < int(port) < 65536):
                raise ValueError(f"resolver '{server}': bad port '{port}'")
        return value


class RetentionConfig(_Strict):
    """How long each resolution of history is kept."""

    raw: Duration = 14 * 86400.0
    minute: Duration = 90 * 86400.0
    hour: Duration = 3 * 365 * 86400.0

    @model_validator(mode="after")
    def _coarser_lives_longer(self) -> RetentionConfig:
        if self.raw < 2 * 86400:
            raise ValueError("raw must be at least 2d: summaries up to two days read raw results")
        if self.minute < self.raw:
            raise ValueError("minute must be at least as long as raw")
        if self.hour < self.minute:
            raise ValueError("hour must be at least as long as minute")
        return self


class RouteConfig(BaseModel):
    """A notification route (``notify:`` entries). Delivery arrives with the alerts work; the
    names are validated now so monitors can refer to them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Monitor:
    """One monitor, validated and compiled: ready for the engine."""

    name: str
    kind: str
    check: CheckKind[Any]
    settings: CheckSettings
    interval: float
    timeout: float
    confirm: int
    recover: int
    retry_interval: float
    expectations: tuple[Expectation, ...]
    tags: tuple[str, ...] = ()
    public: bool = False
    paused: bool = False
    depends_on: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    description: str | None = None
    target: str = ""
    line: int | None = None
    wants: frozenset[str] = frozenset()
    host_key: str = ""
    """The peer this monitor talks to, for per-host limits (from its settings, once)."""
    expect_texts: tuple[str, ...] = ()
    """The expectations as written, secrets masked: what is shown."""


@dataclass(frozen=True, slots=True)
class Config:
    """A whole validated ``watchkeeper.yaml``."""

    path: str
    storage: str
    server: ServerConfig
    engine: EngineConfig
    defaults: Defaults
    retention: RetentionConfig
    routes: tuple[RouteConfig, ...]
    monitors: tuple[Monitor, ...]
    secrets: frozenset[str] = field(default_factory=frozenset)

    def monitor(self, name: str) -> Monitor | None:
        return next((m for m in self.monitors if m.name == name), None)
