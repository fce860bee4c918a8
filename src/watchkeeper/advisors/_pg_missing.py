"""Missing indexes: big tables read by sequential scans, and the index the statements that
filter them need, checked by EXPLAIN and costed with HypoPG's hypothetical indexes."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from watchkeeper.advisors import _pg_sql
from watchkeeper.advisors._pg_common import (
    Counters,
    NoAnswer,
    Session,
    count,
    excerpt,
    finding,
    one_line,
    rounded,
    window,
)
from watchkeeper.advisors._pg_statements import StatementStats
from watchkeeper.findings import Evidence, Finding, Severity

_PREPARED = "watchkeeper_advisor_statement"


@dataclass(slots=True)
class _Table:
    relid: int
    schema: str
    name: str
    quoted: str
    rows: int
    size_bytes: int
    seq_scans: int
    seq_rows: int
    idx_scans: int

    @property
    def seq_share_pct(self) -> float:
        scans = self.seq_scans + self.idx_scans
        return 100.0 * self.seq_scans / scans if scans else 0.0


@dataclass(slots=True)
class _Candidate:
    table: _Table
    columns: list[str]
    quoted_columns: list[str]
    statements: list[StatementStats] = field(default_factory=list)
    """The statement EXPLAINed first, then the others this index serves."""
    costs: dict[str, float] = field(default_factory=dict)
    explain_error: str = ""

    @property
    def create(self) -> str:
        columns = ", ".join(self.quoted_columns)
        return f"CREATE INDEX CONCURRENTLY ON {self.table.quoted} ({columns});"


@dataclass(slots=True)
class MissingIndexes:
    findings: list[Finding] = field(default_factory=list)
    counters: Counters = field(default_factory=dict)
    """For the snapshot: schema.table → [seq_scan, seq_tup_read, idx_scan]."""
    index_for: dict[str, str] = field(default_factory=dict)
    """Statement key → the CREATE INDEX that would help it."""


async def missing(
    session: Session,
    statements: list[StatementStats],
    previous: Counters | None,
    window_text: str,
) -> MissingIndexes:
    settings = session.settings
    out = MissingIndexes()
    rows = await session.rows(
        "select s.relid, s.schemaname, s.relname,"
        " quote_ident(s.schemaname) || '.' || quote_ident(s.relname),"
        " greatest(coalesce(s.n_live_tup, 0), c.reltuples::bigint, 0), pg_table_size(s.relid),"
        " coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0)"
        " from pg_stat_user_tables s join pg_class c on c.oid = s.relid"
    )
    tables: dict[str, _Table] = {}
    for relid, schema, name, quoted, nrows, size, seq, seq_rows, idx in rows:
        key = f"{schema}.{name}"
        out.counters[key] = [float(count(seq)), float(count(seq_rows)), float(count(idx))]
        tables[key] = _Table(int(relid), str(schema), str(name), str(quoted), count(nrows),
                             count(size), 0, 0, 0)  # fmt: skip
    for key, (seq, seq_rows, idx) in window(out.counters, previous).items():
        table = tables[key]
        table.seq_scans, table.seq_rows, table.idx_scans = int(seq), int(seq_rows), int(idx)
    hot = [
        t
        for t in tables.values()
        if t.rows >= settings.missing_index_min_rows
        and t.seq_scans >= settings.missing_index_min_seq_scans
        and t.seq_rows / max(1, t.seq_scans) >= settings.missing_index_min_rows / 2
        and t.seq_share_pct >= settings.missing_index_min_seq_share_pct
    ]
    hot.sort(key=lambda t: t.seq_rows, reverse=True)
    hypopg = await _hypopg(session)
    parsed = [(s, _pg_sql.parse(s.query)) for s in statements]
    for table in hot[: settings.max_findings]:
        candidates, explained = await _candidates(session, table, parsed, hypopg)
        for candidate in candidates:
            for s in candidate.statements:
                out.index_for.setdefault(s.key, candidate.create)
            out.findings.append(_missing_finding(candidate, hypopg is not None, window_text))
        if not candidates:
            out.findings.append(_seq_scans_finding(table, explained, window_text))
    return out


async def _hypopg(session: Session) -> str | None:
    found = await session.rows(
        "select quote_ident(n.nspname) from pg_extension e"
        " join pg_namespace n on n.oid = e.extnamespace where e.extname = 'hypopg'"
    )
    return str(found[0][0]) if found else None


async def _candidates(
    session: Session,
    table: _Table,
    parsed: list[tuple[StatementStats, _pg_sql.Statement | None]],
    hypopg: str | None,
) -> tuple[list[_Candidate], int]:
    """The indexes the statements filtering ``table`` would use (and EXPLAIN agrees would
    help); and how many statements were EXPLAINed."""
    columns = {
        str(name): str(quoted)
        for name, quoted in await session.rows(
            "select attname, quote_ident(attname) from pg_attribute"
            " where attrelid = %s and attnum > 0 and not attisdropped",
            (table.relid,),
        )
    }
    existing = [
        [str(c) if c is not None else None for c in r[0]]
        for r in await session.rows(
            "select array(select a.attname from unnest(i.indkey::int2[]) with ordinality"
            " k(attnum, n) left join pg_attribute a on a.attrelid = i.indrelid"
            " and a.attnum = k.attnum where k.n <= i.indnkeyatts order by k.n)"
            " from pg_index i where i.indrelid = %s and i.indisvalid and i.indpred is null",
            (table.relid,),
        )
    ]
    found: dict[tuple[str, ...], _Candidate] = {}
    rejected: set[tuple[str, ...]] = set()
    explained = 0
    for stats, statement in parsed:
        if statement is None:
            continue
        ref = next(
            (
                t
                for t in statement.tables
                if t.name == table.name and t.schema in (None, table.schema)
            ),
            None,
        )
        if ref is None:
            continue
        wanted = statement.index_columns(ref)
        if not wanted or any(c not in columns for c in wanted):
            continue
        if any(
            index[: len(wanted)] and set(index[: len(wanted)]) == set(wanted) for index in existing
        ):
            continue
        key = tuple(wanted)
        if key in rejected:
            continue
        if key in found:
            found[key].statements.append(stats)
            continue
        if explained >= session.settings.missing_index_statements:
            continue
        candidate = _Candidate(table, wanted, [columns[c] for c in wanted], [stats])
        explained += 1
        verdict = await _explain(session, candidate, stats, statement, ref, hypopg)
        if verdict:
            found[key] = candidate
        else:
            rejected.add(key)
    return _merged(list(found.values())), explained


def _merged(candidates: list[_Candidate]) -> list[_Candidate]:
    """One index where another's columns lead it: (a, b) serves the lookups of (a) too."""
    out: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: len(c.columns), reverse=True):
        wider = next(
            (c for c in out if c.columns[: len(candidate.columns)] == candidate.columns), None
        )
        if wider is None:
            out.append(candidate)
        else:
            wider.statements.extend(candidate.statements)
    return out


