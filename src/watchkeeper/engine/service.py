"""The main job: scheduler → check → Result → state machine → store and alerting, plus
store upkeep.

``Engine`` is the composition the ``wk up`` command runs. It keeps each monitor's live status
in memory (the web layer reads it from here, never by querying the store), writes every Result
through the one batched writer, hands every Transition to alerting (which records it with its
incident in one transaction), restores states after a restart, and rolls up and prunes the
store in the background.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from watchkeeper import activity
from watchkeeper.activity import ActivityLog
from watchkeeper.alerts.service import Alerting
from watchkeeper.checks import Resources
from watchkeeper.config import Config, Monitor
from watchkeeper.engine.anomalies import Anomalies
from watchkeeper.engine.defined import ApiDefinitions, Broken
from watchkeeper.engine.drills import DrillHistory, first_due
from watchkeeper.engine.drills import sweep as sweep_drills
from watchkeeper.engine.heartbeats import Heartbeats
from watchkeeper.engine.ledger import Ledger
from watchkeeper.engine.quorum import Quorum
from watchkeeper.engine.scheduler import Scheduler
from watchkeeper.engine.sharing import Sharing
from watchkeeper.engine.slos import Slos
from watchkeeper.errortrack.service import ErrorTracker
from watchkeeper.lanes import STORE_UPKEEP
from watchkeeper.model import Result, State, StoredState, Transition
from watchkeeper.rum.collector import Collector
from watchkeeper.state import FlapPolicy, MonitorStatus, advance, restore
from watchkeeper.store import Store, StoreWriter

log = logging.getLogger("watchkeeper.engine")

RELOAD_STARTS = 100
"""Checks per second a reload starts for the monitors it adds or changes, at most."""
_BACKLOG = 5000
"""Results waiting for the store beyond which rollups wait: they would seal buckets early."""


@functools.lru_cache(maxsize=256)
def _flap_policy(transitions: int, window: float) -> FlapPolicy:
    """One policy per distinct setting, not one per check: monitors share a handful."""
    return FlapPolicy(transitions, window)


TransitionListener = Callable[[Monitor, Transition, MonitorStatus], None]
ResultListener = Callable[[Monitor, Result], None]


class Engine:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        rollup_every: float = 60.0,
        prune_every: float = 600.0,
        startup_spread: float = 60.0,
        alerting: dict[str, Any] | None = None,
        extra_monitors: tuple[Monitor, ...] = (),
        broken_monitors: tuple[Broken, ...] = (),
    ) -> None:
        """``extra_monitors``: monitors defined outside the config (through the API);
        ``broken_monitors``: stored API definitions left out (not watched), and why."""
        self.config = config
        self.store = store
        self.monitors: dict[str, Monitor] = {m.name: m for m in config.monitors}
        for monitor in extra_monitors:
            self.monitors.setdefault(monitor.name, monitor)
        self.definitions = ApiDefinitions(broken_monitors)
        self.ledger = Ledger()
        self._waiters: dict[str, list[tuple[asyncio.Future[Result], float]]] = {}
        self.status: dict[str, MonitorStatus] = {}
        self.listeners: list[TransitionListener] = []
        self.result_listeners: list[ResultListener] = []
        self.started_at = time.time()
        self._rollup_every = rollup_every
        self._prune_every = prune_every
        self._startup_spread = startup_spread
        self._resources = Resources(
            nameservers=config.engine.resolvers, settings={"browser": config.engine.browser}
        )
        self.heartbeats = Heartbeats(store, self._resources)
        self.slos = Slos(store, self._resources)
        self.anomalies = Anomalies()
        self.quorum = Quorum(config.agents.slack)
        self.generation = 0
        """Grows whenever a monitor is added, replaced or removed (what agents are sent is
        built again only then)."""
        self.errors = ErrorTracker(store, config)
        """Sentry-compatible error tracking: projects, ingest, issues (``errortrack``)."""
        self.drills = DrillHistory(store)
        self._resources.shared("drill.history", lambda: self.drills)
        self.rum = Collector(config.rum, store)
        """Real-user monitoring: the beacons ``/rum`` takes, summed and written."""
        self.activity = ActivityLog(store, secrets=lambda: self.config.secrets)
        """Who changed what: the web's writes, logins, token use, reloads (``activity``)."""
        self._resources.shared("rum.vitals", lambda: self.rum)
        self._drills_last: dict[str, float] = {}
        self.sharing: Sharing | None = None
        if config.cluster.enabled:
            self.sharing = Sharing(
                config.cluster, store, self.monitors, self.stored_statuses, self.status
            )
            self.sharing.take = self._take_handed
        self.writer: StoreWriter | None = None
        self.scheduler: Scheduler | None = None
        self.alerting = Alerting(
            config, store, self.status.get, **(alerting or {}), leads=self._leads
        )
        self.alerting.set_monitors(self.monitors.values())
        self.errors.on_alert = self.alerting.poke
        self._tasks: list[asyncio.Task[None]] = []

    def _fence(self) -> tuple[str, Mapping[str, int]] | None:
        """This node and the lease tokens it checks under (a cluster's result fence)."""
        if self.sharing is None:
            return None
        return self.sharing.node.id, dict(self.sharing.held)

    def _leads(self) -> bool:
        """Does this process send the notifications (alone, or the cluster's leader)?"""
        return self.sharing is None or self.sharing.leads()

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await STORE_UPKEEP.run(self._restore)
        self.writer = StoreWriter(
            self.store, fence=self._fence if self.sharing is not None else None
        )
        await self.writer.start()
        await self.alerting.start()
        await self.errors.start()
        self.heartbeats.start()
        await self.rum.start()
        if self.sharing is not None:
            await self.sharing.join()
        self.scheduler = Scheduler(
            # a node of a cluster checks the monitors it holds leases on: none until it syncs
            [] if self.sharing is not None else _checked_here(self.monitors.values()),
            self._handle,
            resources=self._resources,
            concurrency=self.config.engine.concurrency,
            per_host=self.config.engine.per_host,
            secrets=self.config.secrets,
            startup_spread=self._startup_spread,
        )
        now = time.time()
        for monitor in self.monitors.values():
            self._judge_when_late(monitor)
            if monitor.kind == "drill" and not monitor.paused and self.sharing is None:
                # a weekly drill is due a week after the last one, restarts or not
                wait = first_due(monitor.interval, self._drills_last.get(monitor.name), now)
                if wait is not None:
                    self.scheduler.add(monitor, at=asyncio.get_running_loop().time() + wait)
        self._tasks = [
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self._upkeep(), name="store-upkeep"),
        ]
        if self.sharing is not None:
            self._tasks.append(
                asyncio.create_task(self.sharing.run(self.scheduler), name="cluster")
            )
        if any(m.kind == "drill" for m in self.monitors.values()):
            self._tasks.append(
                asyncio.create_task(sweep_drills(list(self.monitors.values())), name="drills")
            )

    async def stop(self, grace: float = 10.0, flush_timeout: float = 30.0) -> None:
        """Stop scheduling, let in-flight checks finish (up to ``grace``), flush every Result
        (giving up after ``flush_timeout`` if the store does not answer)."""
        if self.scheduler is not None:
            self.scheduler.stop()
            await self.scheduler.drain(grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await asyncio.wait_for(self.heartbeats.stop(), flush_timeout)
        except TimeoutError:
            log.error("stopping with pings unwritten: the store did not answer")
        await self.errors.stop(flush_timeout)
        try:
            await asyncio.wait_for(self.activity.aclose(), flush_timeout)
        except TimeoutError:
            log.error("stopping with failed logins unrecorded: the store did not answer")
        try:
            await asyncio.wait_for(self.rum.stop(), flush_timeout)
        except TimeoutError:
            log.error("stopping with RUM tallies unwritten: the store did not answer")
        try:
            await asyncio.wait_for(self.alerting.stop(), flush_timeout)
        except TimeoutError:
            log.error("stopping without recording every state change: the store did not answer")
        if self.writer is not None:
            await self.writer.aclose(give_up_after=flush_timeout)
        await self._resources.aclose()

    def _restore(self) -> None:
        """Register monitors and bring back each one's state and streaks from the store."""
        self.store.ensure_monitors((m.name, m.kind, m.target) for m in self.monitors.values())
        stored = self.store.states()
        self.status.update(self.stored_statuses(list(self.monitors.values()), stored))
        self.heartbeats.load(self.monitors.values())
        self.slos.load(self.monitors.values(), time.time())
        try:
            self._drills_last = self.drills.last_runs(self.monitors.values())
        except Exception:  # the drills run at once instead: nothing is lost
            log.exception("reading when the drills last ran failed")
        try:
            self.anomalies.seed(self.store, self.monitors.values())
        except Exception:  # the detectors start blind, the checks lose nothing
            log.exception("loading latency history for anomaly detection failed")
        try:
            self.ledger.seed(self.store, self.monitors, time.time())
        except Exception:  # the pages lose history, the checks lose nothing
            log.exception("loading uptime history for the dashboard failed")

    def stored_statuses(
        self, monitors: list[Monitor], stored: dict[str, StoredState]
    ) -> dict[str, MonitorStatus]:
        """Monitors' statuses as the store left them (``stored``: ``Store.states()``), with
        their streaks from their newest results, read at once for all (blocking); paused or
        never seen: from now. At start-up, a reload, and when a node takes over monitors."""
        now = time.time()
        wanted = {
            m.name: max(m.confirm, m.recover) for m in monitors if not m.paused and m.name in stored
        }
        horizon = max(
            (max(m.confirm, m.recover) * m.interval for m in monitors if m.name in wanted),
            default=0.0,
        )
        recent = self.store.recent_results(wanted, now - 2 * horizon - 600) if wanted else {}
        out: dict[str, MonitorStatus] = {}
        for monitor in monitors:
            saved = stored.get(monitor.name)
            if monitor.paused:
                out[monitor.name] = MonitorStatus(monitor.name, State.PAUSED, since=now)
            elif saved is None:
                out[monitor.name] = MonitorStatus(monitor.name, since=now)
            else:
                found = recent.get(monitor.name, [])
                out[monitor.name] = restore(
                    monitor.name, saved.state, saved.since, saved.reason, found
                )
        return out

    # -- results -----------------------------------------------------------------------------
    async def _handle(self, monitor: Monitor, result: Result) -> bool:
        if monitor.name not in self.monitors:
            # a check in flight when its monitor was removed (a reload, the API): its Result
            # is kept, but nobody watches the monitor's state any more
            assert self.writer is not None
            self.writer.offer(result)
            self._answer_waiters(monitor.name, result)
            return False
        if monitor.anomaly and result.location is None:
            self.anomalies.judge(monitor, result)
        assert self.writer is not None
        self.writer.offer(result)
        if len(monitor.locations) > 1:
            verdict = self.quorum.offer(monitor, result, time.time())
            if verdict is None:  # too old to speak for now (an agent's buffer): kept only
                return False
            self._answer_waiters(monitor.name, result)
            result = verdict
        return self._advance(monitor, result)

    def take_remote(self, results: Iterable[Result]) -> int:
        """An agent's Results (``location`` set, times already in this clock): stored, and
        judged with the other locations'. Returns how many were taken (a monitor no longer
        watched, or not from that location, is left out)."""
        taken = 0
        for result in results:
            monitor = self.monitors.get(result.monitor)
            if monitor is None or result.location not in monitor.locations:
                continue
            taken += 1
            if self.sharing is not None and not self.sharing.owns(monitor.name):
                assert self.writer is not None
                self.writer.offer(result)  # its holder judges it (``Sharing`` hands it on)
                self.sharing.hand_on(result)
                continue
            self._take(monitor, result)
        return taken

    def _take_handed(self, results: list[Result]) -> None:
        """Agents' results another node took for monitors this one holds (already
        stored): judged here."""
        for result in results:
            monitor = self.monitors.get(result.monitor)
            if monitor is not None and result.location in monitor.locations:
                verdict = self.quorum.offer(monitor, result, time.time())
                if verdict is not None:
                    self._advance(monitor, verdict)

    def _take(self, monitor: Monitor, result: Result) -> None:
        assert self.writer is not None
        self.writer.offer(result)
        verdict = self.quorum.offer(monitor, result, time.time())
        if verdict is not None:
            self._advance(monitor, verdict)

    def _advance(self, monitor: Monitor, result: Result) -> bool:
        current = self.status.get(monitor.name) or MonitorStatus(monitor.name)
        flapping = monitor.flapping
        updated, transition = advance(
            current,
            result,
            confirm=monitor.confirm,
            recover=monitor.recover,
            flapping=_flap_policy(flapping.transitions, flapping.window) if flapping else None,
            cause=self._cause(monitor) if monitor.depends_on else None,
        )
        self.status[monitor.name] = updated
        self._judge_when_late(monitor)
        self.ledger.record(result)
        self.slos.record(result)
        self._answer_waiters(monitor.name, result)
        if transition is not None:
            self.alerting.on_transition(monitor, transition, updated)
        for result_listener in self.result_listeners:
            try:
                result_listener(monitor, result)
            except Exception:
                log.exception("result listener failed")
        if transition is not None:
            for listener in self.listeners:
                try:
                    listener(monitor, transition, updated)
                except Exception:
                    log.exception("transition listener failed")
        return updated.confirming

    def _answer_waiters(self, name: str, result: Result) -> None:
        """Answer the ``check_now`` callers waiting for ``name`` with ``result``, those who
        asked before the run started: a run already in flight when one asked (the first
        scheduled run, say) saw the world before the caller's change, and the scheduler
        runs the check again after it for them."""
        waiters = self._waiters.get(name)
        if not waiters:
            return
        kept = []
        for waiter, asked in waiters:
            if waiter.done():
                continue
            if result.started_at >= asked:
                waiter.set_result(result)
            else:
                kept.append((waiter, asked))
        if kept:
            self._waiters[name] = kept
        else:
            del self._waiters[name]

    def _judge_when_late(self, monitor: Monitor) -> None:
        """Have a heartbeat monitor checked the moment it turns late (its due time plus its
        grace), not at its next slot an interval later; each run (each ping asks for one)
        sets the moment anew. Nothing once it is late: it is judged at its slots then."""
        if monitor.kind != "heartbeat" or self.scheduler is None:
            return
        late = self.heartbeats.late_at(monitor.name)
        now = time.time()
        if late is not None and late > now:
            at = asyncio.get_running_loop().time() + (late - now)
            self.scheduler.run_at(monitor.name, at)

    def _cause(self, monitor: Monitor) -> str | None:
        """A monitor this one depends on that is down now (the likely cause of its trouble)."""
        for parent in monitor.depends_on:
            status = self.status.get(parent)
            if status is not None and status.state is State.DOWN:
                return parent
        return None

    def run_now(self, name: str, coalesce: float = 0.0) -> bool:
        """Run a monitor's check now (see ``Scheduler.run_now`` for ``coalesce``)."""
        return self.scheduler is not None and self.scheduler.run_now(name, coalesce)

    async def check_now(self, name: str, wait: float) -> Result | None:
        """Run a monitor's check now (through the scheduler, so its state follows) and return
        its Result; None if it is not scheduled (unknown or paused) or took over ``wait`` s."""
        waiter: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        entry = (waiter, time.time())
        self._waiters.setdefault(name, []).append(entry)
        try:
            if not self.run_now(name):
                return None
            return await asyncio.wait_for(waiter, wait)
        except TimeoutError:
            return None
        finally:
            waiters = self._waiters.get(name)
            if waiters and entry in waiters:
                waiters.remove(entry)
                if not waiters:
                    del self._waiters[name]

    # -- monitors changed at run time (through the API, or a reload of the config) -----------
    def put_monitor(self, monitor: Monitor) -> None:
        """Add a monitor, or replace one of the same name (its state and history stay), and
        run it now. The caller registers it in the store first (``Store.ensure_monitors``,
        in a thread)."""
        self._put(monitor, None, at=asyncio.get_running_loop().time())
        self.alerting.set_monitors(self.monitors.values())
        self.errors.on_alert = self.alerting.poke

    def remove_monitor(self, name: str) -> None:
        """Stop watching a monitor (its results stay in the store)."""
        self._remove(name)
        self.alerting.set_monitors(self.monitors.values())
        self.errors.on_alert = self.alerting.poke

    def change_monitors(
        self,
        *,
        removed: Iterable[str] = (),
        put: Iterable[Monitor] = (),
        renewed: Iterable[Monitor] = (),
        statuses: Mapping[str, MonitorStatus] | None = None,
    ) -> None:
        """Many monitors at once (a reload): stop the ``removed``; add or replace the ``put``
        (state kept, else ``statuses[name]``; their checks start soon); take the
        ``renewed`` — the same definitions, written elsewhere in the file — without touching
        their schedule or state."""
        statuses = statuses or {}
        for name in removed:
            self._remove(name)
        put = list(put)
        # a few start at once (one changed monitor: its check now); many, at most
        # RELOAD_STARTS a second, within the start-up spread
        window = min(self._startup_spread, len(put) / RELOAD_STARTS)
        now = asyncio.get_running_loop().time()
        for monitor in put:
            at = now + random.uniform(0, min(window, monitor.interval))
            self._put(monitor, statuses.get(monitor.name), at=at)
        for monitor in renewed:
            self.monitors[monitor.name] = monitor
            self.generation += 1
            if self.scheduler is not None:
                self.scheduler.renew(monitor)
        self.alerting.set_monitors(self.monitors.values())
        self.errors.on_alert = self.alerting.poke

    def _put(self, monitor: Monitor, status: MonitorStatus | None, at: float | None) -> None:
        self.monitors[monitor.name] = monitor
        self.generation += 1
        self.anomalies.forget(monitor.name, keep=monitor.anomaly)  # new series start afresh
        if monitor.kind == "slo":  # counts from now; a restart reads the history
            self.slos.add(monitor, time.time(), history=False)
        current = self.status.get(monitor.name)
        if status is not None and (current is None or current.state is State.PAUSED):
            self.status[monitor.name] = status
        elif current is None or monitor.paused:
            self.status[monitor.name] = MonitorStatus(
                monitor.name, State.PAUSED if monitor.paused else State.UNKNOWN, since=time.time()
            )
        elif current.state is State.PAUSED:  # resumed: its state is found afresh
            self.status[monitor.name] = MonitorStatus(monitor.name, since=time.time())
        if (
            self.scheduler is not None
            and monitor.checked_here
            and (self.sharing is None or self.sharing.owns(monitor.name))
        ):
            self.scheduler.add(monitor, at=at)
        elif self.scheduler is not None:
            self.scheduler.remove(monitor.name)  # now checked by agents only

    def _remove(self, name: str) -> None:
        self.monitors.pop(name, None)
        self.generation += 1
        self.status.pop(name, None)
        self.ledger.forget(name)
        self.heartbeats.forget(name)
        self.slos.forget(name)
        self.anomalies.forget(name)
        self.quorum.forget(name)
        if self.scheduler is not None:
            self.scheduler.remove(name)

    def replace_config(self, config: Config) -> None:
        """Take a reloaded config's routes, maintenance, status pages, secrets and live
        settings (its monitors come through ``change_monitors``)."""
        self.config = config
        self.quorum.slack = config.agents.slack
        self.alerting.set_config(config)
        self.errors.set_config(config)
        self.rum.configure(config.rum)
        if self.scheduler is not None:
            self.scheduler.secrets = config.secrets

    # -- store upkeep ------------------------------------------------------------------------
    @property
    def rollup_grace(self) -> float:
        """How long a bucket stays open for late results: the longest check, plus a minute
        for the writer's batching."""
        return max((m.timeout for m in self.monitors.values()), default=0.0) + 60.0

    async def _upkeep(self) -> None:
        last_prune = 0.0
        while True:
            retention = self.config.retention  # a reload may change it
            await asyncio.sleep(self._rollup_every)
            if self.writer is not None and self.writer.queue_depth > _BACKLOG:
                continue  # catching up after a store outage: roll up once it is written
            if not self._leads():
                continue  # in a cluster the leader keeps the shared store: one at a time
            try:
                await STORE_UPKEEP.run(self.store.rollup, time.time(), grace=self.rollup_grace)
                await STORE_UPKEEP.run(self.store.compact, time.time(), grace=self.rollup_grace)
                if time.monotonic() - last_prune >= self._prune_every:
                    last_prune = time.monotonic()
                    await STORE_UPKEEP.run(
                        self.store.prune,
                        time.time(),
                        raw=retention.raw,
                        minute=retention.minute,
                        hour=retention.hour,
                    )
                    await STORE_UPKEEP.run(
                        self.store.prune_errors,
                        time.time(),
                        events=retention.raw,
                        minutes=retention.minute,
                        issues=retention.minute,
                        outcomes=retention.hour,
                    )
                    await STORE_UPKEEP.run(
                        activity.prune, self.store, time.time() - retention.activity
                    )
            except Exception:
                log.exception("store upkeep failed; will retry")


def _checked_here(monitors: Iterable[Monitor]) -> list[Monitor]:
    """The monitors the nodes check themselves (not those only agents check)."""
    return [m for m in monitors if m.checked_here]
