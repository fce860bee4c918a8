"""The cost part of an assessment: ``wk cost``'s findings and totals as a Section (what the
priced machines cost a month, what the advice would save, the price catalog's date)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchkeeper.assess.gather import Section, monitor_link

if TYPE_CHECKING:
    from watchkeeper.config import Config
    from watchkeeper.store import Store


async def cost_section(config: Config, store: Store, lookback: float, now: float) -> Section:
    from watchkeeper.cost import CatalogError, analyse

    section = Section("cost")
    try:
        report = await analyse(config, store, lookback=lookback, now=now)
    except CatalogError as exc:
        section.errors.append(str(exc))
        return section
    summary = report.summary
    if not summary.get("machines") and not report.findings:
        section.skipped = "no machine says what it costs (instance: or cost: on a host monitor)"
        return section
    catalog = summary.get("catalog") or {}
    section.facts = {
        "machines": summary.get("machines"),
        "monthly_cost": summary.get("monthly_spend"),
        "monthly_saving": summary.get("monthly_saving"),
        "currency": "USD",
        "catalog_date": catalog.get("date"),
        "catalog_stale": catalog.get("stale"),
    }
    names = {m.name for m in config.monitors}
    for finding in report.findings:
        link = monitor_link(finding.subject) if finding.subject in names else "wk cost"
        section.add(finding, link)
    section.errors += report.errors
    return section
