"""The login form under attack, against the real app on a real port: attempts are counted
before their passwords are checked, a flood from one address does not lock the owner out
from another, forwarded addresses are believed only from trusted proxies, the first-run
setup answers only this machine, and a logout always ends its session."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tests.helpers.postgres import PrivatePostgres
from tests.helpers.site import ADMIN, ADMIN_PASSWORD, Site, _hidden
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper.auth import Auth
from watchkeeper.web.connections import ConnectionLimits


def config(web: ProbeTargetServer, storage: str = "sqlite:///wk.db") -> str:
    return f"""
storage: {storage}
defaults: {{interval: 1s, timeout: 500ms}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
"""


@pytest.fixture
async def site(tmp_path: Path, web: ProbeTargetServer) -> AsyncIterator[Site]:
    async with Site(config(web), tmp_path) as running:
        yield running


@pytest.fixture
async def proxied(tmp_path: Path, web: ProbeTargetServer) -> AsyncIterator[Site]:
    """Behind a reverse proxy on loopback: X-Forwarded-For says who the client is."""
    limits = ConnectionLimits(trusted=["127.0.0.1"])
    async with Site(config(web), tmp_path, limits=limits) as running:
        yield running


async def _form(session: aiohttp.ClientSession) -> str:
    async with session.get("/login") as page:
        return _hidden(await page.text(), "csrf")


async def _login(
    session: aiohttp.ClientSession, form: str, name: str, password: str, address: str = ""
) -> tuple[int, str]:
    async with session.post(
        "/login",
        data={"name": name, "password": password, "csrf": form},
        headers={"X-Forwarded-For": address} if address else {},
        allow_redirects=False,
    ) as answer:
        return answer.status, await answer.text()


async def test_a_burst_of_wrong_logins_gets_no_more_password_checks_than_the_limit(
    site: Site,
) -> None:
    async with site.client() as session:
        form = await _form(session)
        answers = await asyncio.gather(
            *(_login(session, form, ADMIN, f"guess {i}") for i in range(150))
        )
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {401, 429}, statuses
    # 5 per name and address: counted as each attempt starts, not after its check ends
    assert 1 <= statuses[401] <= 5, statuses


async def test_x_forwarded_for_is_not_believed_from_a_peer_that_is_no_trusted_proxy(
    site: Site,
) -> None:
    async with site.client() as session:
        form = await _form(session)
        statuses = [
            (await _login(session, form, ADMIN, "wrong password", f"10.9.0.{i}"))[0]
            for i in range(1, 7)
        ]
    assert statuses == [401] * 5 + [429], "every try counted against 127.0.0.1"


async def test_a_flood_from_one_address_does_not_lock_the_owner_out_from_another(
    proxied: Site,
) -> None:
    async with proxied.client() as session:
        form = await _form(session)
        statuses = [
            (await _login(session, form, ADMIN, "wrong password", "203.0.113.7"))[0]
            for _ in range(7)
        ]
        assert statuses == [401] * 5 + [429] * 2
        status, text = await _login(session, form, ADMIN, ADMIN_PASSWORD, "203.0.113.7")
        assert status == 429 and "Too many failed logins" in text
        status, _ = await _login(session, form, ADMIN, ADMIN_PASSWORD, "198.51.100.20")
        assert status == 303, "the right password from elsewhere: slowed down, never refused"


async def test_a_name_guessed_from_many_addresses_at_once_is_checked_one_try_at_a_time(
    proxied: Site,
) -> None:
    async with proxied.client() as session:
        form = await _form(session)
        for i in range(5):  # under every per-address limit: one try each
            status, _ = await _login(session, form, ADMIN, "wrong password", f"192.0.2.{i + 1}")
            assert status == 401
        loop = asyncio.get_running_loop()
        started = loop.time()
        statuses = await asyncio.gather(
            *(_login(session, form, ADMIN, "guess", f"198.51.100.{i + 1}") for i in range(3))
        )
        waited = loop.time() - started
    assert [status for status, _ in statuses] == [401] * 3
    # their checks were paced 1 s, then 2 s apart (a lower bound: a slow machine only waits
    # longer; sleeping side by side, as a mere delay would, takes 1 s in all)
    assert waited >= 3.0


async def test_while_strangers_are_told_to_wait_the_owner_gets_in_at_once(
    proxied: Site,
) -> None:
    async with proxied.client() as owner, proxied.client() as stranger:
        form = await _form(owner)
        status, _ = await _login(owner, form, ADMIN, ADMIN_PASSWORD, "192.0.2.200")
        assert status == 303  # this browser now holds a device token for alice
        guesser_form = await _form(stranger)
        for i in range(5):
            await _login(stranger, guesser_form, ADMIN, "wrong", f"203.0.113.{i + 1}")
        # a crowd of guesses at once: the name's turns fill up 30 s ahead
        crowd = asyncio.gather(
            *(_login(stranger, guesser_form, ADMIN, "wrong", f"198.51.100.{i}") for i in range(8))
        )
        await asyncio.sleep(0.3)
        status, text = await _login(stranger, guesser_form, ADMIN, ADMIN_PASSWORD, "10.9.9.9")
        assert status == 429 and "try again in" in text, "a stranger waits its turn"
        async with owner.post("/logout", allow_redirects=False):
            pass
        form = await _form(owner)
        status, _ = await _login(owner, form, ADMIN, ADMIN_PASSWORD, "172.16.0.9")
        assert status == 303, "the owner's browser, from a new address, is not paced"
        answers = await crowd
    assert {status for status, _ in answers} <= {401, 429}


async def test_logout_ends_the_session_on_the_server_even_without_its_csrf_token(
    site: Site,
) -> None:
    session, _csrf = await site.login()
    async with session:
        stolen = next(c.value for c in session.cookie_jar if c.key == "wk_session")
        async with session.post("/logout", data={}, allow_redirects=False) as answer:
            assert answer.status == 303
    async with site.client() as other:
        other.cookie_jar.update_cookies({"wk_session": stolen})
        async with other.get("/api/v1/monitors") as answer:
            assert answer.status == 401, "the session is dead on the server, not just forgotten"


async def test_setup_refuses_a_foreign_host_or_origin_and_so_does_every_page_until_then(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with Site(config(web), tmp_path, users=False) as site, site.client() as visitor:
        async with visitor.get("/setup") as page:
            token = _hidden(await page.text(), "csrf")
        fields = {"name": "root", "password": "a long passphrase", "again": "a long passphrase"}
        port = site.server.port
        for headers in (
            {"Host": "attacker.example"},  # a page whose DNS name was rebound to 127.0.0.1
            {"Host": f"attacker.example:{port}"},
            {"Origin": "http://attacker.example"},
            {"Origin": f"http://localhost:{port}"},  # the same machine, another origin
            {"X-Forwarded-For": "203.0.113.9"},  # relayed by a proxy here that is not trusted
            {"Forwarded": "for=203.0.113.9"},
        ):
            async with visitor.post(
                "/setup", data={**fields, "csrf": token}, headers=headers, allow_redirects=False
            ) as answer:
                assert answer.status == 403, headers
        for path in ("/", "/login", "/setup", "/status", "/api/v1/monitors"):
            async with visitor.get(
                path, headers={"Host": "attacker.example"}, allow_redirects=False
            ) as answer:
                assert answer.status == 403, path
        async with visitor.get("/healthz", headers={"Host": "attacker.example"}) as answer:
            assert answer.status == 200, "liveness answers any name"
        assert site.auth.users() == []
        async with visitor.post(
            "/setup",
            data={**fields, "csrf": token},
            headers={"Origin": f"http://127.0.0.1:{port}"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/"
        async with visitor.get("/status", headers={"Host": "status.example.com"}) as answer:
            assert answer.status == 200, "once an admin exists, any name may ask"
        assert [user.name for user in site.auth.users()] == ["root"]


async def test_setup_is_not_offered_to_a_remote_client_behind_a_trusted_proxy(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    limits = ConnectionLimits(trusted=["127.0.0.1"])
    async with (
        Site(config(web), tmp_path, users=False, limits=limits) as site,
        site.client() as visitor,
        visitor.get("/setup", headers={"X-Forwarded-For": "203.0.113.9"}) as page,
    ):
        assert page.status == 403
        assert "only offered on this machine" in await page.text()


async def test_the_login_page_says_503_while_the_store_is_away(
    tmp_path: Path, web: ProbeTargetServer, private_postgres: PrivatePostgres
) -> None:
    async with (
        Site(config(web, private_postgres.url), tmp_path, users=False) as site,
        site.client() as visitor,
    ):
        async with visitor.get("/setup") as page:
            form = _hidden(await page.text(), "csrf")
        # made by another process (wk user add): this server has not seen a user yet
        Auth(site.store).add_user(ADMIN, ADMIN_PASSWORD, "admin")
        await asyncio.to_thread(private_postgres.stop, "immediate")
        for attempt in (
            visitor.get("/login", allow_redirects=False),
            visitor.get("/", allow_redirects=False),
            visitor.post(
                "/login",
                data={"name": ADMIN, "password": ADMIN_PASSWORD, "csrf": form},
                allow_redirects=False,
            ),
        ):
            async with attempt as answer:
                text = await answer.text()
                assert answer.status == 503, text
                assert "Traceback" not in text
                assert answer.headers.get("Retry-After")
        assert re.search("store", text)


async def test_forwarding_headers_from_an_untrusted_proxy_are_reported_once(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    async with site.client() as session:
        for _ in range(3):
            async with session.get("/healthz", headers={"X-Forwarded-For": "203.0.113.5"}):
                pass
    told = [r.getMessage() for r in caplog.records if "trusted_proxies" in r.getMessage()]
    assert len(told) == 1 and "from 127.0.0.1" in told[0]
