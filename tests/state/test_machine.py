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


# -- boundaries: each count and window takes effect exactly where it says ---------------------
def test_degraded_comes_on_exactly_the_confirm_th_soft_failure() -> None:
    _, seen = run("uddd", confirm=3)
    assert states(seen) == ["degraded"] and seen[0].at == 3 * 30.0
    _, seen = run("udd", confirm=3)
    assert seen == []


def test_a_degraded_monitor_is_up_on_exactly_the_recover_th_clean_result() -> None:
    _, seen = run("dd" + "uuu", recover=3)
    assert states(seen) == ["degraded", "up"] and seen[1].at == 4 * 30.0
    _, seen = run("dd" + "uu", recover=3)
    assert states(seen) == ["degraded"]


def test_a_soft_failure_starts_the_clean_streak_over() -> None:
    _, seen = run("dd" + "udu" + "u", recover=3)
    assert states(seen) == ["degraded"], "one clean result after the blip is not three"
    _, seen = run("dd" + "udu" + "uu", recover=3)
    assert states(seen) == ["degraded", "up"]


def test_a_change_exactly_a_window_old_no_longer_counts_towards_flapping() -> None:
    policy = FlapPolicy(transitions=2, window=60)
    _, seen = run("uu" + "xu", confirm=1, recover=1, step=60.0, flapping=policy)
    assert states(seen) == ["down", "up"]
    _, seen = run("uu" + "xu", confirm=1, recover=1, step=59.0, flapping=policy)
    assert states(seen) == ["down", "flapping"]


def test_flapping_settles_after_exactly_a_quiet_window_with_no_reason() -> None:
    policy = FlapPolicy(transitions=2, window=60)
    status, seen = run("xuu", confirm=1, recover=1, step=30.0, flapping=policy)
    assert status.state is State.FLAPPING, "30 s still: not yet"
    _, seen = run("xuuu", confirm=1, recover=1, step=30.0, flapping=policy)
    assert states(seen) == ["down", "flapping", "up"]
    assert seen[-1].at == 90.0 and seen[-1].reason is None


def test_without_a_policy_a_flapping_monitor_settles_at_once() -> None:
    """The policy was taken out of the config while the monitor flapped."""
    status = restore("api", State.FLAPPING, 100.0, "5 state changes in 10m", [shaped("down", 99)])
    status, transition = advance(status, shaped("down", 101), confirm=2, recover=2)
    assert transition is not None and transition.to_state is State.DOWN
    assert status.state is State.DOWN


def test_without_a_policy_only_the_latest_change_is_remembered() -> None:
    status, _ = run("xu" * 4, confirm=1, recover=1, step=0.25)
    assert status.flips == (7 * 0.25,)


def test_a_status_and_its_transitions_name_the_monitor_and_keep_the_latest_result() -> None:
    status = MonitorStatus("db", State.UP)
    first, second, third = (shaped("down", at) for at in (1.0, 2.0, 3.0))
    status, transition = advance(status, first, confirm=2, recover=2)
    assert transition is None and status.name == "db" and status.last_result is first
    status, transition = advance(status, second, confirm=2, recover=2)
    assert transition is not None and transition.monitor == "db"
    assert status.name == "db" and status.last_result is second
    status, _ = advance(status, third, confirm=2, recover=2)
    assert status.last_result is third


def test_an_underlying_state_given_explicitly_is_kept() -> None:
    status = MonitorStatus("api", State.DEGRADED, underlying=State.DOWN)
    assert status.underlying is State.DOWN
    assert MonitorStatus("api", State.DEGRADED).underlying is State.DEGRADED


def test_restore_counts_each_streak_from_the_newest_result() -> None:
    recent = [shaped("down", 1), shaped("up", 2), shaped("degraded", 3), shaped("up", 4)]
    status = restore("api", State.UP, 0.5, None, recent)
    assert (status.bad, status.down, status.good, status.answered) == (0, 0, 1, 3)
    assert status.name == "api" and status.state is State.UP and status.underlying is State.UP
    assert status.since == 0.5 and status.reason is None
    assert status.last_result is recent[-1] and status.flips == ()


def test_restore_resumes_flapping_on_the_newest_result_until_a_quiet_window() -> None:
    policy = FlapPolicy(transitions=3, window=600)
    recent = [shaped("down", 1), shaped("up", 2), shaped("degraded", 3), shaped("down", 4)]
    status = restore("api", State.FLAPPING, 100.0, "3 state changes in 10m", recent)
    assert status.state is State.FLAPPING and status.underlying is State.DOWN
    assert status.since == 100.0 and status.reason == "3 state changes in 10m"
    assert status.last_result is recent[-1]
    held, transition = advance(status, shaped("down", 699), confirm=2, recover=2, flapping=policy)
    assert transition is None and held.state is State.FLAPPING
    settled, transition = advance(
        status, shaped("down", 700), confirm=2, recover=2, flapping=policy
    )
    assert transition is not None and settled.state is State.DOWN
    assert restore("api", State.FLAPPING, 100.0, None, []).underlying is State.UNKNOWN
    assert restore("api", State.DOWN, 100.0, None, []).last_result is None
