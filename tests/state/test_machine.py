from __future__ import annotations

from watchkeeper.model import Phases, Result, State
from watchkeeper.state import MonitorStatus, advance, restore


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
