"""The database's health: cache hit rate, connections, sessions idle in a transaction and
long queries, transaction ID wraparound, sequences near their end, table bloat and dead
rows, autovacuum.

Bounded reads: at most :data:`TABLE_LIMIT` tables are estimated for bloat (the most pages
first) and :data:`SEQUENCE_LIMIT` sequences read."""

from __future__ import annotations

import math

from watchkeeper.advisors import _pg_sql
from watchkeeper.advisors._pg_common import (
    Counters,
    Session,
    count,
    finding,
    rounded,
    window,
)
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_duration, format_size

XID_LIMIT = 2**31
"""Transaction IDs (and MultiXact IDs) a database can have in use before wraparound."""
_TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
TABLE_LIMIT = 1000
SEQUENCE_LIMIT = 5000


async def cache(
    session: Session, previous: Counters | None, window_text: str
) -> tuple[list[Finding], Counters]:
    """Heap and index cache hit rates of this database's tables: blocks found in
    shared_buffers (hits) against all blocks accessed (hits plus blocks read from the OS),
    each rate once ``cache_min_blocks`` blocks were accessed."""
    row = await session.one(
        "select (select coalesce(sum(heap_blks_hit), 0) from pg_statio_user_tables),"
        " (select coalesce(sum(heap_blks_read), 0) from pg_statio_user_tables),"
        " (select coalesce(sum(idx_blks_hit), 0) from pg_statio_user_indexes),"
        " (select coalesce(sum(idx_blks_read), 0) from pg_statio_user_indexes),"
        " pg_size_bytes(current_setting('shared_buffers')), pg_database_size(current_database())"
    )
    now: Counters = {"blocks": [float(count(v)) for v in row[:4]]}
    heap_hit, heap_read, idx_hit, idx_read = window(now, previous)["blocks"]
    settings = session.settings
    out: list[Finding] = []
    rates: dict[str, float] = {}
    for kind, hit, read in (("heap", heap_hit, heap_read), ("index", idx_hit, idx_read)):
        if hit + read > 0 and hit + read >= settings.cache_min_blocks:
            rates[kind] = 100.0 * hit / (hit + read)
    low = {k: v for k, v in rates.items() if v < settings.cache_hit_min_pct}
    if low:
        shared, size = count(row[4]), count(row[5])
        evidence: Evidence = {f"{k}_hit_rate_pct": rounded(v, 3) for k, v in rates.items()}
        evidence |= {
            "heap_blocks_accessed": int(heap_hit + heap_read),
            "heap_blocks_read": int(heap_read),
            "index_blocks_accessed": int(idx_hit + idx_read),
            "index_blocks_read": int(idx_read),
            "shared_buffers_bytes": shared,
            "database_size_bytes": size,
            "window": window_text,
        }
        worst = min(low.values())
        out.append(
            finding(
                Severity.warning,
                f"Cache hit rate {worst:.2f} % ({' and '.join(low)}): below "
                f"{settings.cache_hit_min_pct:g} %, reads go to disk",
                session.database,
                evidence,
                f"The working set does not fit in memory: shared_buffers is "
                f"{format_size(shared)} for a {format_size(size)} database. Raise "
                "shared_buffers (about 25 % of the RAM is the usual start; it needs a restart) "
                "or add RAM so the OS cache holds the rest; also look for sequential scans of "
                "big tables, which push useful pages out.",
                100.0 - worst,
            )
        )
    return out, now


