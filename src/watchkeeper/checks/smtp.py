"""``smtp``: connect to a mail server, read its banner, say EHLO, upgrade with STARTTLS (or
speak TLS from the start) and optionally log in.

    - {name: mx, smtp: "mail.example.com:25"}               # STARTTLS when offered
    - name: submission
      smtp: {address: "smtp://mail.example.com:587", require_tls: true,
             username: monitor@example.com, password: "${SMTP_PASSWORD}"}
      expect: ["cert.expires_in > 14d", "smtp.auth == true"]
    - {name: smtps, smtp: "smtps://mail.example.com"}       # 465, TLS from the first byte

A small client on asyncio streams (smtplib blocks; aiosmtplib hides the steps a phase needs):
every reply line is capped (``max_line``) and every reply in total (``max_reply``).

Phases: ``dns``, ``connect``, ``tls`` (implicit, or after STARTTLS), ``ttfb`` (until the 220
banner), ``transfer`` (EHLO, STARTTLS, AUTH). Facts: ``smtp.banner`` (the banner's text,
printable, at most 200 characters), ``smtp.code`` (the banner's reply code; expected 220 unless
an expectation says otherwise), ``smtp.extensions`` (what EHLO offered, before and after
STARTTLS: ``STARTTLS``, ``AUTH``, ``SIZE``, ``PIPELINING``...), ``smtp.auth_mechanisms``
(those of the session's last EHLO), ``smtp.tls`` (the session was encrypted), ``smtp.auth``
(with ``username``: the login succeeded), and the ``cert.*``/``tls.*`` facts of ``tls:``. The
password is sent with AUTH PLAIN (or LOGIN) only over TLS unless ``allow_plaintext``.
"""

from __future__ import annotations

import base64
import socket
from typing import TYPE_CHECKING

from pydantic import field_validator

from watchkeeper.checks._mail import (
    MailError,
    MailSettings,
    read_line,
    run_session,
    shown,
    start_tls,
)
from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
)
from watchkeeper.checks.base import Attempt, CheckKind
from watchkeeper.expect import ValueType
from watchkeeper.units import Size

if TYPE_CHECKING:
    import asyncio


class SmtpSettings(MailSettings):
    plain_scheme = "smtp"
    secure_scheme = "smtps"
    plain_port = 25
    secure_port = 465

    ehlo: str | None = None
    """The name said in EHLO (default: this machine's host name)."""
    max_reply: Size = 64 * 1024
    """Bytes of one (multi-line) reply past which the check fails."""

    @field_validator("ehlo")
    @classmethod
    def _ehlo(cls, value: str | None) -> str | None:
        if value is not None and (not value or not value.isprintable() or " " in value):
            raise ValueError("ehlo is one name without spaces (a domain or [address])")
        return value


