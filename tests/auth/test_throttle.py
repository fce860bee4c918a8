"""The login throttle on a clock the test moves: what is refused, what is slowed, when."""

from __future__ import annotations

from watchkeeper.auth import LoginThrottle
from watchkeeper.auth.limits import MAX_KEYS, Limiter
from watchkeeper.auth.throttle import MAX_DELAY, slowdown


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_attempts_are_counted_when_they_start_so_a_burst_cannot_slip_under_the_limit() -> None:
    throttle = LoginThrottle(Clock())
    # 150 attempts whose password checks have not finished yet
    verdicts = [throttle.attempt("alice", "192.0.2.1") for _ in range(150)]
    assert sum(v.refused_for is None for v in verdicts) == 5


def test_a_refusal_is_per_address_and_lasts_until_the_oldest_attempt_ages_out() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(5):
        assert throttle.attempt("alice", "192.0.2.1").refused_for is None
        clock.now += 10
    refused = throttle.attempt("alice", "192.0.2.1").refused_for
    assert refused is not None and 249 <= refused <= 251
    assert throttle.attempt("alice", "198.51.100.1").refused_for is None, "another address"
    clock.now += 251
    assert throttle.attempt("alice", "192.0.2.1").refused_for is None


def test_one_address_guessing_many_names_is_refused_after_twenty() -> None:
    throttle = LoginThrottle(Clock())
    verdicts = [throttle.attempt(f"user{i}", "192.0.2.1") for i in range(25)]
    assert [v.refused_for is None for v in verdicts] == [True] * 20 + [False] * 5


def test_a_name_failing_from_everywhere_is_slowed_down_never_refused() -> None:
    throttle = LoginThrottle(Clock())
    delays = [throttle.attempt("Alice", f"10.0.0.{i}").delay for i in range(1, 12)]
    assert delays[:5] == [0.0] * 5
    assert delays[5:] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(throttle.attempt("alice", f"10.0.1.{i}").refused_for is None for i in range(9))


def test_a_success_and_an_attempt_turned_away_are_taken_back() -> None:
    throttle = LoginThrottle(Clock())
    for _ in range(4):
        throttle.attempt("alice", "192.0.2.1")
    throttle.attempt("alice", "192.0.2.1")
    throttle.succeeded("alice", "192.0.2.1")
    assert throttle.by_pair.count("192.0.2.1\x00alice") == 0
    assert throttle.by_address.count("192.0.2.1") == 4
    throttle.attempt("bob", "192.0.2.2")
    throttle.forgive("bob", "192.0.2.2")
    assert throttle.by_address.count("192.0.2.2") == 0
    assert throttle.by_name.count("bob") == 0


def test_the_slowdown_doubles_to_its_cap() -> None:
    assert [slowdown(n) for n in range(4, 10)] == [0.0, 1.0, 2.0, 4.0, 8.0, MAX_DELAY]


def test_a_flood_of_keys_keeps_the_limiter_bounded() -> None:
    clock = Clock()
    limiter = Limiter(5, 600.0, clock)
    for i in range(MAX_KEYS + 500):
        limiter.fail(f"key{i}")
    assert len(limiter._attempts) <= MAX_KEYS
