"""The activity log against a real ``wk up``: a login over HTTP through a trusted proxy, a
monitor defined and a silence made with an API token, an incident acknowledged from the
dashboard, the CLI's writes — each one a row with the right actor, verb and address, no
secret in any of them; a failed-login flood stays a few rows; the API filters and the page."""

from __future__ import annotations

import asyncio
import getpass
import re
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
from tests.helpers.cli import WK, Running, wk
from tests.helpers.ports import free_port

from watchkeeper.activity import ADDRESSES_PER_MINUTE

PASSWORD = "correct horse battery staple 7"
WRONG = "not-the-password-9f3a"
HEADER_SECRET = "Bearer hdr-secret-5d41402abc4b2a76"
CLIENT = "203.0.113.7"


def config(closed_port: int) -> str:
    return f"""
storage: sqlite:///wk.db
server: {{trusted_proxies: [127.0.0.1]}}
defaults: {{interval: 1s, timeout: 1s, confirm: 1, recover: 1}}
monitors:
  - {{name: gone, tcp: "127.0.0.1:{closed_port}"}}
"""


async def add_user(cwd: Path, name: str, role: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *WK,
        *("user", "add", name, "--role", role, "--password-stdin"),
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate(f"{PASSWORD}\n".encode())
    assert process.returncode == 0, err


async def form_token(browser: aiohttp.ClientSession, url: str) -> str:
    async with browser.get(f"{url}/login") as page:
        form = re.search(r'name="csrf" value="([^"]*)"', await page.text())
    assert form is not None
    return form.group(1)


async def login(
    browser: aiohttp.ClientSession,
    url: str,
    name: str,
    password: str,
    client: str,
    token: str | None = None,
) -> int:
    csrf = token or await form_token(browser, url)
    async with browser.post(
        f"{url}/login",
        data={"name": name, "password": password, "csrf": csrf, "next": "/"},
        headers={"X-Forwarded-For": client},
        allow_redirects=False,
    ) as answer:
        return answer.status


async def activity(up: Running, query: str = "") -> list[dict[str, Any]]:
    found = await up.get(f"/api/v1/activity?limit=1000{query}")
    items: list[dict[str, Any]] = found["items"]
    return items


async def until(up: Running, query: str, wanted: Any, attempts: int = 300) -> list[Any]:
    """Poll the activity log until ``wanted(items)`` holds."""
    items: list[dict[str, Any]] = []
    for _ in range(attempts):
        items = await activity(up, query)
        if wanted(items):
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"the activity log never showed it: {items}")


async def open_incident(up: Running) -> int:
    for _ in range(300):
        found = await up.get("/api/v1/incidents?monitor=gone")
        if found["items"]:
            return int(found["items"][0]["id"])
        await asyncio.sleep(0.1)
    raise AssertionError("no incident opened for the closed port")


