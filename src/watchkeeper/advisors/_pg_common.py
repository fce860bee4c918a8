"""What the Postgres advisor's parts share: the settings, the session (one read-only
connection whose statements all carry a marker comment), and small helpers."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import psycopg

from watchkeeper.findings import Evidence, Finding, Severity

MiB = 1024 * 1024
MARKER = "/* watchkeeper advisor */"
"""In every statement the advisor sends, so its own statements can be left out of
pg_stat_statements' figures (the marker survives normalisation)."""


@dataclass(frozen=True, slots=True)
class PostgresAdviceSettings:
    """Thresholds of the Postgres advisor; the module docstring of
    ``watchkeeper.advisors.postgres`` says what each one gates."""

    slow_query_ms: float = 20.0
    slow_query_calls: int = 100
    top_queries: int = 5
    top_query_share_pct: float = 10.0
    top_query_min_total_ms: float = 1000.0
    max_findings: int = 10
    """At most this many findings of one kind (slow queries, idle sessions, ...)."""
    min_window: float = 600.0
    """Seconds: a previous snapshot younger than this is no window to measure (the figures
    are cumulative, and the previous snapshot is returned unchanged as the base to keep)."""
    statement_texts: int = 200
    """Statements whose text is read (the busiest in the window, and the slow ones); the
    others count in the totals only."""
    missing_index_min_rows: int = 10_000
    missing_index_min_seq_scans: int = 10
    missing_index_min_seq_share_pct: float = 5.0
    missing_index_statements: int = 5
    """Statements EXPLAINed per table with many sequential scans."""
    hypopg_min_saving_pct: float = 20.0
    explain_timeout_s: float = 5.0
    cache_hit_min_pct: float = 99.0
    cache_min_blocks: int = 10_000
    connections_warning_pct: float = 80.0
    connections_critical_pct: float = 95.0
    idle_in_transaction_s: float = 60.0
    long_query_s: float = 60.0
    xid_age_warning: int = 1_000_000_000
    xid_age_critical: int = 1_500_000_000
    sequence_warning_pct: float = 75.0
    sequence_critical_pct: float = 90.0
    bloat_min_pct: float = 50.0
    bloat_min_bytes: int = 64 * MiB
    dead_rows_min: int = 10_000
    dead_rows_min_pct: float = 20.0
    application_name: str = "watchkeeper-advisor"


Row = tuple[Any, ...]


class NoAnswer(Exception):
    """The server did not answer a statement at all (not even its statement timeout)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"no answer within {seconds:g} s")


@dataclass(slots=True)
class Session:
    """The advisor's connection and what every check may need to know about the server."""

    connection: psycopg.AsyncConnection[Row]
    settings: PostgresAdviceSettings
    analyze: bool
    timeout: float
    database: str = ""
    database_oid: int = 0
    server: str = ""
    version_num: int = 0
    skipped: dict[str, str] = field(default_factory=dict)

    async def rows(self, sql: str, params: tuple[Any, ...] | None = None) -> list[Row]:
        """The rows of one statement (``%%`` for ``%`` only when ``params`` is given). The
        server's statement timeout ends a slow statement; should the server stop answering
        altogether, :class:`NoAnswer` is raised a little later."""
        try:
            async with asyncio.timeout(self.timeout + 5):
                cursor = await self.connection.execute(marked(sql), params)
                return await cursor.fetchall() if cursor.description else []
        except TimeoutError:
            raise NoAnswer(self.timeout + 5) from None

    async def one(self, sql: str, params: tuple[Any, ...] | None = None) -> Row:
        found = await self.rows(sql, params)
        if not found:
            raise LookupError("no row")
        return found[0]


def marked(sql: str) -> str:
    """``sql`` with the advisor's marker after its first word."""
    text = sql.strip()
    head, _, rest = text.partition(" ")
    return f"{head} {MARKER} {rest}" if rest else f"{text} {MARKER}"


def finding(
    severity: Severity,
    title: str,
    subject: str,
    evidence: Evidence,
    recommendation: str,
    impact: float,
) -> Finding:
    return Finding(
        source="postgres",
        severity=severity,
        title=title,
        subject=subject,
        evidence=evidence,
        recommendation=recommendation,
        impact=impact,
    )


CUMULATIVE = "since the statistics began"
"""The window of figures not measured against a previous snapshot."""
SINCE_PREVIOUS = "since the previous run"


def yes_no(value: bool) -> str:
    """How evidence says a yes/no fact."""
    return "yes" if value else "no"


def excerpt(text: str | None, limit: int = 200) -> str:
    """A statement's text on one line, cut to ``limit`` characters."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def one_line(exc: BaseException) -> str:
    """The first line of a server's error, without the ``ERROR:`` prefix."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for marker in ("FATAL:", "ERROR:"):
        if marker in text:
            text = text.split(marker, 1)[1].strip()
    return text[:200]


def rounded(value: float, digits: int = 2) -> float:
    return round(float(value), digits) if math.isfinite(float(value)) else 0.0


def count(value: Any) -> int:
    return int(value) if value is not None else 0


Counters = dict[str, list[float]]


def counters(value: Any) -> Counters | None:
    """A snapshot part of ``{key: [numbers]}``, or None when it is not that shape."""
    if not isinstance(value, dict):
        return None
    out: Counters = {}
    for key, numbers in value.items():
        if not isinstance(key, str) or not isinstance(numbers, list):
            return None
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            return None
        out[key] = [float(n) for n in numbers]
    return out


def window(current: Counters, previous: Counters | None) -> Counters:
    """What each key's counters did since ``previous``: the difference where the previous
    counters are there and none is larger than now, else the counters themselves (the
    statistics were reset, or the entry is new or was evicted and came back)."""
    if previous is None:
        return dict(current)
    out: Counters = {}
    for key, now in current.items():
        before = previous.get(key)
        if (
            before is not None
            and len(before) == len(now)
            and all(b <= n for b, n in zip(before, now, strict=True))
        ):
            out[key] = [n - b for n, b in zip(now, before, strict=True)]
        else:
            out[key] = list(now)
    return out
