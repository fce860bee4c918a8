"""``imap``: connect to an IMAP server, read its greeting, upgrade with STARTTLS (or speak TLS
from the start), optionally log in and count the messages of a mailbox.

    - {name: imap, imap: "mail.example.com:143"}            # STARTTLS when offered
    - name: inbox
      imap: {address: "imaps://mail.example.com", username: monitor@example.com,
             password: "${IMAP_PASSWORD}", mailbox: INBOX}
      expect: ["imap.login == true", "imap.unseen < 100", "cert.expires_in > 14d"]

A small client on asyncio streams (imaplib blocks; aioimaplib is GPL): every line is capped
(``max_line``), every literal (``max_literal``) and every command's whole response
(``max_response``).

Phases: ``dns``, ``connect``, ``tls`` (implicit, or after STARTTLS), ``ttfb`` (until the
greeting), ``transfer`` (CAPABILITY, STARTTLS, LOGIN, STATUS). Facts: ``imap.greeting`` (``OK``,
``PREAUTH``; a ``BYE`` greeting fails the check), ``imap.capabilities`` (every capability the
server announced in the session: ``STARTTLS``, ``AUTH=PLAIN``, ``IDLE``...), ``imap.tls``
(the session was encrypted), ``imap.login`` (with ``username``: LOGIN succeeded), with
``mailbox``: ``imap.messages`` and ``imap.unseen`` (series; read with STATUS, which opens
nothing and changes no flag), and the ``cert.*``/``tls.*`` facts of ``tls:``. The password is
sent only over TLS unless ``allow_plaintext``.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING

from pydantic import model_validator

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

_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}$")
_CODE_CAPABILITY = re.compile(rb"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)
_STATUS_ITEMS = re.compile(rb"\(([^()]*)\)\s*$")
_TIMINGS = re.compile(rb" \(\d+\.\d+(?: \+ \d+\.\d+)* secs\)(\.?)$")
"""Dovecot's ``(0.001 + 0.000 secs)`` after a reply: dropped, so the same failure reads the
same every time (one incident, not a new reason at every check)."""


class ImapSettings(MailSettings):
    plain_scheme = "imap"
    secure_scheme = "imaps"
    plain_port = 143
    secure_port = 993

    mailbox: str | None = None
    """Count its messages (``imap.messages``, ``imap.unseen``); needs a login."""
    max_literal: Size = 64 * 1024
    """Bytes of one literal (``{n}``) in a response past which the check fails."""
    max_response: Size = 1024 * 1024
    """Bytes of one command's whole response past which the check fails."""

    @model_validator(mode="after")
    def _mailbox(self) -> ImapSettings:
        if self.mailbox is not None and self.username is None:
            raise ValueError("mailbox needs username and password (it is read after LOGIN)")
        if self.mailbox is not None and (not self.mailbox or not self.mailbox.isprintable()):
            raise ValueError("mailbox is a mailbox name such as INBOX")
        return self


class _Literal(bytes):
    """A command argument sent as a synchronizing literal (``{n}`` and wait for ``+``)."""


