"""Rates, ramps, arrival times and thresholds as a user writes them."""

from __future__ import annotations

import itertools

import pytest

from watchkeeper.loadtest.plan import constant, intended_times, parse_ramp, parse_rate, parse_slo


def test_rates_ramps_and_stages() -> None:
    assert parse_rate("500/s") == 500 and parse_rate("30000/m") == 500 and parse_rate("7") == 7
    ramp = parse_ramp("100/s:2000/s:5m")
    assert ramp.seconds == 300 and ramp.peak == 2000 and ramp.total == pytest.approx(315_000)
    stages = parse_ramp("100/s:30s,500/s:1m")
    assert [(s.start, s.end, s.seconds) for s in stages.stages] == [
        (100, 100, 30),
        (100, 500, 60),
    ]
    for bad, message in (
        ("fast", "bad rate 'fast'"),
        ("0/s", "above zero"),
        ("100/s:1m:2m:3m", "bad stage"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_ramp(bad) if ":" in bad else parse_rate(bad)


def test_arrivals_follow_the_rate_uniformly_or_as_poisson() -> None:
    times = list(intended_times(parse_ramp("0/s:1000/s:10s"), poisson=False))
    assert len(times) == 5000
    assert sum(1 for t in times if t > 5) == pytest.approx(3750, abs=1), "¾ come in the second half"
    steady = list(intended_times(constant(1000, 20), poisson=True, seed=3))
    assert len(steady) == pytest.approx(20_000, rel=0.03)
    gaps = [b - a for a, b in itertools.pairwise(steady)]
    mean = sum(gaps) / len(gaps)
    variance = sum((g - mean) ** 2 for g in gaps) / len(gaps)
    assert variance**0.5 == pytest.approx(mean, rel=0.05), "exponential gaps: sd = mean"


def test_thresholds() -> None:
    p99, errors, rps = parse_slo("p99<300ms, errors<1%, rps>=500")
    assert (p99.metric, p99.value, p99.holds(299.0), p99.holds(300.0)) == (
        "p99",
        300.0,
        True,
        False,
    )
    assert errors.value == 0.01 and rps.holds(500)
    assert parse_slo("p99.9<=1s")[0].metric == "p999"
    with pytest.raises(ValueError, match="bad threshold 'p98<1s'"):
        parse_slo("p98<1s")
