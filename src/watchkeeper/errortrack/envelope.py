"""Sentry envelopes: a JSON header line, then items, each a JSON header line and a payload.

    {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://key@host/1"}\\n
    {"type":"event","length":41}\\n
    {"message":"hello","level":"error"}\\n
    {"type":"session"}\\n
    {"sid":"...","init":true,"status":"ok"}\\n

An item header with ``length`` is followed by exactly that many bytes (then an optional
newline); without one the payload runs to the next newline. Parsing is pure and bounded by
``Limits``: an envelope with more items than ``Limits.items`` or an item past its size is an
``EnvelopeError`` carrying the status to answer (400 malformed, 413 too large) and one reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from watchkeeper.errortrack.limits import MIB, Limits

EVENT = "event"
ATTACHMENT = "attachment"


class EnvelopeError(ValueError):
    """The request cannot be taken: ``status`` (400 or 413) and one line saying why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Item:
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    headers: dict[str, Any]
    items: tuple[Item, ...]


def parse(data: bytes, limits: Limits) -> Envelope:
    """The envelope in ``data`` (decompressed), or EnvelopeError."""
    end = data.find(b"\n")
    header_line = data if end < 0 else data[:end]
    headers = _json_object(header_line, "the envelope header")
    position = len(data) if end < 0 else end + 1
    items: list[Item] = []
    size = len(data)
    while position < size:
        end = data.find(b"\n", position)
        line = data[position:] if end < 0 else data[position:end]
        position = size if end < 0 else end + 1
        if not line.strip():
            continue  # blank lines between items (and a final newline) are allowed
        if len(items) >= limits.items:
            raise EnvelopeError(413, f"more than {limits.items} items in one envelope")
        item_headers = _json_object(line, "an item header")
        kind = item_headers.get("type")
        if not isinstance(kind, str) or not kind:
            raise EnvelopeError(400, "an item header has no type")
        length = item_headers.get("length")
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise EnvelopeError(400, f"a {kind} item's length is not a byte count")
            _check_size(kind, length, limits)
            if position + length > size:
                raise EnvelopeError(400, f"a {kind} item is shorter than its length")
            payload = data[position : position + length]
            position += length
            if position < size and data[position : position + 1] == b"\n":
                position += 1
        else:
            end = data.find(b"\n", position)
            payload = data[position:] if end < 0 else data[position:end]
            position = size if end < 0 else end + 1
            _check_size(kind, len(payload), limits)
        items.append(Item(kind, item_headers, payload))
    return Envelope(headers, tuple(items))


def limit_for(kind: str, limits: Limits) -> int:
    """The most bytes one item of ``kind`` may hold."""
    if kind == EVENT:
        return limits.event
    if kind == ATTACHMENT:
        return limits.attachment
    return limits.item


def _check_size(kind: str, size: int, limits: Limits) -> None:
    most = limit_for(kind, limits)
    if size > most:
        raise EnvelopeError(413, f"{kind} item larger than {describe_size(most)}")


def describe_size(size: int) -> str:
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes | str, what: str) -> Any:
    """JSON as Sentry's SDKs send it; NaN and Infinity (not JSON) refused; EnvelopeError 400
    naming ``what`` for anything malformed (too deeply nested included)."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise EnvelopeError(400, f"{what} is not valid JSON") from None


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    value = loads(line, what)
    if not isinstance(value, dict):
        raise EnvelopeError(400, f"{what} is not a JSON object")
    return value
