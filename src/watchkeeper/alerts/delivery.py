"""The outbox worker: delivers queued notifications, at least once, never blocking checks.

A notification is claimed (pending → sending, with a lease) in its own transaction before it
is sent, and marked delivered after; if the process dies in between, the lease expires and it
is sent again with the same dedup key, so a receiver can drop the copy. One notification is
in flight per route at a time, and one about an incident waits for older ones about it on
the route (order is kept, retries and all); routes do not wait for each other.

The lease is as long as a send can last (the route's timeout, plus ``SEND_GRACE``) and
``LEASE_MARGIN``: after a ``kill -9`` the copy goes out that long after the claim (the
restarted process looks at the outbox every tick while anything in it is unfinished), and
never while the first attempt could still be in flight.

A passing failure is retried with exponential backoff and jitter; a permanent one (a 4xx, a
URL the notifier refuses) marks the notification failed and the route broken — shown by
``wk status`` — until a delivery on it succeeds again. Nothing is retried for ever: after
``give_up_after`` a notification is failed too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from watchkeeper.lanes import ALERTS
from watchkeeper.notify.base import Message, Notifier, TransportError
from watchkeeper.printable import one_line
from watchkeeper.store import Store
from watchkeeper.store import alerts as db
from watchkeeper.units import format_duration

log = logging.getLogger("watchkeeper.alerts")


@dataclass(frozen=True)
class Backoff:
    first: float = 2.0
    most: float = 60.0
    give_up_after: float = 24 * 3600.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds before attempt ``attempts + 1``: doubling, capped, jittered ±50 %."""
        base = min(self.most, self.first * 2.0 ** max(0, attempts - 1))
        return float(base * rng.uniform(0.5, 1.5))


DEFAULT_BACKOFF = Backoff()

SEND_GRACE = 5.0
"""Seconds a send may run past its route's timeout before it is abandoned (the notifier's
own timeout should have ended it: this is the backstop)."""
LEASE_MARGIN = 5.0
"""Seconds a lease outlives the longest send: the claim's commit before the send begins,
and clocks of processes on other hosts that disagree a little (PostgreSQL stores)."""


def lease_for(timeout: float) -> float:
    """How long a claim holds a notification on a route with this timeout.

    Why not take over the leases of a dead process at once, at start? A fresh ``wk up``
    cannot know it is alone on the store (nothing stops a second process on the same
    PostgreSQL, and a lease's owner on another host cannot be asked whether it lives), and,
    more to the point, the request the dead process made may still be at the receiver: the
    receiver learns of the death only when it answers into a closed socket, and until then
    it is processing the first copy. A copy sent at once would arrive while the first is
    still being handled, which is the one case a receiver's dedup by key handles worst (two
    requests racing past "seen this key?"). Waiting out the longest the first attempt could
    take keeps copies one after the other, at the cost of ``timeout + SEND_GRACE +
    LEASE_MARGIN`` after the claim (20 s with the default 10 s timeout).
    """
    return timeout + SEND_GRACE + LEASE_MARGIN


def due(unfinished: Sequence[db.Outgoing], now: float) -> list[db.Outgoing]:
    """Of the unfinished notifications (oldest first), those to send now: pending, their
    time come, and no older unfinished one on the same route about one of the same
    incidents — so a receiver never hears of a recovery before the problem, nor of the
    problem again after it (a retry or an expired lease would reorder them otherwise)."""
    ready: list[db.Outgoing] = []
    earlier: dict[str, set[int]] = {}
    for outgoing in unfinished:
        incidents = {
            int(item["incident"])
            for item in outgoing.message.get("items", ())
            if item.get("incident") is not None
        }
        before = earlier.setdefault(outgoing.route, set())
        if (
            outgoing.status == "pending"
            and outgoing.next_attempt_at <= now
            and not incidents & before
        ):
            ready.append(outgoing)
        before |= incidents
    return ready


