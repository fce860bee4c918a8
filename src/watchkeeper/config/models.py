"""Validated configuration: the pydantic pieces of ``watchkeeper.yaml`` and the Monitor they
compile into. Durations are float seconds, sizes int bytes."""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchkeeper.checks._browser_options import BrowserOptions
from watchkeeper.checks.base import CheckKind, CheckSettings
from watchkeeper.expect import Expectation
from watchkeeper.notify.base import NotifierKind, NotifierSettings
from watchkeeper.rum.settings import RumConfig
from watchkeeper.units import Duration

if TYPE_CHECKING:
    from watchkeeper.chaos.plan import Experiment
    from watchkeeper.config.projects import ProjectConfig

DEFAULT_PORT = 8844


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Severity = Literal["critical", "warning", "info"]


class Escalation(_Strict):
    """Notify more routes when a problem stays unacknowledged for ``after``."""

    after: Duration
    to: tuple[str, ...] = Field(min_length=1)

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Flapping(_Strict):
    """``transitions`` state changes within ``window`` make a monitor flapping."""

    transitions: int = Field(5, ge=2, le=1000)
    window: Duration = 600.0


MAX_ANOMALY_SERIES = 8


def anomaly_value(value: object) -> object:
    """``anomaly:`` as written: on/off, or the series to watch (a name or a list of names),
    checked here so a mistake is one line."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
        if value.strip().lower() in word:
            return word[value.strip().lower()]
        value = [value]
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected on, off or a list of series names, not {value!r}")
    names: list[str] = []
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a series name is text like latency or pg.connections, not {name!r}")
        if "," in name or " " in name.strip():
            raise ValueError(
                f"'{name}' is not one series name: write a list, [latency, pg.connections]"
            )
        names.append("latency" if name.strip().lower() == "latency" else name.strip())
    if not names:
        raise ValueError("name at least one series (latency, or one the check observes), or off")
    if len(names) > MAX_ANOMALY_SERIES:
        raise ValueError(f"at most {MAX_ANOMALY_SERIES} series per monitor, not {len(names)}")
    return tuple(names)


LOCAL = "local"
"""The location of the nodes themselves (``wk up``); every other location is an agent's."""
LOCATION_RULE = "1-40 lower-case letters, digits and - (like eu-west)"
_LOCATION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def location_problem(location: str) -> str | None:
    """Why ``location`` cannot name a location, or None."""
    if (
        not 1 <= len(location) <= 40
        or not set(location) <= _LOCATION_CHARS
        or location.startswith("-")
    ):
        return f"location '{location[:60]}' is not valid: use {LOCATION_RULE}"
    return None


def locations_value(value: object) -> object:
    """``locations: eu-west`` or a list; each checked, none twice."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        seen: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError("locations are names like eu-west")
            problem = location_problem(item)
            if problem is not None:
                raise ValueError(problem)
            if item in seen:
                raise ValueError(f"location '{item}' is listed twice")
            seen.append(item)
        if not seen:
            raise ValueError("locations needs at least one location (local: the nodes)")
        return tuple(seen)
    return value


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
    severity: Severity = "critical"
    repeat: Duration | None = None
    escalate: Escalation | None = None
    flapping: Flapping | Literal[False] = Flapping()
    anomaly: bool | tuple[str, ...] = False
    locations: tuple[str, ...] = (LOCAL,)
    """Where each monitor is checked from: ``local`` (the nodes) and agents' locations."""
    quorum: int | None = Field(None, ge=1, le=50)
    """Failing locations that make a monitor down (fewer: degraded); None: a majority."""

    @field_validator("anomaly", mode="before")
    @classmethod
    def _anomaly(cls, value: object) -> object:
        return anomaly_value(value)

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, value: object) -> object:
        return locations_value(value)


class Instance(_Strict):
    """The machine a monitor watches, as its provider sells it: priced from the catalog."""

    provider: str = Field(min_length=1, max_length=40)
    type: str = Field(min_length=1, max_length=80)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        """``instance: aws/m6i.large`` is ``{provider: aws, type: m6i.large}``."""
        if isinstance(value, str):
            provider, slash, type_ = value.partition("/")
            if not slash or not provider.strip() or not type_.strip():
                raise ValueError(f"'{value}' is not provider/type (e.g. aws/m6i.large)")
            return {"provider": provider.strip(), "type": type_.strip()}
        return value


MACHINE_KINDS = ("host", "prometheus", "postgres", "redis", "mysql")
"""Kinds whose monitors may say what their machine costs (``instance:``, ``cost:``)."""
_PER = {"month": 1.0, "mo": 1.0, "year": 1 / 12, "yr": 1 / 12, "hour": 730.0, "h": 730.0}


