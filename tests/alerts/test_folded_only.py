"""A planning round whose only events fold into a parent already announced sends nothing: it
marks them suppressed (a child planned a round after its parent once sent an empty message)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from watchkeeper.alerts.service import Alerting
from watchkeeper.config import parse_config
from watchkeeper.model import State, Transition
from watchkeeper.state import MonitorStatus
from watchkeeper.store import Store
from watchkeeper.store import alerts as db


async def test_children_folded_after_their_parent_went_out_send_no_message(
    tmp_path: Path,
) -> None:
    config = parse_config(
        """
notify:
  - {name: hook, webhook: "http://127.0.0.1:9/hook", group_wait: 0s}
defaults: {notify: [hook]}
monitors:
  - {name: db, tcp: "127.0.0.1:9"}
  - {name: app, tcp: "127.0.0.1:9", depends_on: [db]}
""",
        str(tmp_path / "wk.yaml"),
    )
    store = Store.open(f"sqlite:///{tmp_path}/wk.db")
    store.ensure_monitors([("db", "tcp", ""), ("app", "tcp", "")])  # as wk up does first
    status = {name: MonitorStatus(name, State.DOWN) for name in ("db", "app")}
    alerting = Alerting(config, store, status.get)
    try:
        monitors = {m.name: m for m in config.monitors}
        now = time.time()
        # the parent goes down and is announced on its own round
        down = Transition("db", now, State.UP, State.DOWN, "refused")
        await asyncio.to_thread(alerting._persist, [(monitors["db"], down, status["db"])])
        first = await alerting.plan_once()
        assert [g.events[0].monitor for g in first.groups] == ["db"]
        # the child's trouble arrives a round later, caused by it
        child = Transition("app", now + 1, State.UP, State.DOWN, "refused", cause="db")
        await asyncio.to_thread(alerting._persist, [(monitors["app"], child, status["app"])])
        alerting._clock = lambda: now + 600  # past any wait for the parent's verdict
        second = await alerting.plan_once()
        assert second.groups and not second.groups[0].events  # folded only
        with store.read() as connection:
            outgoing = db.unfinished_notifications(connection, limit=10)
            assert [o.route for o in outgoing] == ["hook"], "one message: the parent's"
            assert db.pending_events(connection) == [], "the child's event is settled"
    finally:
        store.close()
