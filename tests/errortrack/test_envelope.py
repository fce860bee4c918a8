"""Envelopes and bodies, parsed within their limits: every malformed or oversized input is an
EnvelopeError with the status to answer, never another exception."""

from __future__ import annotations

import gzip
import json
import zlib

import brotli
import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.errortrack import decode, envelope
from watchkeeper.errortrack.envelope import EnvelopeError
from watchkeeper.errortrack.limits import Limits

LIMITS = Limits(envelope=1000, event=100, item=50, attachment=200, items=3)


def test_items_with_and_without_a_length() -> None:
    data = (
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n'
        b'{"type":"event","length":12}\n{"a":"\\n b"}\n'
        b'{"type":"session"}\n{"sid":"x"}\n'
        b'{"type":"attachment","length":5}\nab\ncd'
    )

    parsed = envelope.parse(data, LIMITS)

    assert parsed.headers == {"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"}
    assert [(i.type, i.payload) for i in parsed.items] == [
        ("event", b'{"a":"\\n b"}'),
        ("session", b'{"sid":"x"}'),
        ("attachment", b"ab\ncd"),
    ]


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (b"[1]\n", 400, "the envelope header is not a JSON object"),
        (b'{}\n{"type":"event","length":-1}\n', 400, "a event item's length is not a byte count"),
        (b'{}\n{"type":"event","length":true}\n', 400, "a event item's length is not a byte count"),
        (
            b'{}\n{"type":"event","length":101}\n' + b"x" * 101,
            413,
            "event item larger than 100 bytes",
        ),
        (b'{}\n{"type":"session"}\n' + b"x" * 51, 413, "session item larger than 50 bytes"),
        (b"{}\n" + b'{"type":"x"}\n{}\n' * 4, 413, "more than 3 items in one envelope"),
        (b'{}\n{"type":"event"}\n' + b"[" * 100_000, 413, "event item larger than 100 bytes"),
    ],
)
def test_malformed_or_oversized(data: bytes, status: int, reason: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        envelope.parse(data, LIMITS)

    assert (caught.value.status, caught.value.reason) == (status, reason)


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    with pytest.raises(EnvelopeError, match="not valid JSON"):
        envelope.loads(b"[" * 100_000, "the event")


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_are_refused(data: bytes) -> None:
    status = 200
    try:
        parsed = envelope.parse(data, LIMITS)
    except EnvelopeError as exc:
        status = exc.status
    else:
        assert len(parsed.items) <= LIMITS.items
    assert status in (200, 400, 413)


PAYLOAD = json.dumps({"message": "hello " * 50}).encode()


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("", lambda d: d),
        ("identity", lambda d: d),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("br", brotli.compress),
    ],
)
def test_every_encoding_decodes(encoding: str, pack: object) -> None:
    assert decode.decompress(pack(PAYLOAD), encoding, 10_000) == PAYLOAD  # type: ignore[operator]


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
def test_a_bomb_stops_at_the_cap(encoding: str, pack: object) -> None:
    bomb = pack(b"\0" * 50_000_000)  # type: ignore[operator]
    assert len(bomb) < 100_000

    with pytest.raises(EnvelopeError) as caught:
        decode.decompress(bomb, encoding, 1_000_000)

    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("body", "encoding", "reason"),
    [
        (b"not gzip", "gzip", "the body is not valid compressed data"),
        (gzip.compress(PAYLOAD, mtime=0)[:-6], "gzip", "the compressed body is cut short"),
        (brotli.compress(PAYLOAD)[:-3], "br", "the compressed body is cut short"),
        (b"\xff\xfe", "br", "the body is not valid brotli data"),
        (
            PAYLOAD,
            "compress",
            "unsupported Content-Encoding 'compress': send gzip, deflate, br or none",
        ),
    ],
    ids=["not-gzip", "gzip-cut", "brotli-cut", "not-brotli", "unknown-encoding"],
)
def test_corrupt_or_unknown_bodies_are_400s(body: bytes, encoding: str, reason: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode.decompress(body, encoding, 10_000)

    assert (caught.value.status, caught.value.reason) == (400, reason)


def test_several_gzip_members_count_together_against_the_cap() -> None:
    two = gzip.compress(PAYLOAD) + gzip.compress(PAYLOAD)
    assert decode.decompress(two, "gzip", 10_000) == PAYLOAD * 2
    with pytest.raises(EnvelopeError):
        decode.decompress(two, "gzip", len(PAYLOAD) + 10)
