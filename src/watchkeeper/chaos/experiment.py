"""Running one chaos experiment: check the steady state, apply the method's faults one step at
a time, watch, roll back, and say what happened.

The monitors are watched by Watchkeeper's own engine, in this process, on a scratch store: the
same checks, expectations, state machine (``confirm``/``recover``), SLO burn rates and alert
planner as ``wk up``, so "how fast would we have noticed" and "who would have been told" are
answered by the code that would have noticed and told. Notifications go to dry-run notifiers
that only record them, unless ``send`` asks for the routes themselves.

Rollback is in ``finally``: the end of the method, an error, Ctrl-C (the CLI turns SIGINT and
SIGTERM into a cancellation) all take every fault down. A crash cannot run ``finally``; the
journal (``journal.py``) covers it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchkeeper.alerts.incidents import routes_for, severity_of
from watchkeeper.chaos.client import ToxiproxyClient
from watchkeeper.chaos.errors import ChaosError
from watchkeeper.chaos.journal import Journal, process_started, roll_back
from watchkeeper.chaos.plan import Experiment, Step
from watchkeeper.chaos.processes import Managed
from watchkeeper.checks.base import Attempt
from watchkeeper.config import Config, Monitor
from watchkeeper.config.experiments import compile_extra
from watchkeeper.expect import evaluate
from watchkeeper.model import Result, State, Transition
from watchkeeper.notify.base import AlertItem, Message, Notifier
from watchkeeper.state import MonitorStatus

log = logging.getLogger("watchkeeper.chaos")

SLO_BURNING = "slo.burn_5m < 14.4"
"""An SLO of the hypothesis does not burn: its 5-minute burn rate stays under the page-level
factor of the SRE Workbook's fast-burn alert."""
SETTLE = 2.0
"""Seconds past the longest check the steady-state wait allows, beyond three checks."""


# -- what is recorded ------------------------------------------------------------------------
@dataclass
class Seen:
    """One check of one monitor, as the experiment saw it."""

    monitor: str
    started: float
    """When the check began (which phase of the experiment it belongs to)."""
    at: float
    """When its result was known."""
    ok: bool
    latency: float | None
    reason: str | None


@dataclass
class Change:
    monitor: str
    at: float
    """When Watchkeeper knew (the result that changed the state came in)."""
    before: str
    after: str
    reason: str | None


@dataclass
class Broken:
    """A hypothesis expectation that failed on one check."""

    monitor: str
    at: float
    failure: str
    expectation: str = ""
    """The expectation as written (what failures are grouped by)."""


@dataclass
class Told:
    """A notification that went out (or, dry, would have)."""

    route: str
    event: str
    title: str
    monitors: list[str]
    at: float
    after_run: bool = False
    """Planned when the run was over: its route's grouping wait ended after the experiment."""


@dataclass
class StepRun:
    step: Step
    started: float
    ended: float | None = None
    applied: bool = False


@dataclass
class Record:
    """Everything one run saw, in wall-clock seconds."""

    experiment: Experiment
    started: float
    seen: list[Seen] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    broken: list[Broken] = field(default_factory=list)
    told: list[Told] = field(default_factory=list)
    steps: list[StepRun] = field(default_factory=list)
    steady_before: bool | None = None
    """Did the steady state hold before the method (None: never judged)."""
    not_steady: list[str] = field(default_factory=list)
    """Why it did not."""
    ended: float | None = None
    interrupted: bool = False
    error: str | None = None
    rollback: list[str] = field(default_factory=list)
    send: bool = False
    intervals: dict[str, float] = field(default_factory=dict)
    confirm: dict[str, int] = field(default_factory=dict)
    routes: dict[str, dict[str, float]] = field(default_factory=dict)
    """Each monitor's routes at its severity when down, with their grouping waits."""


# -- the dry-run notifier --------------------------------------------------------------------
class DryRun:
    """A route's notifier that records each Message instead of sending it."""

    refresh_every: float | None = None

    def __init__(self, record: Record, late: Callable[[], bool]) -> None:
        self._record = record
        self._late = late

    async def send(self, message: Message) -> None:
        self._record.told.append(
            Told(
                message.route,
                message.event,
                message.title,
                [item.monitor for item in message.items],
                time.time(),
                self._late(),
            )
        )

    async def refresh(self, firing: Sequence[AlertItem]) -> None:
        return None

    async def aclose(self) -> None:
        return None