async def connections(session: Session) -> list[Finding]:
    """Client backends against the slots an ordinary role can use: max_connections less
    superuser_reserved_connections (and reserved_connections, PostgreSQL 16)."""
    row = await session.one(
        "select count(*) filter (where backend_type = 'client backend'),"
        " count(*) filter (where state = 'active' and backend_type = 'client backend'),"
        " count(*) filter (where state = 'idle'),"
        " count(*) filter (where state like 'idle in transaction%%'),"
        " current_setting('max_connections')::int,"
        " current_setting('superuser_reserved_connections')::int,"
        " coalesce(current_setting('reserved_connections', true), '0')::int,"
        " (select who || ' (' || n || ')' from (select count(*) as n,"
        "   coalesce(nullif(application_name, ''), usename::text, '?') as who"
        "   from pg_stat_activity where backend_type = 'client backend'"
        "   group by 2 order by 1 desc limit 1) as busiest)"
        " from pg_stat_activity",
        (),
    )
    used, active, idle, idle_tx, most, reserved, reserved_roles, busiest = row
    usable = max(1, count(most) - count(reserved) - count(reserved_roles))
    used_pct = 100.0 * count(used) / usable
    settings = session.settings
    if used_pct < settings.connections_warning_pct:
        return []
    severity = (
        Severity.critical if used_pct >= settings.connections_critical_pct else Severity.warning
    )
    full = " (none left for ordinary roles)" if count(used) >= usable else ""
    return [
        finding(
            severity,
            f"Connections at {used_pct:.0f} % of the usable slots ({used} of {usable}; "
            f"max_connections {most}){full}",
            session.server,
            {
                "connections": count(used),
                "usable_connections": usable,
                "max_connections": count(most),
                "superuser_reserved_connections": count(reserved),
                "reserved_connections": count(reserved_roles),
                "used_pct": rounded(used_pct, 1),
                "active": count(active),
                "idle": count(idle),
                "idle_in_transaction": count(idle_tx),
                "busiest_application": str(busiest or ""),
            },
            "When the usable slots are taken, new connections of ordinary roles fail (the "
            "reserved ones are for superusers). Put a pooler (PgBouncer in transaction "
            "mode) in front, or make the applications' pools smaller; close idle sessions. "
            "Raise max_connections only with memory to spare (each connection costs work_mem "
            "and more, and it needs a restart).",
            used_pct,
        )
    ]


async def activity(session: Session) -> list[Finding]:
    """Sessions of this database idle in a transaction, and queries running long."""
    settings = session.settings
    rows = await session.rows(
        "select pid, state, usename, quote_ident(usename), application_name,"
        " coalesce(host(client_addr), 'local'),"
        " extract(epoch from now() - state_change), extract(epoch from now() - xact_start),"
        " extract(epoch from now() - query_start), query, wait_event_type, wait_event"
        " from pg_stat_activity where datname = current_database()"
        " and backend_type = 'client backend' and pid <> pg_backend_pid()"
        " and ((state like 'idle in transaction%%' and now() - state_change > %s * interval '1s')"
        "  or (state = 'active' and now() - query_start > %s * interval '1s'))"
        " order by 7 desc limit 1000",
        (settings.idle_in_transaction_s, settings.long_query_s),
    )
    out: list[Finding] = []
    idle_found = long_found = 0
    for (
        pid,
        state,
        user,
        quoted_user,
        app,
        client,
        idle_s,
        tx_s,
        query_s,
        query,
        wtype,
        wait,
    ) in rows:
        base: Evidence = {
            "pid": int(pid),
            "user": str(user or ""),
            "application": str(app or ""),
            "client": str(client),
            "query": _pg_sql.masked(query),
        }
        if str(state).startswith("idle in transaction"):
            idle_found += 1
            if idle_found > settings.max_findings:
                continue
            duration = float(idle_s or 0.0)
            base |= {
                "duration_s": rounded(duration, 1),
                "transaction_s": rounded(float(tx_s or 0.0), 1),
                "state": str(state),
            }
            out.append(
                finding(
                    Severity.warning,
                    f"Session {pid} idle in a transaction for {format_duration(duration)}",
                    f"pid {pid}",
                    base,
                    "An open transaction holds its locks and stops VACUUM from removing dead "
                    f"rows everywhere. If it is stuck: SELECT pg_terminate_backend({pid}); "
                    "then make the application commit or roll back promptly, and set a guard: "
                    f"ALTER ROLE {quoted_user or 'app'} SET idle_in_transaction_session_timeout"
                    " = '5min';",
                    duration,
                )
            )
        else:
            long_found += 1
            if long_found > settings.max_findings:
                continue
            duration = float(query_s or 0.0)
            base |= {
                "duration_s": rounded(duration, 1),
                "wait_event": f"{wtype}: {wait}" if wtype else "",
            }
            out.append(
                finding(
                    Severity.warning,
                    f"Query running for {format_duration(duration)} (pid {pid})",
                    f"pid {pid}",
                    base,
                    f"Cancel it with SELECT pg_cancel_backend({pid}); (pg_terminate_backend ends "
                    "the whole session). If queries this long are not expected, EXPLAIN it and "
                    f"cap them: ALTER ROLE {quoted_user or 'app'} SET statement_timeout = '60s';",
                    duration,
                )
            )
    return out


