"""Durations and sizes as users write them (``250ms``, ``1h30m``, ``1MiB``) and as we print them,
and counted things as a sentence has them (``1 finding``, ``3 findings``).

Durations are held as float seconds and sizes as int bytes everywhere inside Watchkeeper.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

DURATION_UNITS = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d|w|y)")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:us|µs|ms|s|m|h|d|w|y))+")

SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)")


def parse_duration(text: str) -> float:
    """``"1h30m"`` → 5400.0. Raises ValueError with a hint for anything else."""
    compact = text.strip().replace(" ", "")
    if not compact or not _DURATION_WHOLE.fullmatch(compact):
        if re.fullmatch(r"\d+(\.\d+)?", compact):
            raise ValueError(f"bad duration '{text}': add a unit, e.g. {compact}s")
        raise ValueError(f"bad duration '{text}': use e.g. 250ms, 30s, 5m, 1h30m, 14d")
    return sum(float(n) * DURATION_UNITS[u] for n, u in _DURATION_PART.findall(compact))


def parse_size(text: str) -> int:
    """``"1MiB"`` → 1048576; ``"10KB"`` → 10000. Raises ValueError with a hint."""
    match = _SIZE.fullmatch(text.strip())
    if not match or match.group(2).lower() not in SIZE_UNITS:
        raise ValueError(f"bad size '{text}': use e.g. 512B, 64KiB, 1MiB, 10MB")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).lower()])


def format_duration(seconds: float) -> str:
    """A short human form: 0.8123 → '812ms', 90 → '1m30s', 1209600 → '14d'."""
    if math.isnan(seconds):
        return "n/a"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1e-3:
        return f"{sign}{s * 1e6:.0f}µs"
    if s < 1:
        ms = s * 1e3
        return f"{sign}{ms:.1f}ms" if ms < 10 else f"{sign}{ms:.0f}ms"
    if s < 60:
        text = f"{s:.2f}" if s < 10 else f"{s:.1f}"
        return sign + text.rstrip("0").rstrip(".") + "s"
    parts: list[str] = []
    rest = round(s)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (unit, size) in enumerate(units):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            following = units[index + 1] if index + 1 < len(units) else None
            if following and rest % size >= following[1]:
                parts.append(f"{rest % size // following[1]}{following[0]}")
            break
    return sign + "".join(parts)


def format_ms(ms: float) -> str:
    """Milliseconds in the short form: 142.3 → '142ms', 1234 → '1.23s'."""
    return format_duration(ms / 1000.0)


def format_value(value: float, name: str = "") -> str:
    """A series' value for a sentence: a size for a byte series, else about three
    significant digits (with k, M, G past 10,000)."""
    if "byte" in name or name.endswith((".used_memory", ".rss", ".memory")):
        return format_size(value)
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    if size == 0 or size >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """A count and its noun as a sentence has them: ``1 finding``, ``0 findings``,
    ``1,204 monitors``; ``many`` for a noun that does not take an s (``plural(n, "series",
    "series")``)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def format_size(n: float) -> str:
    """1048576 → '1MiB', 1536 → '1.5KiB', 12 → '12B'."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= size:
            value = n / size
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{n:.0f}B"


def _duration_input(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError("bad duration: expected e.g. 30s")
    if isinstance(value, int | float):
        raise ValueError(f"bad duration '{value}': add a unit, e.g. {value}s")
    return value


def _size_input(value: object) -> object:
    if isinstance(value, str):
        return parse_size(value)
    if isinstance(value, bool):
        raise ValueError("bad size: expected e.g. 1MiB")
    return value


Duration = Annotated[float, BeforeValidator(_duration_input), PlainSerializer(format_duration)]
"""Seconds, written in config as ``250ms``, ``30s``, ``5m``, ``1h30m``, ``14d``."""

Size = Annotated[int, BeforeValidator(_size_input), PlainSerializer(format_size)]
"""Bytes, written in config as ``512B``, ``64KiB``, ``1MiB``; a bare integer means bytes."""
