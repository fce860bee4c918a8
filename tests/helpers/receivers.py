"""Real receivers for alerting tests, each on 127.0.0.1 and a port of its own.

- ``HookReceiver``: an HTTP server that records every request (headers and body) and checks
  Watchkeeper's webhook signature; it can answer another status (503, 404), hold each answer
  for a while (a slow receiver), and be stopped and started again on the same port.
  Apprise's ``json://`` posts to it too.
- ``SmtpReceiver``: aiosmtpd, with AUTH over plain SMTP, keeping every mail it accepts.
- ``Alertmanager``: Debian's ``prometheus-alertmanager`` as a child process with its own
  storage directory and no clustering, and its v2 API.

All are async context managers that stop what they started.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import hashlib
import hmac
import json
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from tests.helpers.ports import free_port

HOST = "127.0.0.1"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@dataclass(frozen=True)
class Request:
    """One request a HookReceiver got."""

    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    at: float
    signed: bool | None
    """The signature checked out (None: the receiver has no secret)."""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")


class HookReceiver:
    """Records what Watchkeeper (or Apprise, or Alertmanager) posts to it.

    ``status`` is what it answers (200 unless switched), ``hold`` how long it sits on each
    request before answering; ``stop()`` closes the port (connections are refused) and
    ``start()`` opens the same port again.
    """

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.port = free_port()
        self.status = 200
        self.hold = 0.0
        self.requests: list[Request] = []
        self.answered: list[Request] = []
        """Requests it answered with a 2xx (the sender saw them succeed)."""
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()

    def url(self, path: str = "/hook") -> str:
        return f"http://{HOST}:{self.port}{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self.port))
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            await self._runner.cleanup()
            self._runner = None
            raise

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> HookReceiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _verify(self, headers: dict[str, str], body: bytes) -> bool | None:
        if self.secret is None:
            return None
        timestamp = headers.get("x-watchkeeper-timestamp", "")
        given = headers.get("x-watchkeeper-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        digest = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(given, f"sha256={digest.hexdigest()}")

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        received = Request(request.path_qs, headers, body, time.time(), self._verify(headers, body))
        self.requests.append(received)
        self._changed.set()
        if self.hold:
            await asyncio.sleep(self.hold)
        status = self.status
        if received.signed is False:
            status = 401
        if 200 <= status < 300:
            self.answered.append(received)
        return web.Response(status=status, text="ok" if status < 300 else f"status {status}")

    async def wait(self, predicate: Any, timeout: float = 20.0) -> list[Request]:
        """Wait until ``predicate(requests)`` holds; returns the requests."""
        deadline = time.monotonic() + timeout
        while not predicate(self.requests):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s; received: "
                    + json.dumps([_summary(r) for r in self.requests], indent=1)[:4000]
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
        return self.requests


def _summary(request: Request) -> Any:
    try:
        document = request.json()
    except ValueError:
        return request.body[:200].decode("utf-8", "replace")
    if isinstance(document, dict) and "alerts" in document:
        return {
            "event": document.get("event"),
            "key": request.key,
            "alerts": [(a.get("monitor"), a.get("event")) for a in document["alerts"]],
        }
    return document


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        assert part is not None, self.message
        return str(part.get_content())


@dataclass
class _MailHandler:
    mails: list[Mail] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.mails.append(
            Mail(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], message)
        )
        self.arrived.set()
        return "250 OK"


class SmtpReceiver:
    """An SMTP server (aiosmtpd) accepting mail after AUTH with ``user``/``password``."""

    def __init__(self, user: str = "wk", password: str = "s3cret") -> None:
        self.user = user
        self.password = password
        self.port = 0
        self.logins: list[str] = []
        self._handler = _MailHandler()
        self._server: asyncio.Server | None = None

    @property
    def mails(self) -> list[Mail]:
        return self._handler.mails

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (self.user, self.password)
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok)

    async def __aenter__(self) -> SmtpReceiver:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self._handler,
                hostname="mail.test",
                authenticator=self._authenticate,
                auth_require_tls=False,
            ),
            HOST,
            0,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def wait(self, count: int, timeout: float = 20.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{len(self.mails)} mails after {timeout}s, wanted {count}: "
                    + "; ".join(m.subject for m in self.mails)
                )
            self._handler.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._handler.arrived.wait(), min(left, 0.5))
        return self.mails


class Alertmanager:
    """A real Alertmanager: no cluster, its own storage, a config routing every alert to
    ``webhook`` (if given) grouped by alertname."""

    def __init__(self, workdir: Path, *, webhook: str | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.webhook = webhook
        self._process: asyncio.subprocess.Process | None = None
        self.log = workdir / "alertmanager.log"

    def _config(self) -> str:
        receiver = "  - name: default\n"
        if self.webhook:
            receiver += "    webhook_configs:\n"
            receiver += f"      - {{url: '{self.webhook}', send_resolved: true}}\n"
        return (
            "route:\n"
            "  receiver: default\n"
            "  group_by: [alertname]\n"
            "  group_wait: 1s\n"
            "  group_interval: 2s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n" + receiver
        )

    async def __aenter__(self) -> Alertmanager:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(self._config())
        with self.log.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address={HOST}:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as session:
            while True:
                if self._process.returncode is not None:
                    raise AssertionError(f"alertmanager exited: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/-/ready") as response:
                        if response.status == 200:
                            return self
                if time.monotonic() > deadline:
                    await self._end()
                    raise AssertionError(f"alertmanager not ready: {self.log.read_text()[-2000:]}")
                await asyncio.sleep(0.1)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._end()

    async def _end(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as session, session.get(self.url + path) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds that have not resolved."""
        found: list[dict[str, Any]] = await self._get("/api/v2/alerts")
        return found

    async def groups(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._get("/api/v2/alerts/groups")
        return found
