"""Postgres advisor: what the statistics views, pg_stat_statements, the catalogs, EXPLAIN and
(when installed) HypoPG say about one live database, as Findings with a concrete fix.

Checks (thresholds are :class:`PostgresAdviceSettings` fields, defaults in brackets):

- **slow queries** (pg_stat_statements, this database, top-level statements): mean time over
  ``slow_query_ms`` [20 ms] with at least ``slow_query_calls`` [100] calls: warning, the
  slowest ``max_findings`` [10] by total time; of the ``top_queries`` [5] by total time,
  those taking ``top_query_share_pct`` [10 %] of all statements' time and at least
  ``top_query_min_total_ms`` [1 s]: info. The title carries a short excerpt of the
  normalised text, which is also the subject (the queryid is in the evidence). Utility
  statements (SET, ALTER ROLE ... PASSWORD, ...) are never reported, only counted in the
  total. Every statement's counters are read, the text only of the ``statement_texts``
  [200] busiest and of as many slow ones. See *Windows* for what the figures cover; an
  entry whose counters went down (statistics reset, entry evicted) counts from zero.
  pg_stat_statements is never reset. Not installed or not loaded: one info Finding with the
  steps to enable it (``$libdir/pg_stat_statements`` in shared_preload_libraries counts);
- **missing indexes**: tables of ``missing_index_min_rows`` [10 000] rows or more with
  ``missing_index_min_seq_scans`` [10] sequential scans or more that read half that many
  rows per scan on average, and sequential scans ``missing_index_min_seq_share_pct`` [5 %]
  or more of the table's scans. For each, the statements of pg_stat_statements that filter
  it (``WHERE col = $1 AND col2 > $2``, read from the normalised text: equality columns
  first, then one range column, at most 3) give the index; a valid, non-partial btree
  index leading with those columns (the equality ones in any order, then the range one),
  or a hash index on the one equality column, rules it out (BRIN, GIN, GiST do not).
  The ``missing_index_statements`` [5] busiest are EXPLAINed (generic plan: PREPARE with
  ``plan_cache_mode = force_generic_plan``, EXPLAIN EXECUTE with NULLs) in a read-only
  transaction with a ``explain_timeout_s`` [5 s] statement timeout, rolled back. Warning
  with the ``CREATE INDEX CONCURRENTLY`` alone as the recommendation only with plan
  evidence: without HypoPG the plan reads the table sequentially; with HypoPG installed in
  the database a hypothetical index (``hypopg_create_index``, reset afterwards) makes the
  plan at least ``hypopg_min_saving_pct`` [20 %] cheaper (both costs in the evidence).
  EXPLAIN failing (permissions, lock timeout, untyped parameters) or timing out: info
  "could not be verified with EXPLAIN"; no statement to read the columns from: info, the
  column unknown. With ``analyze=True`` a plain SELECT calling only side-effect-free
  functions, every relation it names a table, partitioned table or materialized view (a
  view could call anything), is also run by EXPLAIN ANALYZE (with a common value of each
  compared column from pg_stats; still rolled back): ``actual_ms``;
- **unused indexes**: no scan since the statistics were reset (or since the server's
  statistics began), not unique, primary or behind a constraint: info with the size and
  ``DROP INDEX CONCURRENTLY``;
- **duplicate indexes**: an index whose key columns (with their operator classes,
  collations and order) lead another valid index on the same table with the same method,
  expressions and predicate (btree; other methods only when identical), not unique: warning
  with ``DROP INDEX CONCURRENTLY``; of two identical ones the newer is dropped;
- **invalid indexes** (``indisvalid`` false and not being built): warning, REINDEX or DROP;
  a partitioned index: the ``ALTER INDEX ... ATTACH PARTITION`` (and CREATE INDEX) of the
  partitions lacking their index. Partitioned indexes are dropped without CONCURRENTLY, and
  a partition's index attached to one is never suggested for dropping;
- **cache hit rate** of heap and index blocks (pg_statio_user_tables/indexes) below
  ``cache_hit_min_pct`` [99 %] once ``cache_min_blocks`` [10 000] blocks were accessed
  (found in shared_buffers or read): warning, with shared_buffers and the database size;
- **connections** (client backends of the whole server) at ``connections_warning_pct``
  [80 %] of the slots ordinary roles can use (max_connections less
  superuser_reserved_connections and reserved_connections): warning,
  ``connections_critical_pct`` [95 %]: critical;
- **idle in transaction** for ``idle_in_transaction_s`` [60 s] or more (this database):
  warning with pid, duration, last query, pg_terminate_backend and
  idle_in_transaction_session_timeout; **long queries** running ``long_query_s`` [60 s] or
  more: warning with pg_cancel_backend and statement_timeout. The query text is shown with
  its string and number literals as ``?``; of a utility statement only its command
  (``ALTER ROLE …``);
- **transaction ID wraparound** (``age(datfrozenxid)``, and ``mxid_age(datminmxid)``, of
  every database): PostgreSQL stops writes at about 2^31 (2.1 billion) and autovacuum keeps
  a healthy database near autovacuum_freeze_max_age (200 million by default), so an age of
  ``xid_age_warning`` [1 billion] means freezing is failing (warning) and
  ``xid_age_critical`` [1.5 billion, ~650 million left] is critical;
- **sequences**: the share of the values used up to the end, which is the smaller of the
  sequence's maximum and what the column it feeds holds (serial/identity or a
  ``nextval`` default): ``sequence_warning_pct`` [75 %] warning, ``sequence_critical_pct``
  [90 %] critical; ALTER TABLE only for the columns narrower than bigint;
- **table bloat**: estimated from pg_stats (rows times estimated row width against the
  pages the table has; see ``_pg_health.bloat``): ``bloat_min_pct`` [50 %] and
  ``bloat_min_bytes`` [64 MiB] wasted: info;
- **vacuum**: autovacuum off: warning; tables with ``dead_rows_min`` [10 000] dead rows and
  ``dead_rows_min_pct`` [20 %] of their rows: info.

Windows: with ``previous`` (the snapshot of the last run) at least ``min_window`` [10
minutes] old, the statements', tables' and cache counters are what happened since then
(evidence ``window``: "since the previous run"), each part only when the previous snapshot
has it (and, for tables and cache, the database's statistics were not reset in between);
otherwise a part's figures are cumulative: "since the statistics began" (or "since
pg_stat_statements was reset"). A previous snapshot younger than ``min_window`` is no
window: the figures are cumulative and that snapshot is returned unchanged, so the store
keeps the older base and two runs in a row report alike.

The snapshot (``PostgresAdvice.snapshot``, JSON) holds counters only, no statement text:
``{"version", "database", "database_oid", "taken_at", "stats_reset", "statements_reset",
"statements": {"queryid:dbid:userid": [calls, total_ms, rows]}, "tables": {"schema.table":
[seq_scan, seq_tup_read, idx_scan]}, "cache": {"blocks": [heap_hit, heap_read, idx_hit,
idx_read]}}``; a part that could not be read (pg_stat_statements not there, a check
skipped) is left out. A snapshot of another database (or of another version) is ignored.

Bounded reads: at most 1000 tables (missing indexes, bloat), 5000 indexes and 5000
sequences are read from the catalogs; sizes and index definitions only of what is reported;
statement texts only as said above and cut at 4000 characters.

Recommendations: one that is a single SQL statement is exactly that statement (the CREATE
INDEX, the DROP INDEX of a duplicate), its grounds in the title and evidence; any other is
prose with the SQL inside, never starting with SQL.

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

import psycopg
from psycopg import conninfo

from watchkeeper.advisors import _pg_health, _pg_indexes, _pg_missing, _pg_statements, targets
from watchkeeper.advisors._pg_common import (
    CUMULATIVE,
    SINCE_PREVIOUS,
    Counters,
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

SNAPSHOT_VERSION = 2


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


def _where(dsn: str) -> tuple[str, tuple[str, ...]]:
    """host:port/dbname for messages (no user, no password), and the secrets to mask, as
    :func:`targets.postgres` makes them; a DSN libpq cannot read is an error."""
    shown = targets.postgres(dsn)
    if shown.problem:
        raise AdvisorError(f"postgres: {shown.problem}")
    try:
        conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # libpq's message quotes the DSN's words, a password among them maybe
        raise AdvisorError("postgres: the DSN is not a connection string or URL") from None
    return shown.label, shown.secrets


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
    age_s = taken_at - float(before["taken_at"]) if before is not None else None
    young = age_s is not None and 0 <= age_s < session.settings.min_window
    # (a snapshot from the future, the clock having gone back, is no base either)
    base = before if age_s is not None and age_s >= session.settings.min_window else None
    same_stats = base is not None and base.get("stats_reset") == stats_reset

    def part(name: str, *, stats_bound: bool) -> Counters | None:
        """The base's counters of one part, when it has them and they are comparable."""
        if base is None or (stats_bound and not same_stats):
            return None
        return counters(base.get(name))

    findings: list[Finding] = []
    snapshot: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "database": session.database,
        "database_oid": session.database_oid,
        "taken_at": round(taken_at, 3),
        "stats_reset": stats_reset,
    }

    statements = _pg_statements.Statements()
    previous_statements = part("statements", stats_bound=False)
    try:
        statements = await _pg_statements.read(
            session,
            previous_statements,
            base.get("statements_reset") if base is not None else None,
        )
    except psycopg.Error as exc:
        _skip(session, "slow queries", exc)
    findings += statements.findings
    if statements.available:
        snapshot["statements_reset"] = statements.reset
        snapshot["statements"] = statements.counters
    if previous_statements is None:
        statements_window, statements_s = CUMULATIVE, None
    elif base is not None and base.get("statements_reset") != statements.reset:
        statements_window, statements_s = "since pg_stat_statements was reset", None
    else:
        statements_window, statements_s = SINCE_PREVIOUS, age_s

    index_for: dict[str, str] = {}
    previous_tables = part("tables", stats_bound=True)
    try:
        missing = await _pg_missing.missing(
            session,
            statements.stats,
            previous_tables,
            SINCE_PREVIOUS if previous_tables is not None else CUMULATIVE,
            statements_window,
        )
        findings += missing.findings
        index_for = missing.index_for
        snapshot["tables"] = missing.counters
    except psycopg.Error as exc:
        _skip(session, "missing indexes", exc)
    findings += _pg_statements.slow_and_top(
        session, statements, statements_window, statements_s, index_for
    )
    previous_cache = part("cache", stats_bound=True)
    try:
        cache_findings, cache_counters = await _pg_health.cache(
            session,
            previous_cache,
            SINCE_PREVIOUS if previous_cache is not None else CUMULATIVE,
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
    if young and before is not None:
        # a window of a minute would hide what happens over hours: the figures above are
        # cumulative, and the older base is kept for the next run
        return PostgresAdvice(ranked(findings), before)
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
