"""The state machine: pure functions from (status, Result) to (status, Transition | None).

Each Result has a health: ``up``, ``degraded`` (it passed, but a soft ``warn:`` expectation
failed) or ``down``. The confirmed (*underlying*) state follows streaks of them:

- ``confirm`` results in a row that are down take a monitor down; ``confirm`` in a row that
  are not fully up (degraded or down) take it to degraded;
- from down, ``recover`` results in a row that answered bring it back: up if the last was
  fully up, else degraded; from degraded, ``recover`` fully-up results bring it up;
- the first result of a monitor in ``unknown`` that is fully up makes it up at once: there is
  nothing to confirm about a first sighting.

Flapping: when the underlying state changes ``transitions`` times within ``window``, the
reported state becomes ``flapping`` (one transition, so one notification) and stays there,
whatever the underlying state does, until it has held still for a whole ``window``; then the
reported state settles on the underlying one. A paused monitor never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.model import Result, State, Transition
from watchkeeper.units import format_duration


@dataclass(frozen=True, slots=True)
class FlapPolicy:
    transitions: int = 5
    window: float = 600.0


@dataclass(slots=True)
class MonitorStatus:
    """Live state of one monitor plus the streak counters that drive it."""

    name: str
    state: State = State.UNKNOWN
    """The reported state (what alerting and the UI see)."""
    since: float = 0.0
    reason: str | None = None
    last_result: Result | None = None
    underlying: State = State.UNKNOWN
    """The confirmed state, before flapping is taken into account."""
    bad: int = 0  # results in a row that were not fully up
    down: int = 0  # results in a row that were down
    good: int = 0  # results in a row that were fully up
    answered: int = 0  # results in a row that were not down
    flips: tuple[float, ...] = ()  # when the underlying state changed, recent ones

    def __post_init__(self) -> None:
        if self.underlying is State.UNKNOWN and self.state in (
            State.UP,
            State.DEGRADED,
            State.DOWN,
        ):  # built with just a state: that state is the confirmed one too
            object.__setattr__(self, "underlying", self.state)

    @property
    def failures(self) -> int:
        """Failed results in a row."""
        return self.down

    @property
    def successes(self) -> int:
        """Results in a row that were not failures."""
        return self.answered

    @property
    def confirming(self) -> bool:
        """A streak is under way that could change the state: check sooner to settle it."""
        underlying = self.underlying
        if underlying in (State.UP, State.UNKNOWN):
            return self.bad > 0
        if underlying is State.DEGRADED:
            return self.down > 0 or self.good > 0
        if underlying is State.DOWN:
            return self.answered > 0
        return False


def _confirmed(
    status: MonitorStatus,
    health: State,
    confirm: int,
    recover: int,
    streaks: tuple[int, int, int, int],
) -> State:
    """The underlying state after a result of ``health`` with the updated streaks."""
    bad, down, good, answered = streaks
    underlying = status.underlying
    if underlying is State.UNKNOWN and health is State.UP:
        return State.UP
    if underlying in (State.UNKNOWN, State.UP):
        if down >= confirm:
            return State.DOWN
        return State.DEGRADED if bad >= confirm else underlying
    if underlying is State.DEGRADED:
        if down >= confirm:
            return State.DOWN
        return State.UP if good >= recover else underlying
    if underlying is State.DOWN and answered >= recover:
        return State.UP if health is State.UP else State.DEGRADED
    return underlying


def advance(
    status: MonitorStatus,
    result: Result,
    *,
    confirm: int,
    recover: int,
    flapping: FlapPolicy | None = None,
    cause: str | None = None,
) -> tuple[MonitorStatus, Transition | None]:
    """Apply one Result. Returns the new status and the Transition it caused, if any.

    ``cause`` names a monitor this one depends on that is down now; a transition to down
    carries it, so alerting can fold this monitor into its parent's notification.
    """
    health = result.health
    if health is State.UP and status.state is State.UP and status.underlying is State.UP:
        # the steady state, most checks of most monitors: nothing can change (the general
        # path below comes to the same, slower)
        steady = MonitorStatus(
            status.name,
            State.UP,
            status.since,
            status.reason,
            result,
            State.UP,
            0,
            0,
            status.good + 1,
            status.answered + 1,
            status.flips,
        )
        return steady, None
    streaks = (
        status.bad + 1 if health is not State.UP else 0,
        status.down + 1 if health is State.DOWN else 0,
        status.good + 1 if health is State.UP else 0,
        status.answered + 1 if health is not State.DOWN else 0,
    )
    at = result.started_at
    if status.state is State.PAUSED:
        underlying = status.underlying
    else:
        underlying = _confirmed(status, health, confirm, recover, streaks)
    flips = status.flips
    reported = status.state
    if underlying is not status.underlying and status.underlying is not State.UNKNOWN:
        # a change of the confirmed state (a first sighting is not a change)
        window = flapping.window if flapping else 0.0
        flips = (*(t for t in flips if at - t < window), at)
    if reported is State.FLAPPING:
        if flapping is None or not flips or at - flips[-1] >= flapping.window:
            reported = underlying  # held still for a whole window: settled
    elif underlying is not status.underlying:
        if flapping is not None and len(flips) >= flapping.transitions:
            reported = State.FLAPPING
        else:
            reported = underlying
    bad, down, good, answered = streaks
    if reported is status.state:
        same = MonitorStatus(
            status.name,
            reported,
            status.since,
            status.reason,
            result,
            underlying,
            bad,
            down,
            good,
            answered,
            flips,
        )
        return same, None
    reason = _reason(reported, result, flips, flapping)
    changed = MonitorStatus(
        status.name, reported, at, reason, result, underlying, bad, down, good, answered, flips
    )
    transition = Transition(
        status.name,
        at,
        status.state,
        reported,
        reason,
        cause if reported is State.DOWN else None,
    )
    return changed, transition


def _reason(
    state: State, result: Result, flips: tuple[float, ...], flapping: FlapPolicy | None
) -> str | None:
    if state in (State.DOWN, State.DEGRADED):
        return result.reason
    if state is State.FLAPPING and flapping is not None:
        return f"{len(flips)} state changes in {format_duration(flapping.window)}"
    return None


def restore(
    name: str, state: State, since: float, reason: str | None, recent: list[Result]
) -> MonitorStatus:
    """Rebuild a monitor's status after a restart from its stored state and newest results
    (newest last), so streaks in progress are not forgotten. A monitor that was flapping
    resumes as flapping on the state its newest result suggests."""
    healths = [result.health for result in reversed(recent)]  # newest first

    def streak(counts: frozenset[State]) -> int:
        length = 0
        for health in healths:
            if health not in counts:
                break
            length += 1
        return length

    counts = [
        streak(frozenset({State.DEGRADED, State.DOWN})),
        streak(frozenset({State.DOWN})),
        streak(frozenset({State.UP})),
        streak(frozenset({State.UP, State.DEGRADED})),
    ]
    underlying = state
    if state is State.FLAPPING:
        underlying = recent[-1].health if recent else State.UNKNOWN
    return MonitorStatus(
        name=name,
        state=state,
        since=since,
        reason=reason,
        last_result=recent[-1] if recent else None,
        underlying=underlying,
        bad=counts[0],
        down=counts[1],
        good=counts[2],
        answered=counts[3],
        flips=(since,) if state is State.FLAPPING else (),
    )
