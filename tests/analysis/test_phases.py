"""Phase blame on samples: the phase that moved is named, the ones that did not are cleared."""

from __future__ import annotations

import numpy as np

from watchkeeper.analysis.phases import blame


def samples(rng: np.random.Generator, n: int, **medians: float) -> dict[str, np.ndarray]:
    out = {name: rng.gamma(9.0, value / 9.0, n) for name, value in medians.items()}
    out["total"] = sum(out.values())
    return out


def test_a_slower_server_is_blamed_on_ttfb_not_the_network() -> None:
    rng = np.random.default_rng(7)
    before = samples(rng, 300, dns=2.0, connect=1.0, tls=6.0, ttfb=120.0, transfer=3.0)
    after = samples(rng, 120, dns=2.0, connect=1.0, tls=6.0, ttfb=330.0, transfer=3.0)
    found = blame(before, after)
    assert found is not None
    assert [s.phase for s in found.moved] == ["ttfb"]
    ttfb = found.moved[0]
    assert 170 < ttfb.delta_ms < 250
    assert {s.phase for s in found.unchanged} == {"dns", "connect", "tls", "transfer"}
    summary = found.summary()
    assert summary.startswith("TTFB +")
    assert "connect unchanged: not the network" in summary


def test_a_slower_network_is_blamed_on_connect() -> None:
    rng = np.random.default_rng(8)
    before = samples(rng, 200, connect=2.0, ttfb=40.0)
    after = samples(rng, 200, connect=60.0, ttfb=40.0)
    found = blame(before, after)
    assert found is not None
    assert [s.phase for s in found.moved] == ["connect"]
    assert "TTFB unchanged: not the application" in found.summary()


def test_noise_alone_moves_nothing() -> None:
    rng = np.random.default_rng(9)
    before = samples(rng, 400, connect=2.0, ttfb=80.0, transfer=1.0)
    after = samples(rng, 400, connect=2.0, ttfb=80.0, transfer=1.0)
    found = blame(before, after)
    assert found is not None
    assert found.moved == []
    assert found.summary() == "no phase moved"


def test_phases_that_do_not_apply_are_left_out_and_too_few_checks_say_nothing() -> None:
    rng = np.random.default_rng(10)
    before = samples(rng, 50, connect=1.0, ttfb=10.0)
    after = samples(rng, 50, connect=1.0, ttfb=30.0)
    before["tls"] = np.full(50, np.nan)  # plain http
    after["tls"] = np.full(50, np.nan)
    found = blame(before, after)
    assert found is not None
    assert "tls" not in {s.phase for s in found.shifts}
    assert blame(before, {k: v[:3] for k, v in after.items()}) is None
