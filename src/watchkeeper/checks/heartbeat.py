"""``heartbeat``: a passive check. A cron job or a backup script pings Watchkeeper (the
Healthchecks ping API), and the monitor is down when a ping is late, a run reported failure,
or a run started and never finished.

    - {name: nightly-backup, heartbeat: {period: 1d, grace: 1h}}
    - name: invoices
      heartbeat: {cron: "30 2 * * *", tz: Europe/Berlin, grace: 30m}

Pings (``wk heartbeat url NAME`` prints the address; the UUID is the secret, no token):

    /ping/<uuid>              success (GET, POST or HEAD; a POST body is kept, capped)
    /ping/<uuid>/start        a run started (its duration is measured to the next finish)
    /ping/<uuid>/fail         a run failed
    /ping/<uuid>/<exit code>  0 is success, anything else a failure
    ?rid=<id>                 pairs start and finish of overlapping runs

Each UUID may send ``ping_burst`` pings at once, then ``ping_rate`` a second (a token
bucket); a ping past that is answered 429 but still counted: it changes the state at once
and is stored later without its body, coalesced with the others past the limit.

When the next ping is due: after ``period`` since the last success, or at the next time the
``cron`` expression fires after it (in ``tz``, so 02:30 stays 02:30 local across daylight
saving). Late means at due plus ``grace`` or after; a run started and not finished is late
at its start plus ``grace``. The check reads the ping state in memory; it runs on the
monitor's interval, at once after each ping, and at the moment it turns late (``late_at``),
so a missed ping takes the monitor down then, not at the next interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import field_validator, model_validator

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.units import Duration, Size, format_duration, format_size

MAX_BODY = 100 * 1024
"""The hard cap on ``keep_body``: a ping is a signal, its body a log excerpt."""


class HeartbeatSettings(CheckSettings):
    period: Duration | None = None
    cron: str | None = None
    tz: str = "UTC"
    grace: Duration = 3600.0
    uuid: str | None = None
    """A fixed ping UUID (default: one made at first start and kept in the store)."""
    keep_body: Size = 10 * 1024
    """The most of each ping's body kept, in bytes (0: none; at most MAX_BODY)."""
    ping_burst: int = 20
    """Pings one UUID may send at once before the rate limit answers 429."""
    ping_rate: float = 2.0
    """Pings a second one UUID may send after its burst (the bucket refills at this rate)."""

    @field_validator("keep_body")
    @classmethod
    def _body_cap(cls, value: int) -> int:
        if not 0 <= value <= MAX_BODY:
            raise ValueError(f"keep_body must be between 0 and {format_size(MAX_BODY)}")
        return value

    @field_validator("ping_burst")
    @classmethod
    def _burst(cls, value: int) -> int:
        if not 1 <= value <= 100_000:
            raise ValueError("ping_burst must be between 1 and 100000")
        return value

    @field_validator("ping_rate")
    @classmethod
    def _rate(cls, value: float) -> float:
        if not 0.01 <= value <= 100_000:
            raise ValueError("ping_rate must be between 0.01 and 100000 (pings a second)")
        return value

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
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"bad cron expression '{value}' (e.g. '0 3 * * *')")
        return value

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        import uuid

        if value is not None:
            try:
                return str(uuid.UUID(value))
            except ValueError:
                raise ValueError(f"'{value}' is not a UUID") from None
        return value

    @model_validator(mode="after")
    def _schedule(self) -> HeartbeatSettings:
        if (self.period is None) == (self.cron is None):
            raise ValueError("give period (e.g. 1d) or cron (e.g. '0 3 * * *'), one of them")
        if self.period is not None and self.period < 1:
            raise ValueError("period must be at least 1s")
        return self

    def host_key(self) -> str:
        return "heartbeat"

    def target(self) -> str:
        schedule = (
            f"every {format_duration(self.period)}"
            if self.period is not None
            else f"cron '{self.cron}' {self.tz}"
        )
        return f"{schedule}, grace {format_duration(self.grace)}"


# -- the state of one heartbeat and its judgement: pure ------------------------------------
@dataclass
class Beats:
    """What the pings of one monitor have said (rebuilt from the store at start)."""

    since: float
    """When watching began (the first run is due from here)."""
    last_success: float | None = None
    last_ping: float | None = None
    last_failure: float | None = None
    exit_code: int | None = None
    last_duration: float | None = None
    starts: dict[str, float] = field(default_factory=dict)
    """Open runs: rid ("" without one) → when they started."""

    def record(
        self, kind: str, at: float, rid: str = "", exit_code: int | None = None
    ) -> float | None:
        """Apply a ping; returns the run's duration when it finishes a started run."""
        self.last_ping = at
        if kind == "start":
            self.starts[rid] = at
            return None
        started = self.starts.pop(rid, None)
        if started is None and not rid and self.starts:  # finish of the newest open run
            newest = max(self.starts, key=lambda key: self.starts[key])
            started = self.starts.pop(newest)
        duration = at - started if started is not None else None
        if duration is not None:
            self.last_duration = duration
        if is_failure(kind, exit_code):
            self.last_failure = at
            self.exit_code = exit_code if kind == "exit" else None
        else:
            self.last_success = at
            self.exit_code = 0 if kind == "exit" else None
        return duration


