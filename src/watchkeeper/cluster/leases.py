"""Several ``wk up`` nodes on one PostgreSQL store share the monitors through leases, and
one of them at a time is the alert leader — all of it in PostgreSQL, no home-made consensus.

Every node, every ``beat`` seconds, in one short transaction (``Membership.sync``):

1. **heartbeat**: its row in ``cluster_nodes`` gets the server's clock (nodes' own clocks
   may differ: every time here is PostgreSQL's ``clock_timestamp()``);
2. **its share**: the live nodes (a heartbeat within ``ttl``) sorted by id; with ``M``
   monitors and ``N`` nodes the ``i``-th takes ``M // N`` and one more while ``i < M % N``;
3. its leases are valid as long as its heartbeat is: the heartbeat renews them all in one
   row (protocol 2; renewing each lease's row every beat made PostgreSQL the bottleneck at
   tens of thousands of monitors). It **releases** those past its share (the
   highest-ranked first: the same ones every time) and those no longer in its config, so a
   node that joins gets its part within one beat of the others;
4. **claim** free leases up to its share: never held, handed back, or held by a node that
   left or fell silent — ``FOR UPDATE SKIP LOCKED``, so two nodes never wait on or take the
   same row; each change of hands adds one to the lease's **fencing token**, which a node
   shows when it writes (a node that lost a lease while paused cannot write as its holder).

A node checks exactly the monitors it holds; in steady state every monitor has one holder.
A node that dies stops beating: after ``ttl`` it is not live, and the others claim its
leases at their next beat (the move takes at most ``ttl + beat``). A node that loses its
store connection cannot beat either: it must stop checking when its heartbeat runs out,
which it knows in its own clock from the moment of its last successful sync
(``Owned.valid_until``).

The **alert leader** is a lease row too (``cluster_leader``), not a session advisory lock, so
it works through PgBouncer's transaction pooling: whoever holds it sends notifications, and
its token fences the outbox.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

PROTOCOL = 2
"""The cluster protocol of this version: nodes of another protocol are refused (a rolling
upgrade across a protocol change stops the old nodes first). 2: a lease lives as long as
its holder's heartbeat (1 renewed every lease's row at every beat)."""

NOW = "extract(epoch from clock_timestamp())"
"""The server's clock, in epoch seconds: the only clock leases are read against."""


class ClusterError(Exception):
    """A node cannot join (another protocol, a store that is not PostgreSQL)."""


@dataclass(frozen=True, slots=True)
class Node:
    """One ``wk up`` process in the cluster."""

    id: str
    name: str
    pid: int

    @classmethod
    def new(cls, name: str, pid: int) -> Node:
        return cls(id=f"{name}-{uuid.uuid4().hex[:12]}", name=name, pid=pid)


@dataclass(slots=True)
class Owned:
    """What a sync left this node with."""

    monitors: dict[str, int] = field(default_factory=dict)
    """Monitor name → its lease's fencing token."""
    leader: int | None = None
    """The leader lease's token while this node is the alert leader, else None."""
    nodes: int = 0
    """Live nodes counted in this sync."""
    valid_until: float = 0.0
    """In this process's monotonic clock: when the leases run out if no sync succeeds."""


def share(monitors: int, nodes: Sequence[str], me: str) -> int:
    """How many of ``monitors`` the node ``me`` holds among the live ``nodes``."""
    ordered = sorted(nodes)
    if me not in ordered:
        return 0
    index = ordered.index(me)
    base, extra = divmod(monitors, len(ordered))
    return base + (1 if index < extra else 0)


