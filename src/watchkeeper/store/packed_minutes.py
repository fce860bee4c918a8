"""The packed form of the 1-minute tier: one blob holds a monitor's minutes of one hour.

Checks: a minute's statistics (p50, p95, p99 and max of each phase) are read from at most
seven of its sorted latencies, the order statistics the percentiles interpolate between;
so a packed minute keeps how many values each phase had and the values at those ranks, as
whole nanoseconds, and the statistics are computed again on reading with the very arithmetic
of :mod:`watchkeeper.store.aggregate` (bit for bit the same floats). A minute of two checks
costs its eight latencies, two or three bytes each, instead of twenty doubles.

Series: a minute of at most ``VALUES_UP_TO`` samples keeps them, in time order (count, min,
max, mean and last are computed from them as :mod:`watchkeeper.store.sample_rollups` does),
a fuller one its count, min, max, mean and last; floats bit for bit, so a series that does
not change costs next to nothing.

A blob also says how many minutes of its hour it stands for (``covered``, from the hour's
start): the rest, if any, is read from raw results. Statistics that are not order statistics
of whole nanoseconds (rollups of stores older than the packed form, or merged with them) are
kept as JSON, every float exact. Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watchkeeper.store import packing
from watchkeeper.store.aggregate import PERCENTILES
from watchkeeper.store.schema import ROLLUP_PHASES, ROLLUP_VALUE_COLUMNS

_PLAIN, _DEFLATED, _JSON = 1, 2, 3  # the first byte of a blob: its format
MINUTES = 60
VALUES_UP_TO = 4
"""Samples a packed series minute keeps as they are (then its statistics: four floats)."""

CheckRow = tuple[int | float | None, ...]
"""``(monitor_id, bucket, checks, failures, <phase>_<p50|p95|p99|max>...)`` as
:func:`watchkeeper.store.aggregate.buckets` gives it."""
SeriesRow = tuple[int, int, float, float, float, float]
"""``(bucket, count, min, max, mean, last)``."""


@dataclass(frozen=True, slots=True)
class Minute:
    """One minute of a monitor's checks, as much as its rollup statistics need."""

    offset: int
    """The minute of the hour, 0 to 59."""
    checks: int
    failures: int
    phases: tuple[tuple[int, tuple[int, ...]], ...]
    """For each of ``ROLLUP_PHASES``: how many checks had it, and its latencies (whole
    nanoseconds) at the :func:`ranks` of that many, rising."""

    @classmethod
    def of(cls, offset: int, checks: int, failures: int, phases: Sequence[list[int]]) -> Minute:
        """A minute from all its latencies of each phase (any order)."""
        kept = []
        for present in phases:
            ordered = sorted(present)
            picked = tuple(ordered[rank] for rank in ranks(len(ordered))) if ordered else ()
            kept.append((len(ordered), picked))
        return cls(offset, checks, failures, tuple(kept))

    def row(self, monitor_id: int, hour: int) -> CheckRow:
        """Its rollup row."""
        values: list[float | None] = []
        for count, kept in self.phases:
            if count:
                values.extend(statistics(count, dict(zip(ranks(count), kept, strict=True))))
            else:
                values.extend((None, None, None, None))
        return (monitor_id, hour + 60 * self.offset, self.checks, self.failures, *values)


# -- the statistics of a minute from its order statistics ------------------------------------
@functools.cache
def ranks(count: int) -> tuple[int, ...]:
    """The ranks (0-based, of ``count`` sorted values) a minute's statistics read."""
    found = {count - 1}
    for percentile in PERCENTILES:
        position = (count - 1) * (percentile / 100.0)
        below = math.floor(position)
        found.update((below, min(below + 1, count - 1)))
    return tuple(sorted(found))


def statistics(count: int, at: dict[int, int]) -> tuple[float, float, float, float]:
    """p50, p95, p99 and max in milliseconds of ``count`` values whose ``ranks`` are ``at``
    (nanoseconds): what ``aggregate.buckets`` computes, with the same operations in order."""
    out = []
    for percentile in PERCENTILES:
        position = (count - 1) * (percentile / 100.0)
        below = math.floor(position)
        above = min(below + 1, count - 1)
        low, high = _milliseconds(at[below]), _milliseconds(at[above])
        fraction = position - below
        difference = high - low
        if fraction >= 0.5:
            out.append(high - difference * (1 - fraction))
        else:
            out.append(low + difference * fraction)
    return out[0], out[1], out[2], _milliseconds(at[count - 1])


