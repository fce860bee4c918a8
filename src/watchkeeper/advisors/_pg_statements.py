"""pg_stat_statements: is it there, what did each statement do since the previous run, and
which statements are slow or take most of the database's time."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import errors

from watchkeeper.advisors import _pg_sql
from watchkeeper.advisors._pg_common import (
    MARKER,
    Counters,
    Session,
    count,
    finding,
    one_line,
    rounded,
    window,
    yes_no,
)
from watchkeeper.findings import Finding, Severity
from watchkeeper.units import format_duration

TEXT_LIMIT = 4000
"""Characters of a statement's text read: enough to parse its WHERE clause and to show it."""


@dataclass(frozen=True, slots=True)
class StatementStats:
    key: str
    """queryid:dbid:userid, as in the snapshot."""
    queryid: int
    user: str
    query: str
    """The normalised text, its first :data:`TEXT_LIMIT` characters; "" when not read."""
    calls: int
    total_ms: float
    rows: int
    truncated: bool = False
    """The text is longer than what was read."""

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    @property
    def shown(self) -> bool:
        """Its text was read and it is a query or DML statement (a utility statement's text,
        ALTER ROLE ... PASSWORD among them, is never shown)."""
        return bool(self.query) and not _pg_sql.is_utility(self.query)


@dataclass(slots=True)
class Statements:
    available: bool = False
    stats: list[StatementStats] = field(default_factory=list)
    """What each statement did in the window (statements with no calls left out), most
    time first."""
    counters: Counters = field(default_factory=dict)
    """For the snapshot: key → [calls, total_ms, rows], since the statistics were reset."""
    reset: str | None = None
    findings: list[Finding] = field(default_factory=list)


async def read(
    session: Session, previous: Counters | None, previous_reset: str | None
) -> Statements:
    """The statements of this database (the advisor's own left out), as a window since
    ``previous`` when that snapshot is of the same statistics.

    The counters of every statement are read without their text; the text (its first
    :data:`TEXT_LIMIT` characters) only of the ``statement_texts`` busiest in the window and
    of as many slow ones, so a server keeping 5000 statements of 1 MB each is not copied
    over."""
    out = Statements()
    loaded = await session.rows(
        "select setting, pending_restart from pg_settings where name = 'shared_preload_libraries'"
    )
    libraries = str(loaded[0][0]) if loaded else ""
    pending = bool(loaded[0][1]) if loaded else False
    found = await session.rows(
        "select quote_ident(n.nspname) from pg_extension e"
        " join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements'"
    )
    if not found:
        out.findings.append(_not_enabled(session, libraries, pending, installed=False))
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
            f"select s.queryid, s.dbid, s.userid, coalesce(r.rolname, s.userid::text),"
            f" s.calls, s.{total}, s.rows"
            f" from {schema}.pg_stat_statements s left join pg_roles r on r.oid = s.userid"
            f" where s.dbid = %s and s.queryid is not null {toplevel}"
            " and coalesce(s.query, '') not like %s",
            (session.database_oid, f"%{MARKER}%"),
        )
    except errors.ObjectNotInPrerequisiteState:
        out.findings.append(_not_enabled(session, libraries, pending, installed=True))
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
    users: dict[str, tuple[int, int, str]] = {}
    for queryid, dbid, userid, user, calls, total_ms, nrows in rows:
        key = f"{queryid}:{dbid}:{userid}"
        out.counters[key] = [float(count(calls)), rounded(float(total_ms or 0.0), 3), count(nrows)]
        users[key] = (int(queryid), int(userid), str(user))
    same = previous if previous is not None and previous_reset == out.reset else None
    windowed = [
        (key, int(calls), float(total_ms), int(nrows))
        for key, (calls, total_ms, nrows) in window(out.counters, same).items()
        if calls > 0
    ]
    windowed.sort(key=lambda w: w[2], reverse=True)
    settings = session.settings
    slow = [
        w[0]
        for w in windowed
        if w[1] >= settings.slow_query_calls and w[2] / w[1] > settings.slow_query_ms
    ]
    wanted = [w[0] for w in windowed[: settings.statement_texts]]
    wanted += slow[: settings.statement_texts]
    texts = await _texts(session, schema, toplevel, {k: users[k] for k in wanted})
    for key, calls, total_ms, nrows in windowed:
        queryid, _, user = users[key]
        query, length = texts.get(key, ("", 0))
        out.stats.append(
            StatementStats(key, queryid, user, query, calls, total_ms, nrows, length > len(query))
        )
    return out


