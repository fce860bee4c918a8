"""Phase blame on samples: the phase that moved is named, the ones that did not are cleared."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.analysis.phases import MEANING, PhaseBlame, blame


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


# -- boundaries and the summary's words ---------------------------------------------------------
def steady(level: float, n: int = 40, jitter: float = 0.1) -> np.ndarray:
    """``n`` checks around ``level`` ms, the same small spread each time."""
    return level + jitter * np.linspace(-1.0, 1.0, n)


def levels(**medians: float) -> dict[str, np.ndarray]:
    phases = {name: steady(level) for name, level in medians.items()}
    phases["total"] = sum(phases.values(), start=np.zeros(40))
    return phases


def test_a_phase_moves_at_exactly_min_ms_or_min_ratio_whichever_is_more() -> None:
    before = levels(connect=10.0, ttfb=100.0)
    by_five = blame(before, levels(connect=15.0, ttfb=100.0))
    by_less = blame(before, levels(connect=14.9, ttfb=100.0))
    assert by_five is not None and by_less is not None
    assert [s.phase for s in by_five.moved] == ["connect"], "5 ms on 10: min_ms"
    assert by_less.moved == []
    by_fifth = blame(before, levels(connect=10.0, ttfb=120.0))
    by_less = blame(before, levels(connect=10.0, ttfb=119.9))
    assert by_fifth is not None and by_less is not None
    assert [s.phase for s in by_fifth.moved] == ["ttfb"], "20 ms on 100: min_ratio"
    assert by_less.moved == []


def test_eight_checks_a_side_are_enough_and_seven_are_not() -> None:
    eight = {name: values[:8] for name, values in levels(connect=10.0).items()}
    seven = {name: values[:7] for name, values in levels(connect=10.0).items()}
    assert blame(eight, eight) is not None
    assert blame(seven, eight) is None and blame(eight, seven) is None
    nan_padded = {name: np.append(values, [np.nan] * 5) for name, values in seven.items()}
    assert blame(nan_padded, eight) is None, "a NaN is no check"


def test_the_shift_records_medians_p95_counts_and_change() -> None:
    found = blame(levels(connect=10.0, ttfb=100.0), levels(connect=10.0, ttfb=300.0))
    assert found is not None
    (ttfb,) = found.moved
    assert (ttfb.before_ms, ttfb.after_ms, ttfb.delta_ms) == pytest.approx((100.0, 300.0, 200.0))
    assert ttfb.before_p95_ms == pytest.approx(np.percentile(steady(100.0), 95))
    assert ttfb.after_p95_ms == pytest.approx(np.percentile(steady(300.0), 95))
    assert (ttfb.checks_before, ttfb.checks_after) == (40, 40)
    assert ttfb.change_pct == pytest.approx(200.0) and ttfb.p_value < 0.001
    (connect,) = found.unchanged
    assert connect.p_value == 1.0 and not connect.moved
    assert found.total_before_ms == pytest.approx(110.0) and found.total_after_ms == pytest.approx(
        310.0
    )
    assert found.total_moved


def test_the_summary_names_the_two_largest_moves_and_the_telling_phases_that_held() -> None:
    before = levels(dns=5.0, connect=10.0, tls=20.0, ttfb=100.0, transfer=10.0)
    after = levels(dns=5.0, connect=10.0, tls=60.0, ttfb=300.0, transfer=2.0)
    found = blame(before, after)
    assert found is not None
    assert found.summary() == (
        "TTFB +200ms: " + MEANING["ttfb"] + "; TLS +40ms: " + MEANING["tls"]
        + "; connect unchanged: not the network; dns unchanged: not the resolver"
    )  # fmt: skip
    nothing = blame(before, before)
    assert nothing is not None and nothing.summary() == "no phase moved"
    faster = blame(levels(connect=10.0, ttfb=300.0), levels(connect=10.0, ttfb=100.0))
    assert faster is not None
    assert (
        faster.summary()
        == "TTFB -200ms: " + MEANING["ttfb"] + "; connect unchanged: not the network"
    )


def test_the_whole_check_moved_at_exactly_5_ms_or_a_tenth() -> None:
    def shifted(before: float, after: float) -> PhaseBlame:
        found = blame(levels(connect=before), levels(connect=after))
        assert found is not None
        return found

    assert shifted(10.0, 15.0).total_moved and not shifted(10.0, 14.9).total_moved
    assert shifted(100.0, 110.0).total_moved and not shifted(100.0, 109.9).total_moved
    assert shifted(100.0, 90.0).total_moved, "faster counts too"
