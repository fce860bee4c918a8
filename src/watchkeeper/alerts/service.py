"""Alerting inside ``wk up``: transitions in, notifications out, nothing lost on the way.

    transition ──► state change + incident + alert events, in one transaction
    every tick ──► planner: group, fold children, drop blips, hold muted ──► outbox
    every tick ──► deliverer: send, retry, mark delivered / route broken
    every few s ──► reminders (``repeat``), escalations, Alertmanager re-sends, silences

Every arrow that matters goes through the store, so a restart loses nothing: pending alert
events are planned, queued notifications are sent, and an incident that was announced is
never announced twice. The checks never wait on any of it: ``on_transition`` only queues.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa

from watchkeeper.alerts.delivery import DEFAULT_BACKOFF, Backoff, Deliverer
from watchkeeper.alerts.incidents import PROBLEMS, decide, item_for, routes_for, severity_of
from watchkeeper.alerts.planner import Context, Group, Plan, plan
from watchkeeper.config import (
    Config,
    MaintenanceWindow,
    Monitor,
    Route,
    load_api_maintenance,
)
from watchkeeper.config.diff import same_route
from watchkeeper.errors import ConfigError
from watchkeeper.lanes import ALERTS
from watchkeeper.model import State, Transition
from watchkeeper.notify.base import AlertItem, Notifier, RouteInfo
from watchkeeper.notify.render import render
from watchkeeper.state import MonitorStatus
from watchkeeper.state.maintenance import Mutes
from watchkeeper.store import Store
from watchkeeper.store import alerts as db
from watchkeeper.store import definitions as definitions_db
from watchkeeper.units import format_duration

log = logging.getLogger("watchkeeper.alerts")

_BATCH = 500
QUIET_POLL = 5.0
"""Seconds between looks at the store while nothing is waiting (it catches what another
process queued; this process's own writes are picked up at the next tick)."""


class PlannedElsewhere(Exception):
    """Some events of a plan were settled by another planner before it was committed."""


class Alerting:
    def __init__(
        self,
        config: Config,
        store: Store,
        status_of: Callable[[str], MonitorStatus | None],
        *,
        tick: float = 0.5,
        timers_every: float = 2.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.time,
        notifiers: dict[str, Notifier] | None = None,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        self.config = config
        self.store = store
        self._status_of = status_of
        self._leads = leads
        """Plan and deliver only while this is true: in a cluster, on the alert leader only
        (every node records its own monitors' changes; one sends the notifications)."""
        self._tick = tick
        self._timers_every = timers_every
        self._clock = clock
        self.monitors: dict[str, Monitor] = {}
        self._children: dict[str, list[Monitor]] = {}
        self.set_monitors(config.monitors)
        self.routes = {r.name: r for r in config.routes}
        self._backoff = backoff
        self.notifiers: dict[str, Notifier] = (
            notifiers
            if notifiers is not None
            else {
                route.name: self.notifier_for(route, config.server.public_url)
                for route in config.routes
            }
        )
        self.deliverer = Deliverer(
            store,
            self.notifiers,
            timeouts={r.name: r.timeout for r in config.routes},
            backoff=backoff,
            backoffs=self._backoffs(config.routes),
            clock=clock,
        )
        self._queue: asyncio.Queue[tuple[Monitor, Transition, MonitorStatus]] = asyncio.Queue()
        self._silences: list[db.Silence] = []
        self.api_maintenance: list[MaintenanceWindow] = []
        """Maintenance windows defined through the API (the config's are in ``config``)."""
        self._held_noted: set[int] = set()
        self._refreshed: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._retiring: set[asyncio.Task[None]] = set()
        self._retired: list[Notifier] = []
        """Notifiers of routes a reload removed or changed, until they are closed."""
        self.notifications = 0
        self._dirty = True
        """Something may be waiting in the store (set by every write that queues work; the
        tick reads the store while it is set, and otherwise only every QUIET_POLL)."""
        self._last_look = -QUIET_POLL

    def set_monitors(self, monitors: Iterable[Monitor]) -> None:
        """The monitors being watched (the config's, and any defined through the API)."""
        self.monitors = {m.name: m for m in monitors}
        self._children = {}
        for monitor in self.monitors.values():
            for parent in monitor.depends_on:
                self._children.setdefault(parent, []).append(monitor)

    def set_config(self, config: Config) -> None:
        """A reloaded config: its routes, maintenance windows and links from now on. A route
        whose definition is unchanged keeps its notifier (and whatever it holds open); the
        notifier of a route removed or changed is closed once its delivery in flight ends.
        Notifications queued for a removed route fail as such."""
        routes = {r.name: r for r in config.routes}
        dashboard = config.server.public_url
        links_moved = dashboard != self.config.server.public_url

        def kept(name: str) -> bool:
            old, new = self.routes.get(name), routes.get(name)
            return old is not None and new is not None and same_route(old, new)

        fresh = {  # made first: a notifier that cannot be made changes nothing
            name: self.notifier_for(route, dashboard)
            for name, route in routes.items()
            if links_moved or not kept(name) or name not in self.notifiers
        }
        retired = [
            (n, notifier) for n, notifier in self.notifiers.items() if n not in routes or n in fresh
        ]
        self.notifiers = {name: fresh.get(name) or self.notifiers[name] for name in routes}
        self.config = config
        self.routes = routes
        self.deliverer.set_routes(
            self.notifiers,
            timeouts={r.name: r.timeout for r in config.routes},
            backoffs=self._backoffs(config.routes),
        )
        for name, notifier in retired:
            self._retired.append(notifier)
            task = asyncio.create_task(
                self._retire(name, notifier, self.deliverer.delivering(name)),
                name="alerts-retire",
            )
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    @staticmethod
    def notifier_for(route: Route, dashboard: str | None) -> Notifier:
        """The notifier a route is delivered through (also what an experiment sends with)."""
        return route.notifier.create(
            route.settings, RouteInfo(route.name, route.timeout, dashboard)
        )

    def _backoffs(self, routes: Iterable[Route]) -> dict[str, Backoff]:
        return {r.name: dataclasses.replace(self._backoff, most=r.retry_max) for r in routes}

    async def _retire(
        self, route: str, notifier: Notifier, delivery: asyncio.Task[None] | None
    ) -> None:
        """Close a notifier no longer used once the ``delivery`` in flight when it was
        replaced (the only one that can still be using it) ends."""
        if delivery is not None:
            await asyncio.wait({delivery})
        self._retired.remove(notifier)
        try:
            await notifier.aclose()
        except Exception:
            log.exception("closing the notifier of route %s failed", route)

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await ALERTS.run(self.close_orphans)
        await ALERTS.run(self._load_route_health)
        await self.refresh_mutes()
        self._tasks = [
            asyncio.create_task(self._persist_loop(), name="alerts-persist"),
            asyncio.create_task(self._tick_loop(), name="alerts-plan-deliver"),
            asyncio.create_task(self._timer_loop(), name="alerts-timers"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Write every queued transition, plan once more, let deliveries finish (``grace``)."""
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            if self._leads():
                await self.plan_once()
                await self.deliverer.step()
        except Exception:
            log.exception("the last alerting step failed; the outbox keeps what is left")
        await self.deliverer.drain(grace)
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        for notifier in [*self.notifiers.values(), *self._retired]:
            try:
                await notifier.aclose()
            except Exception:
                log.exception("closing a notifier failed")

    def on_transition(
        self, monitor: Monitor, transition: Transition, status: MonitorStatus
    ) -> None:
        """Queue a transition (never waits: the check that caused it goes on)."""
        self._queue.put_nowait((monitor, transition, status))

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def poke(self) -> None:
        """Notifications were queued in the outbox by another part (error alerts): the
        next tick delivers them (on the alert leader), without waiting for ``QUIET_POLL``."""
        self._dirty = True

    # -- transitions → incidents and alert events ---------------------------------------------
    async def _persist_loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while not self._queue.empty() and len(batch) < _BATCH:
                batch.append(self._queue.get_nowait())
            try:
                while True:
                    try:
                        await ALERTS.run(self._persist, batch)
                        self._dirty = True
                        break
                    except Exception:
                        log.exception("recording %d state changes failed; retrying", len(batch))
                        await asyncio.sleep(1.0)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _persist(self, batch: Sequence[tuple[Monitor, Transition, MonitorStatus]]) -> None:
        public_url = self.config.server.public_url
        routes = list(self.config.routes)
        ids = [self.store.monitor_id(monitor.name, monitor.kind) for monitor, _, _ in batch]
        with self.store.transaction() as connection:
            # in bulk: a start of a thousand monitors (or an outage of as many) queues a
            # thousand transitions, mostly with no incident to look at; one statement each
            # for all of them instead of three per transition. Nothing below reads the
            # state changes, so recording them first changes nothing.
            db.record_transitions(
                connection, [(t, id_) for (_, t, _), id_ in zip(batch, ids, strict=True)]
            )
            prefetched = db.open_incidents(connection, ids)
            fresh = {monitor.name for monitor, _, _ in batch}
            """Monitors whose incidents this batch has not touched yet: ``prefetched`` is
            still true of them."""
            for (monitor, transition, status), monitor_id in zip(batch, ids, strict=True):
                if monitor.name in fresh:
                    fresh.discard(monitor.name)
                    incident = prefetched.get(monitor_id)
                else:
                    incident = db.open_incident(connection, monitor_id)
                told: set[str] = set()
                if incident is not None:
                    told = {
                        route
                        for route, statuses in db.incident_routes(connection, incident.id).items()
                        if statuses - {"dropped"}
                    }
                decision = decide(incident, transition, monitor, routes, told)
                if decision.open:
                    incident_id = db.create_incident(
                        connection,
                        monitor_id,
                        transition.at,
                        str(transition.to_state),
                        transition.reason,
                        transition.cause,
                    )
                    since = transition.at
                elif incident is not None:
                    incident_id, since = incident.id, incident.opened_at
                    if decision.updates:
                        db.update_incident(connection, incident_id, **decision.updates)
                else:
                    continue
                db.add_timeline(
                    connection,
                    [
                        db.TimelineEntry(incident_id, transition.at, kind, text)
                        for kind, text in decision.timeline
                    ],
                )
                if decision.close and incident is not None and incident.cause:
                    # its recovery can be told together with its parent's
                    transition = dataclasses.replace(transition, cause=incident.cause)
                for route, event in decision.alerts:
                    item = item_for(
                        monitor,
                        transition,
                        status.last_result,
                        incident=incident_id,
                        since=since,
                        event=event,
                        public_url=public_url,
                    )
                    db.add_alert_event(
                        connection,
                        incident_id,
                        monitor.name,
                        route,
                        event,
                        transition.at,
                        item.to_json(),
                    )
                if transition.to_state is State.UP:
                    fresh.difference_update(c.name for c in self._children.get(monitor.name, ()))
                    self._unfold_children(connection, monitor, transition)

    def _unfold_children(
        self, connection: sa.Connection, parent: Monitor, transition: Transition
    ) -> None:
        """A parent recovered: children still down that were announced only as part of its
        problem are down on their own now, and are announced as such."""
        routes = list(self.config.routes)
        for child in self._children.get(parent.name, ()):
            status = self._status_of(child.name)
            if status is None or status.state not in PROBLEMS:
                continue
            incident = db.open_incident(connection, self.store.monitor_id(child.name))
            if incident is None or incident.cause != parent.name:
                continue
            reason = f"still {incident.state} after {parent.name} recovered: {incident.reason}"
            db.add_timeline(
                connection,
                [
                    db.TimelineEntry(
                        incident.id,
                        transition.at,
                        "unfolded",
                        f"{parent.name} recovered but {child.name} is still {incident.state}: "
                        "announcing it on its own",
                    )
                ],
            )
            own = Transition(
                child.name, transition.at, State(incident.state), State(incident.state), reason
            )
            severity = severity_of(child, incident.state)
            for route in routes_for(child, routes, severity):
                item = item_for(
                    child,
                    own,
                    status.last_result,
                    incident=incident.id,
                    since=incident.opened_at,
                    event="firing",
                    public_url=self.config.server.public_url,
                )
                db.add_alert_event(
                    connection,
                    incident.id,
                    child.name,
                    route,
                    "firing",
                    transition.at,
                    item.to_json(),
                )

    def _load_route_health(self) -> None:
        with self.store.read() as connection:
            health = db.route_health(connection)
        for route, state in health.items():
            if state.broken_since is not None and route in self.routes:
                self.deliverer.broken[route] = state.broken_since

    def close_orphans(self) -> None:
        """Incidents of monitors no longer in the config will never recover: close them.
        Blocking (at start, and after a reload removed monitors)."""
        now = self._clock()
        with self.store.transaction() as connection:
            for incident in db.incidents(connection, open_only=True, limit=100_000):
                if incident.monitor not in self.monitors:
                    db.update_incident(connection, incident.id, closed_at=now, state="removed")
                    db.add_timeline(
                        connection,
                        [
                            db.TimelineEntry(
                                incident.id,
                                now,
                                "closed",
                                "the monitor was removed from the config",
                            )
                        ],
                    )

    # -- planning -----------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        """Plan and deliver every tick while work waits; idle, look every QUIET_POLL only
        (two store queries and a write transaction twice a second cost an idle server 1 %
        of a core)."""
        while True:
            looked = time.monotonic()
            if not self._leads():
                await asyncio.sleep(self._tick)
                continue
            if self._dirty or self.deliverer.busy or looked - self._last_look >= QUIET_POLL:
                self._dirty = False  # cleared first: a write while we look sets it again
                self._last_look = looked
                try:
                    await self.plan_once()
                    await self.deliverer.step()
                    if self.deliverer.unfinished or self.deliverer.busy:
                        self._dirty = True
                except Exception:
                    self._dirty = True
                    log.exception("an alerting step failed; trying again")
            await asyncio.sleep(self._tick)

    async def plan_once(self) -> Plan:
        """Plan the queued alert events and write what the plan says; returns the plan."""
        now = self._clock()
        pending, announced, parents = await ALERTS.run(self._load_pending)
        if not pending:
            return Plan()
        self._dirty = True  # held or grouping events stay pending: look again next tick
        mutes = Mutes([*self.config.maintenance, *self.api_maintenance], self._silences, now)
        context = Context(
            now=now,
            group_wait={name: route.group_wait for name, route in self.routes.items()},
            muted=lambda name: mutes.reason(name, self._tags(name)),
            parent_confirming=self._parent_confirming,
            parent_down=self._parent_down,
            announced=announced,
            parents_announced=parents,
        )
        decided = plan(pending, context)
        groups = [(group, self._message(group, now)) for group in decided.groups]
        fresh_holds = [(e, why) for e, why in decided.held if e.id not in self._held_noted]
        if groups or decided.dropped or fresh_holds:
            try:
                await ALERTS.run(self._commit, now, groups, decided.dropped, fresh_holds)
            except PlannedElsewhere:
                # another planner settled some of these events since we read them: what it
                # wrote stands, ours is rolled back, and the next tick plans what is left
                log.info("alert events planned by another node meanwhile; planning again")
                return Plan()
            self._held_noted.update(e.id for e, _ in fresh_holds)
            self.notifications += sum(1 for group, _ in groups if group.events)
        return decided

    def _load_pending(
        self,
    ) -> tuple[list[db.AlertEvent], frozenset[tuple[int, str]], frozenset[tuple[str, str]]]:
        with self.store.read() as connection:
            pending = db.pending_events(connection)
            if not pending:
                return [], frozenset(), frozenset()
            announced: set[tuple[int, str]] = set()
            for incident_id in {e.incident_id for e in pending}:
                for route, statuses in db.incident_routes(connection, incident_id).items():
                    if statuses & {"sent", "suppressed"}:
                        announced.add((incident_id, route))
            parents: set[tuple[str, str]] = set()
            causes = {e.item.get("cause") for e in pending if e.item.get("cause")}
            for event in pending:  # a parent may have gone down at the same moment
                monitor = self.monitors.get(event.monitor)
                causes.update(monitor.depends_on if monitor else ())
            for cause in causes:
                for incident in db.incidents(
                    connection, open_only=True, limit=1, monitor=str(cause)
                ):
                    for route, statuses in db.incident_routes(connection, incident.id).items():
                        if "sent" in statuses:
                            parents.add((str(cause), route))
        return pending, frozenset(announced), frozenset(parents)

    def _tags(self, name: str) -> tuple[str, ...]:
        monitor = self.monitors.get(name)
        return monitor.tags if monitor else ()

    def _parent_down(self, name: str) -> str | None:
        monitor = self.monitors.get(name)
        for parent in monitor.depends_on if monitor else ():
            status = self._status_of(parent)
            if status is not None and status.state is State.DOWN:
                return parent
        return None

    def _parent_confirming(self, name: str) -> bool:
        monitor = self.monitors.get(name)
        if monitor is None:
            return False
        for parent in monitor.depends_on:
            status = self._status_of(parent)
            if status is not None and status.state not in PROBLEMS and status.down > 0:
                return True
        return False

    def _message(self, group: Group, now: float) -> tuple[str, dict[str, object]]:
        route = self.routes.get(group.route)
        key = f"wk-{uuid.uuid4().hex}"
        message = render(
            group.route,
            key,
            group.items,
            title_template=route.title if route else None,
            body_template=route.body if route else None,
            dashboard=self.config.server.public_url,
            now=now,
        )
        return key, message.to_json()

    def _commit(
        self,
        now: float,
        groups: Sequence[tuple[Group, tuple[str, dict[str, object]]]],
        dropped: Sequence[tuple[db.AlertEvent, str]],
        held: Sequence[tuple[db.AlertEvent, str]],
    ) -> None:
        settled = [
            *(e.id for group, _ in groups for e in group.events),
            *(e.id for group, _ in groups for e, _ in group.folded),
            *(e.id for e, _ in dropped),
        ]
        with self.store.transaction() as connection:
            # the plan was made from a read outside this transaction: if another planner (a
            # node that lost the lead while it planned, or the new leader) settled one of its
            # events since, committing it would announce them twice
            if not db.still_pending(connection, settled):
                raise PlannedElsewhere
            for group, (key, message) in groups:
                # everything in it folded into a parent's announcement already sent: nothing
                # to say (an empty message once reached a receiver when children were planned
                # a round after their parent)
                notification = (
                    db.add_notification(
                        connection, group.route, key, str(message["event"]), now, message
                    )
                    if group.events
                    else None
                )
                db.mark_events(connection, [e.id for e in group.events], "sent", notification)
                db.mark_events(
                    connection, [e.id for e, _ in group.folded], "suppressed", notification
                )
                entries = []
                for event in group.events:
                    if event.event in ("firing", "reminder", "escalation"):
                        db.update_incident(connection, event.incident_id, last_notified_at=now)
                        incident = db.incident(connection, event.incident_id)
                        if incident is not None and incident.notified_at is None:
                            db.update_incident(connection, event.incident_id, notified_at=now)
                        if (
                            incident is not None
                            and incident.cause
                            and event.event == "firing"
                            and not event.item.get("cause")
                        ):  # announced on its own now: its parent no longer explains it
                            db.update_incident(connection, event.incident_id, cause=None)
                    entries.append(
                        db.TimelineEntry(
                            event.incident_id,
                            now,
                            "queued",
                            f"{event.event} notification queued for '{group.route}'",
                        )
                    )
                for event, cause in group.folded:
                    db.update_incident(connection, event.incident_id, cause=cause)
                    text = (
                        f"recovery told on '{group.route}' with {cause}'s"
                        if event.event == "resolved"
                        else f"not announced on '{group.route}' on its own: {cause} is down"
                    )
                    entries.append(db.TimelineEntry(event.incident_id, now, "suppressed", text))
                db.add_timeline(connection, entries)
            for event, why in dropped:
                db.mark_events(connection, [event.id], "dropped")
                db.add_timeline(
                    connection,
                    [
                        db.TimelineEntry(
                            event.incident_id,
                            now,
                            "dropped",
                            f"{event.event} not sent to '{event.route}': {why}",
                        )
                    ],
                )
            db.add_timeline(
                connection,
                [
                    db.TimelineEntry(
                        event.incident_id,
                        now,
                        "held",
                        f"{event.event} for '{event.route}' held: {why}",
                    )
                    for event, why in held
                ],
            )

    # -- timers: reminders, escalations, re-sends, silences -----------------------------------
    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(self._timers_every)
            if not self._leads():
                continue
            try:
                await self.refresh_mutes()
                await ALERTS.run(self._reminders_and_escalations)
                await self._resend()
            except Exception:
                log.exception("alerting timers failed; trying again")

    async def refresh_mutes(self) -> None:
        """Silences (``wk silence`` writes them from another process) and maintenance windows
        defined through the API."""
        now = self._clock()

        def load() -> tuple[list[db.Silence], list[MaintenanceWindow]]:
            with self.store.read() as connection:
                silences = db.silences(connection, current_at=now)
                definitions = definitions_db.api_maintenance(connection)
            windows = []
            for definition in definitions:
                try:
                    windows.append(load_api_maintenance(definition.spec, self.monitors))
                except ConfigError as exc:  # a monitor it named was removed since
                    log.warning("maintenance window %s: %s", definition.name, exc)
            return silences, windows

        self._silences, self.api_maintenance = await ALERTS.run(load)

    def _reminders_and_escalations(self) -> None:
        now = self._clock()
        routes = list(self.config.routes)
        with self.store.transaction() as connection:
            for incident in db.incidents(connection, open_only=True, limit=100_000):
                monitor = self.monitors.get(incident.monitor)
                if (
                    monitor is None
                    or incident.acked_at is not None
                    or incident.notified_at is None
                    or State(incident.state) not in PROBLEMS
                ):
                    continue
                severity = severity_of(monitor, incident.state)
                due_repeat = monitor.repeat is not None and incident.last_notified_at is not None
                if due_repeat and now - (incident.last_notified_at or now) >= (monitor.repeat or 0):
                    self._remind(
                        connection,
                        incident,
                        monitor,
                        routes_for(monitor, routes, severity),
                        "reminder",
                        now,
                    )
                    db.update_incident(connection, incident.id, last_notified_at=now)
                    self._dirty = True
                escalate = monitor.escalate
                if (
                    escalate is not None
                    and incident.escalated_at is None
                    and now - incident.opened_at >= escalate.after
                ):
                    self._remind(
                        connection, incident, monitor, list(escalate.to), "escalation", now
                    )
                    db.update_incident(connection, incident.id, escalated_at=now)
                    self._dirty = True
                    db.add_timeline(
                        connection,
                        [
                            db.TimelineEntry(
                                incident.id,
                                now,
                                "escalated",
                                f"not acknowledged after {format_duration(escalate.after)}: "
                                f"escalated to {', '.join(escalate.to)}",
                            )
                        ],
                    )

    def _remind(
        self,
        connection: sa.Connection,
        incident: db.Incident,
        monitor: Monitor,
        routes: Sequence[str],
        event: str,
        now: float,
    ) -> None:
        status = self._status_of(monitor.name)
        last = status.last_result if status else None
        transition = Transition(
            monitor.name,
            now,
            State(incident.state),
            State(incident.state),
            incident.reason,
            incident.cause,
        )
        for route in routes:
            item = item_for(
                monitor,
                transition,
                last,
                incident=incident.id,
                since=incident.opened_at,
                event=event,
                public_url=self.config.server.public_url,
            )
            db.add_alert_event(
                connection,
                incident.id,
                monitor.name,
                route,
                event,
                now,
                item.to_json(),
            )

    async def _resend(self) -> None:
        """Alertmanager forgets firing alerts that are not sent again: send them again."""
        now = self._clock()
        for name, notifier in self.notifiers.items():
            every = notifier.refresh_every
            if every is None or now - self._refreshed.get(name, 0.0) < every:
                continue
            self._refreshed[name] = now

            def firing(route: str = name) -> list[AlertItem]:
                with self.store.read() as connection:
                    return [
                        AlertItem.from_json(item) for item in db.last_sent_items(connection, route)
                    ]

            items = await ALERTS.run(firing)
            try:
                await asyncio.wait_for(notifier.refresh(items), self.routes[name].timeout + 5)
            except Exception as exc:
                log.warning("re-sending firing alerts to %s failed: %s", name, exc)
