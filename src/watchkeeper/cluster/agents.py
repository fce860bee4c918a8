"""Agents as people see them (``wk nodes``, ``/api/v1/agents``): up or silent, and what they
report of themselves."""

from __future__ import annotations

from typing import Any

from watchkeeper.store.agents import Agent
from watchkeeper.units import format_duration

SILENT_AFTER = 30.0
"""An agent not heard from for this long is silent (its location's checks stop counting
once they are older than the quorum's window)."""


def agent_json(agent: Agent, now: float) -> dict[str, Any]:
    silent = now - agent.last_seen
    return {
        "location": agent.location,
        "name": agent.name,
        "state": "up" if silent <= SILENT_AFTER else "silent",
        "last_seen": agent.last_seen,
        "silent_for": format_duration(max(0.0, silent)) if silent > SILENT_AFTER else None,
        "version": agent.version,
        "address": agent.address,
        "node": agent.node,
        "started_at": agent.started_at,
        "clock_offset_s": None if agent.clock_offset is None else round(agent.clock_offset, 3),
        "lag_p99_s": agent.lag_p99,
        "checks": agent.checks,
        "pushed": agent.pushed,
        "buffered": agent.buffered,
        "dropped": agent.dropped,
        "refused": agent.refused,
    }
