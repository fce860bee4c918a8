"""The cost part of an assessment: ``wk cost``'s findings and totals as a Section."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchkeeper.assess.gather import Section

if TYPE_CHECKING:
    from watchkeeper.config import Config
    from watchkeeper.store import Store


async def cost_section(config: Config, store: Store, lookback: float, now: float) -> Section:
    return Section("cost", skipped="wk cost is not part of this build yet")
