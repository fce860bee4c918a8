"""The pages' Jinja2 environment: templates from the package, autoescaped, and the filters
they share (times, durations, percentages, inline SVG sparklines)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from watchkeeper import __version__
from watchkeeper.units import format_duration, format_size, plural

STATE_LABELS = {
    "up": "Up",
    "down": "Down",
    "degraded": "Degraded",
    "flapping": "Flapping",
    "paused": "Paused",
    "unknown": "Pending",
}
STATE_ORDER = {"down": 0, "flapping": 1, "degraded": 2, "unknown": 3, "up": 4, "paused": 5}


def ago(at: float | None, now: float | None = None) -> str:
    if not at:
        return "never"
    seconds = max(0.0, (now or time.time()) - at)
    if seconds < 1:
        return "just now"
    return f"{_short(seconds)} ago"


def _short(seconds: float) -> str:
    """Coarse and readable: 12s, 4m, 3h 5m, 2d 4h."""
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        hours, minutes = divmod(int(seconds // 60), 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(int(seconds // 3600), 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def span(seconds: float | None) -> str:
    return "" if seconds is None else _short(max(0.0, seconds))


def clock(at: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, UTC).strftime(fmt) + " UTC"


def iso(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def pct(value: float | None, digits: int = 2) -> str:
    """Uptime as a percentage, rounded down (a failure never rounds up to 100 %)."""
    if value is None:
        return "–"
    if value >= 1:
        return "100%"
    scaled = math.floor(value * 100 * 10**digits) / 10**digits
    return f"{scaled:.{digits}f}%"


def ms(value: float | None) -> str:
    """Milliseconds in, a short duration out."""
    return "–" if value is None else format_duration(value / 1000.0)


def seconds_text(value: float | None) -> str:
    return "–" if value is None else format_duration(value)


_SIZE_WORDS = ("bytes", "memory", "rss", ".used", ".free", ".total", "available", "backup.size")
_TIME_WORDS = (
    "lag", "expires_in", "full_in", "lifetime", "duration", "due_in", "_ago", "time",
    "backup.age", "drill.rto", "drill.rpo", "drill.seconds",
    "step.", "vitals.lcp", "vitals.fcp", "vitals.ttfb", "browser.queued",
)  # fmt: skip


def observed(value: float | None, name: str) -> str:
    """A series value as its name suggests: bytes, a percentage, a duration or a number."""
    if value is None:
        return "–"
    lowered = name.lower()
    if lowered.endswith("_pct"):
        return f"{value:.2f}%"
    if "per_s" in lowered and "bytes" in lowered:
        return format_size(value) + "/s"
    if lowered.endswith("growth_per_h"):
        return format_size(value) + "/h"
    if any(word in lowered for word in _SIZE_WORDS) and not lowered.endswith(".rate"):
        return format_size(value)
    if any(word in lowered for word in _TIME_WORDS) and "seconds_total" not in lowered:
        return format_duration(value) if value >= 0 else "-" + format_duration(-value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def uptime_class(value: float | None) -> str:
    if value is None:
        return "none"
    if value >= 0.999:
        return "good"
    if value >= 0.99:
        return "fair"
    return "bad"


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 28) -> str:
    """An SVG path (``d``) through the points; gaps where a value is missing."""
    present = [v for v in values if v is not None]
    if len(present) < 2 or len(values) < 2:
        return ""
    top, bottom = max(present), min(present)
    scale = (top - bottom) or 1.0
    step = width / (len(values) - 1)
    parts: list[str] = []
    pen_up = True
    for index, value in enumerate(values):
        if value is None:
            pen_up = True
            continue
        x = round(index * step)
        y = round(height - 2 - (value - bottom) / scale * (height - 4))
        parts.append(f"{'M' if pen_up else 'L'}{x} {y}")
        pen_up = False
    return "".join(parts)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("watchkeeper.web", "templates"),
        autoescape=select_autoescape(("html", "svg")),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ago=ago,
        span=span,
        clock=clock,
        iso=iso,
        pct=pct,
        ms=ms,
        seconds=seconds_text,
        observed=observed,
        uptime_class=uptime_class,
        sparkline=sparkline,
        plural=plural,
        state_label=lambda state: STATE_LABELS.get(str(state), str(state).title()),
    )
    env.globals["version"] = __version__
    return env


class Pages:
    """Renders a template into an HTML response with the shared context."""

    def __init__(self) -> None:
        self.env = environment()

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("now", time.time())
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(
            html,
            status_code=status_code,
            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
        )
