"""The scheduler imports a kind's drivers when a monitor of that kind is added, before any
probe: an import inside a probe runs on the event loop within the probe's timeout and holds
up every other check in flight (a loaded machine saw `wk up`'s first checks time out)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from watchkeeper.config import parse_config
    from watchkeeper.engine.scheduler import Scheduler

    config = parse_config(
        "monitors:\\n"
        "  - {name: api, http: http://127.0.0.1:9/}\\n"
        "  - {name: cache, redis: redis://127.0.0.1:9}\\n",
        "wk.yaml",
        env={},
    )
    drivers = {"aiohttp", "redis"}
    before = drivers & set(sys.modules)

    async def schedule():
        Scheduler(config.monitors, lambda *args: None, startup_spread=3600)  # none runs yet
        return drivers & set(sys.modules)

    print(json.dumps([sorted(before), sorted(asyncio.run(schedule()))]))
    """
)


def test_adding_monitors_imports_their_drivers_before_any_probe() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr

    before, after = json.loads(done.stdout)

    assert before == [], "loading the config imports no driver"
    assert after == ["aiohttp", "redis"]
