"""Findings about a database or cache sized far above its working set.

The working set is what the check records: a PostgreSQL database's size (``pg.database_size``,
all of it as the upper bound of what it keeps hot) and Redis's ``redis.used_memory``, each
the 99th percentile of its hourly highs over the look-back. A machine (``instance:`` on the
postgres or redis monitor) with ``sizing.DATA_OVERSIZED`` times the memory it needs is
oversized, and the cheapest size with its vCPUs and that memory is named with the saving.
Without an instance, a Redis ``maxmemory`` that many times its working set is noted (info):
the memory is reserved, not billed.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.cost import sizing
from watchkeeper.cost.catalog import Catalog, Price
from watchkeeper.findings import Finding, Severity
from watchkeeper.units import format_size

SERIES = {"postgres": "pg.database_size", "redis": "redis.used_memory"}
WORDS = {"postgres": "database", "redis": "cache"}


@dataclass(frozen=True, slots=True)
class Holding:
    """A database or cache as measured: its working set and days of data."""

    monitor: str
    kind: str
    working_set: float
    days: float
    maxmemory: float | None = None
    """Redis's ``maxmemory`` (bytes; None or 0: unlimited)."""


def judge(
    found: Holding, price: Price | None, monthly: float | None, catalog: Catalog
) -> tuple[list[Finding], float]:
    """Findings and the monthly saving (0 when nothing can be saved)."""
    if found.days < sizing.MIN_DAYS:
        return [], 0.0
    word = WORDS[found.kind]
    evidence: dict[str, float | int | str | None] = {
        "working_set_bytes": round(found.working_set),
        "days_of_data": round(found.days, 1),
    }
    if price is None or monthly is None:
        return _maxmemory(found, evidence), 0.0
    need = sizing.data_need(price, found.working_set)
    if price.memory_gib < sizing.DATA_OVERSIZED * need.memory_gib:
        return [], 0.0
    best = sizing.cheapest(catalog, price, need)
    if best is None or best.monthly_usd >= price.monthly_usd:
        return [], 0.0
    cost = sizing.price_of(best, price, monthly)
    saving = monthly - cost
    evidence |= {
        "type": price.label,
        "memory_gib": price.memory_gib,
        "needed_memory_gib": round(need.memory_gib, 2),
        "monthly_cost": round(monthly, 2),
        "suggested_type": best.label,
        "suggested_monthly_cost": round(cost, 2),
        "monthly_saving": round(saving, 2),
    }
    finding = Finding(
        source="cost",
        severity=Severity.warning,
        title=(
            f"{found.monitor}: {price.memory_gib:g} GiB of memory for a "
            f"{format_size(found.working_set)} {word} working set: {best.type} saves "
            f"${saving:,.2f}/month"
        ),
        subject=found.monitor,
        evidence=evidence,
        recommendation=(
            f"Move it to {best.type} ({best.vcpu:g} vCPU, {best.memory_gib:g} GiB): "
            f"{sizing.DATA_MEMORY_FACTOR:g} × the working set + {sizing.DATA_MEMORY_BASE:g} GiB "
            f"is {need.memory_gib:.1f} GiB, and it keeps its {price.vcpu:g} vCPUs."
        ),
        impact=saving,
        rule="data-oversized",
    )
    return [finding], saving


def _maxmemory(found: Holding, evidence: dict[str, float | int | str | None]) -> list[Finding]:
    most = found.maxmemory
    if found.kind != "redis" or not most:
        return []
    if most < sizing.DATA_OVERSIZED * max(found.working_set, 1.0):
        return []
    return [
        Finding(
            source="cost",
            severity=Severity.info,
            title=(
                f"{found.monitor}: the cache may hold {format_size(most)} and uses "
                f"{format_size(found.working_set)}"
            ),
            subject=found.monitor,
            evidence=evidence | {"maxmemory_bytes": round(most)},
            recommendation=(
                "Lower maxmemory towards twice the working set, or share its machine; give "
                "the monitor instance: {provider, type} to price a smaller machine."
            ),
            impact=most - found.working_set,
            rule="cache-maxmemory",
        )
    ]
