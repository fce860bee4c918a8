"""Monitor state: the pure state machine (alerting, incidents and silences build on it)."""

from __future__ import annotations

from watchkeeper.state.machine import FlapPolicy, MonitorStatus, advance, restore

__all__ = ["FlapPolicy", "MonitorStatus", "advance", "restore"]