def _milliseconds(nanoseconds: int) -> float:
    return nanoseconds / 1e9 * 1000.0


# -- checks -------------------------------------------------------------------------------------
def pack_checks(minutes: Sequence[Minute], covered: int = MINUTES) -> bytes:
    """One blob of ``minutes`` (in time order) of an hour, standing for its first
    ``covered`` minutes."""
    body = bytearray()
    packing.varint(body, covered)
    packing.varint(body, len(minutes))
    _offsets(body, [minute.offset for minute in minutes])
    packing.integers(body, [minute.checks for minute in minutes])
    packing.integers(body, [minute.failures for minute in minutes])
    for index in range(len(ROLLUP_PHASES)):
        phase = [minute.phases[index] for minute in minutes]
        packing.integers(body, [count for count, _ in phase])
        kept = [values for count, values in phase if count]
        packing.integers(body, [packing.zigzag(values[0]) for values in kept])
        packing.integers(
            body, [later - earlier for values in kept for earlier, later in _pairs(values)]
        )
    return _finish(bytes(body))


def unpack_checks(blob: bytes, monitor_id: int, hour: int) -> tuple[int, list[CheckRow]]:
    """How many minutes of the hour the blob stands for, and its rollup rows."""
    covered, minutes = unpack_minutes(blob)
    if isinstance(minutes, list):
        return covered, [minute.row(monitor_id, hour) for minute in minutes]
    return covered, [
        (monitor_id, hour + 60 * int(offset), int(checks), int(failures), *values)
        for offset, checks, failures, *values in minutes.rows
    ]


@dataclass(frozen=True, slots=True)
class Rows:
    """Minutes kept as their rollup statistics (``[offset, checks, failures, values...]``)."""

    rows: list[list[Any]]


def unpack_minutes(blob: bytes) -> tuple[int, list[Minute] | Rows]:
    """How many minutes of the hour the blob stands for, and its minutes: as order
    statistics, or as statistics when that is how they were kept."""
    kind, body = _open(blob)
    if kind == _JSON:
        found = json.loads(body)
        return int(found["covered"]), Rows(found["minutes"])
    reader = packing.Reader(body)
    covered = reader.varint()
    count = reader.varint()
    offsets = _read_offsets(reader, count)
    checks = reader.integers(count)
    failures = reader.integers(count)
    phases: list[list[tuple[int, tuple[int, ...]]]] = []
    for _ in ROLLUP_PHASES:
        present = reader.integers(count)
        firsts = iter([packing.unzigzag(v) for v in reader.integers(sum(1 for n in present if n))])
        gaps = iter(reader.integers(sum(len(ranks(n)) - 1 for n in present if n)))
        column: list[tuple[int, tuple[int, ...]]] = []
        for n in present:
            if not n:
                column.append((0, ()))
                continue
            value = next(firsts)
            kept = [value]
            for _ in range(len(ranks(n)) - 1):
                value += next(gaps)
                kept.append(value)
            column.append((n, tuple(kept)))
        phases.append(column)
    return covered, [
        Minute(offset, checks[i], failures[i], tuple(column[i] for column in phases))
        for i, offset in enumerate(offsets)
    ]