class Recording:
    """A real route's notifier, recording what it sends too (``--send``)."""

    def __init__(self, inner: Notifier, dry: DryRun) -> None:
        self._inner = inner
        self._dry = dry
        self.refresh_every = inner.refresh_every

    async def send(self, message: Message) -> None:
        await self._inner.send(message)
        await self._dry.send(message)

    async def refresh(self, firing: Sequence[AlertItem]) -> None:
        await self._inner.refresh(firing)

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- the run ---------------------------------------------------------------------------------
class Run:
    def __init__(
        self,
        experiment: Experiment,
        config: Config,
        journal: Journal,
        *,
        send: bool = False,
        echo: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.experiment = experiment
        self.config = config
        self.journal = journal
        self.echo = echo
        self.record = Record(experiment, time.time(), send=send)
        self.processes: dict[str, Managed] = {}
        self._client: ToxiproxyClient | None = None
        self._shift = 0.0
        self._engine: Any = None
        self._store: Any = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    # the clock alerting plans with: shifted at the end so grouping waits run out
    def _clock(self) -> float:
        return time.time() + self._shift

    async def run(self) -> Record:
        """The whole experiment; never raises ChaosError (it ends up in ``record.error``) and
        always rolls back. Cancellation (Ctrl-C) rolls back, marks the record interrupted and
        is re-raised."""
        record = self.record
        experiment = self.experiment
        leftover = self.journal.leftover()  # JournalBusy propagates: nothing of ours is up
        if leftover is not None:
            lines = await roll_back(leftover)
            self.journal.finish()
            for line in lines:
                self.echo(f"rolled back what an earlier run left: {line}")
        self.journal.begin(experiment.name, experiment.proxy_api)
        self._scratch = tempfile.TemporaryDirectory(prefix="wk-chaos-")
        try:
            await self._prepare()
            await self._steady_before()
            if record.steady_before:
                await self._method()
                await self._watch(experiment.after, "after")
                await self._flush()
        except asyncio.CancelledError:
            record.interrupted = True
            raise
        except ChaosError as exc:
            record.error = exc.message
        finally:
            record.ended = time.time()
            await asyncio.shield(self._teardown())
        return record

    # -- set up ------------------------------------------------------------------------------
    async def _prepare(self) -> None:
        experiment = self.experiment
        assert self._scratch is not None
        scratch = Path(self._scratch.name)
        for spec in experiment.processes:
            managed = Managed(spec, scratch)
            self.processes[spec.name] = managed
            self.echo(f"starting process {spec.name}: {' '.join(spec.command)}")
            await managed.start()
            self._journal_process(managed)
        if experiment.proxies or any(s.toxic for s in experiment.method):
            self._client = ToxiproxyClient(experiment.proxy_api)
            existing = await self._client.proxies()
            for proxy in experiment.proxies:
                held = existing.get(proxy.name)
                if held is not None:
                    if held.get("upstream") != proxy.upstream:
                        raise ChaosError(
                            f"proxy {proxy.name} exists on {experiment.proxy_api} with "
                            f"upstream {held.get('upstream')}, not {proxy.upstream}"
                        )
                    continue
                fault = {"kind": "proxy", "proxy": proxy.name}
                self.journal.add(fault)
                await self._client.create_proxy(proxy.name, proxy.listen, proxy.upstream)
                self.echo(f"created proxy {proxy.name}: {proxy.listen} -> {proxy.upstream}")
                existing[proxy.name] = {"name": proxy.name}
            for step in experiment.method:
                if step.toxic is not None and step.toxic.proxy not in existing:
                    raise ChaosError(
                        f"no proxy named {step.toxic.proxy} on {experiment.proxy_api} "
                        "(list it under proxies: to have it created)"
                    )
        await self._start_engine(scratch)

    def _journal_process(self, managed: Managed) -> None:
        pid = managed.pid
        if pid is None:
            return
        self.journal.drop_process(managed.spec.name)
        self.journal.add(
            {
                "kind": "process",
                "name": managed.spec.name,
                "pid": pid,
                "created": process_started(pid),
            }
        )

    def _monitors(self) -> list[Monitor]:
        """The experiment's monitors, what their SLOs watch and what they depend on, checked
        at the experiment's interval (never below a monitor's timeout)."""
        wanted = list(self.experiment.monitors)
        chosen: dict[str, Monitor] = {}
        while wanted:
            name = wanted.pop()
            monitor = self.config.monitor(name)
            if monitor is None or name in chosen:
                continue
            chosen[name] = monitor
            wanted.extend(monitor.depends_on)
            if monitor.kind == "slo":
                wanted.append(str(getattr(monitor.settings, "monitor", "")))
        interval = self.experiment.interval
        extras = dict(self.experiment.steady_state.expect)
        for slo in self.experiment.steady_state.slos:
            # an SLO monitor pages only after 5 minutes of history (its noise rule), longer
            # than most experiments: one is judged on its 5-minute burn rate instead
            extras[slo] = (*extras.get(slo, ()), SLO_BURNING)
        out: list[Monitor] = []
        for monitor in chosen.values():
            if interval is not None:
                every = max(interval, monitor.timeout) if monitor.kind != "slo" else interval
                monitor = dataclasses.replace(
                    monitor,
                    interval=every,
                    retry_interval=min(monitor.retry_interval, every),
                )
            if monitor.name in extras:
                monitor = self._judged(monitor, compile_extra(None, extras[monitor.name], monitor))
            monitor = dataclasses.replace(monitor, paused=False, locations=("local",))
            out.append(monitor)
            self.record.intervals[monitor.name] = monitor.interval
            self.record.confirm[monitor.name] = monitor.confirm
            named = routes_for(monitor, self.config.routes, severity_of(monitor, "down"))
            self.record.routes[monitor.name] = {
                r.name: r.group_wait for r in self.config.routes if r.name in named
            }
        return out

    def _judged(self, monitor: Monitor, extras: Sequence[Any]) -> Monitor:
        """The monitor, its probe wrapped so that the hypothesis' own expectations are judged
        on each Observation (apart from the monitor's: they change no state, tell no one)."""
        probe = monitor.check.probe
        record = self.record
        secrets = self.config.secrets
        name = monitor.name

        async def judged(settings: Any, attempt: Attempt) -> None:
            started = time.perf_counter()
            await probe(settings, attempt)
            observation = attempt.observation
            if observation.error is not None:
                return  # the check failed: the monitor's own result says so
            if observation.phases.total is None:
                observation.phases.total = time.perf_counter() - started
            now = time.time()
            for expectation in extras:
                failure = evaluate(expectation, observation, secrets)
                if failure is not None:
                    record.broken.append(Broken(name, now, failure, expectation.text))

        return dataclasses.replace(monitor, check=dataclasses.replace(monitor.check, probe=judged))

    async def _start_engine(self, scratch: Path) -> None:
        from watchkeeper.config.models import ClusterConfig
        from watchkeeper.engine.service import Engine
        from watchkeeper.store import Store

        monitors = self._monitors()
        config = dataclasses.replace(
            self.config,
            storage=f"sqlite:///{scratch / 'experiment.db'}",
            monitors=tuple(monitors),
            cluster=ClusterConfig(),
            rum=None,
            projects=(),
            status_pages=(),
        )
        store = await asyncio.to_thread(Store.open, config.storage)
        self._store = store
        dry = DryRun(self.record, lambda: self._shift > 0)
        notifiers: dict[str, Notifier] = {}
        for route in config.routes:
            if self.record.send:
                from watchkeeper.alerts.service import Alerting

                notifiers[route.name] = Recording(
                    Alerting.notifier_for(route, config.server.public_url), dry
                )
            else:
                notifiers[route.name] = dry
        engine = Engine(
            config,
            store,
            startup_spread=0.0,
            rollup_every=3600.0,
            prune_every=3600.0,
            alerting={"notifiers": notifiers, "clock": self._clock, "tick": 0.2},
        )
        engine.result_listeners.append(self._on_result)
        engine.listeners.append(self._on_change)
        self._engine = engine
        await engine.start()

    def _on_result(self, monitor: Monitor, result: Result) -> None:
        self.record.seen.append(
            Seen(
                monitor.name,
                result.started_at,
                time.time(),
                result.ok,
                result.latency,
                result.reason,
            )
        )

    def _on_change(self, monitor: Monitor, change: Transition, status: MonitorStatus) -> None:
        self.record.changes.append(
            Change(
                monitor.name,
                time.time(),
                change.from_state.value,
                change.to_state.value,
                change.reason,
            )
        )

    # -- the phases --------------------------------------------------------------------------
    def _state(self, name: str) -> State:
        status = self._engine.status.get(name)
        return State.UNKNOWN if status is None else status.state

    async def _steady_before(self) -> None:
        experiment = self.experiment
        record = self.record
        watched = experiment.steady_state.watched
        longest = max(
            (self.record.intervals.get(n, 30.0) for n in watched), default=30.0
        ) * 3 + max((m.timeout for m in self._engine.monitors.values()), default=10.0)
        wait = experiment.before if experiment.before is not None else longest + SETTLE
        self.echo(f"checking the steady state ({', '.join(watched)}) for up to {wait:g} s")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            states = {n: self._state(n) for n in watched}
            if all(s is State.UP for s in states.values()):
                break
            await asyncio.sleep(0.1)
        reasons: list[str] = []
        for name in watched:
            state = self._state(name)
            if state is not State.UP:
                status = self._engine.status.get(name)
                why = status.reason if status is not None and status.reason else None
                if state is State.UNKNOWN:
                    last = next((s for s in reversed(record.seen) if s.monitor == name), None)
                    why = why or (last.reason if last else "no check finished")
                reasons.append(f"{name} is {state.value}" + (f": {why}" if why else ""))
        for broken in record.broken:
            reasons.append(f"{broken.monitor}: {broken.failure}")
        record.steady_before = not reasons
        record.not_steady = reasons
        if reasons:
            self.echo("the steady state does not hold before the experiment; nothing injected")

    async def _method(self) -> None:
        for step in self.experiment.method:
            run = StepRun(step, time.time())
            self.record.steps.append(run)
            self.echo(f"injecting: {step.describe()} for {step.duration:g} s")
            try:
                await self._apply(step)
                run.applied = True
                run.started = time.time()
                await asyncio.sleep(step.duration)
            finally:
                if run.applied:
                    await asyncio.shield(self._undo(step))
                    run.ended = time.time()
                    self.echo(f"rolled back: {step.describe()}")

    async def _apply(self, step: Step) -> None:
        if step.toxic is not None:
            assert self._client is not None
            fault = {"kind": "toxic", "proxy": step.toxic.proxy, "toxic": step.toxic.toxic_name}
            self.journal.add(fault)
            await self._client.add_toxic(step.toxic.proxy, step.toxic.body())
        elif step.stop is not None:
            await self.processes[step.stop].stop()
        elif step.pause is not None:
            self.processes[step.pause].pause()

    async def _undo(self, step: Step) -> None:
        if step.toxic is not None:
            assert self._client is not None
            fault = {"kind": "toxic", "proxy": step.toxic.proxy, "toxic": step.toxic.toxic_name}
            await self._client.remove_toxic(step.toxic.proxy, step.toxic.toxic_name)
            self.journal.remove(fault)
        elif step.stop is not None:
            managed = self.processes[step.stop]
            await managed.start()
            self._journal_process(managed)
        elif step.pause is not None:
            self.processes[step.pause].resume()

    async def _watch(self, seconds: float, label: str) -> None:
        if seconds > 0:
            self.echo(f"watching for {seconds:g} s {label} the rollback")
            await asyncio.sleep(seconds)

    async def _flush(self) -> None:
        """Let the routes' grouping waits run out now: what would have gone out after the
        experiment ends is planned (and recorded) too."""
        alerting = self._engine.alerting
        waits = [r.group_wait for r in self.config.routes] or [0.0]
        self._shift = max(waits) + 121.0  # past the planner's longest deferral too
        for _ in range(3):
            await alerting.plan_once()
            await alerting.deliverer.step()
            await asyncio.sleep(0)

    # -- tear down ---------------------------------------------------------------------------
    async def _teardown(self) -> None:
        record = self.record
        lines: list[str] = []
        if self._engine is not None:
            try:
                await self._engine.stop(grace=2.0, flush_timeout=10.0)
            except Exception:  # the report matters more than a clean stop
                log.exception("stopping the experiment's engine")
        if self._store is not None:
            await asyncio.to_thread(self._store.close)
        for managed in self.processes.values():
            if managed.running:
                await managed.stop()
                lines.append(f"stopped process {managed.spec.name}")
            self.journal.drop_process(managed.spec.name)
        try:
            remaining = dict(self.journal.data) if self.journal.data else None
            if remaining is not None:
                # what the method left: its steps undo themselves; proxies and processes here
                lines += await roll_back(remaining)
            self.journal.finish()
        except ChaosError as exc:
            lines.append(
                f"rollback failed: {exc.message} (the journal {self.journal.path} is kept)"
            )
        finally:
            if self._client is not None:
                await self._client.aclose()
            if self._scratch is not None:
                self._scratch.cleanup()
        record.rollback = lines
