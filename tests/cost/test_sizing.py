"""The headroom rules on every size of the shipped catalog: what is suggested always fits the
load within the headroom, is never dearer than needed, and keeps a dedicated machine off
shared cores."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.cost import catalog, sizing

PRICES = catalog.shipped()


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, len(PRICES.prices) - 1),
    cpu_p95=st.floats(0, 100),
    memory_p99=st.floats(0, 100),
)
def test_the_suggested_size_is_the_cheapest_that_holds_the_load_within_headroom(
    index: int, cpu_p95: float, memory_p99: float
) -> None:
    current = PRICES.prices[index]
    need = sizing.machine_need(current, cpu_p95, memory_p99, current.memory_gib)

    best = sizing.cheapest(PRICES, current, need)

    used_vcpu = current.vcpu * cpu_p95 / 100
    used_memory = current.memory_gib * memory_p99 / 100
    eligible = [
        p
        for p in PRICES.prices
        if p.provider == current.provider
        and (p.kind != "shared" or current.kind == "shared")
        and used_vcpu <= 0.65 * p.vcpu + 1e-9
        and used_memory <= 0.80 * p.memory_gib + 1e-9
    ]
    if not eligible:
        assert best is None
        return
    assert best is not None
    assert best.monthly_usd == min(p.monthly_usd for p in eligible)
    assert used_vcpu <= 0.65 * best.vcpu + 1e-9 and used_memory <= 0.80 * best.memory_gib + 1e-9
    assert best.kind != "shared" or current.kind == "shared"
    if cpu_p95 <= 65 and memory_p99 <= 80:
        assert best.monthly_usd <= current.monthly_usd  # it fits itself: never dearer
