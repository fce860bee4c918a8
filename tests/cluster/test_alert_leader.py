"""One announcement per problem across a change of alert leader, against the machine's
PostgreSQL: a node whose leader lease ran out stops leading in its own clock, and two
planners that read the same pending alert events (the deposed leader mid-plan, the new
one) commit one plan between them."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from watchkeeper.alerts.service import Alerting
from watchkeeper.cluster.leases import Membership, Node
from watchkeeper.config import ClusterConfig, parse_config
from watchkeeper.engine.sharing import Sharing
from watchkeeper.model import State, Transition
from watchkeeper.state import MonitorStatus
from watchkeeper.store import Store
from watchkeeper.store import alerts as db

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture
def url() -> Iterator[str]:
    name = f"wk_lead_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database {name} with (force)")


async def test_two_planners_of_the_same_events_announce_them_once(tmp_path: Path, url: str) -> None:
    config = parse_config(
        f"""
storage: {url}
notify:
  - {{name: hook, webhook: "http://127.0.0.1:9/hook", group_wait: 0s}}
monitors:
  - {{name: api, tcp: "127.0.0.1:9", notify: [hook]}}
""",
        str(tmp_path / "wk.yaml"),
    )
    stores = [Store.open(url), Store.open(url)]  # two nodes, each its own connections
    stores[0].ensure_monitors([("api", "tcp", "")])
    status = {"api": MonitorStatus("api", State.DOWN)}
    planners = [Alerting(config, store, status.get) for store in stores]
    try:
        (monitor,) = config.monitors
        down = Transition("api", time.time(), State.UP, State.DOWN, "refused")
        await asyncio.to_thread(planners[0]._persist, [(monitor, down, status["api"])])
        # both read the pending event before either commits its plan: the old leader that
        # read it just before its lease ran out, the new one that read it just after
        both_read = threading.Barrier(2, timeout=30)
        for planner in planners:
            load = planner._load_pending

            def loaded(load: object = load) -> object:
                pending = load()  # type: ignore[operator]
                both_read.wait()
                return pending

            planner._load_pending = loaded  # type: ignore[method-assign]
        plans = await asyncio.gather(*(p.plan_once() for p in planners))
        with stores[0].read() as connection:
            outbox = db.notifications(connection, limit=10)
            assert db.pending_events(connection) == []
        assert len(outbox) == 1, f"announced {len(outbox)} times"
        assert sorted(len(plan.groups) for plan in plans) == [0, 1]
        assert sum(p.notifications for p in planners) == 1
    finally:
        for store in stores:
            store.close()


async def test_a_node_whose_leader_lease_ran_out_stops_leading_before_another_leads(
    url: str,
) -> None:
    """Node a wins the lead, then cannot sync (starved, the store slow); when node b takes
    the lead, a must not think it still leads."""
    store = Store.open(url)
    config = ClusterConfig(enabled=True, name="a", beat="0.5s", ttl="1s")
    a = Sharing(config, store, {}, lambda monitors, stored: {}, {})
    b = Membership(Node.new("b", 2), ttl=1.0)
    try:
        await a.join()
        owned, _, _, _ = await asyncio.to_thread(a._sync, [], [])
        a.leader, a.valid_until = owned.leader, owned.valid_until  # what ``once`` keeps
        assert a.leads()
        with store.transaction() as connection:
            b.join(connection)
        while True:  # b beats until a's lease has run out in the store's clock
            with store.transaction() as connection:
                if b.sync(connection, []).leader is not None:
                    break
            await asyncio.sleep(0.1)
        assert not a.leads(), "a still leads beside b"
    finally:
        store.close()
