from __future__ import annotations

from watchkeeper.model import Phases, Result, State, Transition
from watchkeeper.state import FlapPolicy, MonitorStatus, advance, restore


def result(ok: bool, at: float = 0.0) -> Result:
    return Result("api", "http", at, ok, Phases(total=0.01), [] if ok else ["status 500"])


def feed(
    oks: list[bool], confirm: int = 2, recover: int = 2, start: State = State.UP
) -> tuple[MonitorStatus, list[tuple[State, State]]]:
    status = MonitorStatus("api", start)
    seen = []
    for i, ok in enumerate(oks):
        status, transition = advance(status, result(ok, float(i)), confirm=confirm, recover=recover)
        if transition:
            seen.append((transition.from_state, transition.to_state))
    return status, seen


def test_a_single_failure_does_not_take_a_monitor_down() -> None:
    status, seen = feed([False, True, False, True])
    assert status.state is State.UP
    assert seen == []


def test_confirm_failures_in_a_row_take_it_down_once() -> None:
    status, seen = feed([False, False, False, False])
    assert status.state is State.DOWN
    assert seen == [(State.UP, State.DOWN)]
    assert status.reason == "status 500"
    assert status.since == 1.0


def test_it_needs_recover_successes_to_come_back() -> None:
    status, seen = feed([False, False, True, False, True, True], recover=2)
    assert seen == [(State.UP, State.DOWN), (State.DOWN, State.UP)]
    assert status.state is State.UP
    assert status.reason is None


def test_the_first_success_of_an_unknown_monitor_is_up_at_once() -> None:
    _, seen = feed([True], start=State.UNKNOWN)
    assert seen == [(State.UNKNOWN, State.UP)]


def test_an_unknown_monitor_that_fails_goes_down_after_confirming() -> None:
    _, seen = feed([False, False], start=State.UNKNOWN)
    assert seen == [(State.UNKNOWN, State.DOWN)]


def test_it_says_when_a_streak_is_being_confirmed() -> None:
    status, _ = feed([False], confirm=3)
    assert status.confirming
    status, _ = feed([False, False, False, True], confirm=3, recover=2)
    assert status.state is State.DOWN and status.confirming


def test_a_paused_monitor_never_changes_state() -> None:
    status, seen = feed([False, False, False], start=State.PAUSED)
    assert status.state is State.PAUSED and seen == []


def test_restore_rebuilds_the_streak_in_progress() -> None:
    recent = [result(True, 1), result(False, 2), result(False, 3)]
    status = restore("api", State.UP, 0.0, None, recent)
    assert (status.failures, status.successes) == (2, 0)
    status, transition = advance(status, result(False, 4), confirm=3, recover=2)
    assert transition is not None and transition.to_state is State.DOWN


# -- degraded, flapping, dependency cause --------------------------------------------------------
def shaped(health: str, at: float) -> Result:
    if health == "up":
        return Result("api", "http", at, True, Phases(total=0.01))
    if health == "degraded":
        return Result("api", "http", at, True, Phases(total=0.9), warnings=["latency 900ms"])
    return Result("api", "http", at, False, Phases(total=0.01), ["status 500"])


def run(
    healths: str,
    *,
    start: State = State.UP,
    confirm: int = 2,
    recover: int = 2,
    flapping: FlapPolicy | None = None,
    step: float = 30.0,
    cause: str | None = None,
) -> tuple[MonitorStatus, list[Transition]]:
    """Feed results written as letters: u(p), d(egraded), x (down)."""
    status = MonitorStatus("api", start)
    seen: list[Transition] = []
    names = {"u": "up", "d": "degraded", "x": "down"}
    for i, letter in enumerate(healths):
        status, transition = advance(
            status,
            shaped(names[letter], i * step),
            confirm=confirm,
            recover=recover,
            flapping=flapping,
            cause=cause,
        )
        if transition:
            seen.append(transition)
    return status, seen


def states(seen: list[Transition]) -> list[str]:
    return [str(t.to_state) for t in seen]


def test_soft_failures_in_a_row_make_a_monitor_degraded_with_their_reason() -> None:
    status, seen = run("udud" + "dd")
    assert states(seen) == ["degraded"]
    assert status.reason == "latency 900ms"


def test_a_degraded_monitor_goes_down_on_failures_and_up_on_clean_results() -> None:
    _, seen = run("ddxxuu")
    assert states(seen) == ["degraded", "down", "up"]


def test_a_mix_of_soft_and_hard_failures_is_at_least_degraded() -> None:
    _, seen = run("dxdx")
    assert states(seen) == ["degraded"]


def test_recovering_from_down_with_a_soft_failure_lands_on_degraded() -> None:
    _, seen = run("xxud")
    assert states(seen) == ["down", "degraded"]


def test_flapping_is_one_transition_and_settles_after_a_quiet_window() -> None:
    policy = FlapPolicy(transitions=4, window=600)
    # down/up every two checks at 30 s: four changes in 4 minutes
    status, seen = run("xxuuxxuuxxuuxxuu" + "u" * 25, flapping=policy)
    assert states(seen) == ["down", "up", "down", "flapping", "up"]
    assert seen[3].reason == "4 state changes in 10m"
    settled = seen[-1]
    last_change = 14 * 30.0  # the last underlying change (back up)
    assert settled.at - last_change >= policy.window
    assert status.state is State.UP


def test_while_flapping_the_reported_state_holds_whatever_happens() -> None:
    policy = FlapPolicy(transitions=2, window=600)
    status, seen = run("xxuuxxuuxx", flapping=policy)
    assert states(seen) == ["down", "flapping"]
    assert status.state is State.FLAPPING and status.underlying is State.DOWN


def test_without_a_policy_there_is_no_flapping() -> None:
    _, seen = run("xxuu" * 5)
    assert states(seen) == ["down", "up"] * 5


def test_a_transition_to_down_carries_its_cause() -> None:
    _, seen = run("xxuu", cause="db")
    assert [t.cause for t in seen] == ["db", None]


def test_restore_keeps_the_degraded_streaks() -> None:
    recent = [shaped("up", 1), shaped("degraded", 2), shaped("down", 3)]
    status = restore("api", State.UP, 0.0, None, recent)
    assert (status.bad, status.down, status.good, status.answered) == (2, 1, 0, 0)
    assert status.underlying is State.UP and status.confirming


def test_a_first_sighting_is_not_a_change_that_counts_towards_flapping() -> None:
    policy = FlapPolicy(transitions=4, window=600)
    _, seen = run("uu" + "xxuuxx", start=State.UNKNOWN, flapping=policy)
    assert states(seen) == ["up", "down", "up", "down"]
    _, seen = run("uu" + "xxuuxxuu", start=State.UNKNOWN, flapping=policy)
    assert states(seen) == ["up", "down", "up", "down", "flapping"]
