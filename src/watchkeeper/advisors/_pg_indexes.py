"""Indexes that cost without paying: unused, duplicate (covered by another) and invalid."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.advisors._pg_common import Session, excerpt, finding
from watchkeeper.findings import Finding, Severity
from watchkeeper.units import format_size


async def unused_duplicate_invalid(session: Session) -> list[Finding]:
    out: list[Finding] = []
    indexes = await session.rows(
        "select i.indexrelid, i.indrelid, n.nspname || '.' || ci.relname,"
        " quote_ident(n.nspname) || '.' || quote_ident(ci.relname),"
        " n.nspname || '.' || ct.relname, am.amname, i.indkey::int2[], i.indclass::oid[],"
        " i.indcollation::oid[], i.indoption::int2[], i.indnkeyatts, i.indnatts,"
        " i.indisunique or i.indisprimary"
        "  or exists (select 1 from pg_constraint k where k.conindid = i.indexrelid),"
        " coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),"
        " coalesce(pg_get_expr(i.indpred, i.indrelid), ''), pg_relation_size(i.indexrelid),"
        " pg_get_indexdef(i.indexrelid), i.indisvalid,"
        " exists (select 1 from pg_stat_progress_create_index p"
        "  where p.index_relid = i.indexrelid),"
        " coalesce(s.idx_scan, 0), s.indexrelid is not null"
        " from pg_index i join pg_class ci on ci.oid = i.indexrelid"
        " join pg_class ct on ct.oid = i.indrelid join pg_namespace n on n.oid = ct.relnamespace"
        " join pg_am am on am.oid = ci.relam"
        " left join pg_stat_user_indexes s on s.indexrelid = i.indexrelid"
        " where n.nspname not in ('pg_catalog', 'information_schema')"
        " and n.nspname not like 'pg_toast%'"
    )
    infos = [_Index(*row) for row in indexes]
    duplicates = _duplicates([i for i in infos if i.valid])
    since = await session.rows(
        "select stats_reset, pg_is_in_recovery() from pg_stat_database"
        " where datname = current_database()"
    )
    reset = since[0][0] if since else None
    replica = bool(since[0][1]) if since else False
    stats_since = reset.isoformat() if reset is not None else "the statistics were never reset"
    for covered, covering in duplicates:
        out.append(
            finding(
                Severity.warning,
                f"Duplicate index {covered.name}: {covering.name} covers its columns",
                covered.name,
                {
                    "size_bytes": covered.size_bytes,
                    "table": covered.table,
                    "index_definition": excerpt(covered.definition),
                    "covered_by": excerpt(covering.definition),
                    "idx_scans": covered.scans,
                },
                f"DROP INDEX CONCURRENTLY {covered.quoted}; ({covering.name} serves the same "
                f"lookups; the drop frees {format_size(covered.size_bytes)} and makes writes "
                "cheaper.)",
                float(covered.size_bytes),
            )
        )
    reported = {c.oid for c, _ in duplicates}
    for index in infos:
        if not index.valid and not index.building:
            out.append(
                finding(
                    Severity.warning,
                    f"Invalid index {index.name}: PostgreSQL maintains it but never uses it",
                    index.name,
                    {
                        "size_bytes": index.size_bytes,
                        "table": index.table,
                        "index_definition": excerpt(index.definition),
                    },
                    f"REINDEX INDEX CONCURRENTLY {index.quoted}; to rebuild it (a failed or "
                    "cancelled CREATE INDEX CONCURRENTLY leaves an invalid index behind"
                    + ("; a UNIQUE one fails again until the duplicate rows are gone" if
                       index.constrains else "")
                    + f"), or DROP INDEX CONCURRENTLY {index.quoted}; if it is not wanted.",
                    float(index.size_bytes),
                )
            )  # fmt: skip
        elif (
            index.valid
            and index.has_stats
            and index.scans == 0
            and not index.constrains
            and index.oid not in reported
        ):
            note = (
                " This server is a replica: check that the primary and the other replicas do "
                "not use it either."
                if replica
                else " If replicas serve reads, check that they do not use it either."
            )
            out.append(
                finding(
                    Severity.info,
                    f"Unused index {index.name} ({format_size(index.size_bytes)})",
                    index.name,
                    {
                        "size_bytes": index.size_bytes,
                        "idx_scans": 0,
                        "table": index.table,
                        "index_definition": excerpt(index.definition),
                        "stats_since": stats_since,
                    },
                    f"No scan has used it since the statistics were reset ({stats_since}): "
                    f"DROP INDEX CONCURRENTLY {index.quoted}; saves "
                    f"{format_size(index.size_bytes)} and write work.{note}",
                    float(index.size_bytes),
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class _Index:
    oid: int
    table_oid: int
    name: str
    quoted: str
    table: str
    method: str
    keys: list[int]
    classes: list[int]
    collations: list[int]
    options: list[int]
    key_columns: int
    all_columns: int
    constrains: bool
    """Unique, primary key or behind a constraint: not to be dropped as unused."""
    expressions: str
    predicate: str
    size_bytes: int
    definition: str
    valid: bool
    building: bool
    scans: int
    has_stats: bool


def _covers(big: _Index, small: _Index) -> bool:
    """Does ``big`` serve every lookup ``small`` serves (same method, predicate and
    expressions; small's key columns a leading part of big's)?"""
    n = small.key_columns
    if (
        big.oid == small.oid
        or big.table_oid != small.table_oid
        or big.method != small.method
        or big.predicate != small.predicate
        or big.expressions != small.expressions
        or small.all_columns != n
        or n > big.key_columns
        or (big.method != "btree" and n != big.key_columns)
    ):
        return False
    return (
        big.keys[:n] == small.keys[:n]
        and big.classes[:n] == small.classes[:n]
        and big.collations[:n] == small.collations[:n]
        and big.options[:n] == small.options[:n]
    )


def _duplicates(indexes: list[_Index]) -> list[tuple[_Index, _Index]]:
    """(covered, covering) pairs: each droppable index once. Of two identical indexes the
    newer one (larger oid) is the one to drop."""
    out: list[tuple[_Index, _Index]] = []
    for small in sorted(indexes, key=lambda i: i.oid):
        if small.constrains:
            continue
        for big in sorted(indexes, key=lambda i: (-i.key_columns, i.oid)):
            if not _covers(big, small):
                continue
            identical = big.key_columns == small.key_columns
            if identical and not big.constrains and big.oid > small.oid:
                continue  # keep the older of two identical indexes
            if any(c.oid == big.oid for c, _ in out):
                continue  # big is itself dropped: another covers small, or keep small
            out.append((small, big))
            break
    return out
