"""Redis reachable without protection: no password, protected mode off, ACL users with
``nopass``.

For each address tried (the URL's host, and this machine's non-loopback addresses when that
host is loopback: see ``_postgres`` for why), a ``PING`` is sent before any ``AUTH``:
``+PONG`` means anyone who reaches the port runs any command (``CONFIG SET dir`` and
``SAVE`` write files as the redis user: a well-known path to a shell); ``-NOAUTH`` means a
password is set; ``-DENIED`` is protected mode refusing a stranger (no password, but the
default guard still holds). When the server talks (no password, or the URL's password
works) ``CONFIG GET protected-mode``, ``CONFIG GET bind`` and ``ACL LIST`` tell the rest;
``requirepass`` is never read, and of ``ACL LIST`` only user names and ``nopass`` are kept.

The protocol is spoken by hand, bounded: a reply line up to ``MAX_LINE`` bytes, a bulk
string up to ``MAX_BULK``, an array of ``MAX_ITEMS``, one deadline per address.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import unquote, urlsplit

from watchkeeper.audit.exposure._found import SOURCE, merged, not_checked
from watchkeeper.audit.exposure._scope import is_loopback, local_addresses
from watchkeeper.findings import Evidence, Finding, Severity

MAX_LINE = 64 * 1024
MAX_BULK = 1024 * 1024
MAX_ITEMS = 1000

Reply = str | bytes | int | list["Reply"] | None


class ReplyError(Exception):
    """An error reply (``-ERR ...``): the message is its text."""


class NotRedis(Exception):
    """The peer does not speak RESP."""


async def check_redis(url: str, *, wait: float) -> list[Finding]:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    subject = f"redis://{host}:{port}"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    addresses = [host, *(local_addresses() if is_loopback(host) else [])]
    results = await asyncio.gather(
        *(_look(address, port, user, password, subject, wait) for address in addresses)
    )
    findings = [f for result in results if not isinstance(result, str) for f in result]
    if isinstance(results[0], str):
        findings.append(not_checked("Redis", subject, results[0]))
    return merged(findings)


async def _look(
    address: str,
    port: int,
    user: str | None,
    password: str | None,
    subject: str,
    wait: float,
) -> list[Finding] | str:
    """The findings for one address, or why it could not be asked."""
    try:
        async with asyncio.timeout(wait):
            reader, writer = await asyncio.open_connection(address, port, limit=MAX_LINE)
    except (OSError, TimeoutError) as exc:
        return f"cannot connect to {address}:{port}: {exc.__class__.__name__}"
    try:
        async with asyncio.timeout(wait):
            return await _converse(reader, writer, address, user, password, subject)
    except TimeoutError:
        return f"{address}:{port} gave no answer within {wait:g}s"
    except (NotRedis, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return f"{address}:{port} does not speak the Redis protocol"
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1):
                await writer.wait_closed()


async def _converse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    address: str,
    user: str | None,
    password: str | None,
    subject: str,
) -> list[Finding]:
    local = is_loopback(address)
    evidence: Evidence = {"address": address, "seen_by": f"PING without AUTH to {address}"}
    try:
        await command(reader, writer, "PING")
        open_to_all = True
    except ReplyError as exc:
        text = str(exc)
        if not text.startswith(("NOAUTH", "WRONGPASS", "DENIED")):
            return []
        if text.startswith("DENIED") or password is None:
            return []
        try:
            await command(reader, writer, "AUTH", *([user] if user else []), password)
        except ReplyError:
            return []
        open_to_all = False
    findings: list[Finding] = []
    if open_to_all:
        findings.append(_no_password(subject, local, evidence))
    protected = await _config(reader, writer, "protected-mode")
    bind = await _config(reader, writer, "bind")
    if protected == "no":
        findings.append(_protected_off(subject, local, open_to_all, bind, evidence))
    findings.extend(await _nopass_users(reader, writer, subject, evidence, open_to_all))
    return findings


async def _config(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str
) -> str | None:
    try:
        reply = await command(reader, writer, "CONFIG", "GET", name)
    except ReplyError:
        return None  # CONFIG renamed or not allowed for this user
    if isinstance(reply, list) and len(reply) >= 2:
        value = reply[1]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def _beyond_loopback(bind: str | None) -> bool:
    if bind is None:
        return True
    names = [name.lstrip("-") for name in bind.split()]
    return not names or any(name not in ("127.0.0.1", "::1", "localhost") for name in names)


def _no_password(subject: str, local: bool, evidence: Evidence) -> Finding:
    return Finding(
        source=SOURCE,
        severity=Severity.warning if local else Severity.critical,
        title="Redis answers without a password"
        + (" (on loopback)" if local else " from other hosts"),
        subject=subject,
        evidence=evidence,
        recommendation="In redis.conf: requirepass <a long random secret> (or an ACL user: "
        "user default on >secret ~* &* +@all), and bind 127.0.0.1 -::1 unless other hosts "
        "need it; then CONFIG REWRITE or a restart. Anyone reaching the port can read "
        "and write every key, and write files as the redis user.",
        impact=3.0 if not local else 2.0,
        rule="redis-no-password",
    )


def _protected_off(
    subject: str, local: bool, open_to_all: bool, bind: str | None, evidence: Evidence
) -> Finding:
    exposed = _beyond_loopback(bind)
    if not open_to_all:
        severity = Severity.info
    elif exposed or not local:
        severity = Severity.critical
    else:
        severity = Severity.warning
    return Finding(
        source=SOURCE,
        severity=severity,
        title="Redis runs with protected-mode no"
        + ("" if open_to_all else " (harmless while a password is set)"),
        subject=subject,
        evidence={**evidence, "protected_mode": "no", "bind": bind or "(not readable)"},
        recommendation="In redis.conf: protected-mode yes (it refuses other hosts while no "
        "password is set), and bind 127.0.0.1 -::1; CONFIG SET protected-mode yes applies it "
        "now.",
        impact=2.5 if severity == Severity.critical else 1.0,
        rule="redis-protected-mode-off",
    )


async def _nopass_users(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    subject: str,
    evidence: Evidence,
    open_to_all: bool,
) -> list[Finding]:
    try:
        reply = await command(reader, writer, "ACL", "LIST")
    except ReplyError:
        return []  # Redis before 6, or not allowed
    names: list[str] = []
    for line in reply if isinstance(reply, list) else []:
        words = (line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line)).split()
        if len(words) >= 3 and words[0] == "user" and "on" in words and "nopass" in words:
            names.append(words[1])
    if open_to_all:
        names = [name for name in names if name != "default"]  # already the finding above
    if not names:
        return []
    return [
        Finding(
            source=SOURCE,
            severity=Severity.warning,
            title=f"Redis ACL users without a password: {', '.join(names[:5])}",
            subject=subject,
            evidence={**evidence, "users": len(names)},
            recommendation="For each: ACL SETUSER <name> resetpass ><secret> (then ACL SAVE "
            "or CONFIG REWRITE).",
            impact=2.0,
            rule="redis-user-no-password",
        )
    ]


async def command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *args: str) -> Reply:
    """Send one command, read one reply (raises ReplyError for an error reply)."""
    encoded = [arg.encode() for arg in args]
    writer.write(
        b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in encoded)
    )
    await writer.drain()
    return await read_reply(reader)


async def read_reply(reader: asyncio.StreamReader, depth: int = 0) -> Reply:
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode("utf-8", "replace")
    if kind == b"-":
        raise ReplyError(rest.decode("utf-8", "replace"))
    if kind == b":":
        return _integer(rest)
    if kind == b"$":
        size = _integer(rest)
        if size < 0:
            return None
        if size > MAX_BULK:
            raise NotRedis("bulk string too long")
        return (await reader.readexactly(size + 2))[:-2]
    if kind == b"*":
        count = _integer(rest)
        if count < 0:
            return None
        if count > MAX_ITEMS or depth > 2:
            raise NotRedis("array too long or too deep")
        return [await read_reply(reader, depth + 1) for _ in range(count)]
    raise NotRedis(f"unexpected reply type {kind!r}")


def _integer(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise NotRedis("not a number") from None
