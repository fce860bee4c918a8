"""pg_stat_statements: is it there, what did each statement do since the previous run, and
which statements are slow or take most of the database's time."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import errors

from watchkeeper.advisors._pg_common import (
    MARKER,
    Counters,
    Session,
    count,
    excerpt,
    finding,
    one_line,
    rounded,
    window,
)
from watchkeeper.findings import Finding, Severity
from watchkeeper.units import format_duration


@dataclass(frozen=True, slots=True)
class StatementStats:
    key: str
    """queryid:dbid:userid, as in the snapshot."""
    queryid: int
    user: str
    query: str
    calls: int
    total_ms: float
    rows: int

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(slots=True)
class Statements:
    available: bool = False
    stats: list[StatementStats] = field(default_factory=list)
    """What each statement did in the window (statements with no calls left out)."""
    counters: Counters = field(default_factory=dict)
    """For the snapshot: key → [calls, total_ms, rows], since the statistics were reset."""
    reset: str | None = None
    findings: list[Finding] = field(default_factory=list)


async def read(
    session: Session, previous: Counters | None, previous_reset: str | None
) -> Statements:
    """The statements of this database (the advisor's own left out), as a window since
    ``previous`` when that snapshot is of the same statistics."""
    out = Statements()
    loaded = await session.rows(
        "select setting from pg_settings where name = 'shared_preload_libraries'"
    )
    libraries = str(loaded[0][0]) if loaded else ""
    found = await session.rows(
        "select quote_ident(n.nspname) from pg_extension e"
        " join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements'"
    )
    if not found:
        out.findings.append(_not_enabled(session, libraries, installed=False))
        return out
    schema = str(found[0][0])
    columns = {
        str(r[0])
        for r in await session.rows(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0",
            (f"{schema}.pg_stat_statements",),
        )
    }
    total = "total_exec_time" if "total_exec_time" in columns else "total_time"
    toplevel = "and s.toplevel" if "toplevel" in columns else ""
    try:
        rows = await session.rows(
            f"select s.queryid, s.dbid, s.userid, coalesce(r.rolname, s.userid::text), s.query,"
            f" s.calls, s.{total}, s.rows"
            f" from {schema}.pg_stat_statements s left join pg_roles r on r.oid = s.userid"
            f" where s.dbid = %s and s.queryid is not null {toplevel}"
            " and coalesce(s.query, '') not like %s",
            (session.database_oid, f"%{MARKER}%"),
        )
    except errors.ObjectNotInPrerequisiteState:
        out.findings.append(_not_enabled(session, libraries, installed=True))
        return out
    out.available = True
    has_info = await session.rows(
        "select to_regclass(%s) is not null", (f"{schema}.pg_stat_statements_info",)
    )
    if has_info and has_info[0][0]:
        try:
            reset = await session.rows(f"select stats_reset from {schema}.pg_stat_statements_info")
            out.reset = reset[0][0].isoformat() if reset and reset[0][0] is not None else None
        except psycopg.errors.InsufficientPrivilege as exc:
            session.skipped["pg_stat_statements_info"] = one_line(exc)
    texts: dict[str, tuple[int, str, str]] = {}
    for queryid, dbid, userid, user, query, calls, total_ms, nrows in rows:
        key = f"{queryid}:{dbid}:{userid}"
        out.counters[key] = [float(count(calls)), rounded(float(total_ms or 0.0), 3), count(nrows)]
        texts[key] = (int(queryid), str(user), str(query or ""))
    same = previous if previous is not None and previous_reset == out.reset else None
    for key, (calls, total_ms, nrows) in window(out.counters, same).items():
        if calls <= 0:
            continue
        queryid, user, query = texts[key]
        out.stats.append(
            StatementStats(key, queryid, user, query, int(calls), float(total_ms), int(nrows))
        )
    out.stats.sort(key=lambda s: s.total_ms, reverse=True)
    return out


def _not_enabled(session: Session, libraries: str, *, installed: bool) -> Finding:
    loaded = "pg_stat_statements" in [x.strip() for x in libraries.split(",")]
    steps: list[str] = []
    if not loaded:
        wanted = ", ".join(x for x in (libraries.strip(), "pg_stat_statements") if x)
        steps.append(
            f"add pg_stat_statements to shared_preload_libraries in postgresql.conf (now "
            f"'{libraries}'; e.g. ALTER SYSTEM SET shared_preload_libraries = '{wanted}';) "
            "and restart PostgreSQL"
        )
    if not installed:
        steps.append(f"run CREATE EXTENSION pg_stat_statements; in database {session.database}")
    what = "is not loaded" if installed else "is not enabled"
    return finding(
        Severity.info,
        f"pg_stat_statements {what}: slow queries and index suggestions need it",
        session.database,
        {"shared_preload_libraries": libraries or "(empty)", "extension_installed": str(installed)},
        "To see which queries take the time: " + ", then ".join(steps) + ".",
        0.0,
    )


def slow_and_top(
    session: Session,
    statements: Statements,
    window_text: str,
    window_s: float | None,
    index_for: dict[str, str],
) -> list[Finding]:
    """Slow statements (mean over the threshold with enough calls) as warnings, and the
    statements taking the largest share of the time as info."""
    settings = session.settings
    everything = sum(s.total_ms for s in statements.stats)
    out: list[Finding] = []
    slow = [
        s
        for s in statements.stats
        if s.mean_ms > settings.slow_query_ms and s.calls >= settings.slow_query_calls
    ]
    for s in slow[: settings.max_findings]:
        share = 100.0 * s.total_ms / everything if everything else 0.0
        out.append(
            finding(
                Severity.warning,
                f"Slow query: {format_duration(s.mean_ms / 1000)} on average over "
                f"{s.calls} calls ({share:.0f} % of the time {window_text})",
                f"queryid {s.queryid}",
                _evidence(s, share, window_text, window_s),
                _advice(s, index_for.get(s.key)),
                s.total_ms,
            )
        )
    shown = {s.key for s in slow[: settings.max_findings]}
    for s in statements.stats[: settings.top_queries]:
        share = 100.0 * s.total_ms / everything if everything else 0.0
        if (
            s.key in shown
            or share < settings.top_query_share_pct
            or s.total_ms < settings.top_query_min_total_ms
        ):
            continue
        out.append(
            finding(
                Severity.info,
                f"Query takes {share:.0f} % of the database's time {window_text} "
                f"({s.calls} calls, {format_duration(s.total_ms / 1000)})",
                f"queryid {s.queryid}",
                _evidence(s, share, window_text, window_s),
                _advice(s, index_for.get(s.key)),
                s.total_ms,
            )
        )
    return out


def _evidence(
    s: StatementStats, share: float, window_text: str, window_s: float | None
) -> dict[str, float | int | str | None]:
    evidence: dict[str, float | int | str | None] = {
        "query": excerpt(s.query),
        "calls": s.calls,
        "total_ms": rounded(s.total_ms),
        "mean_ms": rounded(s.mean_ms, 3),
        "rows": s.rows,
        "rows_per_call": rounded(s.rows / s.calls if s.calls else 0.0),
        "share_of_total_time_pct": rounded(share),
        "user": s.user,
        "window": window_text,
    }
    if window_s is not None:
        evidence["window_s"] = rounded(window_s, 1)
    return evidence


def _advice(s: StatementStats, index: str | None) -> str:
    if index:
        return f"It reads a table without an index: {index}"
    text = (
        "Run EXPLAIN (ANALYZE, BUFFERS) on it with typical parameters; look for sequential "
        "scans of big tables (add the index its WHERE needs), sorts and hashes spilling to "
        "disk (work_mem) and row estimates far from the actual rows (ANALYZE the table)."
    )
    if s.calls and s.rows / s.calls >= 1000:
        text += (
            f" It returns {s.rows // s.calls} rows per call: page through them (LIMIT) or "
            "aggregate in SQL."
        )
    return text
