"""Postgres advisor: what the statistics views, pg_stat_statements, the catalogs, EXPLAIN and
(when installed) HypoPG say about one live database, as Findings with a concrete fix.

Checks (thresholds are :class:`PostgresAdviceSettings` fields, defaults in brackets):

- **slow queries** (pg_stat_statements, this database, top-level statements): mean time over
  ``slow_query_ms`` [20 ms] with at least ``slow_query_calls`` [100] calls: warning, the
  slowest ``max_findings`` [10] by total time; of the ``top_queries`` [5] by total time,
  those taking ``top_query_share_pct`` [10 %] of all statements' time and at least
  ``top_query_min_total_ms`` [1 s]: info. With ``previous`` (the snapshot of the last run)
  the figures are what happened since then, per queryid+dbid+userid; an entry whose counters
  went down (statistics reset, entry evicted) counts from zero. pg_stat_statements is never
  reset. Not installed or not loaded: one info Finding with the steps to enable it;
- **missing indexes**: tables of ``missing_index_min_rows`` [10 000] rows or more with
  ``missing_index_min_seq_scans`` [10] sequential scans or more (since the last run, else
  since the statistics reset) that read half that many rows per scan on average, and
  sequential scans ``missing_index_min_seq_share_pct`` [5 %] or more of the table's scans.
  For each, the statements of pg_stat_statements that filter it (``WHERE col = $1 AND
  col2 > $2``, read from the normalised text: equality columns first, then one range column,
  at most 3) give the index; an index already starting with those columns rules it out.
  The ``missing_index_statements`` [5] busiest are EXPLAINed (generic plan: PREPARE with
  ``plan_cache_mode = force_generic_plan``, EXPLAIN EXECUTE with NULLs) in a read-only
  transaction with a ``explain_timeout_s`` [5 s] statement timeout, rolled back; the index
  is suggested when the plan reads the table sequentially and, with HypoPG installed in the
  database, when a hypothetical index (``hypopg_create_index``, reset afterwards) makes the
  plan at least ``hypopg_min_saving_pct`` [20 %] cheaper; both costs go in the evidence.
  Warning with the ``CREATE INDEX CONCURRENTLY``. With ``analyze=True`` a plain SELECT
  calling only side-effect-free functions is also run by EXPLAIN ANALYZE (with a common
  value of each compared column from pg_stats; still rolled back): ``actual_ms``;
- **unused indexes**: no scan since the statistics reset, not unique, primary or behind a
  constraint: info with the size and ``DROP INDEX CONCURRENTLY``;
- **duplicate indexes**: an index whose key columns (with their operator classes,
  collations and order) lead another valid index on the same table with the same method,
  expressions and predicate (btree; other methods only when identical), not unique: warning
  with ``DROP INDEX CONCURRENTLY``; of two identical ones the newer is dropped;
- **invalid indexes** (``indisvalid`` false and not being built): warning, REINDEX or DROP;
- **cache hit rate** of heap and index blocks (pg_statio_user_tables/indexes; since the last
  run when there is one) below ``cache_hit_min_pct`` [99 %] once ``cache_min_blocks``
  [10 000] blocks were read: warning, with shared_buffers and the database size;
- **connections** (client backends of the whole server) at ``connections_warning_pct``
  [80 %] of max_connections: warning, ``connections_critical_pct`` [95 %]: critical;
- **idle in transaction** for ``idle_in_transaction_s`` [60 s] or more (this database):
  warning with pid, duration, last query, pg_terminate_backend and
  idle_in_transaction_session_timeout; **long queries** running ``long_query_s`` [60 s] or
  more: warning with pg_cancel_backend and statement_timeout;
- **transaction ID wraparound** (``age(datfrozenxid)``, and ``mxid_age(datminmxid)``, of
  every database): PostgreSQL stops writes at about 2^31 (2.1 billion) and autovacuum keeps
  a healthy database near autovacuum_freeze_max_age (200 million by default), so an age of
  ``xid_age_warning`` [1 billion] means freezing is failing (warning) and
  ``xid_age_critical`` [1.5 billion, ~650 million left] is critical;
- **sequences**: the share of the values used up to the end, which is the smaller of the
  sequence's maximum and what the column it feeds holds (serial/identity or a
  ``nextval`` default): ``sequence_warning_pct`` [75 %] warning, ``sequence_critical_pct``
  [90 %] critical;
- **table bloat**: estimated from pg_stats (rows times estimated row width against the
  pages the table has; see ``_pg_health.bloat``): ``bloat_min_pct`` [50 %] and
  ``bloat_min_bytes`` [64 MiB] wasted: info;
- **vacuum**: autovacuum off: warning; tables with ``dead_rows_min`` [10 000] dead rows and
  ``dead_rows_min_pct`` [20 %] of their rows: info.

The snapshot (``PostgresAdvice.snapshot``, JSON) holds counters only, no statement text:
``{"version", "database", "database_oid", "taken_at", "stats_reset", "statements_reset",
"statements": {"queryid:dbid:userid": [calls, total_ms, rows]}, "tables": {"schema.table":
[seq_scan, seq_tup_read, idx_scan]}, "cache": {"blocks": [heap_hit, heap_read, idx_hit,
idx_read]}}``. A snapshot of another database (or of another version) is ignored; one taken
before a reset of the database's statistics is not used for the table and cache counters.

Read-only: the session is ``default_transaction_read_only``, every statement has a
statement timeout (``timeout``) and a 1 s lock timeout, and carries a marker comment so the
advisor's own statements are left out of pg_stat_statements' figures. No CREATE EXTENSION,
no reset. A check the server refuses (permissions) is skipped and named in an info Finding;
a server that cannot be reached raises :class:`AdvisorError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import conninfo

from watchkeeper.advisors import _pg_health, _pg_indexes, _pg_missing, _pg_statements
from watchkeeper.advisors._pg_common import (
    NoAnswer,
    PostgresAdviceSettings,
    Row,
    Session,
    counters,
    finding,
    one_line,
)
from watchkeeper.advisors.errors import AdvisorError
from watchkeeper.findings import Finding, Severity, ranked
from watchkeeper.redact import redact

__all__ = ["AdvisorError", "PostgresAdvice", "PostgresAdviceSettings", "advise"]

SNAPSHOT_VERSION = 1


@dataclass(slots=True)
class PostgresAdvice:
    findings: list[Finding] = field(default_factory=list)
    """Most important first."""
    snapshot: dict[str, Any] = field(default_factory=dict)
    """JSON-able counters to pass as ``previous`` to the next run."""


async def advise(
    dsn: str,
    *,
    previous: dict[str, Any] | None = None,
    analyze: bool = False,
    settings: PostgresAdviceSettings | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - connect and statement timeout, not a deadline
) -> PostgresAdvice:
    """Look at the database at ``dsn``; ``previous`` is the snapshot of the last run (what
    happened since is reported). Raises :class:`AdvisorError` when it cannot connect."""
    settings = settings or PostgresAdviceSettings()
    where, secrets = _where(dsn)
    try:
        async with asyncio.timeout(timeout + 5):
            connection: psycopg.AsyncConnection[Row] = await psycopg.AsyncConnection.connect(
                dsn,
                connect_timeout=max(1, math.ceil(timeout)),
                autocommit=True,
                application_name=settings.application_name,
            )
    except TimeoutError:
        raise AdvisorError(f"postgres {where}: timeout while connecting") from None
    except psycopg.Error as exc:
        raise AdvisorError(redact(f"postgres {where}: {_describe(exc)}", secrets)) from None
    except (OSError, ValueError) as exc:
        raise AdvisorError(redact(f"postgres {where}: {one_line(exc)}", secrets)) from None
    connection.prepare_threshold = None
    session = Session(connection, settings, analyze, timeout)
    try:
        return await _advise(session, previous)
    except psycopg.Error as exc:
        raise AdvisorError(redact(f"postgres {where}: {_describe(exc)}", secrets)) from None
    except NoAnswer as exc:
        raise AdvisorError(f"postgres {where}: {exc}") from None
    finally:
        with contextlib.suppress(psycopg.Error, OSError):
            await connection.close()


def _where(dsn: str) -> tuple[str, list[str]]:
    """host:port/dbname for messages (no user, no password), and the secrets to mask."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # libpq's message quotes the DSN's words, a password among them maybe
        raise AdvisorError("postgres: the DSN is not a connection string or URL") from None
    password = str(parts.get("password") or "")
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    secrets = [password, quote(password, safe="")] if password else []
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}", secrets