async def _explain(
    session: Session,
    candidate: _Candidate,
    stats: StatementStats,
    statement: _pg_sql.Statement,
    ref: _pg_sql.TableRef,
    hypopg: str | None,
) -> bool:
    """EXPLAIN the statement's generic plan (and with a hypothetical index when HypoPG is
    there) in a read-only transaction that is rolled back. True when the index is worth
    suggesting: HypoPG's hypothetical index makes the plan cheaper enough, or without HypoPG
    the plan reads the table sequentially (or the statement cannot be EXPLAINed, and only
    its text speaks)."""
    text = stats.query.strip().rstrip(";").strip()
    if any(t.text == ";" for t in _pg_sql.tokens(text)):
        return False
    connection = session.connection
    milliseconds = max(100, int(1000 * min(session.settings.explain_timeout_s, session.timeout)))
    table = candidate.table
    hung = False
    try:
        await session.rows("begin read only")
        await session.rows(f"set local statement_timeout = {milliseconds}")
        await session.rows("set local plan_cache_mode = force_generic_plan")
        params = await _prepare(session, text)
        nulls = sql.SQL(", ").join([sql.NULL] * params)
        plan = await _plan(session, nulls if params else None, analyze=False)
        if hypopg is None and not _seq_scan(plan, table.schema, table.name):
            return False  # (with HypoPG the costs decide: an index scan filtering most rows
            # away, as for ORDER BY id LIMIT, reads much of the table too)
        without = float(plan.get("Total Cost", 0.0))
        candidate.costs["cost_without_index"] = without
        if hypopg is not None:
            create = f"CREATE INDEX ON {table.quoted} ({', '.join(candidate.quoted_columns)})"
            await session.rows(f"select 1 from {hypopg}.hypopg_create_index(%s)", (create,))
            await session.rows(f"deallocate {_PREPARED}")
            await _prepare(session, text)
            with_index = float((await _plan(session, nulls if params else None))["Total Cost"])
            await session.rows(f"select {hypopg}.hypopg_reset()")
            candidate.costs["cost_with_index"] = with_index
            if with_index > without * (1 - session.settings.hypopg_min_saving_pct / 100):
                return False
        if session.analyze and statement.read_only:
            values = await _samples(session, table, statement.params_of(ref), params)
            await session.rows("set local plan_cache_mode = force_custom_plan")
            actual = await _plan(session, values, analyze=True)
            candidate.costs["actual_ms"] = rounded(float(actual.get("Execution Time", 0.0)), 3)
            candidate.costs["actual_rows"] = float(actual.get("Actual Rows", 0))
        return True
    except psycopg.errors.QueryCanceled:
        candidate.explain_error = "EXPLAIN went over its statement timeout"
        return True
    except psycopg.Error as exc:
        if connection.broken:
            raise
        candidate.explain_error = f"EXPLAIN failed: {one_line(exc)}"
        return True
    except NoAnswer:
        hung = True
        raise
    finally:
        if not hung and not connection.broken:
            with contextlib.suppress(psycopg.Error):
                await session.rows("rollback")
            with contextlib.suppress(psycopg.Error):
                await session.rows(f"deallocate {_PREPARED}")
            if hypopg is not None:
                with contextlib.suppress(psycopg.Error):
                    await session.rows(f"select {hypopg}.hypopg_reset()")