def monthly_cost(value: object) -> object:
    """``cost: 84/month`` (or ``84``, ``$84/month``, ``1008/year``, ``0.115/hour``; 730 hours
    a month) as US dollars a month."""
    if isinstance(value, bool):
        raise ValueError("a cost is an amount a month, e.g. 84/month")
    if isinstance(value, int | float):
        amount, per = float(value), 1.0
    elif isinstance(value, str):
        text = value.strip().lower().removeprefix("$").replace("usd", "").strip()
        number, slash, unit = text.partition("/")
        if slash and unit.strip() not in _PER:
            raise ValueError(f"'{value}': per {unit.strip()}? write /month, /year or /hour")
        try:
            amount = float(number.strip().removesuffix("$"))
        except ValueError:
            raise ValueError(f"'{value}' is not an amount like 84/month") from None
        per = _PER[unit.strip()] if slash else 1.0
    else:
        return value
    if not amount >= 0 or amount == float("inf"):
        raise ValueError(f"'{value}' is not an amount of zero or more")
    return round(amount * per, 4)


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
    warn: tuple[str, ...] = ()
    """Soft expectations: when one fails the monitor is degraded, not down."""
    runbook: str | None = None
    severity: Severity | None = None
    repeat: Duration | Literal[False] | None = None
    escalate: Escalation | Literal[False] | None = None
    flapping: Flapping | Literal[False] | None = None
    anomaly: bool | tuple[str, ...] | None = None
    """Watch the latency for anomalies (``anomaly: on``), or the series named
    (``anomaly: [latency, pg.connections]``): one degrades the monitor."""
    locations: tuple[str, ...] | None = None
    quorum: int | None = Field(None, ge=1, le=50)
    instance: Instance | None = None
    """The machine it watches (host, prometheus of a node_exporter, a database's machine):
    ``wk cost`` prices it from the catalog and right-sizes it."""
    cost: float | None = None
    """What the machine costs, US dollars a month (``84/month``): instead of the catalog's
    price, or beside ``instance`` (a discount)."""

    @field_validator("anomaly", mode="before")
    @classmethod
    def _anomaly(cls, value: object) -> object:
        return anomaly_value(value)

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, value: object) -> object:
        return locations_value(value)

    @field_validator("cost", mode="before")
    @classmethod
    def _cost(cls, value: object) -> object:
        return monthly_cost(value)

    @field_validator("expect", "warn", "tags", "depends_on", "notify", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


NAME_PUNCTUATION = " ._-:()[]@+"
NAME_RULE = "letters and digits (any alphabet), spaces between words, and . _ - : ( ) [ ] @ +"
"""What a monitor name may hold (config file and API alike). Names end up in URLs, headers,
pages, notifications, metrics labels and the store: one small set that is safe in all."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a monitor's name, or None (see ``NAME_RULE``)."""
    for character in name:
        if character in NAME_PUNCTUATION or _is_letter_or_digit(character):
            continue
        visible = character.isprintable() and unicodedata.category(character)[0] not in "MZ"
        shown = f"'{character}' " if visible else ""
        return f"{shown}(U+{ord(character):04X}) cannot be in a name: use {NAME_RULE}"
    if name != name.strip(" "):
        return f"a name cannot start or end with a space: use {NAME_RULE}"
    return None


def _is_letter_or_digit(character: str) -> bool:
    """Letters, digits and the marks some alphabets write letters with (not the selectors
    that turn a character into an emoji)."""
    category = unicodedata.category(character)
    if category[0] in "LN":
        return True
    variation_selector = 0xFE00 <= ord(character) <= 0xFE0F or 0xE0100 <= ord(character) <= 0xE01EF
    return category in ("Mn", "Mc") and not variation_selector


class ServerConfig(_Strict):
    listen: str = f"127.0.0.1:{DEFAULT_PORT}"
    public_url: str | None = None
    """The address people reach the dashboard at, for links in notifications."""
    trusted_proxies: tuple[str, ...] = ()
    """Reverse proxies (addresses or networks) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed; from anyone else those headers are ignored, so a
    client cannot choose the address its failed logins are counted against."""
    connections_per_address: int = Field(256, ge=1, le=100_000)
    """Open connections one client address may hold (an IPv6 client: its /64); more are
    closed at once. Trusted proxies are exempt."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: '{item}' is not an address or network (e.g. 10.0.0.5, "
                    "10.0.0.0/8, ::1)"
                ) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"public_url must start with http:// or https://, got '{value}'")
        return value.rstrip("/") if value else value

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
    startup_spread: Duration = Field(60.0, ge=0.0, le=3600.0)
    """At start, each monitor's first check comes at random within this (or its interval,
    if shorter): soon, but not every check at once. Checks a reload starts are spread over
    at most this too."""
    browser: BrowserOptions = BrowserOptions()
    """The Chromium pool of the ``browser`` monitors."""

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


class ClusterConfig(_Strict):
    """Several ``wk up`` nodes on one PostgreSQL store (``cluster: {enabled: true}``): the
    monitors are shared out through leases in the store, each checked by one node."""

    enabled: bool = False
    name: str | None = Field(None, min_length=1, max_length=100)
    """This node's name (shown by ``wk nodes``); default: the machine's host name."""
    beat: Duration = Field(3.0, ge=0.2, le=60.0)
    """Seconds between two syncs with the store (heartbeat, renew, rebalance)."""
    ttl: Duration = Field(10.0, ge=1.0, le=600.0)
    """How long a lease lasts without renewal: a dead node's monitors move after this."""

    @model_validator(mode="after")
    def _beats_within_ttl(self) -> ClusterConfig:
        if self.beat * 2 > self.ttl:
            raise ValueError("ttl must be at least two beats (a lease must survive one lost)")
        return self