def _describe(exc: psycopg.Error) -> str:
    text = one_line(exc)
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "password authentication failed" in lowered or "no pg_hba.conf entry" in lowered:
        return "authentication failed: " + text.split("FATAL:")[-1].strip()
    if "timeout expired" in lowered:
        return "timeout while connecting"
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "a query was cancelled by the statement timeout"
    return text


async def _advise(session: Session, previous: dict[str, Any] | None) -> PostgresAdvice:
    milliseconds = max(100, int(session.timeout * 1000))
    setup = await session.one(
        "select set_config('statement_timeout', %s, false),"
        " set_config('lock_timeout', '1000', false),"
        " set_config('idle_in_transaction_session_timeout', %s, false),"
        " set_config('default_transaction_read_only', 'on', false),"
        " current_database(), (select oid from pg_database where datname = current_database()),"
        " current_setting('server_version_num')::int,"
        " (select stats_reset from pg_stat_database where datname = current_database())",
        (str(milliseconds), str(max(milliseconds, 60_000))),
    )
    session.database = str(setup[4])
    session.database_oid = int(setup[5])
    session.version_num = int(setup[6])
    info = session.connection.info
    session.server = f"{info.host}:{info.port}"
    stats_reset = setup[7].isoformat() if setup[7] is not None else None
    taken_at = time.time()

    before = _previous(previous, session)
    same_stats = before is not None and before.get("stats_reset") == stats_reset
    window_s = taken_at - float(before["taken_at"]) if before is not None else None
    window_text = "since the previous run" if window_s is not None else "since the statistics reset"

    findings: list[Finding] = []
    snapshot: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "database": session.database,
        "database_oid": session.database_oid,
        "taken_at": round(taken_at, 3),
        "stats_reset": stats_reset,
    }

    statements = _pg_statements.Statements()
    try:
        statements = await _pg_statements.read(
            session,
            counters(before.get("statements")) if before else None,
            before.get("statements_reset") if before else None,
        )
    except psycopg.Error as exc:
        _skip(session, "slow queries", exc)
    findings += statements.findings
    snapshot["statements_reset"] = statements.reset
    snapshot["statements"] = statements.counters

    index_for: dict[str, str] = {}
    try:
        missing = await _pg_missing.missing(
            session,
            statements.stats,
            counters(before.get("tables")) if before and same_stats else None,
            window_text if same_stats else "since the statistics reset",
        )
        findings += missing.findings
        index_for = missing.index_for
        snapshot["tables"] = missing.counters
    except psycopg.Error as exc:
        _skip(session, "missing indexes", exc)
    if before is not None and before.get("statements_reset") != statements.reset:
        findings += _pg_statements.slow_and_top(
            session, statements, "since pg_stat_statements was reset", None, index_for
        )
    else:
        findings += _pg_statements.slow_and_top(
            session, statements, window_text, window_s, index_for
        )
    try:
        cache_findings, cache_counters = await _pg_health.cache(
            session,
            counters(before.get("cache")) if before and same_stats else None,
            window_text if same_stats else "since the statistics reset",
        )
        findings += cache_findings
        snapshot["cache"] = cache_counters
    except psycopg.Error as exc:
        _skip(session, "cache hit rate", exc)

    checks: list[tuple[str, Callable[[Session], Awaitable[list[Finding]]]]] = [
        ("indexes", _pg_indexes.unused_duplicate_invalid),
        ("connections", _pg_health.connections),
        ("sessions", _pg_health.activity),
        ("wraparound", _pg_health.wraparound),
        ("sequences", _pg_health.sequences),
        ("bloat", _pg_health.bloat),
        ("vacuum", _pg_health.vacuum),
    ]
    for name, check in checks:
        try:
            findings += await check(session)
        except psycopg.Error as exc:
            _skip(session, name, exc)
    if session.skipped:
        findings.append(
            finding(
                Severity.info,
                f"Some Postgres checks were skipped: {', '.join(sorted(session.skipped))}",
                session.database,
                {k: v for k, v in sorted(session.skipped.items())[:20]},
                "Give the advisor's role the pg_monitor role (GRANT pg_monitor TO ...;) so it "
                "can read every statistics view, and SELECT on the tables whose statements "
                "it EXPLAINs.",
                0.0,
            )
        )
    return PostgresAdvice(ranked(findings), snapshot)


def _skip(session: Session, check: str, exc: psycopg.Error) -> None:
    """A check that failed: note why, unless the connection itself is gone (then raise)."""
    if session.connection.broken or session.connection.closed:
        raise exc
    session.skipped[check] = one_line(exc)


def _previous(previous: dict[str, Any] | None, session: Session) -> dict[str, Any] | None:
    """The previous snapshot when it is one of ours, of this database."""
    if not isinstance(previous, dict):
        return None
    if (
        previous.get("version") != SNAPSHOT_VERSION
        or previous.get("database_oid") != session.database_oid
        or previous.get("database") != session.database
        or not isinstance(previous.get("taken_at"), int | float)
    ):
        return None
    return previous
