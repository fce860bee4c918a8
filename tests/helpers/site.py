"""Watchkeeper's engine and web app in the test's own process, served by uvicorn on a free
loopback port: real HTTP, with the engine reachable for seeding and inspection.

``Site(config_text, folder)`` is an async context manager; ``client(token=...)`` gives an
aiohttp session with that bearer token, ``login(name, password)`` one with a session cookie
(got through the real login form), ``token(scope)`` makes an API token the way
``wk token create`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from tests.helpers.stores import fresh_sqlite

import watchkeeper.auth.service as auth_service
from watchkeeper.auth import Auth
from watchkeeper.auth.passwords import hash_password
from watchkeeper.config import Config, parse_config
from watchkeeper.engine.defined import api_monitors
from watchkeeper.engine.reload import Reloader
from watchkeeper.engine.service import Engine
from watchkeeper.store import Store
from watchkeeper.web.app import create_app
from watchkeeper.web.connections import ConnectionLimits
from watchkeeper.web.server import WebServer

ADMIN, ADMIN_PASSWORD = "alice", "correct horse battery"
ENV = {"HOOK_SECRET": "hunter2-secret"}
VIEWER, VIEWER_PASSWORD = "victor", "viewer password 1"

_HASHES: dict[str, str] = {}


@contextmanager
def _hashing_once() -> Iterator[None]:
    """``Auth.add_user`` as it is, but each password hashed once per worker (argon2id is a
    quarter of a second of CPU; a real hash of the same password verifies the same way)."""

    def cached(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = hash_password(password)
        return _HASHES[password]

    original = auth_service.hash_password
    auth_service.hash_password = cached
    try:
        yield
    finally:
        auth_service.hash_password = original


class Site:
    def __init__(
        self,
        text: str,
        folder: Path,
        *,
        users: bool = True,
        loopback: bool = True,
        extra: tuple[Any, ...] = (),
        seed: Callable[[Store], None] | None = None,
        limits: ConnectionLimits | None = None,
        broken_allowed: bool = False,
    ) -> None:
        """``seed`` writes history into the store before the engine starts (as an earlier
        run of wk up would have); ``broken_allowed``: stored API definitions may be left
        out (else that fails the test)."""
        self.text = text
        self.folder = folder
        self.with_users = users
        self.loopback = loopback
        self.extra = extra
        self.seed = seed
        self.limits = limits
        self.broken_allowed = broken_allowed
        self.config: Config
        self.store: Store
        self.engine: Engine
        self.reloader: Reloader
        self.auth: Auth
        self.server: WebServer
        self.url = ""

    async def __aenter__(self) -> Site:
        path = self.folder / "watchkeeper.yaml"
        path.write_text(self.text)
        self.config = parse_config(self.text, str(path), env=ENV)
        fresh_sqlite(self.config.storage)  # a migrated copy: nothing for Store.open to do
        self.store = Store.open(self.config.storage)
        self.auth = Auth(self.store)
        if self.seed is not None:
            self.seed(self.store)
        if self.with_users and not self.auth.has_users():
            with _hashing_once():
                self.auth.add_user(ADMIN, ADMIN_PASSWORD, "admin")
                self.auth.add_user(VIEWER, VIEWER_PASSWORD, "viewer")
        defined = api_monitors(self.store, self.config)
        assert self.broken_allowed or not defined.lines(), defined.lines()
        self.engine = Engine(
            self.config,
            self.store,
            startup_spread=0.2,
            extra_monitors=(*self.extra, *defined.monitors),
            broken_monitors=tuple(defined.broken),
        )
        await self.engine.start()
        self.reloader = Reloader(self.engine, env=ENV)
        app = create_app(
            self.engine, auth=self.auth, loopback=self.loopback, reloader=self.reloader
        )
        self.app = app
        self.server = WebServer(app, "127.0.0.1", 0, self.limits)
        await self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.server.stop()
        await self.engine.stop(grace=1.0, flush_timeout=5.0)
        self.store.close()

    def token(self, scope: str = "read") -> str:
        return self.auth.create_token(f"test-{scope}", scope)[1]

    def client(self, token: str | None = None) -> aiohttp.ClientSession:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return aiohttp.ClientSession(
            self.url, headers=headers, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )

    async def login(
        self, name: str = ADMIN, password: str = ADMIN_PASSWORD
    ) -> tuple[aiohttp.ClientSession, str]:
        """A session logged in through the form, and its CSRF token (from a page)."""
        session = self.client()
        async with session.get("/login") as page:
            form_token = _hidden(await page.text(), "csrf")
        async with session.post(
            "/login",
            data={"name": name, "password": password, "csrf": form_token, "next": "/"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303, await answer.text()
        async with session.get("/") as page:
            assert page.status == 200
            csrf = re.search(r'data-csrf="([^"]*)"', await page.text())
        assert csrf is not None
        return session, csrf.group(1)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, html[:500]
    return found.group(1)