class AgentsConfig(_Strict):
    """How the nodes judge the ``wk agent`` processes that report to them (``agents:``)."""

    silent_after: Duration = Field(30.0, ge=1.0, le=86400.0)
    """An agent not heard from for this long is silent: ``wk nodes``, ``/api/v1/agents`` and
    the Nodes page say so, and its location is unavailable there."""
    slack: Duration = Field(15.0, ge=0.0, le=3600.0)
    """A location's newest result speaks for it for two intervals plus the timeout plus
    this (room for an agent's batching and the push's way to the node); older, the location
    is unavailable and counts neither as failing nor as well."""


class RetentionConfig(_Strict):
    """How long each resolution of history is kept."""

    raw: Duration = 14 * 86400.0
    minute: Duration = 90 * 86400.0
    hour: Duration = 3 * 365 * 86400.0
    activity: Duration = Field(400 * 86400.0, ge=86400.0)
    """The activity log (who changed what): at least a day."""

    @model_validator(mode="after")
    def _coarser_lives_longer(self) -> RetentionConfig:
        if self.raw < 2 * 86400:
            raise ValueError("raw must be at least 2d: summaries up to two days read raw results")
        if self.minute < self.raw:
            raise ValueError("minute must be at least as long as raw")
        if self.hour < self.minute:
            raise ValueError("hour must be at least as long as minute")
        return self


