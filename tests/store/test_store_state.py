"""Contract: transitions are kept in order and the current state survives a restart."""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.model import Result, State, StoredState, Transition
from watchkeeper.store import Store

ResultFactory = Callable[..., Result]

T0 = 1_700_000_000.0


def test_it_records_transitions_and_the_current_state(
    store: Store, make_result: ResultFactory
) -> None:
    down = Transition("api", T0 + 60, State.UP, State.DOWN, "status == 200")
    store.write([make_result(at=T0 + 60, ok=False)], [down])

    assert store.transitions() == [down]
    assert store.states() == {"api": StoredState("api", State.DOWN, T0 + 60, "status == 200")}


def test_it_takes_the_last_transition_of_a_batch_as_the_state(store: Store) -> None:
    changes = [
        Transition("api", T0 + 10, State.UNKNOWN, State.UP),
        Transition("db", T0 + 11, State.UNKNOWN, State.UP),
        Transition("api", T0 + 20, State.UP, State.DOWN, "timeout"),
        Transition("api", T0 + 30, State.DOWN, State.UP),
    ]
    store.write([], changes)

    assert store.states() == {
        "api": StoredState("api", State.UP, T0 + 30),
        "db": StoredState("db", State.UP, T0 + 11),
    }
    assert store.transitions() == changes


def test_it_restores_the_latest_state_after_a_restart(store_url: str) -> None:
    before = Store.open(store_url)
    before.write([], [Transition("api", T0, State.UNKNOWN, State.UP)])
    before.write([], [Transition("api", T0 + 90, State.UP, State.DOWN, "refused")])
    before.write([], [Transition("web", T0 + 95, State.UNKNOWN, State.PAUSED)])
    before.close()

    after = Store.open(store_url)
    try:
        assert after.states() == {
            "api": StoredState("api", State.DOWN, T0 + 90, "refused"),
            "web": StoredState("web", State.PAUSED, T0 + 95),
        }
        assert [t.to_state for t in after.transitions("api")] == [State.UP, State.DOWN]
    finally:
        after.close()


def test_it_filters_transitions_by_monitor_since_and_limit(store: Store) -> None:
    changes = [
        Transition("api" if i % 2 else "db", T0 + i, State.UP, State.DOWN, f"r{i}")
        for i in range(10)
    ]
    store.write([], changes[5:])
    store.write([], changes[:5])

    assert store.transitions() == changes
    assert store.transitions("api") == [t for t in changes if t.monitor == "api"]
    assert store.transitions(since=T0 + 7) == changes[7:]
    assert store.transitions("db", since=T0 + 1, limit=2) == [changes[2], changes[4]]


def test_a_transition_registers_its_monitor_and_a_later_result_gives_it_a_kind(
    store: Store, make_result: ResultFactory
) -> None:
    store.write([], [Transition("cert", T0, State.UNKNOWN, State.UP)])
    result = make_result("cert", kind="tls", at=T0 + 1)
    store.write([result])

    assert store.results("cert", since=0) == [result]
    assert store.states()["cert"].state is State.UP


def test_it_has_no_states_before_any_transition(store: Store, make_result: ResultFactory) -> None:
    store.write([make_result(at=T0)])

    assert store.states() == {}
    assert store.transitions() == []