async def _prepare(session: Session, text: str) -> int:
    """PREPARE the statement; the number of its parameters."""
    await session.rows(f"prepare {_PREPARED} as {text}")
    found = await session.rows(
        "select cardinality(parameter_types) from pg_prepared_statements where name = %s",
        (_PREPARED,),
    )
    return count(found[0][0]) if found else 0


async def _plan(
    session: Session, values: sql.Composable | None, *, analyze: bool = False
) -> dict[str, Any]:
    options = "analyze, format json" if analyze else "format json, verbose"
    query = sql.SQL("explain ({}) execute {}").format(sql.SQL(options), sql.Identifier(_PREPARED))
    if values is not None:
        query = sql.Composed([query, sql.SQL("("), values, sql.SQL(")")])
    text = query.as_string(session.connection)
    found = await session.rows(text)
    document = found[0][0]
    if isinstance(document, str):
        document = json.loads(document)
    top: dict[str, Any] = document[0]
    plan: dict[str, Any] = dict(top["Plan"])
    if "Execution Time" in top:
        plan["Execution Time"] = top["Execution Time"]
    return plan


def _seq_scan(plan: dict[str, Any], schema: str, name: str) -> bool:
    if (
        plan.get("Node Type") == "Seq Scan"
        and plan.get("Relation Name") == name
        and plan.get("Schema", schema) == schema
    ):
        return True
    return any(_seq_scan(child, schema, name) for child in plan.get("Plans", []))


async def _samples(
    session: Session, table: _Table, columns: dict[int, str], params: int
) -> sql.Composable | None:
    """Values for EXPLAIN ANALYZE: a common value of the column each parameter is compared
    with (from pg_stats, so the table itself is not read), NULL for the others."""
    if not params:
        return None
    values: list[sql.Composable] = []
    for n in range(1, params + 1):
        value: str | None = None
        column = columns.get(n)
        if column is not None:
            found = await session.rows(
                "select coalesce((most_common_vals::text::text[])[1],"
                " (histogram_bounds::text::text[])[1]) from pg_stats"
                " where schemaname = %s and tablename = %s and attname = %s",
                (table.schema, table.name, column),
            )
            value = str(found[0][0]) if found and found[0][0] is not None else None
        values.append(sql.Literal(value) if value is not None else sql.NULL)
    return sql.SQL(", ").join(values)