def pack_check_rows(rows: Sequence[CheckRow], hour: int, covered: int = MINUTES) -> bytes:
    """A blob of rollup rows as they are (any floats): for rollups that are not order
    statistics of whole nanoseconds."""
    minutes = [
        [(int(row[1]) - hour) // 60, int(row[2]), int(row[3]), *row[4:]]  # type: ignore[arg-type]
        for row in rows
    ]
    assert all(len(minute) == 3 + len(ROLLUP_VALUE_COLUMNS) for minute in minutes)
    return _json({"covered": covered, "minutes": minutes})


# -- series -------------------------------------------------------------------------------------
def pack_series(
    series: dict[str, Sequence[tuple[int, Sequence[float]]]], covered: int = MINUTES
) -> bytes:
    """One blob of an hour's series: by name, ``(minute of the hour, samples in time
    order)`` for each minute that has any, in time order."""
    body = bytearray()
    packing.varint(body, covered)
    packing.varint(body, len(series))
    for name in sorted(series):
        minutes = series[name]
        column = bytearray()
        packing.varint(column, len(minutes))
        _offsets(column, [offset for offset, _ in minutes])
        packing.integers(column, [len(values) for _, values in minutes])
        floats: list[float] = []
        for _, values in minutes:
            floats.extend(values if len(values) <= VALUES_UP_TO else describe(values))
        packing.floats(column, floats)
        packing.put_bytes(body, name.encode("utf-8", "surrogatepass"))
        packing.put_bytes(body, bytes(column))
    return _finish(bytes(body))


def unpack_series(
    blob: bytes, hour: int, wanted: str | None = None
) -> tuple[int, dict[str, list[SeriesRow]]]:
    """How many minutes of the hour the blob stands for, and the rollup rows of each series
    (only of ``wanted`` when given)."""
    kind, body = _open(blob)
    if kind == _JSON:
        found = json.loads(body)
        return int(found["covered"]), {
            name: [
                (hour + 60 * int(offset), int(count), low, high, mean, last)
                for offset, count, low, high, mean, last in rows
            ]
            for name, rows in found["series"].items()
            if wanted is None or name == wanted
        }
    reader = packing.Reader(body)
    covered = reader.varint()
    out: dict[str, list[SeriesRow]] = {}
    for _ in range(reader.varint()):
        name = reader.bytes().decode("utf-8", "surrogatepass")
        column = reader.bytes()
        if wanted is not None and name != wanted:
            continue
        inner = packing.Reader(column)
        count = inner.varint()
        offsets = _read_offsets(inner, count)
        counts = inner.integers(count)
        floats = iter(inner.floats(sum(n if n <= VALUES_UP_TO else 4 for n in counts)))
        rows: list[SeriesRow] = []
        for offset, n in zip(offsets, counts, strict=True):
            if n <= VALUES_UP_TO:
                low, high, mean, last = describe([next(floats) for _ in range(n)])
            else:
                low, high, mean, last = (next(floats) for _ in range(4))
            rows.append((hour + 60 * offset, n, low, high, mean, last))
        out[name] = rows
    return covered, out


def pack_series_rows(
    series: Mapping[str, Sequence[SeriesRow]], hour: int, covered: int = MINUTES
) -> bytes:
    """A blob of series rollup rows as they are (for rollups kept before the packed form)."""
    return _json(
        {
            "covered": covered,
            "series": {
                name: [[(int(row[0]) - hour) // 60, *row[1:]] for row in rows]
                for name, rows in series.items()
            },
        }
    )


def describe(values: Sequence[float]) -> tuple[float, float, float, float]:
    """min, max, mean and last, as ``sample_rollups.buckets`` computes them."""
    return min(values), max(values), math.fsum(values) / len(values), values[-1]


# -- blobs --------------------------------------------------------------------------------------
def _offsets(out: bytearray, offsets: list[int]) -> None:
    """Minutes of the hour in rising order, as the gaps between them (one value when none)."""
    packing.integers(out, [later - earlier - 1 for earlier, later in _pairs([-1, *offsets])])


def _read_offsets(reader: packing.Reader, count: int) -> list[int]:
    offsets, at = [], -1
    for gap in reader.integers(count):
        at += gap + 1
        offsets.append(at)
    return offsets


def _pairs(values: Sequence[int]) -> list[tuple[int, int]]:
    return list(itertools.pairwise(values))


def _finish(body: bytes) -> bytes:
    deflated = zlib.compress(body, 9, -15)
    if len(deflated) < len(body):
        return bytes([_DEFLATED]) + deflated
    return bytes([_PLAIN]) + body


def _json(value: object) -> bytes:
    text = json.dumps(value, separators=(",", ":"))  # ASCII: a lone surrogate is escaped
    return bytes([_JSON]) + zlib.compress(text.encode(), 9, -15)


def covered(blob: bytes) -> int:
    """How many minutes of its hour a blob (of checks or series) stands for."""
    kind, body = _open(blob)
    if kind == _JSON:
        return int(json.loads(body)["covered"])
    return packing.Reader(body).varint()


def _open(blob: bytes) -> tuple[int, bytes]:
    kind = blob[0]
    if kind == _PLAIN:
        return kind, blob[1:]
    if kind in (_DEFLATED, _JSON):
        return kind, zlib.decompress(blob[1:], -15)
    raise ValueError(f"unknown packed minutes format {kind}")
