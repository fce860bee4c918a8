"""``anomaly: on`` in ``wk up``: the online drift detector, started from the latency the store
holds, turns a lasting rise in time to first byte into a degraded monitor and a warning
notification on a real webhook; the rest of the fleet, steady, says nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
from aiohttp import web
from tests.helpers.alerting import eventually, has, in_state, notifications, watchkeeper
from tests.helpers.receivers import HookReceiver
from tests.helpers.servers import WebServer

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store


class Answering:
    def __init__(self) -> None:
        # a server-side wait well above a loaded machine's jitter, so the steady part stays
        # steady when the suite runs three tests at once on two cores
        self.delay = {"/api": 0.2, "/docs": 0.2}
        self.app = web.Application()
        self.app.router.add_get("/{name}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay[request.path])
        return web.Response(text="ok")


def seed(path: Path) -> None:
    """An earlier run's hour of checks at about 220 ms: what the detectors start from."""
    rng = np.random.default_rng(11)
    now = time.time()
    store = Store.open(f"sqlite:///{path}")
    try:
        store.write(
            [
                Result(name, "http", now - 3600 + i * 3, True, Phases(total=t))
                for name in ("api", "docs")
                for i, t in enumerate(0.201 + rng.gamma(2, 0.01, 1200))
            ]
        )
    finally:
        store.close()


async def test_a_lasting_latency_rise_degrades_and_notifies_once(tmp_path: Path) -> None:
    seed(tmp_path / "wk.db")
    target = Answering()
    async with HookReceiver() as hook, WebServer(target.app) as server:
        text = f"""
storage: sqlite:///wk.db
defaults: {{interval: 1s, timeout: 900ms, confirm: 2, recover: 2, anomaly: on}}
notify:
  - {{name: hook, webhook: "{hook.url()}", group_wait: 1s}}
monitors:
  - {{name: api, http: "{server.url("/api")}", notify: [hook]}}
  - {{name: docs, http: "{server.url("/docs")}", notify: [hook]}}
"""
        async with watchkeeper(tmp_path / "wk.yaml", text) as running:
            await eventually(lambda: in_state(running, "up", "api", "docs"))
            await asyncio.sleep(3)  # steady: nothing to say
            assert notifications(hook) == []
            target.delay["/api"] = 0.6
            await hook.wait(has(hook, "api", "firing"), timeout=30)
            state = await running.get("/api/v1/monitors/api")
    sent = notifications(hook)
    assert [s.monitors() for s in sent] == [["api"]], "docs stayed steady and quiet"
    alert = sent[0].alerts[0]
    assert alert["state"] == "degraded" and alert["severity"] == "warning"
    assert any(w.startswith("anomaly: latency") for w in alert["warnings"]), alert
    assert state["state"] == "degraded" and state["anomaly"] == ["latency"]
