"""What a state change means for incidents and who must hear of it — pure decisions.

An incident opens on a monitor's first non-up state and closes when it is up again. Within an
incident only a change for the worse (degraded → flapping → down), or to flapping, is
announced again (the newest of several waiting together says it all). A
recovery is announced on every route that was told of the incident (or still has the news
pending: the planner then drops both, so a blip shorter than the grouping wait stays quiet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from watchkeeper.config import Monitor, Route
from watchkeeper.model import Result, State, Transition
from watchkeeper.notify.base import AlertItem
from watchkeeper.store.alerts import Incident
from watchkeeper.units import format_duration

RANK = {"degraded": 1, "flapping": 2, "down": 3}
PROBLEMS = frozenset({State.DOWN, State.DEGRADED, State.FLAPPING})


def severity_of(monitor: Monitor, state: str) -> str:
    """A degraded monitor is a warning even if its problems are critical."""
    if state == "degraded" and monitor.severity == "critical":
        return "warning"
    return monitor.severity


def routes_for(monitor: Monitor, routes: Sequence[Route], severity: str) -> list[str]:
    """The routes a monitor notifies at ``severity``: those it names and those matching its
    tags, less those that do not take this severity."""
    tags = set(monitor.tags)
    return [
        route.name
        for route in routes
        if (route.name in monitor.notify or tags & set(route.tags)) and route.accepts(severity)
    ]


QUIET_FOR = 30.0
"""How long an incident of a monitor that notifies no route must last to count as more than a
blip: the grouping wait a route has unless it sets its own (shorter ones stay quiet there)."""


def announced(incident: Incident, monitor: Monitor | None, routes: Sequence[Route]) -> bool:
    """Was this incident more than a blip: announced on a route (a blip shorter than the
    grouping wait never is), or, for a monitor that notifies no route at its severity, did it
    last as long as one would have waited? Status pages publish only these."""
    if incident.notified_at is not None:
        return True
    if monitor is None or routes_for(monitor, routes, severity_of(monitor, incident.worst)):
        return False  # it had routes, and none was told
    lasted = incident.duration
    return lasted is None or lasted >= QUIET_FOR


@dataclass
class Decision:
    """What to write for one transition."""

    open: bool = False
    """Open a new incident (with ``updates`` as its first values)."""
    close: bool = False
    updates: dict[str, object] = field(default_factory=dict)
    timeline: list[tuple[str, str]] = field(default_factory=list)
    """(kind, text) entries for the incident's timeline."""
    alerts: list[tuple[str, str]] = field(default_factory=list)
    """(route, event) alert events to queue."""


def decide(
    incident: Incident | None,
    transition: Transition,
    monitor: Monitor,
    routes: Sequence[Route],
    told: Iterable[str] = (),
) -> Decision:
    """``told``: routes this incident already has (non-dropped) firing events on."""
    to = transition.to_state
    decision = Decision()
    state = str(to)
    if to in PROBLEMS:
        reason = transition.reason or ""
        because = f" (caused by {transition.cause}, which is down)" if transition.cause else ""
        announce = routes_for(monitor, routes, severity_of(monitor, state))
        if incident is None:
            decision.open = True
            decision.updates = {
                "state": state,
                "worst": state,
                "reason": transition.reason,
                "cause": transition.cause,
            }
            decision.timeline.append(("detected", f"{state}: {reason}{because}".rstrip(": ")))
            decision.alerts = [(route, "firing") for route in announce]
            return decision
        decision.updates = {"state": state, "reason": transition.reason}
        if transition.cause:
            decision.updates["cause"] = transition.cause
        worse = RANK.get(state, 0) > RANK.get(incident.worst, 0)
        # flapping is news even after down: the problem comes and goes now
        flapping = to is State.FLAPPING and incident.state != state
        if worse or flapping:
            if worse:
                decision.updates["worst"] = state
            decision.alerts = [(route, "firing") for route in announce]
            decision.timeline.append(
                ("worse" if worse else "flapping", f"now {state}: {reason}{because}".rstrip(": "))
            )
        else:
            decision.timeline.append(
                ("state", f"{transition.from_state} → {state}: {reason}".rstrip(": "))
            )
        return decision
    if to is State.UP and incident is not None:
        decision.close = True
        lasted = transition.at - incident.opened_at
        decision.updates = {"state": state, "closed_at": transition.at}
        decision.timeline.append(("recovered", f"up again after {format_duration(lasted)}"))
        decision.alerts = [(route, "resolved") for route in sorted(set(told))]
        return decision
    if incident is not None:
        decision.updates = {"state": state}
        decision.timeline.append(("state", f"{transition.from_state} → {state}"))
    return decision


def item_for(
    monitor: Monitor,
    transition: Transition,
    last: Result | None,
    *,
    incident: int,
    since: float,
    event: str,
    public_url: str | None,
) -> AlertItem:
    """The alert item for a transition: what the notification says about this monitor."""
    state = str(transition.to_state)
    failed = last is not None and event != "resolved"
    return AlertItem(
        monitor=monitor.name,
        state=state,
        previous_state=str(transition.from_state),
        at=transition.at,
        since=since,
        kind=monitor.kind,
        target=monitor.target,
        reason=transition.reason,
        failures=tuple(last.failures) if failed and last else (),
        warnings=tuple(last.warnings) if failed and last else (),
        error=last.error if failed and last else None,
        cause=transition.cause,
        runbook=monitor.runbook,
        url=f"{public_url}/monitors/{monitor.name}" if public_url else None,
        incident=incident,
        severity=severity_of(monitor, state),
        tags=monitor.tags,
        event=event,
        duration=transition.at - since if event == "resolved" else None,
    )
