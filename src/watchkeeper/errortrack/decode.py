"""Request bodies as SDKs compress them: plain, gzip, deflate (zlib or raw) or brotli.

Decompression is streamed with a cap on what comes out: a body that would decompress past
``most`` bytes stops there and is refused (413), so a gzip bomb costs at most ``most`` bytes
of memory and the time to produce them. A corrupt or truncated body is a 400. The legacy
``store/`` endpoint also takes what very old SDKs sent: base64 of zlib-compressed JSON.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from watchkeeper.errortrack.envelope import EnvelopeError, describe_size

ENCODINGS = ("identity", "gzip", "x-gzip", "deflate", "br")
MAX_GZIP_MEMBERS = 16


def decompress(body: bytes, encoding: str, most: int) -> bytes:
    """``body`` decoded per its ``Content-Encoding``, at most ``most`` bytes."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        data = body
    elif name in ("gzip", "x-gzip"):
        data = _gzip(body, most)
    elif name == "deflate":
        data = _zlib(body, 15 if _zlib_header(body) else -15, most)[0]
    elif name == "br":
        data = _brotli(body, most)
    else:
        raise EnvelopeError(
            400, f"unsupported Content-Encoding '{name[:40]}': send gzip, deflate, br or none"
        )
    if len(data) > most:
        raise _too_large(most)
    return data


def legacy_store_body(body: bytes, most: int) -> bytes:
    """A ``store/`` body: JSON as is, or the base64 of zlib-compressed JSON."""
    if body.lstrip()[:1] in (b"{", b""):
        return body
    try:
        packed = base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError):
        return body  # not base64: the JSON parser says what is wrong with it
    return _zlib(packed, 15 if _zlib_header(packed) else -15, most)[0]


def _too_large(most: int) -> EnvelopeError:
    return EnvelopeError(413, f"the body decompresses to more than {describe_size(most)}")


def _zlib_header(data: bytes) -> bool:
    """Does ``data`` start with a zlib header (else it is raw deflate)?"""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0


def _zlib(data: bytes, wbits: int, most: int) -> tuple[bytes, bytes]:
    """One zlib/gzip/raw stream of ``data``: what it decompresses to and what follows it."""
    decompressor = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    try:
        while pending:
            out += decompressor.decompress(pending, most + 1 - len(out))
            if len(out) > most:
                raise _too_large(most)
            pending = decompressor.unconsumed_tail
            if decompressor.eof:
                break
        out += decompressor.flush(most + 1 - len(out))
    except zlib.error:
        raise EnvelopeError(400, "the body is not valid compressed data") from None
    if len(out) > most:
        raise _too_large(most)
    if not decompressor.eof:
        raise EnvelopeError(400, "the compressed body is cut short")
    return bytes(out), decompressor.unused_data


def _gzip(data: bytes, most: int) -> bytes:
    """gzip, of one member or several (each adds to what ``most`` caps)."""
    out = bytearray()
    rest = data
    for _ in range(MAX_GZIP_MEMBERS):
        member, rest = _zlib(rest, 31, most - len(out))
        out += member
        if not rest.strip(b"\x00"):
            return bytes(out)
    raise EnvelopeError(400, f"more than {MAX_GZIP_MEMBERS} gzip members")


def _brotli(data: bytes, most: int) -> bytes:
    import brotli  # only a brotli body pays for the import

    decompressor = brotli.Decompressor()
    try:
        out = bytearray(decompressor.process(data, output_buffer_limit=most + 1))
        while len(out) <= most and not decompressor.can_accept_more_data():
            out += decompressor.process(b"", output_buffer_limit=most + 1 - len(out))
    except brotli.error:
        raise EnvelopeError(400, "the body is not valid brotli data") from None
    if len(out) > most:
        raise _too_large(most)
    if not decompressor.is_finished():
        raise EnvelopeError(400, "the compressed body is cut short")
    return bytes(out)
