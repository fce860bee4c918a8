"""The result fence: in a cluster a node writes the results (and state changes) of the
monitors whose lease it still holds with the token it checked under — checked in the write's
own transaction, against the machine's PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest

from watchkeeper.cluster.leases import Membership, Node
from watchkeeper.model import Phases, Result, State, Transition
from watchkeeper.store import Store

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture
def store() -> Iterator[Store]:
    name = f"wk_fence_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    opened = Store.open(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        yield opened
    finally:
        opened.close()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database {name} with (force)")


def _result(monitor: str, at: float) -> Result:
    return Result(monitor=monitor, kind="http", started_at=at, ok=True, phases=Phases(total=0.01))


def test_only_the_holders_results_are_written(store: Store) -> None:
    a, b = Membership(Node.new("a", 1), ttl=30), Membership(Node.new("b", 2), ttl=30)
    with store.transaction() as connection:
        a.join(connection)
        owned_a = a.sync(connection, ["m1", "m2"])
    assert sorted(owned_a.monitors) == ["m1", "m2"]
    with store.transaction() as connection:  # b joins and takes its share: one moves
        b.join(connection)
        owned_b = b.sync(connection, ["m1", "m2"])
    with store.transaction() as connection:
        owned_a = a.sync(connection, ["m1", "m2"])
    with store.transaction() as connection:
        owned_b = b.sync(connection, ["m1", "m2"])
    (moved,) = owned_b.monitors
    (kept,) = owned_a.monitors
    stale = {kept: owned_a.monitors[kept], moved: 1}  # a's view from before the move
    fenced = store.write(
        [_result(kept, 100.0), _result(moved, 100.0)],
        [Transition(moved, 100.0, State.UNKNOWN, State.UP)],
        fence=(a.node.id, stale),
    )
    assert fenced == 1
    assert [r.monitor for r in store.results(kept, 0)] == [kept]
    assert store.results(moved, 0) == []
    assert moved not in store.states()
    assert store.write([_result(moved, 101.0)], fence=(b.node.id, owned_b.monitors)) == 0
    assert [r.started_at for r in store.results(moved, 0)] == [101.0]


async def test_wk_nodes_on_a_store_without_a_cluster_says_so_in_one_line(tmp_path: object) -> None:
    from pathlib import Path

    from tests.helpers.cli import wk

    folder = Path(str(tmp_path))
    config = folder / "watchkeeper.yaml"
    config.write_text("storage: sqlite:///wk.db\nmonitors: []\n")
    Store.open(f"sqlite:///{folder / 'wk.db'}").close()
    done = await wk("nodes", "-c", str(config))
    assert done.code == 2
    assert done.stderr.strip().endswith("storage: postgresql://... in the config")
    assert "Traceback" not in done.stderr
