"""What the machines cost and what they could cost: right-sizing from the stored series
against a dated price catalog, and the cost of traffic growth from a ``wk capacity`` result.

    report = await analyse(config, store, lookback=14 * 86400, now=time.time())
    report.findings; report.summary; report.as_json()   # {"findings": [...], "summary": {...}}

Modules, one job each: ``catalog`` (the prices, shipped and refreshed), ``usage`` (reading
the series), ``sizing`` (the headroom rules), ``machines`` and ``data`` (the findings),
``growth`` (instances and cost per traffic multiple), ``report`` (``analyse``). The names
below are imported on first use: the config loader reads ``catalog`` without the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchkeeper.cost.catalog import Catalog, CatalogError
    from watchkeeper.cost.growth import GrowthError, GrowthPlan
    from watchkeeper.cost.report import CostReport, analyse

_LAZY = {
    "Catalog": "watchkeeper.cost.catalog",
    "CatalogError": "watchkeeper.cost.catalog",
    "GrowthError": "watchkeeper.cost.growth",
    "GrowthPlan": "watchkeeper.cost.growth",
    "CostReport": "watchkeeper.cost.report",
    "analyse": "watchkeeper.cost.report",
}

if not TYPE_CHECKING:  # (mypy reads the imports above)

    def __getattr__(name: str) -> object:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = ["Catalog", "CatalogError", "CostReport", "GrowthError", "GrowthPlan", "analyse"]
