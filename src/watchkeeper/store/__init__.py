"""Durable results, state, rollups and retention, in SQLite (default) or PostgreSQL.

``Store`` is the synchronous database API; ``StoreWriter`` is the single batched async writer
that the engine feeds; ``HistorySummary`` is what ``Store.summary`` returns. The last two are
imported on first use: a command that only reads states skips numpy and the writer's loop.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from watchkeeper.store.store import Store

if TYPE_CHECKING:
    from watchkeeper.store.summary import HistorySummary
    from watchkeeper.store.writer import StoreWriter

_LAZY = {"HistorySummary": "watchkeeper.store.summary", "StoreWriter": "watchkeeper.store.writer"}


if not TYPE_CHECKING:  # (mypy reads the imports above)

    def __getattr__(name: str) -> object:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = ["HistorySummary", "Store", "StoreWriter"]
