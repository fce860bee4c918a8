"""The chunk format: every check comes back bit for bit, and a check costs what it varies by."""

from __future__ import annotations

import math
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.store import chunks
from watchkeeper.store.chunks import Check

T0 = 1_767_225_600.0


def _bits(value: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", value))[0])


def _same(left: list[Check], right: list[Check]) -> bool:
    """Equal, floats compared bit for bit (NaN is NaN, -0.0 is not 0.0)."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        if _bits(a.ts) != _bits(b.ts) or a[1:7] != b[1:7]:
            return False
        if a.metrics.keys() != b.metrics.keys():
            return False
        if any(_bits(a.metrics[k]) != _bits(b.metrics[k]) for k in a.metrics):
            return False
    return True


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
nanoseconds = st.none() | st.integers(min_value=-(2**60) + 1, max_value=2**60 - 1)
texts = st.text(max_size=20)
checks = st.builds(
    Check,
    ts=floats,
    ok=st.booleans(),
    status=st.none() | st.integers(min_value=-(2**62), max_value=2**62),
    error=st.none() | texts,
    failures=st.lists(texts, max_size=3),
    warnings=st.lists(texts, max_size=2),
    phases=st.tuples(*[nanoseconds] * len(chunks.PHASES)),
    metrics=st.dictionaries(st.sampled_from(["body.size", "pg.connections", "é.x", ""]), floats),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(checks, min_size=1, max_size=40))
def test_any_checks_come_back_bit_for_bit(written: list[Check]) -> None:
    assert _same(chunks.unpack(chunks.encode(written)), written)


@settings(max_examples=100, deadline=None)
@given(st.lists(checks, min_size=1, max_size=40), st.sampled_from(["body.size", "nothing"]))
def test_a_reader_can_ask_for_one_series_only(written: list[Check], name: str) -> None:
    columns = chunks.decode(chunks.encode(written), metrics=name)
    assert columns.metrics is not None
    assert [set(m) for m in columns.metrics] == [set(c.metrics) & {name} for c in written]
    assert columns.texts is None


def _http_checks(count: int, series: dict[str, float] | None = None, seed: int = 1) -> list[Check]:
    """Checks every 30 s with millisecond jitter, phases as a clock measures them."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        phases = [rng.randint(300_000, 3_000_000), rng.randint(5_000_000, 40_000_000)]
        phases += [None, rng.randint(20_000_000, 200_000_000), rng.randint(50_000, 900_000)]
        total = sum(p for p in phases if p is not None) + rng.randint(100_000, 500_000)
        at = round((T0 + index * 30 + rng.uniform(0, 0.003)) * 1e9) / 1e9
        metrics = {} if series is None else dict(series)
        if series and "cert.expires_in" in series:
            metrics["cert.expires_in"] = series["cert.expires_in"] - (at - T0)
        out.append(Check(at, True, 200, None, [], [], (total, *phases), metrics))
    return out


def test_a_series_that_does_not_change_costs_next_to_nothing_per_check() -> None:
    without = len(chunks.encode(_http_checks(20)))
    constant = len(chunks.encode(_http_checks(20, {"body.size": 5123.0})))

    assert (constant - without) / 20 <= 1.5  # its name and one value, for the whole chunk


def test_a_series_that_climbs_steadily_costs_a_few_bytes_per_check() -> None:
    without = len(chunks.encode(_http_checks(20)))
    steady = len(chunks.encode(_http_checks(20, {"cert.expires_in": 7_776_000.0})))

    assert (steady - without) / 20 <= 5  # a float each time would be 8


def test_a_plain_http_check_packs_into_a_few_dozen_bytes() -> None:
    packed = chunks.encode(_http_checks(20, {"body.size": 5123.0}))

    assert len(packed) / 20 <= 24, len(packed)  # a results row with its index took ~95
    assert math.isclose(chunks.decode(packed).ts[-1], _http_checks(20)[-1].ts)
