"""What a chaos experiment says, validated: the ``experiments:`` section of the config, or a
file of its own for ``wk chaos run FILE``.

    experiments:
      - name: redis-slow
        description: Redis answers 800 ms late; the API must fall back and stay fast
        proxies:                                  # created on the fault proxy if missing
          - {name: redis, listen: 127.0.0.1:26379, upstream: 127.0.0.1:6379}
        steady_state:
          monitors: [api]                         # these stay up
          slos: [api-availability]                # these SLOs do not burn
          expect: {api: ["latency < 300ms"]}      # and these hold on every check
        method:
          - toxic: {proxy: redis, type: latency, attributes: {latency: 800}}
            duration: 20s
        fail_fast:                                # circuit breakers: quick errors, then back
          - {monitor: api, latency: 300ms, recover_within: 10s}
        interval: 1s                              # check the monitors this often meanwhile
        after: 15s                                # and watch this long after the rollback

A step is a toxic on a named proxy (any Toxiproxy API: ``wk chaos proxy`` or Toxiproxy itself),
or ``stop``/``pause`` of a process the experiment started (``processes:``). Each step's fault
is rolled back when its ``duration`` ends, and every fault is rolled back when the experiment
ends however it ends.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchkeeper.chaos.errors import BadInput
from watchkeeper.units import Duration

# the proxy's own address and toxic rules are imported where they check (loading a config
# must not import asyncio: ``wk validate`` stays a plain, quick program)

DEFAULT_API = "http://127.0.0.1:8474"
MAX_STEPS = 50
MAX_DURATION = 24 * 3600.0

Name = Annotated[str, Field(min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProxySpec(_Strict):
    """A proxy the experiment needs on the fault proxy (created if missing, removed after)."""

    name: Name
    listen: str
    upstream: str

    @model_validator(mode="after")
    def _addresses(self) -> ProxySpec:
        from watchkeeper.chaos.proxy import check_name, split_address

        try:
            check_name(self.name)
            split_address(self.listen, "listen")
            split_address(self.upstream, "upstream")
        except BadInput as exc:
            raise ValueError(exc.message) from None
        return self


class ProcessSpec(_Strict):
    """A process the experiment starts (and may stop or pause): the app under test."""

    name: Name
    command: tuple[str, ...] = Field(min_length=1, max_length=200)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    ready: str | None = None
    """``host:port`` that accepts connections once the process is ready."""
    ready_timeout: Duration = Field(30.0, gt=0, le=600)
    stop_timeout: Duration = Field(10.0, gt=0, le=600)
    """How long a stopped process has after SIGTERM before SIGKILL."""

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            import shlex

            return shlex.split(value)
        return value

    @field_validator("ready")
    @classmethod
    def _ready(cls, value: str | None) -> str | None:
        from watchkeeper.chaos.proxy import split_address

        if value is not None:
            try:
                split_address(value, "ready")
            except BadInput as exc:
                raise ValueError(exc.message) from None
        return value


class ToxicSpec(_Strict):
    """One toxic, as Toxiproxy's API takes it, on a proxy named here or on the fault proxy."""

    proxy: Name
    type: str
    name: str | None = None
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(1.0, ge=0, le=1)
    attributes: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> ToxicSpec:
        from watchkeeper.chaos.toxics import parse_toxic

        try:
            parse_toxic(self.body())
        except BadInput as exc:
            raise ValueError(exc.message) from None
        return self

    def body(self) -> dict[str, object]:
        """The API body that adds it."""
        return {
            "name": self.toxic_name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

    @property
    def toxic_name(self) -> str:
        return self.name or f"wk-chaos-{self.type}-{self.stream}"


class Step(_Strict):
    """One fault of the method, held for ``duration`` then rolled back."""

    toxic: ToxicSpec | None = None
    stop: Name | None = None
    pause: Name | None = None
    duration: Duration = Field(gt=0, le=MAX_DURATION)

    @model_validator(mode="after")
    def _one(self) -> Step:
        given = [k for k in ("toxic", "stop", "pause") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a step is one of toxic:, stop: or pause:, with a duration:")
        return self

    @property
    def action(self) -> str:
        if self.toxic is not None:
            return "toxic"
        return "stop" if self.stop is not None else "pause"

    def describe(self) -> str:
        if self.toxic is not None:
            shown = ", ".join(f"{k}={v}" for k, v in self.toxic.attributes.items())
            extra = f" ({shown})" if shown else ""
            share = "" if self.toxic.toxicity >= 1 else f", toxicity {self.toxic.toxicity:g}"
            return (
                f"{self.toxic.type}{extra} on proxy {self.toxic.proxy} {self.toxic.stream}{share}"
            )
        return f"{self.action} process {self.stop or self.pause}"


class SteadyState(_Strict):
    """The hypothesis, in Watchkeeper's own terms."""

    monitors: tuple[Name, ...] = ()
    slos: tuple[Name, ...] = ()
    expect: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("monitors", "slos", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("expect", mode="before")
    @classmethod
    def _texts(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @property
    def watched(self) -> tuple[str, ...]:
        """Every monitor the hypothesis names, in order, once."""
        return tuple(dict.fromkeys((*self.monitors, *self.slos, *self.expect)))


class FailFast(_Strict):
    """A circuit breaker's promise: while the fault lasts, every check of ``monitor`` ends
    (passing or failing) within ``latency``; after the rollback it is up again within
    ``recover_within``."""

    monitor: Name
    latency: Duration = Field(gt=0, le=3600)
    recover_within: Duration = Field(30.0, gt=0, le=MAX_DURATION)


class Experiment(_Strict):
    name: Name
    description: str | None = Field(None, max_length=2000)
    proxy_api: str = DEFAULT_API
    proxies: tuple[ProxySpec, ...] = Field((), max_length=50)
    processes: tuple[ProcessSpec, ...] = Field((), max_length=20)
    steady_state: SteadyState
    method: tuple[Step, ...] = Field(max_length=MAX_STEPS)
    fail_fast: tuple[FailFast, ...] = ()
    interval: Duration | None = Field(None, gt=0, le=3600)
    """Check the hypothesis' monitors this often during the experiment (default: their own
    interval, so the detection time is what ``wk up`` would take)."""
    before: Duration | None = Field(None, gt=0, le=3600)
    """How long to wait for the steady state before the method (default: three checks)."""
    after: Duration = Field(30.0, ge=0, le=MAX_DURATION)

    @field_validator("proxy_api")
    @classmethod
    def _api(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"proxy_api '{value}' is not an http:// URL of a Toxiproxy API")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _references(self) -> Experiment:
        if not self.steady_state.watched:
            raise ValueError("steady_state names no monitor, SLO or expectation to judge")
        if len({p.name for p in self.processes}) != len(self.processes):
            raise ValueError("two processes share a name")
        if len({p.name for p in self.proxies}) != len(self.proxies):
            raise ValueError("two proxies share a name")
        return self

    @property
    def monitors(self) -> tuple[str, ...]:
        """Every monitor the experiment watches: the hypothesis' and the breakers'."""
        return tuple(
            dict.fromkeys((*self.steady_state.watched, *(f.monitor for f in self.fail_fast)))
        )
