"""Indexes that cost without paying: unused, duplicate (covered by another) and invalid.

Bounded reads: the catalog facts of at most :data:`INDEX_LIMIT` indexes are read (the
largest by ``relpages`` first); sizes and definitions (``pg_relation_size``,
``pg_get_indexdef``) only of the indexes reported.

Partitioned indexes (``relkind = 'I'``): one has no storage or statistics of its own, so
its size and scans are its leaf indexes'; it is dropped with a plain DROP INDEX
(CONCURRENTLY is refused) and an invalid one is made valid by attaching an index of each
partition that lacks one (``ALTER INDEX ... ATTACH PARTITION``), not by REINDEX. An index
attached to a partitioned one cannot be dropped on its own and is never suggested for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from watchkeeper.advisors._pg_common import Session, count, excerpt, finding, yes_no
from watchkeeper.findings import Finding, Severity
from watchkeeper.units import format_size

INDEX_LIMIT = 5000
"""Indexes read from the catalogs at most."""


async def unused_duplicate_invalid(session: Session) -> list[Finding]:
    out: list[Finding] = []
    partitions = session.version_num >= 120000  # pg_partition_tree
    leaf_scans = (
        "(select coalesce(sum(u.idx_scan), 0)::bigint from pg_partition_tree(i.indexrelid) t"
        " join pg_stat_user_indexes u on u.indexrelid = t.relid where t.isleaf)"
        if partitions
        else "0"
    )
    leaf_stats = (
        "(select count(*) > 0 and count(*) = count(u.indexrelid)"
        " from pg_partition_tree(i.indexrelid) t"
        " left join pg_stat_user_indexes u on u.indexrelid = t.relid where t.isleaf)"
        if partitions
        else "false"
    )
    rows = await session.rows(
        "select i.indexrelid, i.indrelid, n.nspname || '.' || ci.relname,"
        " quote_ident(n.nspname) || '.' || quote_ident(ci.relname),"
        " n.nspname || '.' || ct.relname, am.amname, i.indkey::int2[], i.indclass::oid[],"
        " i.indcollation::oid[], i.indoption::int2[], i.indnkeyatts, i.indnatts,"
        " i.indisunique or i.indisprimary"
        "  or exists (select 1 from pg_constraint k where k.conindid = i.indexrelid),"
        " coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),"
        " coalesce(pg_get_expr(i.indpred, i.indrelid), ''), i.indisvalid,"
        " exists (select 1 from pg_stat_progress_create_index p"
        "  where p.index_relid = i.indexrelid),"
        f" case when ci.relkind = 'I' then {leaf_scans} else coalesce(s.idx_scan, 0) end,"
        f" case when ci.relkind = 'I' then {leaf_stats} else s.indexrelid is not null end,"
        " ci.relkind = 'I',"
        " exists (select 1 from pg_inherits h where h.inhrelid = i.indexrelid)"
        " from pg_index i join pg_class ci on ci.oid = i.indexrelid"
        " join pg_class ct on ct.oid = i.indrelid join pg_namespace n on n.oid = ct.relnamespace"
        " join pg_am am on am.oid = ci.relam"
        " left join pg_stat_user_indexes s on s.indexrelid = i.indexrelid"
        " where n.nspname not in ('pg_catalog', 'information_schema')"
        " and n.nspname not like 'pg_toast%%'"
        " order by ci.relpages desc, i.indexrelid limit %s",
        (INDEX_LIMIT,),
    )
    infos = [_Index(*row) for row in rows]
    duplicates = _duplicates([i for i in infos if i.valid])
    reported = {c.oid for c, _ in duplicates}
    invalid = [i for i in infos if not i.valid and not i.building]
    unused = [
        i
        for i in infos
        if i.valid
        and i.has_stats
        and i.scans == 0
        and not i.constrains
        and not i.attached
        and i.oid not in reported
    ]
    wanted = {i.oid for i in invalid + unused} | reported | {b.oid for _, b in duplicates}
    details = await _details(session, sorted(wanted), partitions)

    def detailed(index: _Index) -> _Index:
        size, definition = details.get(index.oid, (0, ""))
        return replace(index, size_bytes=size, definition=definition)

    since = await session.rows(
        "select stats_reset, pg_is_in_recovery() from pg_stat_database"
        " where datname = current_database()"
    )
    reset = since[0][0] if since else None
    replica = bool(since[0][1]) if since else False
    stats_since = reset.isoformat() if reset is not None else None
    window = (
        f"since the statistics were reset ({stats_since})"
        if stats_since
        else "since the server's statistics began"
    )
    for small, big in duplicates:
        covered, covering = detailed(small), detailed(big)
        out.append(
            finding(
                Severity.warning,
                f"Duplicate index {covered.name} ({format_size(covered.size_bytes)}): "
                f"{covering.name} covers its columns, dropping it makes writes cheaper",
                covered.name,
                {
                    "size_bytes": covered.size_bytes,
                    "table": covered.table,
                    "index_definition": excerpt(covered.definition),
                    "covered_by": excerpt(covering.definition),
                    "idx_scans": covered.scans,
                    "partitioned": yes_no(covered.partitioned),
                },
                _drop(covered),
                float(covered.size_bytes),
            )
        )
    for index in invalid:
        out.append(await _invalid(session, detailed(index)))
    for index in map(detailed, unused):
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
                    "partitioned": yes_no(index.partitioned),
                },
                f"No scan has used it {window}. Dropping it saves "
                f"{format_size(index.size_bytes)} and write work: {_drop(index)}{note}",
                float(index.size_bytes),
            )
        )
    return out


def _drop(index: _Index) -> str:
    """DROP INDEX CONCURRENTLY, or a plain DROP INDEX for a partitioned index (which refuses
    CONCURRENTLY; the plain drop locks the table and its partitions for a moment)."""
    if index.partitioned:
        return f"DROP INDEX {index.quoted};"
    return f"DROP INDEX CONCURRENTLY {index.quoted};"


async def _details(
    session: Session, oids: list[int], partitions: bool
) -> dict[int, tuple[int, str]]:
    """oid → (size in bytes, definition) of the indexes to report."""
    if not oids:
        return {}
    leaf_size = (
        "(select coalesce(sum(pg_relation_size(t.relid)), 0)::bigint"
        " from pg_partition_tree(c.oid) t where t.isleaf)"
        if partitions
        else "0"
    )
    rows = await session.rows(
        f"select c.oid, case when c.relkind = 'I' then {leaf_size}"
        " else pg_relation_size(c.oid) end, pg_get_indexdef(c.oid)"
        " from pg_class c where c.oid = any(%s::oid[])",
        (oids,),
    )
    return {int(oid): (count(size), str(definition or "")) for oid, size, definition in rows}


async def _invalid(session: Session, index: _Index) -> Finding:
    evidence: dict[str, Any] = {
        "size_bytes": index.size_bytes,
        "table": index.table,
        "index_definition": excerpt(index.definition),
        "partitioned": yes_no(index.partitioned),
    }
    if index.partitioned:
        return await _invalid_partitioned(session, index, evidence)
    unique = (
        "; a UNIQUE one fails again until the duplicate rows are gone" if index.constrains else ""
    )
    return finding(
        Severity.warning,
        f"Invalid index {index.name}: PostgreSQL maintains it but never uses it",
        index.name,
        evidence,
        f"Rebuild it: REINDEX INDEX CONCURRENTLY {index.quoted}; or, if it is not wanted, "
        f"drop it: DROP INDEX CONCURRENTLY {index.quoted}; (a failed or cancelled CREATE "
        f"INDEX CONCURRENTLY leaves an invalid index behind{unique}.)",
        float(index.size_bytes),
    )


async def _invalid_partitioned(
    session: Session, index: _Index, evidence: dict[str, Any]
) -> Finding:
    """A partitioned index is invalid while a partition has no index attached to it: the
    commands are, per partition, ATTACH of a matching index it already has, or CREATE INDEX
    (CONCURRENTLY on a plain partition) and ATTACH."""
    rows = await session.rows(
        "with parent as (select i.indisunique,"
        "  substring(pg_get_indexdef(i.indexrelid) from ' USING (.*)$') as tail"
        "  from pg_index i where i.indexrelid = %s)"
        " select quote_ident(pn.nspname) || '.' || quote_ident(pc.relname), pc.relkind = 'p',"
        " quote_ident(pn.nspname) || '.' || quote_ident(left(%s || '_' || pc.relname, 63)),"
        " quote_ident(left(%s || '_' || pc.relname, 63)),"
        " (select quote_ident(xn.nspname) || '.' || quote_ident(xc.relname)"
        "  from pg_index x join pg_class xc on xc.oid = x.indexrelid"
        "  join pg_namespace xn on xn.oid = xc.relnamespace"
        "  where x.indrelid = pc.oid and x.indisvalid"
        "  and x.indisunique = (select indisunique from parent)"
        "  and substring(pg_get_indexdef(x.indexrelid) from ' USING (.*)$')"
        "   = (select tail from parent)"
        "  and not exists (select 1 from pg_inherits h where h.inhrelid = x.indexrelid)"
        "  order by xc.oid limit 1),"
        " (select tail from parent), (select indisunique from parent)"
        " from pg_inherits t join pg_class pc on pc.oid = t.inhrelid"
        " join pg_namespace pn on pn.oid = pc.relnamespace"
        " where t.inhparent = %s and not exists (select 1 from pg_inherits h"
        "  join pg_index ci on ci.indexrelid = h.inhrelid"
        "  where h.inhparent = %s and ci.indrelid = t.inhrelid)"
        " order by pc.relname limit 50",
        (index.oid, index.short_name, index.short_name, index.table_oid, index.oid),
    )
    commands: list[str] = []
    for partition, nested, new_quoted, new_name, existing, tail, unique in rows:
        if existing:
            commands.append(f"ALTER INDEX {index.quoted} ATTACH PARTITION {existing};")
            continue
        if not tail:
            continue
        concurrently = "" if nested else " CONCURRENTLY"
        commands.append(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX{concurrently} {new_name} ON {partition}"
            f" USING {tail}; ALTER INDEX {index.quoted} ATTACH PARTITION {new_quoted};"
        )
    evidence["partitions_without_index"] = len(rows)
    if commands:
        advice = (
            "A partitioned index is not fixed by REINDEX: it becomes valid once every partition "
            "has an index attached to it. For the partitions without one: " + " ".join(commands)
        )
    else:
        advice = (
            "A partitioned index is not fixed by REINDEX: it becomes valid once every partition "
            "has a valid index attached to it (ALTER INDEX "
            f"{index.quoted} ATTACH PARTITION ...;). Its partitions' own indexes are invalid: "
            "fix those first (they are reported too)."
        )
    return finding(
        Severity.warning,
        f"Invalid partitioned index {index.name}: not every partition has its index",
        index.name,
        evidence,
        advice,
        float(index.size_bytes),
    )


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
    valid: bool
    building: bool
    scans: int
    has_stats: bool
    partitioned: bool
    """relkind 'I': the parent of the partitions' indexes."""
    attached: bool
    """A partition's index attached to a partitioned one: not to be dropped alone."""
    size_bytes: int = 0
    definition: str = ""

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else self.name


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
    newer one (larger oid) is the one to drop. An index attached to a partitioned one is
    never the one dropped (its parent is, when it is a duplicate)."""
    out: list[tuple[_Index, _Index]] = []
    for small in sorted(indexes, key=lambda i: i.oid):
        if small.constrains or small.attached:
            continue
        for big in sorted(indexes, key=lambda i: (-i.key_columns, i.oid)):
            if not _covers(big, small):
                continue
            identical = big.key_columns == small.key_columns
            if identical and not big.constrains and not big.attached and big.oid > small.oid:
                continue  # keep the older of two identical indexes
            if any(c.oid == big.oid for c, _ in out):
                continue  # big is itself dropped: another covers small, or keep small
            out.append((small, big))
            break
    return out
