"""The engine: scheduling, running checks with timeouts, and the main job's composition."""

from __future__ import annotations

from watchkeeper.engine.once import check_once
from watchkeeper.engine.runner import judge, run_check
from watchkeeper.engine.scheduler import Scheduler, SchedulerStats

__all__ = ["Scheduler", "SchedulerStats", "check_once", "judge", "run_check"]
