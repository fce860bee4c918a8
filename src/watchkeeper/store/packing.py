"""Byte-level packing shared by the packed forms of the store (chunks, packed minutes).

Integers are zigzag-mapped by the caller where they may be negative, then kept as the fewest
low-order byte planes that hold them (all lowest bytes, then all second bytes...), or one
value when all are equal; floats bit for bit as the second difference of their IEEE-754 bit
patterns. Pure functions, no I/O.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence

_MASK = (1 << 64) - 1
_WIDTHS = {1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 6: 8, 7: 8, 8: 8}
"""The machine word (bytes) that holds a number of byte planes."""
_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


def integers(out: bytearray, values: list[int]) -> None:
    """Non-negative integers below 2**64: nothing when there are none, ``0`` and a varint when
    all are equal, else the number of byte planes and the planes."""
    if not values:
        return
    first = values[0]
    if values.count(first) == len(values):
        out.append(0)
        varint(out, first)
        return
    planes = max((max(values).bit_length() + 7) // 8, 1)
    out.append(planes)
    if planes == 1:
        out += bytes(values)
        return
    size = _WIDTHS[planes]  # each value in a machine word, the planes taken apart from those
    words = struct.pack(f"<{len(values)}{_CODES[size]}", *values)
    for plane in range(planes):
        out += words[plane::size]


def floats(out: bytearray, values: Sequence[float]) -> None:
    """Floats bit for bit: the first one's bits, then the first difference of the bit patterns
    (a varint), then the second differences as an integer column (wrapping: exact)."""
    count = len(values)
    if count == 0:
        return
    bits = struct.unpack(f"<{count}Q", struct.pack(f"<{count}d", *values))
    out += struct.pack("<Q", bits[0])
    if count == 1:
        return
    first = [(later - earlier) & _MASK for earlier, later in itertools.pairwise(bits)]
    second = [(later - earlier) & _MASK for earlier, later in itertools.pairwise(first)]
    varint(out, zigzag(signed(first[0])))
    integers(out, [zigzag(signed(value)) for value in second])


class Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self._data[self._at]
            self._at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def bytes(self) -> bytes:
        size = self.varint()
        start = self._at
        self._at += size
        return self._data[start : self._at]

    def integers(self, count: int) -> list[int]:
        if count == 0:
            return []
        planes = self._data[self._at]
        self._at += 1
        if planes == 0:
            return [self.varint()] * count
        start = self._at
        self._at += planes * count
        if planes == 1:
            return list(self._data[start : self._at])
        size = _WIDTHS[planes]
        words = bytearray(size * count)
        for plane in range(planes):
            words[plane::size] = self._data[start + plane * count : start + (plane + 1) * count]
        return list(struct.unpack(f"<{count}{_CODES[size]}", words))

    def floats(self, count: int) -> list[float]:
        if count == 0:
            return []
        (bits,) = struct.unpack_from("<Q", self._data, self._at)
        self._at += 8
        out = [bits]
        if count > 1:
            step = unzigzag(self.varint()) & _MASK
            bits = (bits + step) & _MASK
            out.append(bits)
            for second in self.integers(count - 2):
                step = (step + unzigzag(second)) & _MASK
                bits = (bits + step) & _MASK
                out.append(bits)
        return list(struct.unpack(f"<{count}d", struct.pack(f"<{count}Q", *out)))


def varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_bytes(out: bytearray, data: bytes) -> None:
    varint(out, len(data))
    out += data


def signed(value: int) -> int:
    """A 64-bit pattern read as a two's complement integer."""
    return value - (1 << 64) if value >> 63 else value


def zigzag(value: int) -> int:
    return value << 1 if value >= 0 else ((-value) << 1) - 1


def unzigzag(value: int) -> int:
    return value >> 1 if not value & 1 else -((value + 1) >> 1)
