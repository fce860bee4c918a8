"""From queued alert events to notifications — a pure function of the queue and the moment.

For each route, events wait until the oldest of them has waited ``group_wait``; then every
event that may go out goes out together, as one notification. Before that:

- of several announcements of one incident waiting together (down, then flapping), only
  the newest goes out;
- a recovery whose incident was never announced on the route drops both (a blip shorter than
  the grouping wait stays quiet), and reminders of a recovered incident are dropped;
- a monitor that is down because a monitor it depends on is down (``cause``) is folded into
  its parent's announcement on the same route (or left out if the parent's went out
  already) instead of notifying on its own;
- while a monitor it depends on is still confirming a failure, a monitor's announcement
  waits (up to ``max_defer``), so the parent's verdict decides whether it is folded;
- announcements of muted monitors (maintenance window, silence) wait in the queue;
  recoveries of announced incidents are never held.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from watchkeeper.notify.base import AlertItem
from watchkeeper.store.alerts import AlertEvent

ANNOUNCEMENTS = frozenset({"firing", "reminder", "escalation"})


@dataclass(frozen=True)
class Context:
    now: float
    group_wait: Mapping[str, float]
    muted: Callable[[str], str | None] = lambda monitor: None
    """Why a monitor's announcements are held now (None: they are not)."""
    parent_confirming: Callable[[str], bool] = lambda monitor: False
    """Is a monitor this one depends on failing but not yet down?"""
    parent_down: Callable[[str], str | None] = lambda monitor: None
    """A monitor this one depends on that is down now (it went down at the same moment)."""
    announced: frozenset[tuple[int, str]] = frozenset()
    """(incident, route) pairs announced on the route (or folded into a parent's message)."""
    parents_announced: frozenset[tuple[str, str]] = frozenset()
    """(monitor, route) pairs whose open incident was announced on the route."""
    max_defer: float = 120.0


@dataclass
class Group:
    """One notification to create: events of one route going out together."""

    route: str
    events: list[AlertEvent]
    items: list[AlertItem]
    folded: list[tuple[AlertEvent, str]] = field(default_factory=list)
    """(child event, parent) left out because the parent's announcement covers them."""


@dataclass
class Plan:
    groups: list[Group] = field(default_factory=list)
    dropped: list[tuple[AlertEvent, str]] = field(default_factory=list)
    """(event, why) for events that will never be sent."""
    held: list[tuple[AlertEvent, str]] = field(default_factory=list)
    """(event, why) for announcements waiting on a mute."""


def plan(pending: Iterable[AlertEvent], context: Context) -> Plan:
    result = Plan()
    by_route: dict[str, list[AlertEvent]] = defaultdict(list)
    for event in pending:
        by_route[event.route].append(event)
    for route, events in by_route.items():
        _plan_route(route, events, context, result)
    return result


def _plan_route(route: str, events: list[AlertEvent], context: Context, result: Plan) -> None:
    live = _drop_unannounced(events, context, result)
    eligible: list[AlertEvent] = []
    for event in live:
        if event.event in ANNOUNCEMENTS:
            why = context.muted(event.monitor)
            if why is not None:
                result.held.append((event, why))
                continue
            if (
                event.event == "firing"
                and context.parent_confirming(event.monitor)
                and context.now - event.at < context.max_defer
            ):
                continue  # its parent's verdict decides whether it is folded
        eligible.append(event)
    if not eligible:
        return
    oldest = min(event.at for event in eligible)
    if context.now - oldest < context.group_wait.get(route, 0.0):
        return
    result.groups.append(_group(route, _newest_announcements(eligible, result), context))


def _newest_announcements(events: list[AlertEvent], result: Plan) -> list[AlertEvent]:
    """Of several announcements of one incident going out together (down, then flapping),
    the newest says it all: drop the others."""
    newest: dict[int, int] = {}
    for event in events:
        if event.event in ANNOUNCEMENTS:
            newest[event.incident_id] = max(newest.get(event.incident_id, 0), event.id)
    kept: list[AlertEvent] = []
    for event in events:
        if event.event in ANNOUNCEMENTS and event.id != newest[event.incident_id]:
            result.dropped.append((event, "a newer change of the same problem goes out instead"))
        else:
            kept.append(event)
    return kept


def _drop_unannounced(events: list[AlertEvent], context: Context, result: Plan) -> list[AlertEvent]:
    """Drop what a pending recovery makes moot: announcements still waiting, and the
    recovery itself when its incident was never announced here."""
    resolved = {e.incident_id for e in events if e.event == "resolved"}
    live: list[AlertEvent] = []
    for event in events:
        if event.incident_id in resolved:
            if event.event == "firing":
                result.dropped.append((event, "recovered before it was announced"))
                continue
            if event.event in ("reminder", "escalation"):
                result.dropped.append((event, "recovered before the reminder went out"))
                continue
            if (event.incident_id, event.route) not in context.announced:
                result.dropped.append((event, "recovered before it was announced"))
                continue
        live.append(event)
    return live


def _group(route: str, events: list[AlertEvent], context: Context) -> Group:
    items = {event.id: AlertItem.from_json(event.item) for event in events}
    parents = {
        item.monitor: event.id for event in events if (item := items[event.id]).event == "firing"
    }
    recovering = {
        item.monitor: event.id for event in events if (item := items[event.id]).event == "resolved"
    }
    kept: list[AlertEvent] = []
    folded: list[tuple[AlertEvent, str]] = []
    affected: dict[int, list[str]] = defaultdict(list)
    for event in events:
        item = items[event.id]
        # the cause it went down with, or a parent that went down at the same moment
        cause = item.cause or context.parent_down(item.monitor)
        if event.event == "firing" and cause is not None and cause != item.monitor:
            if cause in parents:
                affected[parents[cause]].append(item.monitor)
                folded.append((event, cause))
                continue
            if (cause, route) in context.parents_announced:
                folded.append((event, cause))  # the parent's announcement already went out
                continue
        if event.event == "resolved" and item.cause in recovering and item.cause != item.monitor:
            affected[recovering[item.cause]].append(item.monitor)  # back up with its parent
            folded.append((event, item.cause))
            continue
        kept.append(event)
    out: list[AlertItem] = []
    for event in kept:
        item = items[event.id]
        if affected.get(event.id):
            item = replace(item, affected=tuple(sorted({*item.affected, *affected[event.id]})))
        out.append(item)
    return Group(route=route, events=kept, items=out, folded=folded)
