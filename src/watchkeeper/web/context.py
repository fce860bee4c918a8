"""What every route needs, in one object on ``app.state.web``: the engine (live state and the
store), authentication, the metrics, the page templates and the login throttle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from fastapi import Request

from watchkeeper.auth import Auth, LoginThrottle
from watchkeeper.auth.throttle import Slots
from watchkeeper.config import Config
from watchkeeper.engine.reload import Reloader
from watchkeeper.engine.service import Engine
from watchkeeper.lanes import PASSWORDS, WEB
from watchkeeper.web.metrics import Metrics

T = TypeVar("T")


@dataclass
class Web:
    engine: Engine
    auth: Auth
    metrics: Metrics
    loopback: bool = True
    """The server listens on loopback only: first-run setup may be offered."""
    secure_cookies: bool = False
    """Mark cookies Secure (the server is reached over https)."""
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    """Failed logins: refused per client address, paced per name."""
    hashing: Slots = field(default_factory=lambda: Slots(PASSWORDS.workers))
    """Password checks at once (one per hashing thread)."""
    demo_login: tuple[str, str] | None = None
    """(name, password) of the demo's admin, shown on the demo's login page."""
    diagnosing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    """Monitor diagnoses at once (each reads a day and more of results)."""
    reloader: Reloader | None = None
    """Reloads the config file (None: the server runs without one, like the demo)."""

    @property
    def config(self) -> Config:
        return self.engine.config

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking call (the store) on the web's own threads."""
        return await WEB.run(partial(function, *args, **kwargs))

    def needs_setup(self) -> bool:
        """No user exists yet and the server is on loopback: offer to create the admin."""
        return self.loopback and not self.auth.has_users()


def web_of(request: Request) -> Web:
    found: Web = request.app.state.web
    return found
