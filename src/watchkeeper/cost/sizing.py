"""Right-sizing rules: what a machine needs, and the cheapest catalog size that gives it.

Headroom: the new size must run the measured CPU p95 at no more than ``CPU_TARGET`` % and
the measured memory p99 at no more than ``MEMORY_TARGET`` % (vCPUs and GiB scale as if the
new size's cores were as fast as the old one's). Candidates are the same provider's sizes;
shared-core (burstable) sizes only for a machine that is one already (a steady load on CPU
credits runs out of them). A database or cache machine needs ``DATA_MEMORY_FACTOR`` × its
working set + ``DATA_MEMORY_BASE`` GiB, and keeps its vCPUs (its CPU use is not measured).
"""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.cost.catalog import Catalog, Price

CPU_TARGET = 65.0
MEMORY_TARGET = 80.0
HOT_CPU = 90.0
"""A CPU p95 above this is a risk: the machine is too small."""
HOT_MEMORY = 95.0
IDLE_CPU = 5.0
"""A CPU p95 under this, with traffic not growing, is an idle machine."""
GROWTH = 10.0
"""Traffic that grew more than this (percent, newer half over older) is growing."""
MIN_DAYS = 3.0
"""Less history than this (days) gives no advice."""
DATA_MEMORY_FACTOR = 2.0
DATA_MEMORY_BASE = 1.0
DATA_OVERSIZED = 4.0
"""A database or cache whose machine has this many times the memory it needs is oversized."""
GIB = 1024.0**3


@dataclass(frozen=True, slots=True)
class Need:
    vcpu: float
    memory_gib: float


def machine_need(current: Price, cpu_p95: float, memory_p99: float, memory_gib: float) -> Need:
    """The vCPUs and memory a size needs to run this load within the headroom."""
    used_vcpu = current.vcpu * cpu_p95 / 100
    used_memory = memory_gib * memory_p99 / 100
    return Need(used_vcpu * 100 / CPU_TARGET, used_memory * 100 / MEMORY_TARGET)


def data_need(current: Price, working_set: float) -> Need:
    """A database's or cache's machine: its vCPUs, and memory for the working set (bytes)."""
    return Need(current.vcpu, DATA_MEMORY_FACTOR * working_set / GIB + DATA_MEMORY_BASE)


def fits(candidate: Price, need: Need, current: Price) -> bool:
    if candidate.kind == "shared" and current.kind != "shared":
        return False
    return candidate.vcpu >= need.vcpu - 1e-9 and candidate.memory_gib >= need.memory_gib - 1e-9


def cheapest(catalog: Catalog, current: Price, need: Need) -> Price | None:
    """The cheapest size of ``current``'s provider that meets ``need`` (None: none does)."""
    return next((p for p in catalog.of(current.provider) if fits(p, need, current)), None)


def price_of(candidate: Price, current: Price, paid: float) -> float:
    """What ``candidate`` would cost at the discount ``paid`` gets on ``current``."""
    if current.monthly_usd <= 0:
        return candidate.monthly_usd
    return candidate.monthly_usd * paid / current.monthly_usd
