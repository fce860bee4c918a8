"""The state machine: pure functions from (state, Result) to (state, Transition | None).

``confirm`` consecutive failures take an up (or unknown) monitor down; ``recover`` consecutive
successes bring a down monitor back up. The first success of a monitor in ``unknown`` makes it
up at once: there is nothing to confirm about a first sighting.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.model import Result, State, Transition


@dataclass(frozen=True, slots=True)
class MonitorStatus:
    """Live state of one monitor plus the streak counters that drive it."""

    name: str
    state: State = State.UNKNOWN
    since: float = 0.0
    failures: int = 0
    successes: int = 0
    reason: str | None = None
    last_result: Result | None = None

    @property
    def confirming(self) -> bool:
        """A streak is under way that could flip the state: retry sooner to settle it."""
        if self.state in (State.UP, State.UNKNOWN, State.DEGRADED):
            return self.failures > 0
        if self.state is State.DOWN:
            return self.successes > 0
        return False


def advance(
    status: MonitorStatus, result: Result, *, confirm: int, recover: int
) -> tuple[MonitorStatus, Transition | None]:
    """Apply one Result. Returns the new status and the Transition it caused, if any."""
    if result.ok:
        successes, failures = status.successes + 1, 0
    else:
        successes, failures = 0, status.failures + 1
    new_state = status.state  # a paused monitor stays paused whatever it sees
    if result.ok:
        if status.state in (State.UNKNOWN, State.DEGRADED) or (
            status.state is State.DOWN and successes >= recover
        ):
            new_state = State.UP
    elif status.state in (State.UP, State.UNKNOWN, State.DEGRADED) and failures >= confirm:
        new_state = State.DOWN
    if new_state is status.state:  # built directly: dataclasses.replace is slow on this path
        same = MonitorStatus(
            status.name, new_state, status.since, failures, successes, status.reason, result
        )
        return same, None
    reason = result.reason if new_state is State.DOWN else None
    changed = MonitorStatus(
        status.name, new_state, result.started_at, failures, successes, reason, result
    )
    return changed, Transition(status.name, result.started_at, status.state, new_state, reason)


def restore(
    name: str, state: State, since: float, reason: str | None, recent: list[Result]
) -> MonitorStatus:
    """Rebuild a monitor's status after a restart from its stored state and newest results
    (newest last), so streaks in progress are not forgotten."""
    failures = successes = 0
    for result in reversed(recent):
        if result.ok and failures == 0:
            successes += 1
        elif not result.ok and successes == 0:
            failures += 1
        else:
            break
    return MonitorStatus(
        name=name,
        state=state,
        since=since,
        failures=failures,
        successes=successes,
        reason=reason,
        last_result=recent[-1] if recent else None,
    )