async def _texts(
    session: Session, schema: str, toplevel: str, wanted: dict[str, tuple[int, int, str]]
) -> dict[str, tuple[str, int]]:
    """key → (the first :data:`TEXT_LIMIT` characters of the text, the text's length)."""
    if not wanted:
        return {}
    keys = {(queryid, userid): key for key, (queryid, userid, _) in wanted.items()}
    rows = await session.rows(
        f"select s.queryid, s.userid, left(s.query, {TEXT_LIMIT}), length(s.query)"
        f" from {schema}.pg_stat_statements s"
        f" where s.dbid = %s and s.queryid = any(%s) {toplevel}",
        (session.database_oid, sorted({q for q, _ in keys})),
    )
    out: dict[str, tuple[str, int]] = {}
    for queryid, userid, query, length in rows:
        key = keys.get((int(queryid), int(userid)))
        if key is not None and query is not None:
            out[key] = (str(query), count(length))
    return out


def preloaded(libraries: str) -> bool:
    """Does ``shared_preload_libraries`` name pg_stat_statements (also as
    ``$libdir/pg_stat_statements``, quoted, or with a ``.so`` suffix)?"""
    for item in libraries.split(","):
        name = item.strip().strip('"').strip().rsplit("/", 1)[-1]
        for suffix in (".so", ".dylib", ".dll"):
            name = name.removesuffix(suffix)
        if name == "pg_stat_statements":
            return True
    return False


def _not_enabled(session: Session, libraries: str, pending: bool, *, installed: bool) -> Finding:
    loaded = preloaded(libraries)
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
    if steps:
        advice = "To see which queries take the time: " + ", then ".join(steps) + "."
    else:
        advice = (
            "shared_preload_libraries names pg_stat_statements and the extension is "
            "installed, yet the server says the library is not loaded: restart PostgreSQL "
            "if the setting changed since it started, and look in the server log for an "
            "error loading pg_stat_statements."
        )
    return finding(
        Severity.info,
        f"pg_stat_statements {what}: slow queries and index suggestions need it",
        session.database,
        {
            "shared_preload_libraries": libraries or "(empty)",
            "library_listed": yes_no(loaded),
            "pending_restart": yes_no(pending),
            "extension_installed": yes_no(installed),
        },
        advice,
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
    statements taking the largest share of the time as info. Utility statements (SET, ALTER
    ROLE, ...) and statements whose text was not read are left out; every statement counts
    in the total time the shares are of."""
    settings = session.settings
    everything = sum(s.total_ms for s in statements.stats)
    out: list[Finding] = []
    slow = [
        s
        for s in statements.stats
        if s.shown and s.mean_ms > settings.slow_query_ms and s.calls >= settings.slow_query_calls
    ]
    for s in slow[: settings.max_findings]:
        share = 100.0 * s.total_ms / everything if everything else 0.0
        out.append(
            finding(
                Severity.warning,
                f"Slow query ({format_duration(s.mean_ms / 1000)} on average over {s.calls} "
                f"calls, {share:.0f} % of the time {window_text}): {_pg_sql.masked(s.query, 60)}",
                _pg_sql.masked(s.query, 60),
                _evidence(s, share, window_text, window_s),
                _advice(s, index_for.get(s.key)),
                s.total_ms,
            )
        )
    shown = {s.key for s in slow[: settings.max_findings]}
    for s in [s for s in statements.stats if s.shown][: settings.top_queries]:
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
                f"({s.calls} calls, {format_duration(s.total_ms / 1000)}): "
                f"{_pg_sql.masked(s.query, 60)}",
                _pg_sql.masked(s.query, 60),
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
        "query": _pg_sql.masked(s.query),
        "queryid": s.queryid,
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