class Deliverer:
    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        timeouts: Mapping[str, float],
        backoff: Backoff = DEFAULT_BACKOFF,
        backoffs: Mapping[str, Backoff] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        """``backoff`` is for routes without one of their own in ``backoffs``."""
        self._store = store
        self._notifiers = notifiers
        self._timeouts = timeouts
        self._backoff = backoff
        self._backoffs = dict(backoffs or {})
        self._clock = clock
        self._rng = rng or random.Random()
        self._busy: set[str] = set()
        self._delivering: dict[str, asyncio.Task[None]] = {}
        """route → its delivery in flight."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivered = 0
        self.failed = 0
        self.outcomes: Counter[tuple[str, str]] = Counter()
        """(route, delivered|retry|failed) → attempts that ended so, since start."""
        self.unfinished = 0
        """Notifications in the outbox not delivered yet, as of the last step."""
        self.broken: dict[str, float] = {}
        """Routes marked broken by a permanent error, and since when (cleared on success)."""

    def set_routes(
        self,
        notifiers: Mapping[str, Notifier],
        *,
        timeouts: Mapping[str, float],
        backoffs: Mapping[str, Backoff],
    ) -> None:
        """The routes of a reloaded config (deliveries in flight finish as they began)."""
        self._notifiers = notifiers
        self._timeouts = timeouts
        self._backoffs = dict(backoffs)

    def delivering(self, route: str) -> asyncio.Task[None] | None:
        """The delivery in flight on ``route``, if any."""
        task = self._delivering.get(route)
        return None if task is None or task.done() else task

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def busy(self) -> bool:
        """A delivery is in flight."""
        return bool(self._busy)

    async def step(self) -> int:
        """Start deliveries for whatever is due; returns how many started."""
        now = self._clock()
        due = await ALERTS.run(self._due, now)
        started = 0
        for outgoing in due:
            if outgoing.route in self._busy:
                continue
            lease = lease_for(self._timeouts.get(outgoing.route, 10.0))
            if not await ALERTS.run(self._claim, outgoing.id, lease):
                continue
            self._busy.add(outgoing.route)
            task = asyncio.create_task(self._deliver(outgoing))
            self._delivering[outgoing.route] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def drain(self, grace: float) -> None:
        """Let deliveries in flight finish for up to ``grace`` seconds (the rest resume from
        the outbox next time)."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- the database side --------------------------------------------------------------------
    def _due(self, now: float) -> list[db.Outgoing]:
        with self._store.transaction() as connection:
            db.release_expired(connection, now)
            unfinished = db.unfinished_notifications(connection, limit=1000)
            self.unfinished = len(unfinished)
            return due(unfinished, now)

    def _claim(self, notification_id: int, lease: float) -> bool:
        """Claim with the clock read now (not at the step's start: the lease runs from the
        claim, however long the step's reads took)."""
        with self._store.transaction() as connection:
            return db.claim(connection, notification_id, self._clock(), lease)

    def _record(
        self,
        outgoing: db.Outgoing,
        message: Message,
        outcome: str,
        error: str | None,
        retry_in: float | None,
    ) -> None:
        now = self._clock()
        incidents = sorted({item.incident for item in message.items if item.incident})
        route = outgoing.route
        with self._store.transaction() as connection:
            if outcome == "delivered":
                db.finish(
                    connection,
                    outgoing.id,
                    status="delivered",
                    delivered_at=now,
                    lease_until=None,
                    last_error=None,
                )
                db.set_route_health(
                    connection, route, broken_since=None, last_error=None, last_success_at=now
                )
                text = f"notified '{route}' ({message.event})"
            elif outcome == "retry":
                assert retry_in is not None
                db.finish(
                    connection,
                    outgoing.id,
                    status="pending",
                    lease_until=None,
                    next_attempt_at=now + retry_in,
                    last_error=error,
                )
                db.set_route_health(connection, route, last_error=error, last_failure_at=now)
                text = (
                    f"delivery to '{route}' failed, retrying in "
                    f"{format_duration(retry_in)}: {error}"
                )
            else:
                db.finish(
                    connection, outgoing.id, status="failed", lease_until=None, last_error=error
                )
                db.set_route_health(
                    connection, route, broken_since=now, last_error=error, last_failure_at=now
                )
                text = f"delivery to '{route}' failed for good: {error}"
            # not every retry in the timeline: the first only (``outgoing`` was read before its
            # claim counted this attempt, so this one is attempt ``attempts + 1``)
            if outcome != "retry" or outgoing.attempts == 0:
                db.add_timeline(
                    connection, [db.TimelineEntry(i, now, "notification", text) for i in incidents]
                )

    # -- sending ------------------------------------------------------------------------------
    async def _deliver(self, outgoing: db.Outgoing) -> None:
        message = Message.from_json(outgoing.message)
        route = outgoing.route
        outcome, error, retry_in = "delivered", None, None
        try:
            notifier = self._notifiers.get(route)
            if notifier is None:
                raise TransportError("the route is no longer in the config", permanent=True)
            timeout = self._timeouts.get(route, 10.0) + SEND_GRACE
            await asyncio.wait_for(notifier.send(message), timeout)
        except TransportError as exc:
            error = one_line(str(exc))  # what any notifier says, as one short line
            outcome = "failed" if exc.permanent else "retry"
        except TimeoutError:
            outcome, error = "retry", "the receiver did not answer in time"
        except asyncio.CancelledError:
            self._busy.discard(route)
            raise  # shutting down: the lease expires and it is sent next time
        except Exception as exc:  # a bug in a notifier: retry, loudly
            log.exception("notifier for route %s raised", route)
            outcome, error = "retry", one_line(f"{type(exc).__name__}: {exc}")
        if outcome == "retry":
            backoff = self._backoffs.get(route, self._backoff)
            age = self._clock() - outgoing.created_at
            if age >= backoff.give_up_after:
                outcome = "failed"
                error = f"gave up after {format_duration(age)}: {error}"
            else:
                retry_in = backoff.delay(outgoing.attempts + 1, self._rng)  # this one counted
        self.outcomes[(route, outcome)] += 1
        if outcome == "delivered":
            self.delivered += 1
            self.broken.pop(route, None)
        elif outcome == "failed":
            self.failed += 1
            self.broken.setdefault(route, self._clock())
            log.error("notification %s to route %s failed: %s", outgoing.dedup_key, route, error)
        else:
            log.warning("notification to route %s failed, retrying: %s", route, error)
        try:
            await ALERTS.run(self._record, outgoing, message, outcome, error, retry_in)
        except Exception:
            log.exception("recording the delivery of %s failed", outgoing.dedup_key)
        finally:
            self._busy.discard(route)