async def wraparound(session: Session) -> list[Finding]:
    """Transaction ID and MultiXact ID age of every database (wraparound stops the whole
    server, so every database counts)."""
    settings = session.settings
    rows = await session.rows(
        "select datname, age(datfrozenxid), mxid_age(datminmxid),"
        " current_setting('autovacuum_freeze_max_age')::bigint"
        " from pg_database order by 2 desc"
    )
    oldest = await session.rows(
        "select c.oid::regclass::text, age(c.relfrozenxid) from pg_class c"
        " where c.relkind in ('r', 'm', 't') order by 2 desc limit 3"
    )
    out: list[Finding] = []
    for name, xid_age, mxid_age, freeze_max in rows:
        for kind, age in (("transaction ID", count(xid_age)), ("MultiXact ID", count(mxid_age))):
            if age < settings.xid_age_warning:
                continue
            critical = age >= settings.xid_age_critical
            remaining = XID_LIMIT - age
            unit = "xid" if kind.startswith("transaction") else "mxid"
            tables = ", ".join(str(t) for t, _ in oldest) if name == session.database else ""
            vacuum = (
                f"VACUUM (FREEZE, VERBOSE) on its oldest tables ({tables})"
                if tables
                else f"VACUUM (FREEZE, VERBOSE) in database {name} (vacuumdb --freeze)"
            )
            out.append(
                finding(
                    Severity.critical if critical else Severity.warning,
                    f"{kind} wraparound: database {name} is {age / 1e9:.2f} billion "
                    f"{'transactions' if kind.startswith('transaction') else 'multixacts'} old",
                    str(name),
                    {
                        f"{unit}_age": age,
                        f"remaining_{unit}s": remaining,
                        "used_pct": rounded(100.0 * age / XID_LIMIT, 1),
                        "autovacuum_freeze_max_age": count(freeze_max),
                    },
                    "At about 2.1 billion PostgreSQL stops accepting writes to avoid data loss. "
                    f"Autovacuum should keep this near {count(freeze_max):,}: find what blocks "
                    "it (long transactions, abandoned replication slots or prepared "
                    f"transactions, autovacuum off or throttled) and run {vacuum}.",
                    100.0 * age / XID_LIMIT,
                )
            )
    return out


