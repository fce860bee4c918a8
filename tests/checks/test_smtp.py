"""smtp checks against aiosmtpd (a real SMTP server: STARTTLS, implicit TLS, AUTH PLAIN and
LOGIN with the test CA's certificate) and peers that are no SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from tests.helpers.certs import CertificateSet
from tests.helpers.ports import free_port
from tests.helpers.servers import RawServer

from watchkeeper.model import Result

Check = Callable[[str], Awaitable[Result]]
PASSWORD = "s3cret-smtp-pw"


class _Handler:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


class MailServer:
    """aiosmtpd on a free port: ``starttls`` offers STARTTLS (AUTH only after it),
    ``implicit`` speaks TLS from the first byte; AUTH wants ``monitor``/PASSWORD."""

    def __init__(self, server: asyncio.Server, logins: list[str]) -> None:
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        self.logins = logins

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
async def mail_server(
    servers: AsyncExitStack, certificates: CertificateSet
) -> Callable[..., Awaitable[MailServer]]:
    async def start(tls: str = "starttls", **options: Any) -> MailServer:
        logins: list[str] = []

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                b"monitor",
                PASSWORD.encode(),
            )
            logins.append(f"{mechanism} {'ok' if ok else 'refused'}")
            return AuthResult(success=ok, handled=False)  # handled: aiosmtpd answers 535

        context = certificates.valid.server_context()
        settings: dict[str, Any] = {
            "hostname": "mail.test",
            "authenticator": authenticate,
            "auth_require_tls": tls != "none",
        }
        if tls == "starttls":
            settings |= {"tls_context": context, "require_starttls": True}
        if tls == "implicit":
            settings["auth_require_tls"] = False  # the whole session is TLS
        settings |= options
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(_Handler(), **settings),
            "127.0.0.1",
            free_port(),
            ssl=context if tls == "implicit" else None,
        )

        async def close() -> None:
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)

        servers.push_async_callback(close)
        return MailServer(server, logins)

    return start


async def test_starttls_and_a_login_over_it_with_the_private_ca(
    check: Check, mail_server: Callable[..., Awaitable[MailServer]], certificates: CertificateSet
) -> None:
    server = await mail_server("starttls")
    result = await check(f"""
        monitors:
          - name: mx
            smtp: {{address: "localhost:{server.port}", username: monitor, password: {PASSWORD},
                    ca_file: "{certificates.ca_file}", ehlo: probe.example.test}}
            expect: ["cert.expires_in > 30d", "smtp.auth == true", "smtp.tls == true",
                     "smtp.banner contains 'mail.test'", "smtp.extensions contains 'STARTTLS'",
                     "tls.protocol in ['TLSv1.2', 'TLSv1.3']", "cert.issuer contains 'Test CA'"]
        """)
    assert result.ok, result.reason
    assert server.logins == ["PLAIN ok"]
    assert result.metrics["smtp.code"] == 220 and result.metrics["smtp.auth"] == 1
    phases = result.phases
    assert phases.connect is not None and phases.ttfb is not None
    assert phases.tls is not None and phases.tls > 0
    assert phases.transfer is not None and phases.transfer > 0


async def test_implicit_tls_on_an_smtps_url_and_auth_login(
    check: Check, mail_server: Callable[..., Awaitable[MailServer]], certificates: CertificateSet
) -> None:
    # a server offering LOGIN only: the check falls back from PLAIN
    server = await mail_server("implicit", auth_exclude_mechanism=["PLAIN"])
    result = await check(f"""
        monitors:
          - name: smtps
            smtp: {{address: "smtps://localhost:{server.port}", username: monitor,
                    password: {PASSWORD}, ca_file: "{certificates.ca_file}"}}
            expect: ["smtp.tls == true", "smtp.auth == true", "cert.expires_in > 30d"]
        """)
    assert result.ok, result.reason
    assert server.logins == ["LOGIN ok"]
    assert result.phases.tls is not None and result.phases.tls > 0


async def test_a_wrong_password_is_one_line_without_the_password(
    check: Check, mail_server: Callable[..., Awaitable[MailServer]], certificates: CertificateSet
) -> None:
    server = await mail_server("starttls")
    result = await check(f"""
        monitors:
          - name: mx
            smtp: {{address: "localhost:{server.port}", username: monitor,
                    password: wrong-pw-123, ca_file: "{certificates.ca_file}"}}
        """)
    assert not result.ok
    assert result.error == "authentication failed: 535 5.7.8 Authentication credentials invalid"
    assert result.metrics["smtp.auth"] == 0
    assert "wrong-pw-123" not in str(result.to_json())


async def test_an_untrusted_certificate_is_one_tls_line(
    check: Check, mail_server: Callable[..., Awaitable[MailServer]]
) -> None:
    server = await mail_server("starttls")
    result = await check(f"monitors: [{{name: mx, smtp: 'localhost:{server.port}'}}]")
    assert result.error == "TLS: untrusted issuer (unable to get local issuer certificate)"
    unverified = await check(f"""
        monitors: [{{name: mx, smtp: {{address: "localhost:{server.port}", verify: false}}}}]
        """)
    assert unverified.ok, unverified.reason


async def test_without_starttls_on_offer(
    check: Check, mail_server: Callable[..., Awaitable[MailServer]]
) -> None:
    server = await mail_server("none")
    plain = await check(f"""
        monitors: [{{name: mx, smtp: "{server.address}", expect: ["smtp.tls == false"]}}]
        """)
    assert plain.ok, plain.reason
    required = await check(f"""
        monitors: [{{name: mx, smtp: {{address: "{server.address}", require_tls: true}}}}]
        """)
    assert required.error == "the server does not offer STARTTLS"
    explicit = await check(f"""
        monitors: [{{name: mx, smtp: {{address: "{server.address}", tls: starttls}}}}]
        """)
    assert explicit.error == "the server does not offer STARTTLS"
    withheld = await check(f"""
        monitors:
          - {{name: mx, smtp: {{address: "{server.address}", username: monitor,
              password: {PASSWORD}}}}}
        """)
    assert withheld.error == (
        "the server offers no STARTTLS: the password is not sent in plain text "
        "(allow_plaintext: true sends it)"
    )
    assert server.logins == []
    allowed = await check(f"""
        monitors:
          - {{name: mx, smtp: {{address: "{server.address}", username: monitor,
              password: {PASSWORD}, allow_plaintext: true}}, expect: ["smtp.auth == true"]}}
        """)
    assert allowed.ok, allowed.reason
    assert server.logins == ["PLAIN ok"]


async def test_a_server_that_accepts_and_never_sends_a_banner_times_out_in_ttfb(
    check: Check, hanging_server: RawServer
) -> None:
    result = await check(f"""
        monitors: [{{name: mx, smtp: "{hanging_server.address}", timeout: 1s}}]
        """)
    assert result.error == "timeout after 1s in ttfb (waiting for the banner)"


async def test_an_smtps_port_that_never_shakes_hands_times_out_in_tls(
    check: Check, hanging_server: RawServer
) -> None:
    result = await check(f"""
        monitors: [{{name: mx, smtp: "smtps://{hanging_server.address}", timeout: 1s}}]
        """)
    assert result.error == "timeout after 1s in tls (waiting for the TLS handshake)"


async def test_a_server_silent_after_the_banner_times_out_naming_the_command(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def banner_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail.test ESMTP\r\n")
        await writer.drain()
        await asyncio.sleep(30)

    server = await serve_raw(banner_only)
    result = await check(f"monitors: [{{name: mx, smtp: '{server.address}', timeout: 1s}}]")
    assert result.error == "timeout after 1s in transfer (waiting for the EHLO reply)"


async def test_a_refusing_banner_fails_with_its_code(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"554 5.3.2 mail.test no service for you\r\n")
        await writer.drain()
        await reader.read(1024)

    server = await serve_raw(refuses)
    result = await check(f"monitors: [{{name: mx, smtp: '{server.address}', timeout: 5s}}]")
    assert not result.ok and result.error is None
    assert result.metrics["smtp.code"] == 554
    assert len(result.failures) == 1 and "554" in result.failures[0], result.failures


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            "not an SMTP server: 'HTTP/1.1 400 Bad Request' instead of the banner",
        ),
        (b"", "the server closed the connection while waiting for the banner"),
        (b"\r\n", "not an SMTP server: an empty line instead of the banner"),
        (
            b"220 mail.test\r\n25O-oops\r\n",
            "not an SMTP server: '25O-oops' instead of the EHLO reply",
        ),
        (
            b"220" + b"x" * 20000,
            "a line of over 8192 bytes while waiting for the banner (over max_line)",
        ),
        (
            (b"220-" + b"y" * 1000 + b"\r\n") * 100,
            "a reply of over 65536 bytes while waiting for the banner (over max_reply)",
        ),
    ],
)
async def test_a_peer_that_is_no_smtp_server_is_one_line(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]], answer: bytes, error: str
) -> None:
    async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        if answer:
            await reader.read(1024)
        writer.close()

    server = await serve_raw(answers)
    result = await check(f"monitors: [{{name: mx, smtp: '{server.address}', timeout: 5s}}]")
    assert result.error == error


async def test_a_banner_is_kept_printable_and_short(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def loud(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 \x1b[31mmail " + b"z" * 3000 + b"\r\n")
        await reader.readline()  # EHLO
        writer.write(b"250 mail\r\n")
        await writer.drain()
        await reader.read(1024)

    server = await serve_raw(loud)
    result = await check(f"""
        monitors:
          - {{name: mx, smtp: '{server.address}', timeout: 5s,
              expect: ["smtp.banner contains 'nothing like this'"]}}
        """)
    assert not result.ok
    assert "\x1b" not in result.failures[0] and "\\x1b[31mmail" in result.failures[0]
    assert len(result.failures[0]) < 400, result.failures[0]


async def test_a_refused_port_names_the_address(check: Check) -> None:
    port = free_port()
    result = await check(f"monitors: [{{name: mx, smtp: '127.0.0.1:{port}', timeout: 2s}}]")
    assert result.error == f"connection refused (127.0.0.1:{port})"


def test_bad_settings_are_refused_when_the_config_loads(
    monitors: Callable[[str], object],
) -> None:
    from watchkeeper.errors import ConfigError

    for bad in (
        "{address: 'http://mail.example.com'}",
        "{address: 'smtps://mail.example.com', tls: starttls}",
        "{address: 'mail.example.com:25', tls: none, username: u, password: p}",
        "{address: 'mail.example.com:25', tls: none, require_tls: true}",
        "{address: 'mail.example.com:25', username: u}",
        "{address: 'smtp://u:p@mail.example.com'}",
        "{address: 'mail.example.com:25', ehlo: 'two words'}",
    ):
        with pytest.raises(ConfigError):
            monitors(f"monitors: [{{name: m, smtp: {bad}}}]")


def test_the_port_decides_the_tls_mode() -> None:
    from watchkeeper.checks.smtp import SmtpSettings

    assert SmtpSettings(address="mail.example.com").endpoint() == ("mail.example.com", 25)
    assert SmtpSettings(address="mail.example.com:465").tls_mode() == "implicit"
    assert SmtpSettings(address="smtps://mail.example.com").endpoint()[1] == 465
    assert SmtpSettings(address="smtp://mail.example.com:587").tls_mode() == "auto"
    assert SmtpSettings(address="mail.example.com:587", tls="none").tls_mode() == "none"
