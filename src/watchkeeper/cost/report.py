"""``analyse``: every priced machine of a config judged on its stored series, as Findings and
a summary (what the machines cost, what the advice saves, the catalog's date)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.config import Config, Monitor
from watchkeeper.cost import data, machines, sizing, usage
from watchkeeper.cost.catalog import Catalog, Price, current
from watchkeeper.errors import StoreError
from watchkeeper.findings import Finding, Severity, ranked
from watchkeeper.lanes import DIAGNOSIS
from watchkeeper.store import Store

LOOKBACK = 14 * 86400.0
MACHINE_KINDS = ("host", "prometheus")
"""Kinds whose series say how busy their machine is."""


@dataclass(slots=True)
class CostReport:
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    """What could not be looked at (a store that cannot be read), one line each."""
    looked_at: list[str] = field(default_factory=list)

    @property
    def actionable(self) -> bool:
        """Is there a saving or a risk (not only notes)?"""
        return any(f.severity is not Severity.info for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "findings": [f.as_json() for f in self.findings],
            "summary": dict(self.summary),
            "errors": list(self.errors),
            "looked_at": list(self.looked_at),
        }


async def analyse(
    config: Config,
    store: Store | None,
    *,
    lookback: float = LOOKBACK,
    now: float | None = None,
    catalog: Catalog | None = None,
) -> CostReport:
    """Judge every monitor of ``config`` that says what its machine costs (``instance:`` or
    ``cost:``) on ``store``'s series over ``[now - lookback, now)``. ``catalog``: the one in
    use for the config unless given. Raises CatalogError when the installed catalog is bad."""
    at = time.time() if now is None else now
    prices = catalog if catalog is not None else current(config.path)
    priced = [m for m in config.monitors if m.instance is not None or m.monthly_cost is not None]
    return await DIAGNOSIS.run(_analyse, priced, store, lookback, at, prices)


def _analyse(
    monitors: list[Monitor], store: Store | None, lookback: float, now: float, prices: Catalog
) -> CostReport:
    out = CostReport()
    spend = 0.0
    saving = 0.0
    unpriced: list[str] = []
    for monitor in monitors:
        price = prices.find(*monitor.instance) if monitor.instance is not None else None
        monthly = monitor.monthly_cost if monitor.monthly_cost is not None else None
        if monthly is None and price is not None:
            monthly = price.monthly_usd
        if monthly is None:
            unpriced.append(monitor.name)
            out.findings.append(_unpriced(monitor))
            continue
        spend += monthly
        out.looked_at.append(f"{monitor.kind} {monitor.name}")
        if store is None:
            continue
        try:
            found, saved = _judge(monitor, price, monthly, store, lookback, now, prices)
        except StoreError as exc:
            out.errors.append(f"{monitor.name}: {exc}")
            continue
        out.findings += found
        saving += saved
    out.findings = ranked(out.findings)
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    out.summary = {
        "machines": len(monitors) - len(unpriced),
        "monthly_spend": round(spend, 2),
        "monthly_saving": round(saving, 2),
        "lookback_days": round(lookback / 86400, 2),
        "catalog": {
            "origin": prices.origin,
            "date": prices.date.isoformat(),
            "age_days": prices.age_days(today),
            "stale": prices.stale(today),
        },
        "headroom": {
            "cpu_p95_pct": sizing.CPU_TARGET,
            "memory_p99_pct": sizing.MEMORY_TARGET,
        },
    }
    return out


def _judge(
    monitor: Monitor,
    price: Price | None,
    monthly: float,
    store: Store,
    lookback: float,
    now: float,
    prices: Catalog,
) -> tuple[list[Finding], float]:
    since = now - lookback
    if monitor.kind in MACHINE_KINDS:
        used = usage.read(store, monitor.name, monitor.kind, since, now)
        verdict = machines.judge(
            machines.Machine(monitor.name, price, monthly), used, prices, lookback / 86400
        )
        return verdict.findings, verdict.saving
    series = data.SERIES.get(monitor.kind)
    if series is None:
        return [], 0.0  # priced (counted in the spend), nothing measured to size it by
    working_set = usage.maximum(store, monitor.name, series, since, now)
    if working_set is None:
        return [], 0.0
    first = store.first_time(monitor.name, since, series)
    holding = data.Holding(
        monitor=monitor.name,
        kind=monitor.kind,
        working_set=working_set,
        days=0.0 if first is None else (now - first) / 86400,
        maxmemory=usage.newest(store, monitor.name, "redis.maxmemory", since),
    )
    return data.judge(holding, price, monthly, prices)


def _unpriced(monitor: Monitor) -> Finding:
    assert monitor.instance is not None
    provider, type_ = monitor.instance
    return Finding(
        source="cost",
        severity=Severity.info,
        title=f"{monitor.name}: {provider}/{type_} is not in the price catalog",
        subject=monitor.name,
        evidence={"type": f"{provider}/{type_}"},
        recommendation=(
            "Add it with wk cost catalog update FILE.csv, or give the monitor cost: N/month."
        ),
        rule="unpriced",
    )