def is_failure(kind: str, exit_code: int | None) -> bool:
    """Does a ping of ``kind`` report a failed run?"""
    return kind == "fail" or (kind == "exit" and exit_code not in (None, 0))


def next_due(settings: HeartbeatSettings, after: float) -> float:
    """When the ping after one at ``after`` is due."""
    if settings.period is not None:
        return after + settings.period
    assert settings.cron is not None
    # on wall-clock time: a job at 02:30 runs once on the night 02:30 happens twice (and at
    # the hour after the gap when it does not happen at all), so neither is a missed ping
    zone = ZoneInfo(settings.tz)
    wall = datetime.fromtimestamp(after, zone).replace(tzinfo=None)
    following: datetime = croniter(settings.cron, wall).get_next(datetime)
    return following.replace(tzinfo=zone, fold=0).timestamp()


def late_at(settings: HeartbeatSettings, beats: Beats) -> float:
    """The moment the heartbeat is down for want of a ping if none comes first: the next
    ping's due time plus the grace, or sooner, the oldest open run's start plus the grace.
    ``judge`` says late from this moment on (the engine runs the check then)."""
    late = _due(settings, beats) + settings.grace
    started = _oldest_start(beats)
    return late if started is None else min(late, started + settings.grace)


def _due(settings: HeartbeatSettings, beats: Beats) -> float:
    return next_due(settings, beats.last_success if beats.last_success is not None else beats.since)


def _oldest_start(beats: Beats) -> float | None:
    """When the run open longest started (the first to outlive the grace)."""
    return min(beats.starts.values()) if beats.starts else None


def judge(
    settings: HeartbeatSettings, beats: Beats, now: float
) -> tuple[str | None, dict[str, object]]:
    """(why the monitor is down, or None; facts). Late from ``late_at`` on."""
    facts: dict[str, object] = {}
    if beats.last_ping is not None:
        facts["heartbeat.last_ping_ago"] = max(0.0, now - beats.last_ping)
    if beats.last_duration is not None:
        facts["heartbeat.duration"] = beats.last_duration
    if beats.exit_code is not None:
        facts["heartbeat.exit_code"] = beats.exit_code
    grace = settings.grace
    failed_last = beats.last_failure is not None and (
        beats.last_success is None or beats.last_failure > beats.last_success
    )
    if failed_last:
        assert beats.last_failure is not None
        code = f" (exit code {beats.exit_code})" if beats.exit_code else ""
        return (
            f"the job reported failure{code} {format_duration(now - beats.last_failure)} ago",
            facts,
        )
    started = _oldest_start(beats)
    if started is not None and now >= started + grace:
        return (
            f"a run started {format_duration(now - started)} ago and has not finished "
            f"(grace {format_duration(grace)})",
            facts,
        )
    due = _due(settings, beats)
    facts["heartbeat.due_in"] = due - now
    if now >= due + grace:
        last = (
            f"last ping {format_duration(now - beats.last_success)} ago"
            if beats.last_success is not None
            else "no ping yet"
        )
        return (
            f"late: {last}, due {format_duration(now - due)} ago (grace {format_duration(grace)})",
            facts,
        )
    return None, facts


class Registry:
    """Every heartbeat monitor's Beats, by monitor and by ping UUID (shared by the web's ping
    handler, which writes, and the check, which reads).

    ``unwatched``: outside the engine (``wk check``), the note a monitor without ping state
    gets instead of a failure: nothing here takes its pings, so there is nothing to judge.
    In the engine (None) a monitor without state is one that was refused its UUID: down."""

    def __init__(self, unwatched: str | None = None) -> None:
        self.beats: dict[str, Beats] = {}
        self.by_uuid: dict[str, str] = {}
        self.unwatched = unwatched

    def add(self, monitor: str, uuid: str, beats: Beats) -> None:
        self.beats[monitor] = beats
        self.by_uuid[uuid] = monitor


async def probe(settings: HeartbeatSettings, attempt: Attempt) -> None:
    registry: Registry = attempt.resources.shared("heartbeat.registry", Registry)
    beats = registry.beats.get(attempt.monitor)
    if beats is None:
        if registry.unwatched is not None:
            attempt.warn(registry.unwatched)
        else:
            attempt.fail("no ping state (the monitor is not registered yet)")
        return
    why, facts = judge(settings, beats, time.time())
    attempt.observation.facts.update(facts)
    if why is not None:
        attempt.fail(why)


CHECK = CheckKind(
    name="heartbeat",
    settings=HeartbeatSettings,
    subjects={
        "heartbeat.last_ping_ago": ValueType.DURATION,
        "heartbeat.duration": ValueType.DURATION,
        "heartbeat.exit_code": ValueType.NUMBER,
        "heartbeat.due_in": ValueType.DURATION,
    },
    probe=probe,
    confirm=1,
)