class _Session:
    """Commands and replies of one SMTP session."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: SmtpSettings,
        attempt: Attempt,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.settings, self.attempt = settings, attempt

    async def reply(self, waiting_for: str) -> tuple[int, list[str]]:
        """The code and the text lines of the next reply (``250-...`` lines up to ``250 ...``)."""
        self.attempt.waiting_for = waiting_for
        lines: list[str] = []
        total = 0
        while True:
            line = await read_line(self.reader, waiting_for, self.settings.max_line)
            total += len(line) + 2
            if total > self.settings.max_reply:
                raise MailError(
                    f"a reply of over {self.settings.max_reply} bytes while waiting for "
                    f"{waiting_for} (over max_reply)"
                )
            if (
                len(line) < 3
                or not line[:3].isdigit()
                or line[:1] not in b"2345"
                or line[3:4] not in (b"", b" ", b"-")
            ):
                what = f"'{shown(line, 80)}'" if line.strip() else "an empty line"
                raise MailError(f"not an SMTP server: {what} instead of {waiting_for}")
            lines.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] != b"-":
                return int(line[:3]), lines

    async def command(self, line: bytes, waiting_for: str) -> tuple[int, list[str]]:
        self.writer.write(line + b"\r\n")
        await self.writer.drain()
        return await self.reply(waiting_for)

    async def ehlo(self) -> dict[str, list[str]]:
        """What the server offers: keyword (upper case) → its parameters."""
        name = self.settings.ehlo or socket.gethostname() or "localhost"
        code, lines = await self.command(b"EHLO " + name.encode(), "the EHLO reply")
        if code != 250:
            raise MailError(f"EHLO refused: {code} {shown(' '.join(lines))}".rstrip())
        offered: dict[str, list[str]] = {}
        for text in lines[1:]:
            words = text.replace("=", " ", 1).split() if text.upper().startswith("AUTH=") else []
            words = words or text.split()
            if words:
                offered.setdefault(words[0].upper(), []).extend(w.upper() for w in words[1:])
        return offered

    async def login(self, mechanisms: set[str], username: str, password: str) -> bool:
        def b64(text: str) -> bytes:
            return base64.b64encode(text.encode())

        if "PLAIN" in mechanisms:
            token = b64(f"\0{username}\0{password}")
            code, lines = await self.command(b"AUTH PLAIN " + token, "the AUTH reply")
        elif "LOGIN" in mechanisms:
            code, lines = await self.command(b"AUTH LOGIN", "the AUTH reply")
            if code == 334:
                code, lines = await self.command(b64(username), "the AUTH reply")
            if code == 334:
                code, lines = await self.command(b64(password), "the AUTH reply")
        else:
            offers = f" (it offers {', '.join(sorted(mechanisms))})" if mechanisms else ""
            raise MailError(f"the server offers no AUTH PLAIN or LOGIN{offers}")
        if code == 235:
            return True
        self.attempt.observation.facts["smtp.auth"] = False
        raise MailError(f"authentication failed: {code} {shown(' '.join(lines))}".rstrip())


async def probe(settings: SmtpSettings, attempt: Attempt) -> None:
    async def converse(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        await _converse(_Session(reader, writer, settings, attempt), host)

    await run_session(settings, attempt, converse)


async def _converse(session: _Session, host: str) -> None:
    settings, attempt, writer = session.settings, session.attempt, session.writer
    facts = attempt.observation.facts
    mode = settings.tls_mode()
    if mode == "implicit":
        await start_tls(writer, host, settings, attempt)
    attempt.begin("ttfb", "the banner")
    code, lines = await session.reply("the banner")
    attempt.end("ttfb")
    facts["smtp.code"] = code
    facts["smtp.banner"] = shown(" ".join(lines))
    facts["smtp.tls"] = mode == "implicit"
    if code != 220:  # refused (554) or busy (421): the expectation on smtp.code says so
        return
    attempt.begin("transfer", "the EHLO reply")
    offered = await session.ehlo()
    facts["smtp.extensions"] = frozenset(offered)
    if mode in ("starttls", "auto"):
        if "STARTTLS" in offered:
            offered = await _starttls(session, host)
        elif mode == "starttls" or settings.require_tls:
            raise MailError("the server does not offer STARTTLS")
    facts["smtp.auth_mechanisms"] = frozenset(offered.get("AUTH", ()))
    if settings.username is not None and settings.password is not None:
        if not facts["smtp.tls"] and not settings.allow_plaintext:
            raise MailError(
                "the server offers no STARTTLS: the password is not sent in plain text "
                "(allow_plaintext: true sends it)"
            )
        mechanisms = set(offered.get("AUTH", ()))
        facts["smtp.auth"] = await session.login(mechanisms, settings.username, settings.password)
    writer.write(b"QUIT\r\n")  # polite; its reply is not waited for
    await writer.drain()
    attempt.end("transfer")


async def _starttls(session: _Session, host: str) -> dict[str, list[str]]:
    """Upgrade the session; what EHLO offers after it (AUTH may appear only now)."""
    attempt, facts = session.attempt, session.attempt.observation.facts
    code, lines = await session.command(b"STARTTLS", "the STARTTLS reply")
    if code != 220:
        raise MailError(f"STARTTLS refused: {code} {shown(' '.join(lines))}".rstrip())
    attempt.end("transfer")
    await start_tls(session.writer, host, session.settings, attempt)
    facts["smtp.tls"] = True
    attempt.begin("transfer", "the EHLO reply")
    offered = await session.ehlo()
    facts["smtp.extensions"] = facts["smtp.extensions"] | frozenset(offered)  # STARTTLS too
    return offered


CHECK = CheckKind(
    name="smtp",
    settings=SmtpSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "transfer": ValueType.DURATION,
        "smtp.banner": ValueType.TEXT,
        "smtp.code": ValueType.NUMBER,
        "smtp.extensions": ValueType.SET,
        "smtp.auth_mechanisms": ValueType.SET,
        "smtp.tls": ValueType.BOOL,
        "smtp.auth": ValueType.BOOL,
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.sans": ValueType.SET,
    },
    probe=probe,
    default_expect=("smtp.code == 220",),
    runtime=RUNTIME,
)
