"""The packed form of the 1-minute tier, without a database: what it reads back is bit for bit
what the rollups compute from the same checks, and a minute of two checks costs little."""

from __future__ import annotations

import math
import random
from collections import defaultdict

import numpy as np
import pytest

from watchkeeper.store import aggregate, packed_minutes, sample_rollups
from watchkeeper.store.packed_minutes import Minute

HOUR = 1_767_225_600
Check = tuple[float, bool, list[int | None]]


def _checks(rng: random.Random, count: int) -> list[Check]:
    """``count`` checks in one hour: missing phases, ties, zero, negative and huge latencies."""
    out = []
    for _ in range(count):
        phases: list[int | None] = []
        for _ in range(5):
            roll = rng.random()
            if roll < 0.15:
                phases.append(None)
            elif roll < 0.2:
                phases.append(rng.choice([0, -3, 10**12 + rng.randrange(10**6), 5_000_000]))
            else:
                phases.append(round(rng.lognormvariate(17, 1.2)))
        out.append((HOUR + rng.uniform(0, 3599.999), rng.random() < 0.8, phases))
    return sorted(out, key=lambda check: check[0])


def _computed(checks: list[Check]) -> list[tuple[object, ...]]:
    """What the rollups compute from raw results (milliseconds as the store reads them)."""
    matrix = np.array(
        [
            [7, ts, float(ok), *(np.nan if v is None else v / 1e9 * 1000.0 for v in phases)]
            for ts, ok, phases in checks
        ]
    )
    return aggregate.buckets(matrix, 60)


def _minutes(checks: list[Check]) -> list[Minute]:
    groups: dict[int, list[Check]] = defaultdict(list)
    for check in checks:
        groups[int((check[0] - HOUR) // 60)].append(check)
    return [
        Minute.of(
            offset,
            len(members),
            sum(not ok for _, ok, _ in members),
            [[v for _, _, phases in members if (v := phases[i]) is not None] for i in range(5)],
        )
        for offset, members in sorted(groups.items())
    ]


@pytest.mark.parametrize("per_minute", [1, 2, 3, 7, 8, 61, 400])
def test_packed_minutes_read_back_as_the_rollups_compute_them(per_minute: int) -> None:
    rng = random.Random(per_minute)
    for _ in range(20 if per_minute < 60 else 3):
        checks = _checks(rng, per_minute * rng.randint(1, 60))

        covered, rows = packed_minutes.unpack_checks(
            packed_minutes.pack_checks(_minutes(checks)), 7, HOUR
        )

        assert covered == 60
        assert rows == _computed(checks)  # every float bit for bit


def test_minutes_kept_as_statistics_read_back_exactly_and_say_what_they_cover() -> None:
    rows = _computed(_checks(random.Random(3), 300))
    odd = [(7, HOUR + 120, 3, 1, *([1 / 3, 5e-324, 1e300, None] * 5))]

    blob = packed_minutes.pack_check_rows([*rows, *odd], HOUR, covered=42)

    assert packed_minutes.covered(blob) == 42
    assert packed_minutes.unpack_checks(blob, 7, HOUR) == (42, [*rows, *odd])


def test_an_hour_of_a_check_every_30_s_packs_into_a_few_bytes_a_check() -> None:
    rng = random.Random(1)
    checks: list[Check] = []
    for minute in range(60):
        for second in (7.0, 37.0):
            phases = [round(rng.lognormvariate(math.log(v), 0.3)) for v in (9e7, 8e5, 2e7)]
            ttfb = round(rng.lognormvariate(math.log(6e7), 0.3))
            checks.append((HOUR + minute * 60 + second, True, [*phases, None, ttfb]))

    blob = packed_minutes.pack_checks(_minutes(checks))

    # eight latencies a minute that vary by 30 %, about 27 bits each: near 14 bytes a check
    # (a rollup row took 20 doubles a minute)
    assert len(blob) / len(checks) < 16
    assert packed_minutes.unpack_checks(blob, 7, HOUR)[1] == _computed(checks)


def _samples(rng: random.Random) -> list[tuple[int, str, float, float]]:
    out = []
    for name, per_minute in (("steady", 2), ("busy", 9), ("odd", 1)):
        value = 4000.0
        for minute in range(0, 60, rng.choice((1, 2))):
            for index in range(per_minute):
                if name == "odd":
                    value = rng.choice([math.inf, -math.inf, -0.0, 5e-324, 1 / 3, 1e300])
                elif name == "busy":
                    value = rng.uniform(-1, 1) * 10 ** rng.randint(0, 12)
                elif rng.random() < 0.05:
                    value += 8.0
                out.append((7, name, HOUR + minute * 60 + index * 6.5, value))
    return sorted(out, key=lambda sample: (sample[0], sample[1]))


def test_packed_series_read_back_as_the_series_rollups_compute_them() -> None:
    samples = _samples(random.Random(2))
    by_name: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _, name, ts, value in samples:
        by_name[name][int((ts - HOUR) // 60)].append(value)
    expected: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for _, name, *row in sample_rollups.buckets(samples, 60):
        expected[name].append(tuple(row))

    blob = packed_minutes.pack_series(
        {name: sorted(found.items()) for name, found in by_name.items()}
    )

    assert packed_minutes.unpack_series(blob, HOUR) == (60, dict(expected))
    assert packed_minutes.unpack_series(blob, HOUR, "busy") == (60, {"busy": expected["busy"]})
    kept = packed_minutes.pack_series_rows(expected, HOUR, covered=10)
    assert packed_minutes.unpack_series(kept, HOUR) == (10, dict(expected))


def test_an_unknown_blob_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown packed minutes format"):
        packed_minutes.unpack_checks(b"\x09abc", 7, HOUR)
