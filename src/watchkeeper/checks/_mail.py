"""What the mail kinds (``smtp``, ``imap``) share: the address or URL with its TLS mode, the
settings every mail check has, capped line reads, and STARTTLS/implicit TLS with the same
phases, one-line reasons and certificate facts as ``tls:`` (through ``_net``).

TLS modes: ``implicit`` (TLS from the first byte: smtps/465, imaps/993), ``starttls`` (the
server must offer STARTTLS, and the session is upgraded before anything else), ``none``
(plain text). Without ``tls`` the port decides: implicit on the implicit port or scheme,
otherwise STARTTLS when the server offers it (and plain text when it does not, unless
``require_tls``).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import field_validator, model_validator

from watchkeeper.checks._address import split_address
from watchkeeper.checks._net import (
    client_context,
    close_stream,
    connect_or_fail,
    describe_os_error,
    describe_ssl_error,
    readable_ca_file,
    tls_facts,
)
from watchkeeper.checks.base import Attempt, CheckSettings
from watchkeeper.printable import visible
from watchkeeper.units import Size

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Callable

    Converse = Callable[[asyncio.StreamReader, asyncio.StreamWriter, str], Awaitable[None]]

TlsMode = Literal["starttls", "implicit", "none"]


class MailError(Exception):
    """The server answered, but not as it should, or refused (one line)."""


class MailSettings(CheckSettings):
    """Settings of a mail check; a kind sets its schemes and ports."""

    shorthand_field = "address"
    plain_scheme: ClassVar[str] = ""
    secure_scheme: ClassVar[str] = ""
    plain_port: ClassVar[int] = 0
    secure_port: ClassVar[int] = 0

    address: str
    tls: TlsMode | None = None
    require_tls: bool = False
    """Fail when the session would go on in plain text (no STARTTLS offered)."""
    username: str | None = None
    password: str | None = None
    allow_plaintext: bool = False
    """Send the password over a connection without TLS (off: a check fails rather than
    leak it)."""
    verify: bool = True
    ca_file: str | None = None
    max_line: Size = 8192
    """Bytes of one line from the server past which the check fails."""

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @model_validator(mode="after")
    def _consistent(self) -> MailSettings:
        self.endpoint()  # raises ValueError with the reason
        mode = self.tls_mode()
        if self.tls == "none" and self.require_tls:
            raise ValueError("tls: none contradicts require_tls: true")
        if self.tls in ("starttls", "none") and self._scheme() == self.secure_scheme:
            raise ValueError(f"an {self.secure_scheme}:// address is implicit TLS, not {self.tls}")
        if mode == "none" and self.username is not None and not self.allow_plaintext:
            raise ValueError(
                "a password is not sent without TLS: set tls, or allow_plaintext: true"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.max_line < 512:
            raise ValueError("max_line must be at least 512 bytes")
        return self

    def _scheme(self) -> str:
        return urlsplit(self.address).scheme if "://" in self.address else ""

    def endpoint(self) -> tuple[str, int]:
        scheme = self._scheme()
        if not scheme:
            return split_address(self.address, default_port=self.plain_port)
        if scheme not in (self.plain_scheme, self.secure_scheme):
            raise ValueError(
                f"'{self.address}' is not host:port or an {self.plain_scheme}:// or "
                f"{self.secure_scheme}:// URL"
            )
        parts = urlsplit(self.address)
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"'{self.address}' has a bad port") from None
        if not parts.hostname:
            raise ValueError(f"'{self.address}' has no host")
        if parts.username or parts.password:
            raise ValueError("give username and password as settings, not in the URL")
        secure = scheme == self.secure_scheme
        return parts.hostname, port or (self.secure_port if secure else self.plain_port)

    def tls_mode(self) -> TlsMode | Literal["auto"]:
        """``auto``: STARTTLS when offered."""
        if self.tls is not None:
            return self.tls
        if self._scheme() == self.secure_scheme or self.endpoint()[1] == self.secure_port:
            return "implicit"
        return "auto"

    def host_key(self) -> str:
        host, port = self.endpoint()
        return f"{self.plain_scheme}:{host}:{port}"

    def target(self) -> str:
        host, port = self.endpoint()
        secure = self.tls_mode() == "implicit"
        return f"{self.secure_scheme if secure else self.plain_scheme}://{host}:{port}"


def shown(data: bytes | str, limit: int = 200) -> str:
    """Text a server sent, made printable and cut to ``limit`` characters."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = visible(text.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def read_line(reader: asyncio.StreamReader, waiting_for: str, max_line: int) -> bytes:
    """One CRLF-terminated line without its ending, at most ``max_line`` bytes (the stream's
    limit: open it with ``limit=max_line``)."""
    import asyncio

    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        said = f" after '{shown(exc.partial, 80)}'" if exc.partial.strip() else ""
        raise MailError(
            f"the server closed the connection while waiting for {waiting_for}{said}"
        ) from None
    except asyncio.LimitOverrunError:
        raise MailError(
            f"a line of over {max_line} bytes while waiting for {waiting_for} (over max_line)"
        ) from None
    return line.rstrip(b"\r\n")


async def start_tls(
    writer: asyncio.StreamWriter, host: str, settings: MailSettings, attempt: Attempt
) -> None:
    """Shake hands over the open connection (the ``tls`` phase) and record the certificate's
    facts; a failed handshake raises MailError with ``tls:``'s one-line reason."""
    context = client_context(attempt.resources, verify=settings.verify, ca_file=settings.ca_file)
    attempt.begin("tls")
    try:
        await writer.start_tls(context, server_hostname=host)
    except ssl.SSLError as exc:
        raise MailError(describe_ssl_error(exc)) from None
    except OSError as exc:
        raise MailError(describe_os_error(exc) + " during the TLS handshake") from None
    attempt.end("tls")
    attempt.observation.facts.update(tls_facts(writer.get_extra_info("ssl_object")))


async def run_session(settings: MailSettings, attempt: Attempt, converse: Converse) -> None:
    """Connect, hold the kind's conversation (``converse(reader, writer, host)``) and turn
    what went wrong into one line: the part both mail kinds share."""
    host, port = settings.endpoint()
    opened = await connect_or_fail(host, port, attempt, f"{host}:{port}", limit=settings.max_line)
    if opened is None:
        return
    reader, writer = opened
    try:
        await converse(reader, writer, host)
    except MailError as exc:
        attempt.fail(str(exc))
    except ssl.SSLError as exc:
        attempt.fail(describe_ssl_error(exc))
    except OSError as exc:
        waiting = f" while waiting for {attempt.waiting_for}" if attempt.waiting_for else ""
        attempt.fail(describe_os_error(exc) + waiting)
    finally:
        await close_stream(writer)