async def test_writes_logins_and_token_use_are_recorded_with_actor_and_address(
    tmp_path: Path,
) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(config(free_port()))
    await add_user(tmp_path, "ann", "admin")
    up = await Running(cwd=tmp_path, cli_token=True).start()  # its token.create is checked
    me = f"cli:{getpass.getuser()}"
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            assert await login(browser, up.url, "ann", WRONG, "198.51.100.9") == 401
            assert await login(browser, up.url, "ann", PASSWORD, CLIENT) == 303

            # an API write with the token: a monitor with a secret header, and a silence
            status, _ = await up.request(
                "POST",
                "/api/v1/monitors",
                json={
                    "name": "shop",
                    "http": {
                        "url": "http://127.0.0.1:9/",
                        "headers": {"Authorization": HEADER_SECRET},
                    },
                },
            )
            assert status == 201
            status, made = await up.request(
                "POST", "/api/v1/silences", json={"monitor": "gone", "duration": "2h"}
            )
            assert status == 201, made

            # an acknowledgement from the dashboard, with the session and its CSRF token
            incident = await open_incident(up)
            async with browser.get(f"{up.url}/incidents/{incident}") as page:
                csrf = re.search(r'name="csrf" value="([^"]*)"', await page.text())
            assert csrf is not None
            async with browser.post(
                f"{up.url}/incidents/{incident}/ack",
                data={"csrf": csrf.group(1)},
                headers={"X-Forwarded-For": CLIENT},
                allow_redirects=False,
            ) as answer:
                assert answer.status == 303

            # the page renders for the admin, its nav links it
            async with browser.get(f"{up.url}/activity?action=incident") as page:
                assert page.status == 200
                text = await page.text()
            assert 'href="/activity"' in text and "incident.ack" in text
            assert "silence.create" not in text  # the filter holds

        items = await until(up, "", lambda rows: any(r["action"] == "login.failed" for r in rows))
        by_action = {r["action"]: r for r in reversed(items)}  # the newest of each verb
        token_actor = by_action["silence.create"]["actor"]
        assert token_actor.startswith("token:")

        assert by_action["user.create"]["actor"] == me
        assert by_action["user.create"]["subject"] == "ann"
        assert by_action["token.create"]["actor"] == me
        assert (by_action["login"]["actor"], by_action["login"]["address"]) == ("ann", CLIENT)
        failed = by_action["login.failed"]
        assert (failed["address"], failed["count"], failed["outcome"]) == (
            "198.51.100.9",
            1,
            "failed",
        )
        assert failed["detail"]["names"] == ["ann"]
        assert by_action["monitor.create"]["subject"] == "shop"
        assert by_action["monitor.create"]["actor"] == token_actor
        assert by_action["monitor.create"]["address"] == "127.0.0.1"
        silence = by_action["silence.create"]
        assert (silence["subject"], silence["outcome"]) == ("gone", "ok")
        assert silence["detail"]["request"]["duration"] == "2h"
        ack = by_action["incident.ack"]
        assert (ack["actor"], ack["subject"], ack["address"]) == ("ann", str(incident), CLIENT)
        uses = [r for r in items if r["action"] == "token.use" and r["actor"] == token_actor]
        assert len(uses) == 1  # many requests, one row an hour

        # the filters
        logins = await activity(up, "&action=login")
        assert {r["action"] for r in logins} == {"login", "login.failed"}
        assert {r["actor"] for r in await activity(up, "&actor=ann")} == {"ann"}
        assert await activity(up, "&since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z") == []
        status, bad = await up.request("GET", "/api/v1/activity?since=yesterday-ish")
        assert status == 422, bad

        # the CLI's writes, and wk activity
        assert (await wk("silence", "add", "-m", "gone", "--for", "1h", cwd=tmp_path)).code == 0
        listed = await wk("activity", "--json", "--action", "silence", cwd=tmp_path)
        assert listed.code == 0, listed.stderr
        cli_rows = [r for r in listed.json() if r["actor"] == me]
        assert [r["action"] for r in cli_rows] == ["silence.create"]

        # reloads: SIGHUP (wk reload) by system, the API's by whoever asked
        reloaded = await wk("reload", cwd=tmp_path)
        assert reloaded.code == 0, reloaded.stderr
        status, _ = await up.request("POST", "/api/v1/reload")
        assert status == 200
        reloads = await until(up, "&action=config.reload", lambda rows: len(rows) == 2)
        assert [(r["actor"], r["detail"]["trigger"], r["outcome"]) for r in reloads] == [
            (token_actor, "API", "ok"),
            ("system", "SIGHUP", "ok"),
        ]

        # no secret anywhere in the log: not the passwords, not the header, not the token
        assert up.token is not None
        raw = sqlite3.connect(tmp_path / "wk.db")
        try:
            stored = " ".join(str(row) for row in raw.execute("SELECT * FROM activity"))
        finally:
            raw.close()
        for secret in (PASSWORD, WRONG, HEADER_SECRET, up.token, "hdr-secret"):
            assert secret not in stored
        assert "***" in stored  # the header was there, masked
    finally:
        await up.stop()


async def test_a_failed_login_flood_stays_a_few_rows_per_minute(tmp_path: Path) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(config(free_port()))
    await add_user(tmp_path, "ann", "admin")
    up = await Running(cwd=tmp_path).start()
    addresses = [f"192.0.2.{i}" for i in range(1, 3 * ADDRESSES_PER_MINUTE + 1)]
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            token = await form_token(browser, up.url)
            statuses = await asyncio.gather(
                *(
                    login(
                        browser, up.url, "ann", f"{WRONG}-{n}", addresses[n % len(addresses)], token
                    )
                    for n in range(300)
                )
            )
        assert set(statuses) <= {401, 429}

        def counted(rows: list[dict[str, Any]]) -> bool:
            return sum(r["count"] for r in rows) == 300

        rows = await until(up, "&action=login.failed", counted)
        minutes = {int(r["at"] // 60) for r in rows}
        # one row per address and minute for the first addresses, one row for the rest
        assert len(rows) <= len(minutes) * (ADDRESSES_PER_MINUTE + 1)
        assert len(rows) < len(addresses)
        assert any(r["address"] is None and r["count"] > 1 for r in rows)
        for row in rows:
            assert all(WRONG not in name for name in row["detail"].get("names", []))
    finally:
        await up.stop()
