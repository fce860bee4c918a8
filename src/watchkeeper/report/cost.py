"""``wk cost`` for people: the summary (spend, saving, catalog) beside the findings, the cost
of growth as a table, and the catalog in use. The findings themselves are drawn by
``report.findings``."""

from __future__ import annotations

import html
from typing import Any

from watchkeeper.cost.catalog import STALE_DAYS, Catalog
from watchkeeper.cost.growth import GrowthPlan


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as plain lines (text and Markdown share them)."""
    catalog = summary.get("catalog", {})
    headroom = summary.get("headroom", {})
    lines = [
        f"{summary.get('machines', 0)} priced machine(s): "
        f"${summary.get('monthly_spend', 0):,.2f}/month known; the advice below saves "
        f"${summary.get('monthly_saving', 0):,.2f}/month",
        f"look-back {summary.get('lookback_days', 0):g} d; a new size runs CPU p95 ≤ "
        f"{headroom.get('cpu_p95_pct', 0):g} % and memory p99 ≤ "
        f"{headroom.get('memory_p99_pct', 0):g} %",
        f"prices: {catalog.get('origin', '?')} catalog of {catalog.get('date', '?')} "
        f"({catalog.get('age_days', 0)} days old)",
    ]
    if catalog.get("stale"):
        lines.append(
            f"the catalog is over {STALE_DAYS} days old: refresh it "
            "(wk cost catalog update FILE.csv)"
        )
    return lines


def summary_markdown(summary: dict[str, Any]) -> str:
    return "\n".join(f"- {line}" for line in summary_lines(summary))


def summary_html(summary: dict[str, Any]) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(summary))
    return f'<section class="card"><h2>Summary</h2><ul>{items}</ul></section>'


def growth_lines(found: GrowthPlan) -> list[str]:
    scaling = found.scaling
    price = (
        f"{found.instance or 'an instance'} at ${found.instance_cost:,.2f}/month"
        if found.instance_cost is not None
        else "no price (give --instance or --cost)"
    )
    model = f"USL α={scaling.alpha:.4g} β={scaling.beta:.4g}" if scaling.usl else "linear (no USL)"
    lines = [
        f"today {found.rate:,.1f} req/s; one instance is planned at "
        f"{scaling.per_replica:,.1f} req/s; {price}; scaling: {model}",
    ]
    if scaling.lower_bound:
        lines.append(
            "every step of the capacity run held up to its --max-rate: one instance holds "
            "more, so these counts are upper bounds (raise --max-rate to find the limit)"
        )
    lines += [
        "",
        f"{'traffic':>8}  {'req/s':>10}  {'instances':>9}  {'holds req/s':>11}  {'per month':>12}",
    ]
    for row in found.rows:
        count = "—" if row.instances is None else str(row.instances)
        holds = "—" if row.capacity is None else f"{row.capacity:,.1f}"
        month = "—" if row.monthly is None else f"${row.monthly:,.2f}"
        lines.append(
            f"{row.multiple:>7g}×  {row.demand:>10,.1f}  {count:>9}  {holds:>11}  {month:>12}"
        )
    if scaling.usl:
        lines += ["", "diminishing returns (instances → req/s held, what the last one added):"]
        for step in found.returns:
            peak = step["instances"] == scaling.peak_n
            mark = "  ← peak: more instances hold less" if peak else ""
            lines.append(
                f"  {step['instances']:>6g} → {step['capacity_rps']:>10,.1f} "
                f"({step['last_instance_adds_rps']:+,.1f}){mark}"
            )
    return lines


def catalog_lines(catalog: Catalog, age_days: int) -> list[str]:
    lines = [
        f"price catalog: {catalog.origin}, {len(catalog.prices)} prices, dated "
        f"{catalog.oldest.isoformat()}"
        + (f" to {catalog.date.isoformat()}" if catalog.oldest != catalog.date else "")
        + f" ({age_days} days old)"
    ]
    if age_days > STALE_DAYS:
        lines.append(
            f"warning: older than {STALE_DAYS} days; list prices change: refresh it with "
            "wk cost catalog update FILE.csv"
        )
    for provider in catalog.providers():
        prices = catalog.of(provider)
        lines.append(
            f"  {provider:<13} {len(prices):>3} types, ${prices[0].monthly_usd:,.2f} to "
            f"${prices[-1].monthly_usd:,.2f}/month ({prices[0].source})"
        )
    return lines


def catalog_json(catalog: Catalog, age_days: int) -> dict[str, Any]:
    return {
        "origin": catalog.origin,
        "date": catalog.date.isoformat(),
        "oldest": catalog.oldest.isoformat(),
        "age_days": age_days,
        "stale": age_days > STALE_DAYS,
        "prices": [
            {
                "provider": p.provider,
                "type": p.type,
                "family": p.family,
                "class": p.kind,
                "vcpu": p.vcpu,
                "memory_gib": p.memory_gib,
                "monthly_usd": p.monthly_usd,
                "region": p.region,
                "source": p.source,
                "date": p.date.isoformat(),
            }
            for p in catalog.prices
        ],
    }
