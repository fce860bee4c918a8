"""This node's part of a cluster (``cluster: {enabled: true}``): every ``beat`` it syncs with
the store (``cluster.leases``) and schedules exactly the monitors it holds — new ones with
the state the store has for them (another node checked them until now), lost ones stopped.
A node whose store does not answer stops checking when its leases run out (in its own
clock, from its last successful sync): by then another node has them.

The store work runs on the ``cluster`` lane (one thread), so neither the writer's nor the
web's threads wait for it, nor it for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from watchkeeper import lanes
from watchkeeper.cluster.leases import Membership, Node, Owned
from watchkeeper.cluster.wire import decode, encode
from watchkeeper.config import ClusterConfig, Monitor
from watchkeeper.model import Result, StoredState
from watchkeeper.state import MonitorStatus
from watchkeeper.store import agents

if TYPE_CHECKING:
    from watchkeeper.engine.scheduler import Scheduler
    from watchkeeper.store import Store

log = logging.getLogger("watchkeeper.engine")

_OUTBOX = 50_000
"""Agents' results waiting to be handed on, at most (beyond: stored, not judged)."""
_INBOX_KEEP = 600.0
"""Seconds a result handed on waits for a holder before the leader drops it."""

Restore = Callable[[list[Monitor], dict[str, StoredState]], dict[str, MonitorStatus]]
"""The engine's ``stored_statuses``: monitors' states and streaks as the store has them,
read at once (blocking: it runs on the cluster lane)."""


class Sharing:
    def __init__(
        self,
        config: ClusterConfig,
        store: Store,
        monitors: Mapping[str, Monitor],
        restore: Restore,
        statuses: dict[str, MonitorStatus],
    ) -> None:
        self.config = config
        self.store = store
        self.monitors = monitors
        """The engine's monitors (live: a reload changes them)."""
        self.restore = restore
        self.statuses = statuses
        """The engine's live states: a monitor taken over gets the store's."""
        self.node = Node.new(config.name or socket.gethostname(), os.getpid())
        self.membership = Membership(self.node, ttl=config.ttl)
        self.held: dict[str, int] = {}
        """Monitor → fencing token, of those this node checks now."""
        self.outbox: list[Result] = []
        """Agents' results this node took for monitors another node holds: posted to the
        store's inbox at the next beat."""
        self.take: Callable[[list[Result]], None] = lambda results: None
        """Where the agents' results other nodes left for this node's monitors go."""
        self.leader: int | None = None
        self.valid_until = 0.0
        self.syncs = 0
        self.failures = 0

    def leads(self) -> bool:
        """Is this node the alert leader now? It won the leader lease at its last sync, and
        that lease has not run out in this process's clock: a sync that lags (a process
        starved of CPU, a slow store) must not leave it planning and sending beside the node
        that took the lead once the lease ran out. ``valid_until`` is counted from before
        the sync began, so it ends before the lease does in the store's clock."""
        return self.leader is not None and time.monotonic() < self.valid_until

    def owns(self, name: str) -> bool:
        return name in self.held

    def hand_on(self, result: Result) -> None:
        """An agent's result for a monitor another node holds: that node judges it."""
        if len(self.outbox) < _OUTBOX:
            self.outbox.append(result)

    async def join(self) -> None:
        await lanes.CLUSTER.run(self._join)

    def _join(self) -> None:
        with self.store.transaction() as connection:
            self.membership.join(connection)

    async def run(self, scheduler: Scheduler) -> None:
        """Sync every ``beat`` until cancelled; on the way out, hand everything back."""
        try:
            while True:
                await self.once(scheduler)
                await asyncio.sleep(self.config.beat)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lanes.CLUSTER.run(self._leave), 5.0)

    async def once(self, scheduler: Scheduler) -> None:
        names = sorted(self.monitors)
        outbox, self.outbox = self.outbox, []
        self.membership.lag = scheduler.stats.last_minute_lag(99)
        # a sync that outlasts this node's leases (a store that hangs, not one that says no)
        # counts as failed once they run out: the others take the monitors meanwhile
        left = self.valid_until - time.monotonic() if self.held else None
        try:
            syncing = lanes.CLUSTER.run(self._sync, names, outbox)
            if left is None:
                owned, taken, others, inbox = await syncing
            else:
                owned, taken, others, inbox = await asyncio.wait_for(syncing, max(0.1, left))
        except Exception as exc:  # the store is away: keep going until the leases run out
            self.failures += 1
            self.membership.unsure()
            if self.held and time.monotonic() >= self.valid_until:
                log.warning("cluster: no sync since the leases ran out: checking nothing (%s)", exc)
                for name in list(self.held):
                    scheduler.remove(name)
                self.held = {}
                self.leader = None
            return
        self.syncs += 1
        self.valid_until = owned.valid_until
        self.leader = owned.leader
        for name in [n for n in self.held if n not in owned.monitors]:
            scheduler.remove(name)
        for name in owned.monitors:
            monitor = self.monitors.get(name)
            if name not in self.held and monitor is not None:
                if name in taken:
                    self.statuses[name] = taken[name]
                if monitor.checked_here:
                    scheduler.add(monitor)
        self.held = dict(owned.monitors)
        if inbox:
            self.take(inbox)
        # the others' monitors as the store has them: what the dashboard of this node and
        # its alerting (a parent down, when it leads) read
        for name, stored in others.items():
            if name not in self.held and name in self.monitors:
                current = self.statuses.get(name)
                if current is None or current.state != stored.state:
                    self.statuses[name] = MonitorStatus(
                        name, stored.state, since=stored.since, reason=stored.reason
                    )

    def _sync(
        self, names: list[str], outbox: list[Result]
    ) -> tuple[Owned, dict[str, MonitorStatus], dict[str, StoredState], list[Result]]:
        """The beat; the stored state (with streaks) of each monitor it gave this node;
        every monitor's stored state; the agents' results left for this node (blocking)."""
        now = time.time()
        with self.store.transaction() as connection:
            owned = self.membership.sync(connection, names)
            agents.post(connection, [(r.monitor, _letter(r)) for r in outbox], now)
            letters = agents.collect(connection, self.node.id)
            if self.leader is not None:
                agents.expire(connection, now - _INBOX_KEEP)
        stored = self.store.states()
        new = [n for n in owned.monitors if n not in self.held and n in self.monitors]
        taken = self.restore([self.monitors[n] for n in new if n in stored], stored)
        inbox: list[Result] = []
        for name, body in letters:
            monitor = self.monitors.get(name)
            if monitor is not None:
                with contextlib.suppress(ValueError):
                    inbox.append(_opened(body, monitor.kind))
        return owned, taken, stored, inbox

    def _leave(self) -> None:
        with self.store.transaction() as connection:
            self.membership.leave(connection)


def _letter(result: Result) -> str:
    """An agent's result (its time already in the server's clock) for the inbox."""
    return json.dumps({**encode(result), "location": result.location})


def _opened(body: str, kind: str) -> Result:
    item = json.loads(body)
    return decode(item, kind, str(item.get("location")), 0.0)
