"""Redis' slow log (``SLOWLOG GET``, never reset) grouped by command: the groups that took
the most time, warning only where a slow call is recent (the log keeps entries for ever)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watchkeeper.advisors._redis_common import integer, server_now, text
from watchkeeper.advisors._redis_session import CONTAINER_COMMANDS, Refused, Session
from watchkeeper.advisors._redis_settings import RedisAdviceSettings
from watchkeeper.findings import Finding, Severity
from watchkeeper.units import format_duration

_ADVICE = {
    "KEYS": "KEYS walks the whole keyspace and blocks Redis meanwhile: use SCAN with a MATCH.",
    "SMEMBERS": "Read big sets in pages with SSCAN, or keep them smaller.",
    "HGETALL": "Read big hashes in pages with HSCAN, or fetch only the fields needed (HMGET).",
    "LRANGE": "Read lists in pages (LRANGE with small ranges) and trim them (LTRIM).",
    "ZRANGE": "Read sorted sets in pages (ZRANGE ... LIMIT) instead of whole.",
    "SORT": "SORT is O(N+M log M): precompute into a sorted set, or sort in the application.",
    "DEL": "Deleting a big key blocks: use UNLINK, which frees the memory in the background.",
    "FLUSHALL": "Use FLUSHALL ASYNC so the flush does not block.",
    "FLUSHDB": "Use FLUSHDB ASYNC so the flush does not block.",
    "EVAL": "A script blocks Redis for its whole run: make it do less per call.",
    "EVALSHA": "A script blocks Redis for its whole run: make it do less per call.",
    "FCALL": "A function blocks Redis for its whole run: make it do less per call.",
}
_GENERIC = (
    "Redis runs one command at a time: a slow one delays every client. Look for O(N) calls "
    "on big keys (see the big-key findings) and page them."
)


@dataclass(slots=True)
class _Group:
    durations: list[int] = field(default_factory=list)
    """µs of each call."""
    newest: int = 0
    """Unix time of the newest call."""
    recent: list[int] = field(default_factory=list)
    """µs of the calls within ``slowlog_recent``."""


def command_name(args: Any) -> str:
    """``SET``, or ``CONFIG GET`` for a container command."""
    if isinstance(args, bytes | str):
        words = text(args).split()
    elif isinstance(args, list | tuple):
        words = [text(a, 60) for a in args[:2]]
    else:
        return "?"
    if not words:
        return "?"
    name = words[0].upper()
    if name in CONTAINER_COMMANDS and len(words) > 1:
        name = f"{name} {words[1].upper()}"
    return name


async def slowlog(
    session: Session,
    info: dict[str, Any],
    config: dict[str, str],
    settings: RedisAdviceSettings,
) -> list[Finding]:
    """The top ``slowlog_top`` commands by total time; warning when one of their calls in
    the last ``slowlog_recent`` seconds took ``slow_command_warn_us`` or more, else info."""
    entries_read = max(1, settings.slowlog_entries)
    try:
        entries = await session.maybe("SLOWLOG", "GET", entries_read)
    except Refused:
        return []
    now = server_now(info)
    rows = [e for e in entries or () if isinstance(e, list | tuple) and len(e) >= 4]
    # the advisor's own commands: its connection is named, and what it sent before naming
    # it (HELLO) came from the same address
    own = {text(e[4]) for e in rows if len(e) >= 6 and text(e[5]) == settings.client_name}
    groups: dict[str, _Group] = {}
    considered = 0
    for entry in rows:
        if len(entry) >= 5 and text(entry[4]) in own:
            continue
        considered += 1
        at, duration = integer(entry[1]), integer(entry[2])
        group = groups.setdefault(command_name(entry[3]), _Group())
        group.durations.append(duration)
        group.newest = max(group.newest, at)
        if now - at < settings.slowlog_recent:
            group.recent.append(duration)
    threshold = integer(config.get("slowlog-log-slower-than", "10000"), 10000)
    top = sorted(groups.items(), key=lambda item: (-sum(item[1].durations), item[0]))
    findings: list[Finding] = []
    for name, group in top[: max(0, settings.slowlog_top)]:
        total, most = sum(group.durations), max(group.durations)
        recent_most = max(group.recent, default=0)
        age = max(0, round(now - group.newest))
        when = f"last {format_duration(age)} ago" if age else "last just now"
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning
                if recent_most >= settings.slow_command_warn_us
                else Severity.info,
                title=f"Slow Redis command {name}: {len(group.durations)} in the slow log, "
                f"{format_duration(total / 1e6)} in all, slowest "
                f"{format_duration(most / 1e6)}, {when}",
                subject=name,
                evidence={
                    "command": name,
                    "count": len(group.durations),
                    "total_us": total,
                    "max_us": most,
                    "avg_us": round(total / len(group.durations), 1),
                    "newest_at": datetime.fromtimestamp(group.newest, UTC).isoformat(),
                    "age_s": age,
                    "recent_count": len(group.recent),
                    "recent_max_us": recent_most if group.recent else None,
                    "recent_window_s": settings.slowlog_recent,
                    "slowlog_entries_read": considered,
                    "slowlog_log_slower_than_us": threshold,
                },
                recommendation=f"{_ADVICE.get(name.split()[0], _GENERIC)} Each call's "
                f"arguments: SLOWLOG GET {entries_read}",
                impact=float(total),
            )
        )
    return findings
