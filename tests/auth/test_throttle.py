"""The login throttle on a clock the test moves: what is refused, what is slowed, when."""

from __future__ import annotations

import asyncio

from watchkeeper.auth import LoginThrottle
from watchkeeper.auth.limits import MAX_KEYS, Limiter, address_key
from watchkeeper.auth.throttle import MAX_DELAY, Slots, slowdown


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


def test_a_name_failing_from_everywhere_is_paced_one_try_at_a_time() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for i in range(5):
        assert throttle.attempt("alice", f"10.0.0.{i}").delay == 0.0
    # six tries at once from six more addresses: each waits for the one before it, and
    # the sixth, whose turn would be 23 s away, is told to come back
    verdicts = [throttle.attempt("Alice", f"10.0.1.{i}") for i in range(6)]
    assert [v.delay for v in verdicts[:5]] == [0.0, 1.0, 3.0, 7.0, 15.0]
    assert all(v.refused_for is None for v in verdicts[:5])
    assert verdicts[5].refused_for is not None
    clock.now += 100
    assert throttle.attempt("alice", "10.0.2.1").refused_for is None


def test_the_owner_is_never_paced_by_address_or_by_device_token() -> None:
    throttle = LoginThrottle(Clock())
    token = throttle.succeeded("alice", "192.0.2.1")
    for i in range(12):
        throttle.attempt("alice", f"10.0.0.{i}")
    at_home = throttle.attempt("alice", "192.0.2.1")
    assert at_home.owner and at_home.delay == 0.0 and at_home.refused_for is None
    travelling = throttle.attempt("alice", "198.51.100.7", token)
    assert travelling.owner and travelling.delay == 0.0
    stranger = throttle.attempt("alice", "198.51.100.8", token + "x")
    assert not stranger.owner
    assert not throttle.attempt("bob", "198.51.100.9", token).owner, "alice's token only"


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    keys = {address_key(f"2001:db8:1:2::{i:x}") for i in range(50)}
    assert keys == {"2001:db8:1:2::/64"}
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7" == address_key("192.0.2.7")


async def test_hashing_slots_let_the_waiting_owner_go_before_strangers() -> None:
    slots = Slots(2)
    assert slots.try_take() and slots.try_take() and not slots.try_take()
    owner = asyncio.create_task(slots.take(5.0))
    await asyncio.sleep(0)
    slots.give()
    assert await owner, "the freed slot went to the owner waiting"
    assert not slots.try_take(), "not to a stranger who came after"
    assert not await slots.take(0.05), "an owner who waits too long gives up"
    slots.give()
    slots.give()
    assert slots.taken == 0


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


def test_the_pace_doubles_to_its_cap() -> None:
    assert [slowdown(n) for n in range(4, 10)] == [0.0, 1.0, 2.0, 4.0, 8.0, MAX_DELAY]


def test_a_flood_of_keys_keeps_the_limiter_bounded() -> None:
    clock = Clock()
    limiter = Limiter(5, 600.0, clock)
    for i in range(MAX_KEYS + 500):
        limiter.fail(f"key{i}")
    assert len(limiter._attempts) <= MAX_KEYS
