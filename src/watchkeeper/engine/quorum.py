"""k-of-n quorum over locations: a monitor checked from several places is down only when at
least ``quorum`` of them fail within the same window; fewer failing make it degraded
("failing from us-east only"), since one vantage point's network trouble is not an outage.

Every location's newest Result is kept on a board (times in the server's clock: an agent's
results are corrected for its clock when they arrive). Each new Result of any location
yields one verdict — a Result of the whole monitor — which the state machine takes as it
takes a single location's. A location with no Result within the window (an agent gone
silent, a check that hangs) is *unavailable*: it counts neither as failing nor as well,
and the quorum shrinks to the locations that still answer, so a monitor watched from three
places with two agents silent is judged by the one left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from watchkeeper.config import LOCAL, Monitor
from watchkeeper.model import Result

WINDOW_INTERVALS = 2.0
"""A location's Result counts for this many intervals (plus the timeout and the slack)."""
SLACK = 15.0
"""Seconds for an agent's batching and the push's way to the node (``agents: {slack}``)."""


def window(monitor: Monitor, slack: float = SLACK) -> float:
    """How long a location's newest Result speaks for it."""
    return WINDOW_INTERVALS * monitor.interval + monitor.timeout + slack


@dataclass(frozen=True, slots=True)
class Seen:
    """One location's view of a monitor, for the API and the pages."""

    location: str
    result: Result
    available: bool


class Quorum:
    """The boards of the monitors checked from more than one location."""

    def __init__(self, slack: float = SLACK) -> None:
        self._boards: dict[str, dict[str, Result]] = {}
        self.slack = slack
        """Added to each monitor's window (``agents: {slack}``; a reload may change it)."""

    def forget(self, name: str) -> None:
        self._boards.pop(name, None)

    def seen(self, monitor: Monitor, now: float) -> list[Seen]:
        """Each location's newest Result, in the monitor's order of locations."""
        board = self._boards.get(monitor.name, {})
        horizon = now - window(monitor, self.slack)
        return [
            Seen(location, board[location], board[location].started_at >= horizon)
            for location in monitor.locations
            if location in board
        ]

    def offer(self, monitor: Monitor, result: Result, now: float) -> Result | None:
        """Take one location's Result (``result.location``: None is ``local``); return the
        verdict for the whole monitor, or None when the Result is too old to speak for
        now (a buffered one arriving late) or older than what the board has."""
        location = result.location or LOCAL
        board = self._boards.setdefault(monitor.name, {})
        horizon = now - window(monitor, self.slack)
        if result.started_at < horizon:
            return None  # kept in the store, but it says nothing about now
        held = board.get(location)
        if held is not None and held.started_at > result.started_at:
            return None
        board[location] = result
        return verdict(monitor, board, result, horizon)


def verdict(monitor: Monitor, board: dict[str, Result], latest: Result, horizon: float) -> Result:
    """The whole monitor's Result from its board: ``latest`` (the Result that just came)
    with its health set by the quorum."""
    fresh = {
        location: result
        for location, result in board.items()
        if result.started_at >= horizon and location in monitor.locations
    }
    failing = [loc for loc in monitor.locations if loc in fresh and not fresh[loc].ok]
    need = max(1, min(monitor.quorum, len(fresh)))
    base = replace(latest, location=None)
    if not failing:
        return replace(base, ok=True, error=None, failures=[], status=latest.status)
    first = fresh[failing[0]]
    where = ", ".join(failing)
    if len(failing) >= need:
        return replace(
            base,
            ok=False,
            error=f"failing from {where}: {first.reason}",
            failures=[],
        )
    only = "only" if len(failing) == 1 else f"({len(failing)} of {len(fresh)})"
    return replace(
        base,
        ok=True,
        error=None,
        failures=[],
        warnings=[f"failing from {where} {only}: {first.reason}", *latest.warnings],
    )
