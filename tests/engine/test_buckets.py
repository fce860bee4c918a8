"""Token buckets (pure, on a clock the test moves): a burst, then a steady rate, per key."""

from __future__ import annotations

from watchkeeper.engine.buckets import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_its_rate_and_is_told_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock=clock)
    assert [buckets.take("job", 20, 2.0) for _ in range(20)] == [0.0] * 20
    assert buckets.take("job", 20, 2.0) == 0.5, "the 21st waits for the next token"
    assert buckets.take("other", 20, 2.0) == 0.0, "keys do not share a bucket"
    clock.now += 0.25
    assert buckets.take("job", 20, 2.0) == 0.25, "half a token back: a refused take costs none"
    clock.now += 0.25
    assert buckets.take("job", 20, 2.0) == 0.0
    clock.now += 3600
    assert [buckets.take("job", 20, 2.0) for _ in range(21)].count(0.0) == 20, "refills to burst"


def test_the_map_is_bounded_and_forgets_the_key_unused_longest() -> None:
    clock = Clock()
    buckets = TokenBuckets(most_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        buckets.take(key, 1, 1.0)
    buckets.take("a", 1, 1.0)  # a is the latest used now; b the oldest
    buckets.take("d", 1, 1.0)
    assert len(buckets) == 3
    assert buckets.take("a", 1, 1.0) > 0, "a is remembered (and empty)"
    assert buckets.take("b", 1, 1.0) == 0.0, "b was forgotten: a fresh bucket"
