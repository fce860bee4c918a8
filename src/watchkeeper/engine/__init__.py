"""The engine: scheduling, running checks with timeouts, and the main job's composition.

Its parts are imported on first use: ``wk status`` reads ``engine.defined`` and needs neither
the scheduler nor the runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchkeeper.engine.once import check_once
    from watchkeeper.engine.runner import judge, run_check
    from watchkeeper.engine.scheduler import Scheduler, SchedulerStats

_LAZY = {
    "check_once": "watchkeeper.engine.once",
    "judge": "watchkeeper.engine.runner",
    "run_check": "watchkeeper.engine.runner",
    "Scheduler": "watchkeeper.engine.scheduler",
    "SchedulerStats": "watchkeeper.engine.scheduler",
}

if not TYPE_CHECKING:  # (mypy reads the imports above)

    def __getattr__(name: str) -> object:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = ["Scheduler", "SchedulerStats", "check_once", "judge", "run_check"]
