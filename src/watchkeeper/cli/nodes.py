"""``wk nodes``: the ``wk up`` nodes sharing this config's PostgreSQL store, their leases,
which one is the alert leader, and how long ago each last beat (the server's clock)."""

from __future__ import annotations

import json
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
from watchkeeper.config import DEFAULT_FILE


def nodes(
    config: ConfigOption = DEFAULT_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the nodes of a cluster on one PostgreSQL store: leases, leader, last heartbeat.

    Exit 1 when a node that still holds leases has stopped beating (its monitors are not
    checked until they move), else 0."""
    from watchkeeper.cluster.leases import ClusterError
    from watchkeeper.cluster.leases import nodes as read_nodes

    loaded = load(config)
    store = open_store(loaded, existing=True)
    try:
        with store.read() as connection:
            found = read_nodes(connection, ttl=loaded.cluster.ttl)
    except ClusterError as exc:
        fail(f"{loaded.path}: {exc}")
    except Exception as exc:  # an older store (no cluster tables) or SQLite
        fail(f"{loaded.path}: no cluster in this store ({type(exc).__name__})")
    finally:
        store.close()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "node": n.node,
                        "name": n.name,
                        "pid": n.pid,
                        "protocol": n.protocol,
                        "started_at": n.started_at,
                        "heartbeat_ago_s": round(n.heartbeat_ago, 3),
                        "leases": n.leases,
                        "leader": n.leader,
                        "live": n.live,
                    }
                    for n in found
                ],
                indent=2,
            )
        )
    else:
        grid = Table(show_edge=False)
        for column in ("node", "pid", "state", "leases", "leader", "last beat"):
            grid.add_column(column, justify="right" if column in ("pid", "leases") else "left")
        for n in found:
            grid.add_row(
                Text(n.node),
                str(n.pid),
                Text("live" if n.live else "gone", style="green" if n.live else "dim"),
                str(n.leases),
                "yes" if n.leader else "",
                f"{n.heartbeat_ago:.1f}s ago",
            )
        console.print(grid if found else "No node has joined (cluster: {enabled: true}).")
    raise typer.Exit(EXIT_OK if all(n.live for n in found if n.leases) else EXIT_FAILED)