def _missing_finding(candidate: _Candidate, hypopg: bool, window_text: str) -> Finding:
    table = candidate.table
    calls = sum(s.calls for s in candidate.statements)
    total_ms = sum(s.total_ms for s in candidate.statements)
    explained = candidate.statements[0]  # the one EXPLAINed; merged ones follow
    evidence: Evidence = {
        "table_rows": table.rows,
        "size_bytes": table.size_bytes,
        "seq_scans": table.seq_scans,
        "idx_scans": table.idx_scans,
        "rows_read_by_seq_scans": table.seq_rows,
        "seq_scan_share_pct": rounded(table.seq_share_pct),
        "columns": ", ".join(candidate.columns),
        "statements": len(candidate.statements),
        "calls": calls,
        "total_ms": rounded(total_ms),
        "mean_ms": rounded(total_ms / calls if calls else 0.0, 3),
        "query": excerpt(explained.query),
        "window": window_text,
    }
    for name, value in candidate.costs.items():
        evidence[name] = rounded(value)
    if candidate.explain_error:
        evidence["explain_error"] = candidate.explain_error
    without = candidate.costs.get("cost_without_index")
    with_index = candidate.costs.get("cost_with_index")
    if without and with_index is not None:
        evidence["cost_reduction_pct"] = rounded(100.0 * (without - with_index) / without, 1)
    if without is not None and with_index is not None:
        how = (
            f"with it HypoPG estimates the plan's cost at {with_index:.0f} instead of {without:.0f}"
        )
    elif without is not None:
        how = "EXPLAIN shows the statement reading the whole table"
    else:
        how = "from the statement's WHERE clause"
    if not hypopg:
        how += "; CREATE EXTENSION hypopg would let the advisor estimate the saving"

    return finding(
        Severity.warning,
        f"Missing index on {table.schema}.{table.name} ({', '.join(candidate.columns)}): "
        f"{table.seq_scans} sequential scans of {table.rows} rows",
        f"{table.schema}.{table.name}",
        evidence,
        f"{candidate.create} ({how}; CONCURRENTLY builds it without blocking writes.)",
        float(table.seq_rows),
    )


def _seq_scans_finding(table: _Table, explained: int, window_text: str) -> Finding:
    evidence: Evidence = {
        "table_rows": table.rows,
        "size_bytes": table.size_bytes,
        "seq_scans": table.seq_scans,
        "idx_scans": table.idx_scans,
        "rows_read_by_seq_scans": table.seq_rows,
        "seq_scan_share_pct": rounded(table.seq_share_pct),
        "statements_explained": explained,
        "window": window_text,
    }
    if explained:
        return finding(
            Severity.info,
            f"Sequential scans on {table.schema}.{table.name} ({table.rows} rows), but no "
            "simple index would make its statements cheaper",
            f"{table.schema}.{table.name}",
            evidence,
            "The statements filtering this table were EXPLAINed: they do not read it "
            "sequentially, or an index on their WHERE columns would not make them cheaper. If "
            "the scans come from reports or batch jobs that is expected; otherwise find the "
            "statements reading it whole with EXPLAIN (ANALYZE, BUFFERS).",
            float(table.seq_rows),
        )
    return finding(
        Severity.warning,
        f"Sequential scans on {table.schema}.{table.name}: {table.seq_scans} scans of "
        f"{table.rows} rows",
        f"{table.schema}.{table.name}",
        evidence,
        f"Find the statements that read {table.quoted} without an index (pg_stat_statements, "
        "or log_min_duration_statement) and add an index on the columns their WHERE filters: "
        f"CREATE INDEX CONCURRENTLY ON {table.quoted} (column);",
        float(table.seq_rows),
    )
