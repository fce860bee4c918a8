"""A login flood against a real ``wk up``: it is turned away cheaply, and nothing else in the
process notices — no monitor changes state, no notification goes out, pings and /healthz
keep answering. (Before each subsystem had threads of its own, argon2 hashes queued on the
one shared pool held the host and MySQL checks past their timeouts: both went down and
paged.) The figures themselves (ping and /healthz p99 during a flood) are in
bench/login_flood.py; a test asserts no timings."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import aiohttp
from tests.helpers.cli import WK, Running
from tests.helpers.receivers import HookReceiver

UUID = "7f0a1c52-3b4e-4d6f-9a81-2c3d4e5f6a7b"
FLOOD = 200


def config(hook: HookReceiver) -> str:
    # short timeouts and confirm 1: a check held up for two seconds would be a false alarm
    return f"""
storage: sqlite:///wk.db
server: {{trusted_proxies: [127.0.0.1]}}
defaults: {{interval: 2s, timeout: 2s, confirm: 1, recover: 1, notify: [hook]}}
notify:
  - {{name: hook, webhook: "{hook.url()}", group_wait: 0s}}
monitors:
  - {{name: box, host: {{}}}}
  - {{name: shop-db, mysql: "mysql://root@127.0.0.1:3306/test"}}
  - {{name: cache, redis: "redis://127.0.0.1:6379/0"}}
  - {{name: cron, heartbeat: {{period: 1h, grace: 1h, uuid: "{UUID}", ping_burst: 1000}}}}
"""


async def _states(up: Running) -> dict[str, str]:
    listed = await up.get("/api/v1/monitors?limit=100")
    return {item["name"]: item["state"] for item in listed["items"]}


async def _until_all_up(up: Running) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{up.url}/ping/{UUID}") as answer,
    ):
        assert answer.status == 200
    for _ in range(300):
        states = await _states(up)
        if set(states.values()) == {"up"}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not every monitor came up: {states}")


async def test_a_login_flood_changes_no_monitor_and_starves_nothing(tmp_path: Path) -> None:
    async with HookReceiver() as hook:
        (tmp_path / "watchkeeper.yaml").write_text(config(hook))
        process = await asyncio.create_subprocess_exec(
            *WK,
            *("user", "add", "ann", "--role", "admin", "--password-stdin"),
            cwd=tmp_path,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate(b"the right password\n")
        assert process.returncode == 0, err
        up = await Running(cwd=tmp_path).start()
        try:
            await _until_all_up(up)
            before = await _states(up)
            changes_before = len(hook.requests)

            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
                async with browser.get(f"{up.url}/login") as page:
                    form = re.search(r'name="csrf" value="([^"]*)"', await page.text())
                assert form is not None

                async def attempt(i: int) -> tuple[int, str]:
                    async with browser.post(
                        f"{up.url}/login",
                        data={"name": f"user{i}", "password": "wrong guess", "csrf": form[1]},
                        # each from an address of its own: the per-address limits do not
                        # stop this flood; only the hashing threads' cap does
                        headers={"X-Forwarded-For": f"10.1.{i // 250}.{i % 250 + 1}"},
                        allow_redirects=False,
                    ) as answer:
                        return answer.status, await answer.text()

                async def pinger(results: list[int], done: asyncio.Event) -> None:
                    async with aiohttp.ClientSession() as cron:
                        while not done.is_set():
                            for path in (f"/ping/{UUID}", "/healthz"):
                                async with cron.get(up.url + path) as answer:
                                    results.append(answer.status)
                            await asyncio.sleep(0.02)

                done = asyncio.Event()
                pings: list[int] = []
                watcher = asyncio.create_task(pinger(pings, done))
                answers = await asyncio.gather(*(attempt(i) for i in range(FLOOD)))
                await asyncio.sleep(3.0)  # a few more intervals of checks after the flood
                done.set()
                await watcher

            statuses = Counter(status for status, _ in answers)
            assert set(statuses) <= {401, 429}, statuses
            busy = [text for status, text in answers if status == 429]
            assert busy and all("Many logins at once" in text for text in busy), statuses
            assert statuses[401] < FLOOD, "the hashing threads' cap turned some away at once"
            assert pings and set(pings) == {200}, Counter(pings)
            assert await _states(up) == before
            assert len(hook.requests) == changes_before, [r.json for r in hook.requests]
        finally:
            await up.stop()
