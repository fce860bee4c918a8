"""Monitor state: the pure state machine (alerting, incidents and silences build on it)."""

from __future__ import annotations

from watchkeeper.state.machine import MonitorStatus, advance, restore

__all__ = ["MonitorStatus", "advance", "restore"]
