"""``wk nodes``: the ``wk up`` nodes sharing this config's PostgreSQL store, their leases,
which one is the alert leader, and how long ago each last beat (the server's clock)."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigOption,
    console,
    fail,
    load,
    open_store,
)
from watchkeeper.cluster.agents import agent_json, overview
from watchkeeper.config import DEFAULT_FILE


def nodes(
    config: ConfigOption = DEFAULT_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the nodes sharing a PostgreSQL store, and the agents of every location.

    Nodes: leases, leader, last heartbeat, lag. Agents: last heard, clock offset, lag,
    buffered and dropped results.

    Exit 1 when a node that still holds leases has stopped beating (its monitors are not
    checked until they move), else 0."""
    loaded = load(config)
    store = open_store(loaded, existing=True)
    try:
        seen = overview(store, loaded.cluster.ttl)
    finally:
        store.close()
    found, agents, problem = seen.nodes or [], seen.agents, seen.problem
    if problem is not None and not agents:
        fail(f"{loaded.path}: {problem}")
    now = time.time()
    if as_json:
        print(json.dumps(seen.as_json(now, loaded.agents.silent_after), indent=2))
    else:
        if problem is None:
            grid = Table(show_edge=False)
            for column in ("node", "pid", "state", "leases", "leader", "last beat", "lag p99"):
                grid.add_column(column, justify="right" if column in ("pid", "leases") else "left")
            for n in found:
                grid.add_row(
                    Text(n.node),
                    str(n.pid),
                    Text("live" if n.live else "gone", style="green" if n.live else "dim"),
                    str(n.leases),
                    "yes" if n.leader else "",
                    f"{n.heartbeat_ago:.1f}s ago",
                    "" if n.lag_p99 is None else f"{n.lag_p99 * 1000:.0f}ms",
                )
            console.print(grid if found else "No node has joined (cluster: {enabled: true}).")
        if agents:
            table = Table(show_edge=False)
            for column in ("location", "agent", "state", "last heard", "clock", "buffered",
                           "dropped", "version"):  # fmt: skip
                table.add_column(column)
            for a in agents:
                row = agent_json(a, now, loaded.agents.silent_after)
                table.add_row(
                    Text(a.location),
                    Text(a.name),
                    Text(row["state"], style="green" if row["state"] == "up" else "red"),
                    f"{max(0.0, now - a.last_seen):.1f}s ago",
                    "" if a.clock_offset is None else f"{-a.clock_offset:+.1f}s",
                    str(a.buffered),
                    str(a.dropped),
                    Text(a.version or ""),
                )
            console.print(table)
    raise typer.Exit(EXIT_OK if all(n.live for n in found if n.leases) else EXIT_FAILED)
