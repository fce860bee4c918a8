"""Nodes sharing monitors through leases in the machine's PostgreSQL (a throw-away database
per test): every monitor held by exactly one live node, shares rebalanced when a node joins
or goes, a dead node's monitors moved within the lease's time, fencing tokens that grow at
every change of hands, one alert leader at a time."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from watchkeeper.cluster.leases import (
    PROTOCOL,
    ClusterError,
    Membership,
    Node,
    Owned,
    holds,
    nodes,
    share,
)
from watchkeeper.store import Store

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
MONITORS = [f"m{i:03d}" for i in range(100)]
TTL = 1.0


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    name = f"wk_cluster_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    Store.open(url.replace("+psycopg", "")).close()  # made and migrated as wk up makes it
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database {name} with (force)")


def _members(engine: sa.Engine, *names: str) -> list[Membership]:
    found = []
    for index, name in enumerate(names):
        member = Membership(Node.new(name, 1000 + index), ttl=TTL)
        with engine.begin() as connection:
            member.join(connection)
        found.append(member)
    return found


def _sync(engine: sa.Engine, members: list[Membership], rounds: int = 2) -> list[Owned]:
    owned: list[Owned] = []
    for _ in range(rounds):
        owned = []
        for member in members:
            with engine.begin() as connection:
                owned.append(member.sync(connection, MONITORS))
    return owned


def _check_partition(owned: list[Owned]) -> None:
    seen: list[str] = [m for o in owned for m in o.monitors]
    assert sorted(seen) == MONITORS, "every monitor held once, by one node"


def test_the_shares_split_the_monitors_evenly() -> None:
    assert [share(100, ["a", "b", "c"], n) for n in "abc"] == [34, 33, 33]
    assert share(100, ["a"], "b") == 0


def test_three_nodes_hold_every_monitor_exactly_once(engine: sa.Engine) -> None:
    members = _members(engine, "a", "b", "c")
    owned = _sync(engine, members)
    _check_partition(owned)
    assert sorted(len(o.monitors) for o in owned) == [33, 33, 34]
    assert sum(o.leader is not None for o in owned) == 1


def test_a_node_that_joins_gets_its_share_and_moved_leases_get_new_tokens(
    engine: sa.Engine,
) -> None:
    members = _members(engine, "a", "b", "c")
    before = _sync(engine, members)
    tokens = {m: t for o in before for m, t in o.monitors.items()}
    members += _members(engine, "d")
    after = _sync(engine, members, rounds=3)
    _check_partition(after)
    assert sorted(len(o.monitors) for o in after) == [25, 25, 25, 25]
    moved = [m for m, t in after[3].monitors.items()]
    assert all(after[3].monitors[m] > tokens[m] for m in moved)
    with engine.connect() as connection:
        old = next(o for o in before if moved[0] in o.monitors)
        holder = members[before.index(old)].node.id
        assert not holds(connection, moved[0], holder, tokens[moved[0]])  # fenced off
        assert holds(connection, moved[0], members[3].node.id, after[3].monitors[moved[0]])


def test_a_dead_nodes_monitors_move_once_its_leases_run_out(engine: sa.Engine) -> None:
    members = _members(engine, "a", "b", "c")
    _sync(engine, members)
    dead = members.pop(1)  # stops beating, as after kill -9
    time.sleep(TTL * 1.5)
    owned = _sync(engine, members, rounds=2)
    _check_partition(owned)
    assert sorted(len(o.monitors) for o in owned) == [50, 50]
    with engine.connect() as connection:
        view = {v.node: v for v in nodes(connection, ttl=TTL)}
    assert not view[dead.node.id].live and view[dead.node.id].leases == 0
    assert sum(v.leader for v in view.values()) == 1


def test_the_leader_is_one_node_and_passes_on_with_a_higher_token(engine: sa.Engine) -> None:
    members = _members(engine, "a", "b", "c")
    owned = _sync(engine, members)
    (leading,) = [i for i, o in enumerate(owned) if o.leader is not None]
    token = owned[leading].leader
    assert token is not None
    members.pop(leading)
    time.sleep(TTL * 1.5)
    owned = _sync(engine, members, rounds=1)
    leaders = [o.leader for o in owned if o.leader is not None]
    assert len(leaders) == 1 and leaders[0] > token


def test_a_node_that_leaves_hands_back_at_once(engine: sa.Engine) -> None:
    members = _members(engine, "a", "b")
    _sync(engine, members)
    with engine.begin() as connection:
        members[0].leave(connection)
    owned = _sync(engine, members[1:], rounds=1)  # no wait for the leases to run out
    assert len(owned[0].monitors) == 100 and owned[0].leader is not None


def test_a_node_of_another_protocol_is_refused_while_one_of_this_runs(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into cluster_nodes values ('old-1', 'old', 1, :p, 0, "
                "extract(epoch from clock_timestamp()), false)"
            ),
            {"p": PROTOCOL + 1},
        )
    member = Membership(Node.new("new", 1), ttl=TTL)
    with pytest.raises(ClusterError, match="cluster protocol"), engine.begin() as connection:
        member.join(connection)


def test_nodes_need_postgresql(tmp_path: object) -> None:
    engine = sa.create_engine("sqlite://")
    with pytest.raises(ClusterError, match="PostgreSQL"), engine.begin() as connection:
        Membership(Node.new("a", 1)).join(connection)
