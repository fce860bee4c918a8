"""Agents as people see them (``wk nodes``, ``/api/v1/agents``): up or silent, and what they
report of themselves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from watchkeeper.cluster.leases import ClusterError, NodeView, nodes
from watchkeeper.config import Monitor
from watchkeeper.store import Store
from watchkeeper.store.agents import Agent
from watchkeeper.units import format_duration

SILENT_AFTER = 30.0
"""An agent not heard from for this long is silent (``agents: {silent_after}``; its
location's checks stop counting once they are older than the quorum's window)."""


def agent_json(agent: Agent, now: float, silent_after: float = SILENT_AFTER) -> dict[str, Any]:
    silent = now - agent.last_seen
    return {
        "location": agent.location,
        "name": agent.name,
        "state": "up" if silent <= silent_after else "silent",
        "last_seen": agent.last_seen,
        "silent_for": format_duration(max(0.0, silent)) if silent > silent_after else None,
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


def node_json(node: NodeView) -> dict[str, Any]:
    """A node as ``wk nodes --json`` and ``/api/v1/nodes`` show it."""
    return {
        "node": node.node,
        "name": node.name,
        "pid": node.pid,
        "protocol": node.protocol,
        "started_at": node.started_at,
        "heartbeat_ago_s": round(node.heartbeat_ago, 3),
        "leases": node.leases,
        "leader": node.leader,
        "live": node.live,
        "lag_p99_s": node.lag_p99,
    }


@dataclass(frozen=True, slots=True)
class Overview:
    """The nodes (None: the store is not a cluster's, and why) and the agents."""

    nodes: list[NodeView] | None
    agents: list[Agent]
    problem: str | None = None

    def as_json(self, now: float, silent_after: float = SILENT_AFTER) -> dict[str, Any]:
        return {
            "nodes": [node_json(n) for n in self.nodes or []],
            "agents": [agent_json(a, now, silent_after) for a in self.agents],
        }


def overview(store: Store, ttl: float) -> Overview:
    """Read the nodes and agents from ``store`` (blocking). A store that is not PostgreSQL
    has no nodes, only agents."""
    found: list[NodeView] | None = None
    problem: str | None = None
    try:
        with store.read() as connection:
            found = nodes(connection, ttl=ttl)
    except ClusterError as exc:
        problem = str(exc)
    except Exception as exc:  # an older store (no cluster tables)
        problem = f"no cluster in this store ({type(exc).__name__})"
    try:
        agents = store.agents()
    except Exception:  # an older store: no agents' table yet
        agents = []
    return Overview(found, agents, problem)


def locations_view(
    monitors: Iterable[Monitor], agents: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each agents' location the monitors ask for or an agent reports from: available (an
    agent there is up), its agents, and how many monitors are checked from it. ``agents``
    are ``agent_json`` rows."""
    monitors = list(monitors)
    wanted = {loc for m in monitors for loc in m.remote}
    return [
        {
            "location": loc,
            "available": any(a["location"] == loc and a["state"] == "up" for a in agents),
            "agents": [a["name"] for a in agents if a["location"] == loc],
            "monitors": sum(1 for m in monitors if loc in m.locations),
        }
        for loc in sorted({*wanted, *(a["location"] for a in agents)})
    ]