class _Session:
    """Tagged commands and their responses in one IMAP session."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: ImapSettings,
        attempt: Attempt,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.settings, self.attempt = settings, attempt
        self.tags = 0

    async def line(self, waiting_for: str, budget: list[int]) -> bytes:
        """One response line with its literals inlined; ``budget`` holds the bytes left for
        the whole response."""
        import asyncio

        settings = self.settings
        whole = b""
        while True:
            part = await read_line(self.reader, waiting_for, settings.max_line)
            budget[0] -= len(part) + 2
            whole += part
            literal = _LITERAL.search(part)
            if literal is None:
                break
            size = int(literal[1])
            if size > settings.max_literal:
                raise MailError(
                    f"a literal of {size} bytes while waiting for {waiting_for} (over max_literal)"
                )
            budget[0] -= size
            if budget[0] < 0:
                break
            try:
                whole += b"\r\n" + await self.reader.readexactly(size)
            except asyncio.IncompleteReadError:
                raise MailError(
                    f"the server closed the connection while waiting for {waiting_for}"
                ) from None
        if budget[0] < 0:
            raise MailError(
                f"a response of over {settings.max_response} bytes while waiting for "
                f"{waiting_for} (over max_response)"
            )
        return whole

    async def greeting(self) -> bytes:
        return await self.line("the greeting", [self.settings.max_response])

    async def command(
        self, name: str, *arguments: bytes, waiting_for: str
    ) -> tuple[str, bytes, list[bytes]]:
        """(OK/NO/BAD, the text after it, the untagged lines) of one tagged command."""
        self.attempt.waiting_for = waiting_for
        self.tags += 1
        tag = f"wk{self.tags}".encode()
        budget = [self.settings.max_response]
        pending = tag + b" " + name.encode()
        for argument in arguments:
            if isinstance(argument, _Literal):
                self.writer.write(pending + b" {%d}\r\n" % len(argument))
                await self.writer.drain()
                answer = await self.line(waiting_for, budget)
                if not answer.startswith(b"+"):
                    return (*self._tagged(tag, answer, waiting_for), [])
                pending = bytes(argument)
            else:
                pending += b" " + argument
        self.writer.write(pending + b"\r\n")
        await self.writer.drain()
        untagged: list[bytes] = []
        while True:
            answer = await self.line(waiting_for, budget)
            if answer.startswith(b"* "):
                untagged.append(answer)
            elif answer.startswith(b"+"):
                raise MailError(f"not an IMAP server: a continuation instead of {waiting_for}")
            else:
                return (*self._tagged(tag, answer, waiting_for), untagged)

    @staticmethod
    def _tagged(tag: bytes, answer: bytes, waiting_for: str) -> tuple[str, bytes]:
        parts = answer.split(b" ", 2)
        if len(parts) < 2 or parts[0] != tag or parts[1].upper() not in (b"OK", b"NO", b"BAD"):
            what = f"'{shown(answer, 80)}'" if answer.strip() else "an empty line"
            raise MailError(f"not an IMAP server: {what} instead of {waiting_for}")
        text = _TIMINGS.sub(rb"\1", parts[2]) if len(parts) > 2 else b""
        return parts[1].upper().decode(), text

    async def capabilities(self) -> set[str]:
        status, text, untagged = await self.command(
            "CAPABILITY", waiting_for="the CAPABILITY reply"
        )
        if status != "OK":
            raise MailError(f"CAPABILITY refused: {status} {shown(text)}".rstrip())
        found: set[str] = set()
        for line in untagged:
            if line[2:13].upper() == b"CAPABILITY ":
                found |= _words(line[13:])
        return found


def _words(data: bytes) -> set[str]:
    return {word.decode("ascii", "replace").upper() for word in data.split()}


def _announced(text: bytes) -> set[str]:
    """The capabilities in a ``[CAPABILITY ...]`` response code (greeting, LOGIN's OK)."""
    found = _CODE_CAPABILITY.search(text)
    return _words(found[1]) if found else set()


def astring(value: str) -> bytes:
    """``value`` as an IMAP string: quoted when it is plain ASCII, else a literal."""
    if value and all(" " <= char <= "~" for char in value):
        return b'"' + value.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'
    return _Literal(value.encode())


def mailbox_name(name: str) -> str:
    """Modified UTF-7 (RFC 3501 5.1.3), how IMAP4rev1 names a mailbox outside ASCII."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


async def probe(settings: ImapSettings, attempt: Attempt) -> None:
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
    facts["imap.tls"] = mode == "implicit"
    attempt.begin("ttfb", "the greeting")
    greeting = await session.greeting()
    attempt.end("ttfb")
    words = greeting.split(b" ", 2)
    kind = words[1].upper() if len(words) > 1 and words[0] == b"*" else b""
    if kind not in (b"OK", b"PREAUTH", b"BYE"):
        what = f"'{shown(greeting, 80)}'" if greeting.strip() else "an empty line"
        raise MailError(f"not an IMAP server: {what} instead of the greeting")
    facts["imap.greeting"] = kind.decode()
    text = words[2] if len(words) > 2 else b""
    if kind == b"BYE":
        raise MailError(f"the server refused the session: BYE {shown(text)}".rstrip())
    authenticated = kind == b"PREAUTH"
    attempt.begin("transfer", "the CAPABILITY reply")
    capabilities = _announced(text) or await session.capabilities()
    facts["imap.capabilities"] = frozenset(capabilities)
    if mode in ("starttls", "auto") and not authenticated and "STARTTLS" in capabilities:
        capabilities = await _starttls(session, host)
    elif (mode == "starttls" or settings.require_tls) and not facts["imap.tls"]:
        raise MailError(
            "the server greets with PREAUTH: the session cannot be encrypted"
            if authenticated
            else "the server does not offer STARTTLS"
        )
    if settings.username is not None and settings.password is not None and not authenticated:
        await _login(session, capabilities, settings.username, settings.password)
    if settings.mailbox is not None:
        await _count(session, settings.mailbox)
    writer.write(b"wk0 LOGOUT\r\n")  # polite; its reply is not waited for
    await writer.drain()
    attempt.end("transfer")


async def _starttls(session: _Session, host: str) -> set[str]:
    """Upgrade the session; the capabilities after it (those before TLS are void, RFC 3501)."""
    attempt, facts = session.attempt, session.attempt.observation.facts
    status, said, _ = await session.command("STARTTLS", waiting_for="the STARTTLS reply")
    if status != "OK":
        raise MailError(f"STARTTLS refused: {status} {shown(said)}".rstrip())
    attempt.end("transfer")
    await start_tls(session.writer, host, session.settings, attempt)
    facts["imap.tls"] = True
    attempt.begin("transfer", "the CAPABILITY reply")
    capabilities = await session.capabilities()
    facts["imap.capabilities"] = facts["imap.capabilities"] | frozenset(capabilities)
    return capabilities


async def _login(session: _Session, capabilities: set[str], username: str, password: str) -> None:
    facts = session.attempt.observation.facts
    if not facts["imap.tls"] and not session.settings.allow_plaintext:
        raise MailError(
            "the server offers no STARTTLS: the password is not sent in plain text "
            "(allow_plaintext: true sends it)"
        )
    if "LOGINDISABLED" in capabilities:
        raise MailError("the server does not allow LOGIN here (LOGINDISABLED)")
    status, said, _ = await session.command(
        "LOGIN", astring(username), astring(password), waiting_for="the LOGIN reply"
    )
    facts["imap.login"] = status == "OK"
    if status != "OK":
        raise MailError(f"login failed: {status} {shown(said)}".rstrip())
    facts["imap.capabilities"] = facts["imap.capabilities"] | frozenset(_announced(said))


async def _count(session: _Session, mailbox: str) -> None:
    status, said, untagged = await session.command(
        "STATUS",
        astring(mailbox_name(mailbox)),
        b"(MESSAGES UNSEEN)",
        waiting_for="the STATUS reply",
    )
    if status != "OK":
        raise MailError(f"mailbox '{mailbox}': {status} {shown(said)}".rstrip())
    for line in untagged:
        if line[2:9].upper() != b"STATUS ":
            continue
        items = _STATUS_ITEMS.search(line)
        words = items[1].split() if items else []
        counts = dict(zip(words[::2], words[1::2], strict=False))
        facts = session.attempt.observation.facts
        for item, fact in ((b"MESSAGES", "imap.messages"), (b"UNSEEN", "imap.unseen")):
            value = counts.get(item) or counts.get(item.lower())
            if value is not None and value.isdigit():
                facts[fact] = int(value)
    if "imap.messages" not in session.attempt.observation.facts:
        raise MailError(f"mailbox '{mailbox}': the server sent no message count")


CHECK = CheckKind(
    name="imap",
    settings=ImapSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "transfer": ValueType.DURATION,
        "imap.greeting": ValueType.TEXT,
        "imap.capabilities": ValueType.SET,
        "imap.tls": ValueType.BOOL,
        "imap.login": ValueType.BOOL,
        "imap.messages": ValueType.NUMBER,
        "imap.unseen": ValueType.NUMBER,
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.sans": ValueType.SET,
    },
    probe=probe,
    runtime=RUNTIME,
)
