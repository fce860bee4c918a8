"""A hand-made ClientHello, for what the local OpenSSL cannot offer: SSLv2, SSLv3 and the
suites Debian's OpenSSL 3 was built without (RC4, 3DES, DES, IDEA, SEED, EXPORT). The server's
first answer says enough: a ServerHello choosing one of the offered suites (accepted), an
alert or a closed connection (refused). The handshake is never completed, so nothing here
needs the cipher itself, and nothing the server sends is trusted beyond its first message:
lengths are checked, and reading stops at ``_MAX_ANSWER`` bytes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from watchkeeper.checks._address import is_ip

_HANDSHAKE, _ALERT = 22, 21
_CLIENT_HELLO, _SERVER_HELLO = 1, 2
_RENEGOTIATION_SCSV = 0x00FF
_MAX_ANSWER = 64 * 1024
_GROUPS = (29, 23, 24, 25, 30, 256, 257, 258)  # x25519, P-256/384/521, x448, ffdhe2048-4096
_SIGNATURES = (
    *(0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601),
    *(0x0203, 0x0201, 0x0402, 0x0202),  # SHA-1 and DSA: old servers have nothing else
)
VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2"}


class Verdict(StrEnum):
    accepted = "accepted"
    refused = "refused"
    not_tls = "not TLS"


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: Verdict
    version: int | None = None
    """The version the ServerHello chose."""
    suite: int | None = None
    """The suite it chose (SSLv2: the first cipher kind it listed)."""
    detail: str = ""


def _vector(data: bytes, width: int = 2) -> bytes:
    return len(data).to_bytes(width, "big") + data


def _extension(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _vector(data)


def client_hello(version: int, suites: Sequence[int], server_name: str | None) -> bytes:
    """One TLS record holding a ClientHello for ``version`` (0x0300 SSLv3 … 0x0303 TLS 1.2)
    offering ``suites`` (and the renegotiation SCSV), with SNI when a name is given."""
    offered = b"".join(code.to_bytes(2, "big") for code in (*suites, _RENEGOTIATION_SCSV))
    body = version.to_bytes(2, "big") + os.urandom(32) + b"\x00" + _vector(offered) + b"\x01\x00"
    if version >= 0x0301:
        extensions = b""
        if server_name and not is_ip(server_name):
            name = server_name.rstrip(".").encode("idna")
            extensions += _extension(0, _vector(b"\x00" + _vector(name)))
        groups = b"".join(group.to_bytes(2, "big") for group in _GROUPS)
        extensions += _extension(10, _vector(groups))
        extensions += _extension(11, b"\x01\x00")  # EC points: uncompressed
        if version >= 0x0303:
            signatures = b"".join(scheme.to_bytes(2, "big") for scheme in _SIGNATURES)
            extensions += _extension(13, _vector(signatures))
        body += _vector(extensions)
    message = bytes([_CLIENT_HELLO]) + _vector(body, 3)
    record_version = min(version, 0x0301)
    return bytes([_HANDSHAKE]) + record_version.to_bytes(2, "big") + _vector(message)


def sslv2_hello(specs: Sequence[int]) -> bytes:
    """An SSLv2 CLIENT-HELLO offering the 3-byte cipher kinds ``specs``."""
    kinds = b"".join(spec.to_bytes(3, "big") for spec in specs)
    body = (
        b"\x01\x00\x02"
        + len(kinds).to_bytes(2, "big")
        + b"\x00\x00"  # no session id
        + (16).to_bytes(2, "big")
        + kinds
        + os.urandom(16)
    )
    return bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body


async def try_hello(address: str, port: int, hello: bytes, *, sslv2: bool = False) -> Answer:
    """Send ``hello`` on a new connection and judge the first answer. The caller bounds the
    time (``asyncio.timeout``); OSError (refused, unreachable) propagates."""
    reader, writer = await asyncio.open_connection(address, port, limit=_MAX_ANSWER)
    try:
        writer.write(hello)
        await writer.drain()
        return await (_sslv2_answer(reader) if sslv2 else _answer(reader))
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        return Answer(Verdict.refused, detail="connection closed")
    finally:
        writer.transport.abort()


async def _answer(reader: asyncio.StreamReader) -> Answer:
    header = await reader.readexactly(5)
    kind, length = header[0], int.from_bytes(header[3:5], "big")
    if kind not in (_HANDSHAKE, _ALERT) or header[1] != 3 or length > 16384 + 2048:
        return Answer(Verdict.not_tls, detail="the answer is not a TLS record")
    fragment = await reader.readexactly(length)
    if kind == _ALERT:
        code = fragment[1] if len(fragment) > 1 else None
        return Answer(Verdict.refused, detail=f"alert {code}")
    # the ServerHello may span records (it never does in practice, but nothing is assumed)
    message = fragment
    while len(message) < 4 or len(message) < 4 + int.from_bytes(message[1:4], "big"):
        if len(message) > _MAX_ANSWER:
            return Answer(Verdict.not_tls, detail="ServerHello larger than any real one")
        more = await reader.readexactly(5)
        if more[0] != _HANDSHAKE:
            return Answer(Verdict.refused, detail="handshake broken off")
        message += await reader.readexactly(int.from_bytes(more[3:5], "big"))
    if message[0] != _SERVER_HELLO or len(message) < 4 + 38:
        return Answer(Verdict.not_tls, detail=f"handshake message {message[0]} first")
    version = int.from_bytes(message[4:6], "big")
    session = message[38]
    at = 39 + session
    if len(message) < at + 2:
        return Answer(Verdict.not_tls, detail="ServerHello cut short")
    suite = int.from_bytes(message[at : at + 2], "big")
    return Answer(Verdict.accepted, version=version, suite=suite)


async def _sslv2_answer(reader: asyncio.StreamReader) -> Answer:
    header = await reader.readexactly(2)
    if not header[0] & 0x80:
        if header[0] in (_HANDSHAKE, _ALERT):
            return Answer(Verdict.refused, detail="answered with TLS, not SSLv2")
        return Answer(Verdict.not_tls, detail="the answer is not SSL")
    length = ((header[0] & 0x7F) << 8) | header[1]
    message = await reader.readexactly(length)
    if len(message) < 11 or message[0] != 4:  # SERVER-HELLO
        return Answer(Verdict.refused, detail="no SSLv2 SERVER-HELLO")
    version = int.from_bytes(message[3:5], "big")
    if version != 0x0002:
        return Answer(Verdict.refused, detail=f"SSLv2 hello answered as {version:#06x}")
    certificate, kinds = int.from_bytes(message[5:7], "big"), int.from_bytes(message[7:9], "big")
    first = 11 + certificate
    spec = int.from_bytes(message[first : first + 3], "big") if kinds >= 3 else None
    return Answer(Verdict.accepted, version=0x0002, suite=spec)
