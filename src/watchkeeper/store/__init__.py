"""Durable results, state, rollups and retention, in SQLite (default) or PostgreSQL.

``Store`` is the synchronous database API; ``StoreWriter`` is the single batched async writer
that the engine feeds; ``HistorySummary`` is what ``Store.summary`` returns.
"""

from __future__ import annotations

from watchkeeper.store.store import Store
from watchkeeper.store.summary import HistorySummary
from watchkeeper.store.writer import StoreWriter

__all__ = ["HistorySummary", "Store", "StoreWriter"]