class Membership:
    """One node's part in the cluster, on a PostgreSQL connection per call."""

    def __init__(self, node: Node, *, ttl: float = 10.0) -> None:
        self.node = node
        self.ttl = ttl
        self.lag: float | None = None
        """This node's scheduling lag p99 (seconds) to publish at the next beat."""
        self._registered: frozenset[str] | None = None
        """The monitors whose lease rows exist (written when the set changes)."""

    def join(self, connection: sa.Connection) -> None:
        """Register the node (refused when a live node speaks another protocol)."""
        _require_postgres(connection)
        other = connection.execute(
            sa.text(
                f"select node, protocol from cluster_nodes where protocol != :p "
                f"and not leaving and heartbeat_at > {NOW} - :ttl"
            ),
            {"p": PROTOCOL, "ttl": self.ttl},
        ).first()
        if other is not None:
            raise ClusterError(
                f"node {other[0]} runs cluster protocol {other[1]}, this one {PROTOCOL}: "
                "stop the nodes of the other version first"
            )
        connection.execute(
            sa.text(
                "insert into cluster_nodes (node, name, pid, protocol, started_at, "
                "heartbeat_at, leaving, ttl) "
                f"values (:node, :name, :pid, :p, {NOW}, {NOW}, false, :ttl) "
                f"on conflict (node) do update set heartbeat_at = {NOW}, leaving = false"
            ),
            {
                "node": self.node.id,
                "name": self.node.name,
                "pid": self.node.pid,
                "p": PROTOCOL,
                "ttl": self.ttl,
            },
        )
        self._registered = None

    def unsure(self) -> None:
        """A sync failed (maybe at its commit): write the lease rows again at the next."""
        self._registered = None

    def sync(self, connection: sa.Connection, monitors: Iterable[str]) -> Owned:
        """One beat (see the module's text), in the caller's transaction."""
        started = time.monotonic()
        me = self.node.id
        wanted = sorted(set(monitors))
        connection.execute(
            sa.text(
                f"update cluster_nodes set heartbeat_at = {NOW}, lag_p99 = :lag where node = :me"
            ),
            {"me": me, "lag": self.lag},
        )
        live = [
            row[0]
            for row in connection.execute(
                sa.text(
                    f"select node from cluster_nodes where not leaving "
                    f"and heartbeat_at > {NOW} - :ttl order by node"
                ),
                {"ttl": self.ttl},
            )
        ]
        if me not in live:  # its heartbeat above is in the same transaction: a clock oddity
            live.append(me)
        target = share(len(wanted), live, me)
        names = frozenset(wanted)
        if wanted and names != self._registered:
            connection.execute(
                sa.text(
                    "insert into cluster_leases (monitor, node, token, expires_at) "
                    "select m, null, 0, 0 from unnest(cast(:names as text[])) as m "
                    "on conflict (monitor) do nothing"
                ),
                {"names": wanted},
            )
        held: dict[str, int] = {
            str(m): int(t)
            for m, t in connection.execute(
                sa.text("select monitor, token from cluster_leases where node = :me"),
                {"me": me},
            ).all()
        }
        # give back what is no longer in this node's config (another node's may have it),
        # then the highest-ranked past the share
        gone = [name for name in held if name not in names]
        kept = sorted(name for name in held if name in names)
        released = gone + kept[target:]
        if released:
            connection.execute(
                sa.text(
                    "update cluster_leases set node = null, expires_at = 0 "
                    "where node = :me and monitor = any(cast(:names as text[]))"
                ),
                {"me": me, "names": released},
            )
            for name in released:
                del held[name]
        if len(held) < target:
            claimed = connection.execute(
                sa.text(
                    """
                    with free as (
                        select monitor from cluster_leases
                        where monitor = any(cast(:names as text[]))
                          and (node is null
                               or node not in (select unnest(cast(:live as text[]))))
                        order by monitor
                        limit :room
                        for update skip locked
                    )
                    update cluster_leases l
                    set node = :me, token = l.token + 1, expires_at = 0
                    from free where l.monitor = free.monitor
                    returning l.monitor, l.token
                    """
                ),
                {"names": wanted, "live": live, "room": target - len(held), "me": me},
            ).all()
            held.update({str(name): int(token) for name, token in claimed})
        leader = self._lead(connection)
        self._registered = names
        return Owned(
            monitors={str(k): int(v) for k, v in held.items()},
            leader=leader,
            nodes=len(live),
            valid_until=started + self.ttl,
        )

    def _lead(self, connection: sa.Connection) -> int | None:
        """Take or keep the leader lease; its token while this node leads."""
        connection.execute(
            sa.text(
                "insert into cluster_leader (id, node, token, expires_at) values (1, null, 0, 0) "
                "on conflict (id) do nothing"
            )
        )
        row = connection.execute(
            sa.text(
                f"""
                update cluster_leader
                set token = case when node = :me then token else token + 1 end,
                    node = :me, expires_at = {NOW} + :ttl
                where id = 1 and (node = :me or node is null or expires_at < {NOW})
                returning token
                """
            ),
            {"me": self.node.id, "ttl": self.ttl},
        ).first()
        return None if row is None else int(row[0])

    def leave(self, connection: sa.Connection) -> None:
        """Hand everything back at once (a clean stop): the others need not wait ``ttl``."""
        me = self.node.id
        connection.execute(
            sa.text("update cluster_leases set node = null, expires_at = 0 where node = :me"),
            {"me": me},
        )
        connection.execute(
            sa.text("update cluster_leader set expires_at = 0 where node = :me"), {"me": me}
        )
        connection.execute(
            sa.text("update cluster_nodes set leaving = true where node = :me"), {"me": me}
        )