async def sequences(session: Session) -> list[Finding]:
    """Sequences near their end; the end is the smaller of the sequence's maximum and what
    the column it feeds can hold (a bigint sequence feeding an integer column ends at 2^31).
    The fix widens the columns narrower than bigint (ALTER TABLE) and the sequence when it
    is its own limit (ALTER SEQUENCE ... AS bigint, or NO MAXVALUE for a bigint one)."""
    rows = await session.rows(
        "with links as ("
        "  select d.objid as seq, d.refobjid as tab, d.refobjsubid as col from pg_depend d"
        "  where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass"
        "  and d.deptype in ('a', 'i') and d.refobjsubid > 0"
        "  union"
        "  select d.refobjid, ad.adrelid, ad.adnum from pg_depend d"
        "  join pg_attrdef ad on ad.oid = d.objid"
        "  where d.classid = 'pg_attrdef'::regclass and d.refclassid = 'pg_class'::regclass)"
        " select s.schemaname || '.' || s.sequencename, c.oid::regclass::text,"
        " s.last_value, s.min_value, s.max_value,"
        " s.increment_by, s.cycle, s.data_type::text,"
        " coalesce(json_agg(json_build_array(t.oid::regclass::text, quote_ident(a.attname),"
        "  format_type(a.atttypid, null)) order by t.oid, a.attnum)"
        "  filter (where a.attname is not null), '[]'::json)"
        " from pg_sequences s"
        " join pg_namespace n on n.nspname = s.schemaname"
        " join pg_class c on c.relnamespace = n.oid and c.relname = s.sequencename"
        " left join links l on l.seq = c.oid"
        " left join pg_class t on t.oid = l.tab"
        " left join pg_attribute a on a.attrelid = l.tab and a.attnum = l.col"
        " where s.last_value is not null"
        " group by 1, 2, 3, 4, 5, 6, 7, 8"
        " order by abs(s.last_value::numeric) desc limit %s",
        (SEQUENCE_LIMIT,),
    )
    settings = session.settings
    out: list[Finding] = []
    for name, quoted, last, low, high, step, cycle, seq_type, fed_columns in rows:
        fed: list[tuple[str, str, str]] = [(str(t), str(c), str(ty)) for t, c, ty in fed_columns]
        column_types = sorted({ty for _, _, ty in fed})
        narrowest = [_TYPE_MAX[t] for t in column_types if t in _TYPE_MAX]
        limit_type = min(narrowest) if narrowest else None
        ascending = count(step) > 0
        if ascending:
            end = min(count(high), limit_type) if limit_type else count(high)
            start = count(low)
            used = count(last) - start
        else:
            end = max(count(low), -limit_type - 1) if limit_type else count(low)
            start = count(high)
            used = start - count(last)
        span = abs(end - start)
        if span <= 0:
            continue
        used_pct = 100.0 * used / span
        own_end = count(high) if ascending else count(low)
        narrowed = limit_type is not None and end != own_end
        if used_pct < settings.sequence_warning_pct or (cycle and not narrowed):
            continue
        critical = used_pct >= settings.sequence_critical_pct
        names = ", ".join(f"{t}.{c}" for t, c, _ in fed)
        widen = " ".join(
            f"ALTER TABLE {t} ALTER COLUMN {c} TYPE bigint;"
            for t, c, ty in fed
            if ty in ("smallint", "integer")
        )
        rewrite = (
            " (the ALTER TABLE rewrites the table under an exclusive lock: plan a window, or "
            "add a bigint column, backfill it and swap)"
        )
        if str(seq_type) != "bigint":
            grow = f"ALTER SEQUENCE {quoted} AS bigint;"
        else:
            grow = f"ALTER SEQUENCE {quoted} {'NO MAXVALUE' if ascending else 'NO MINVALUE'};"
        if narrowed:
            fix = f"The column it feeds ({names}) is {', '.join(column_types)}: {widen}{rewrite}"
        elif widen:
            fix = f"Widen the column it feeds, then the sequence: {widen} {grow}{rewrite}"
        elif fed:
            fix = f"Widen the sequence (the column it feeds, {names}, is wide enough): {grow}"
        else:
            fix = f"Widen the sequence: {grow}"

        out.append(
            finding(
                Severity.critical if critical else Severity.warning,
                f"Sequence {name} has used {used_pct:.1f} % of its values",
                str(name),
                {
                    "last_value": count(last),
                    "max_value": end if ascending else count(high),
                    "min_value": count(low) if ascending else end,
                    "used_pct": rounded(used_pct, 2),
                    "remaining_values": max(0, abs(end - count(last)) // max(1, abs(count(step)))),
                    "sequence_type": str(seq_type),
                    "column_type": ", ".join(column_types),
                    "columns": names,
                },
                f"When it runs out, inserts fail. {fix}",
                used_pct,
            )
        )
    return out


async def bloat(session: Session) -> list[Finding]:
    """An estimate of each table's wasted space: the pages its rows need (row count times
    an estimated row width from pg_stats, per page after fillfactor) against the pages it has.

    Row width: a 24-byte header (23 bytes plus a null bitmap when a column has nulls,
    aligned to 8) plus the average width of each column times its non-null fraction, aligned
    to 8, plus a 4-byte line pointer; a page holds block_size minus a 24-byte page header.
    Alignment padding between columns is left out, so the estimate is a little low. Tables
    with a column without statistics (never analysed) are skipped."""
    settings = session.settings
    rows = await session.rows(
        "select n.nspname || '.' || c.relname, c.oid::regclass::text, c.reltuples, c.relpages,"
        " current_setting('block_size')::int,"
        " coalesce((select split_part(o, '=', 2)::int"
        "  from unnest(c.reloptions) o where o like 'fillfactor=%%'), 100),"
        " count(a.attnum), count(s.attname),"
        " coalesce(sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)), 0),"
        " coalesce(bool_or(s.null_frac > 0), false),"
        " (select n_dead_tup from pg_stat_user_tables u where u.relid = c.oid)"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
        " left join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname"
        "  and s.attname = a.attname and not s.inherited"
        " where c.relkind = 'r' and c.reltuples >= 0 and c.relpages > 0"
        " and n.nspname not in ('pg_catalog', 'information_schema')"
        " and n.nspname not like 'pg_toast%%'"
        " group by c.oid, n.nspname, c.relname, c.reltuples, c.relpages, c.reloptions"
        " order by c.relpages desc limit %s",
        (TABLE_LIMIT,),
    )
    out: list[Finding] = []
    for name, quoted, tuples, pages, block, fill, columns, with_stats, width, nulls, dead in rows:
        if count(with_stats) < count(columns):
            continue
        header = 23 + (math.ceil(count(columns) / 8) if nulls else 0)
        row_bytes = _align(_align(header) + float(width)) + 4
        per_page = max(1, math.floor((block - 24) * count(fill) / 100 / row_bytes))
        expected = math.ceil(float(tuples) / per_page)
        wasted_pages = count(pages) - expected
        wasted = wasted_pages * count(block)
        wasted_pct = 100.0 * wasted_pages / count(pages)
        if wasted_pct < settings.bloat_min_pct or wasted < settings.bloat_min_bytes:
            continue
        out.append(
            finding(
                Severity.info,
                f"Table {name} is about {wasted_pct:.0f} % empty space "
                f"({format_size(wasted)} estimated bloat)",
                str(name),
                {
                    "size_bytes": count(pages) * count(block),
                    "bloat_bytes": wasted,
                    "bloat_pct": rounded(wasted_pct, 1),
                    "table_rows": int(float(tuples)),
                    "estimated_row_bytes": round(row_bytes),
                    "dead_rows": count(dead),
                },
                "An estimate from pg_stats. Space freed by VACUUM is reused for new rows but "
                f"not given back: VACUUM (FULL) {quoted} or CLUSTER give it back but lock the "
                "table for the whole rewrite; pg_repack does it online. Then make autovacuum "
                "keep up (lower autovacuum_vacuum_scale_factor for this table).",
                float(wasted),
            )
        )
    return out


def _align(n: float, to: int = 8) -> float:
    return math.ceil(n / to) * to


async def vacuum(session: Session) -> list[Finding]:
    """Autovacuum switched off, and tables with many dead rows."""
    settings = session.settings
    out: list[Finding] = []
    on = await session.one("select current_setting('autovacuum') = 'on'")
    if not on[0]:
        out.append(
            finding(
                Severity.warning,
                "Autovacuum is off",
                session.server,
                {"autovacuum": "off"},
                "Without autovacuum dead rows pile up (bloat), statistics go stale and the "
                "transaction ID age grows to wraparound: ALTER SYSTEM SET autovacuum = on; "
                "SELECT pg_reload_conf();",
                100.0,
            )
        )
    rows = await session.rows(
        "select schemaname || '.' || relname, relid::regclass::text, n_live_tup, n_dead_tup,"
        " extract(epoch from now() - greatest(last_autovacuum, last_vacuum)),"
        " greatest(last_autovacuum, last_vacuum)"
        " from pg_stat_user_tables where n_dead_tup >= %s"
        " and n_dead_tup >= %s / 100.0 * (n_live_tup + n_dead_tup)"
        " order by n_dead_tup desc limit %s",
        (settings.dead_rows_min, settings.dead_rows_min_pct, settings.max_findings),
    )
    for name, quoted, live, dead, since, last in rows:
        total = count(live) + count(dead)
        pct = 100.0 * count(dead) / total if total else 0.0
        evidence: Evidence = {
            "dead_rows": count(dead),
            "live_rows": count(live),
            "dead_rows_pct": rounded(pct, 1),
            "last_vacuum": last.isoformat() if last is not None else "never",
        }
        if since is not None:
            evidence["since_last_vacuum_s"] = rounded(float(since), 0)
        out.append(
            finding(
                Severity.info,
                f"Table {name} has {count(dead)} dead rows ({pct:.0f} %)",
                str(name),
                evidence,
                f"Vacuum it now: VACUUM (VERBOSE) {quoted}; If autovacuum keeps falling behind "
                f"on it, lower its threshold: ALTER TABLE {quoted} SET "
                "(autovacuum_vacuum_scale_factor = 0.05); Also look for long transactions "
                "holding VACUUM back.",
                float(count(dead)),
            )
        )
    return out
