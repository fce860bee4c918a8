"""Services the demo watches, started on loopback inside the ``wk up --demo`` process:
a healthy API, a slow search, a checkout that fails now and then, a TLS endpoint with a
self-signed certificate and a mail server banner; and an inbox that receives the demo's
webhook notifications and hands each to ``on_notification``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import html
import ipaddress
import random
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class DemoTargets:
    http_port: int = 0
    https_port: int = 0
    smtp_port: int = 0
    on_notification: Callable[[dict[str, Any]], None] | None = None
    watchkeeper_url: str = ""
    """Where the demo's wk up listens (set once known): the shop's page loads /rum.js there."""
    checkout_failures: asyncio.Queue[str] = field(
        default_factory=lambda: asyncio.Queue(maxsize=100)
    )
    """The checkout's failures, for the demo's error reporting (demo/traffic.py)."""
    _runners: list[web.AppRunner] = field(default_factory=list)
    _servers: list[asyncio.Server] = field(default_factory=list)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", _health)
        app.router.add_get("/search", _search)
        app.router.add_get("/checkout", self._checkout)
        app.router.add_get("/", self._shop)
        app.router.add_get("/product/{id:[0-9]{1,6}}", self._shop)
        app.router.add_post("/inbox", self._inbox)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        plain, self.http_port = _loopback_socket()
        await web.SockSite(runner, plain).start()
        secure, self.https_port = _loopback_socket()
        await web.SockSite(runner, secure, ssl_context=_self_signed_context()).start()
        smtp = await asyncio.start_server(_smtp_banner, "127.0.0.1", 0)
        self._servers.append(smtp)
        self.smtp_port = smtp.sockets[0].getsockname()[1]

    async def _inbox(self, request: web.Request) -> web.Response:
        try:
            document = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if self.on_notification is not None and isinstance(document, dict):
            self.on_notification(document)
        return web.Response(text="ok")

    async def _checkout(self, request: web.Request) -> web.Response:
        if random.random() < 0.25:
            with contextlib.suppress(asyncio.QueueFull):
                self.checkout_failures.put_nowait("payment gateway timeout")
            return web.json_response(
                {"status": "error", "detail": "payment gateway timeout"}, status=503
            )
        await asyncio.sleep(random.uniform(0.01, 0.05))
        return web.json_response({"status": "ok"})

    async def _shop(self, request: web.Request) -> web.Response:
        """A page of the demo shop that loads Watchkeeper's /rum.js: open it in a browser
        and your own visit shows on the Web Vitals page."""
        script = html.escape(self.watchkeeper_url + "/rum.js", quote=True)
        links = "".join(f'<li><a href="/product/{n}">Product {n}</a></li>' for n in (17, 42, 108))
        body = (
            "<!doctype html><html><head><meta charset=utf-8><title>Demo shop</title>"
            f'<script src="{script}" defer></script></head><body>'
            f"<h1>Demo shop</h1><p>{html.escape(request.path)}</p><ul>{links}</ul>"
            "</body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for runner in self._runners:
            await runner.cleanup()


def _loopback_socket() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    return sock, port


async def _health(request: web.Request) -> web.Response:
    await asyncio.sleep(random.uniform(0.002, 0.02))
    return web.json_response({"status": "ok", "version": "1.4.2"})


async def _search(request: web.Request) -> web.Response:
    # usually fine, sometimes well over the 500 ms budget
    delay = random.choice([0.08, 0.12, 0.2, 0.35, 0.7, 0.9])
    await asyncio.sleep(delay)
    return web.json_response({"hits": 42, "took_ms": int(delay * 1000)})


async def _smtp_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 mail.demo.local ESMTP Watchkeeper-demo\r\n")
    try:
        await writer.drain()
    finally:
        writer.close()


def _self_signed_context() -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo.watchkeeper.local")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=60))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("demo.watchkeeper.local"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(cert_path, key_path)
    return context