_BEATING = (
    "exists (select 1 from cluster_nodes c where c.node = :n and not c.leaving "
    f"and c.heartbeat_at > {NOW} - coalesce(c.ttl, 10))"
)
"""The node ``:n`` is live (its heartbeat within its ttl): its leases hold."""


def holds(connection: sa.Connection, monitor: str, node: str, token: int) -> bool:
    """Fencing: does ``node`` still hold ``monitor``'s lease with ``token``? (Ask it in the
    transaction that writes a result: a node that lost the lease while paused gets False.)"""
    row = connection.execute(
        sa.text(
            "select 1 from cluster_leases where monitor = :m and node = :n and token = :t "
            f"and {_BEATING}"
        ),
        {"m": monitor, "n": node, "t": token},
    ).first()
    return row is not None


def held_tokens(connection: sa.Connection, node: str) -> dict[str, int]:
    """Monitor → token of every lease ``node`` holds now (server clock): the fence a result
    writer checks in its own transaction."""
    rows = connection.execute(
        sa.text(f"select monitor, token from cluster_leases where node = :n and {_BEATING}"),
        {"n": node},
    ).all()
    return {str(m): int(t) for m, t in rows}


@dataclass(frozen=True, slots=True)
class NodeView:
    """A node as ``wk nodes`` and the dashboard show it."""

    node: str
    name: str
    pid: int
    protocol: int
    started_at: float
    heartbeat_ago: float
    leases: int
    leader: bool
    live: bool
    lag_p99: float | None = None
    """Its checks' scheduling lag (p99, seconds) over its last whole minute."""


def nodes(connection: sa.Connection, ttl: float = 10.0) -> list[NodeView]:
    """Every node on record with its leases and how long ago it last beat (server clock)."""
    _require_postgres(connection)
    rows = connection.execute(
        sa.text(
            f"""
            select n.node, n.name, n.pid, n.protocol, n.started_at,
                   {NOW} - n.heartbeat_at as ago,
                   (select count(*) from cluster_leases l
                    where l.node = n.node and not n.leaving
                      and n.heartbeat_at > {NOW} - coalesce(n.ttl, :ttl)) as leases,
                   exists (select 1 from cluster_leader c
                           where c.node = n.node and c.expires_at > {NOW}) as leader,
                   n.leaving, n.lag_p99
            from cluster_nodes n order by n.name, n.node
            """
        ),
        {"ttl": ttl},
    ).all()
    return [
        NodeView(
            node=r[0],
            name=r[1],
            pid=int(r[2]),
            protocol=int(r[3]),
            started_at=float(r[4]),
            heartbeat_ago=float(r[5]),
            leases=int(r[6]),
            leader=bool(r[7]),
            live=not r[8] and float(r[5]) < ttl,
            lag_p99=None if r[9] is None else float(r[9]),
        )
        for r in rows
    ]


def _require_postgres(connection: sa.Connection) -> None:
    if connection.dialect.name != "postgresql":
        raise ClusterError(
            "several nodes share a PostgreSQL store: storage: postgresql://... in the config"
        )