class RouteFields(_Strict):
    """The keys every route has besides its notifier kind key and that kind's own keys."""

    name: str = Field(min_length=1, max_length=200)
    group_wait: Duration = 30.0
    """Changes on this route within this time go out as one notification."""
    tags: tuple[str, ...] = ()
    """Monitors with any of these tags notify this route too (besides their ``notify:``)."""
    severity: tuple[Severity, ...] = ()
    """Only these severities reach the route (empty: all)."""
    timeout: Duration = 10.0
    retry_max: Duration = Field(default=60.0, ge=1.0)
    """The longest wait between two delivery attempts (they double from 2 s up to this)."""
    title: str | None = None
    """A Jinja2 template for the title, replacing the default."""
    body: str | None = None
    """A Jinja2 template for the text, replacing the default."""

    @field_validator("tags", "severity", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class Route:
    """A notification route, validated: where and how notifications go."""

    name: str
    kind: str
    notifier: NotifierKind[Any]
    settings: NotifierSettings
    group_wait: float = 30.0
    tags: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    timeout: float = 10.0
    retry_max: float = 60.0
    title: str | None = None
    body: str | None = None
    target: str = ""
    line: int | None = None

    def accepts(self, severity: str) -> bool:
        return not self.severities or severity in self.severities


class StatusComponent(_Strict):
    """One line of a public status page: the monitors (by name or tag) behind it."""

    name: str = Field(min_length=1, max_length=200)
    monitors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: str | None = Field(None, max_length=1000)

    @field_validator("monitors", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _something(self) -> StatusComponent:
        if not self.monitors and not self.tags:
            raise ValueError("a component needs monitors or tags")
        return self


class StatusPage(_Strict):
    """A public status page (``status_pages:``): anyone may read it, so it shows states,
    uptime and incident times only, never targets, hostnames or error texts."""

    path: str = "/status"
    title: str = Field("Service status", min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    components: tuple[StatusComponent, ...] = ()

    @field_validator("path")
    @classmethod
    def _under_status(cls, value: str) -> str:
        value = value.rstrip("/") or "/status"
        if value != "/status" and not value.startswith("/status/"):
            raise ValueError(f"a status page path is /status or /status/<name>, got '{value}'")
        tail = value.removeprefix("/status").removeprefix("/")
        if tail and not all(ch.isalnum() or ch in "-_" for ch in tail):
            raise ValueError("a status page name has letters, digits, - and _ only")
        if "/" in tail:
            raise ValueError("a status page path has one level: /status/<name>")
        return value


class MaintenanceFields(_Strict):
    """A maintenance window: one-off (``start`` + ``end`` or ``duration``) or recurring
    (``cron`` + ``duration``, in ``tz``); for some ``monitors``/``tags``, or everything."""

    name: str = Field(min_length=1)
    start: datetime | None = None
    end: datetime | None = None
    duration: Duration | None = None
    cron: str | None = None
    tz: str = "UTC"
    monitors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    reason: str | None = None

    @field_validator("monitors", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (e.g. Europe/Berlin)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from croniter import croniter

            if not croniter.is_valid(value):
                raise ValueError(f"bad cron expression '{value}' (e.g. '0 2 * * SUN')")
        return value

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceFields:
        if self.cron is not None:
            if self.duration is None:
                raise ValueError("a recurring window needs cron and duration")
            if self.start or self.end:
                raise ValueError("give cron + duration, or start + end/duration, not both")
        else:
            if self.start is None:
                raise ValueError("a window needs start (with end or duration) or cron")
            if (self.end is None) == (self.duration is None):
                raise ValueError("give end or duration (one of them)")
        return self


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A validated maintenance window (times as epoch seconds)."""

    name: str
    start: float | None = None
    end: float | None = None
    cron: str | None = None
    duration: float | None = None
    tz: str = "UTC"
    monitors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    reason: str | None = None

    def covers(self, monitor: str, tags: tuple[str, ...]) -> bool:
        """Does this window apply to the monitor (a window naming nothing covers all)?"""
        if not self.monitors and not self.tags:
            return True
        return monitor in self.monitors or any(tag in self.tags for tag in tags)


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
    warnings: tuple[Expectation, ...] = ()
    """Soft expectations (``warn:``): failing one makes the monitor degraded, not down."""
    warn_texts: tuple[str, ...] = ()
    runbook: str | None = None
    severity: str = "critical"
    repeat: float | None = None
    escalate: Escalation | None = None
    flapping: Flapping | None = None
    anomaly: tuple[str, ...] = ()
    """The series online drift detection watches (``("latency",)`` for ``anomaly: on``): an
    anomaly makes the monitor degraded."""
    locations: tuple[str, ...] = (LOCAL,)
    """Where it is checked from: ``local`` (the nodes) and agents' locations."""
    quorum: int = 1
    """Locations failing at once that make it down; fewer make it degraded."""
    instance: tuple[str, str] | None = None
    """``(provider, type)`` of the machine it watches (``instance:``), as the catalog spells
    them."""
    monthly_cost: float | None = None
    """What its machine costs, US dollars a month, as the config says (``cost:``)."""
    spec: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)
    """Its ``monitors:`` entry as loaded (secrets substituted): what an agent is sent."""

    @property
    def remote(self) -> tuple[str, ...]:
        """The agents' locations it is checked from (not ``local``)."""
        return tuple(loc for loc in self.locations if loc != LOCAL)

    @property
    def checked_here(self) -> bool:
        """Do the nodes themselves check it?"""
        return LOCAL in self.locations

    @property
    def heartbeat_uuid(self) -> str | None:
        """The ping UUID a heartbeat monitor declares (``uuid:``); None if it declares none
        (it gets one at first start) or is not a heartbeat."""
        wanted = getattr(self.settings, "uuid", None) if self.kind == "heartbeat" else None
        return wanted if isinstance(wanted, str) else None


@dataclass(frozen=True, slots=True)
class Config:
    """A whole validated ``watchkeeper.yaml``."""

    path: str
    storage: str
    server: ServerConfig
    engine: EngineConfig
    defaults: Defaults
    retention: RetentionConfig
    routes: tuple[Route, ...]
    monitors: tuple[Monitor, ...]
    secrets: frozenset[str] = field(default_factory=frozenset)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    status_pages: tuple[StatusPage, ...] = ()
    """As configured; with none, ``/status`` shows every public monitor."""
    files: tuple[str, ...] = ()
    """What it was read from: the file itself, then each ``${file:...}`` it read (absolute
    paths; what ``wk up --watch`` looks at)."""
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    projects: tuple[ProjectConfig, ...] = ()
    """Error-tracking projects of the config (``projects:``); more live in the store."""
    rum: RumConfig | None = None
    """Real-user monitoring (``/rum.js``, ``POST /rum``); None: off."""
    agents: AgentsConfig = field(default_factory=AgentsConfig)
    experiments: tuple[Experiment, ...] = ()
    """Chaos experiments (``experiments:``), run by ``wk chaos run NAME``."""

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)

    def monitor(self, name: str) -> Monitor | None:
        return next((m for m in self.monitors if m.name == name), None)
