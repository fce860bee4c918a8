"""Missing indexes: big tables read by sequential scans, and the index the statements that
filter them need, checked by EXPLAIN and costed with HypoPG's hypothetical indexes.

Bounded reads: only tables of ``missing_index_min_rows`` rows or more are read from
pg_stat_user_tables, at most :data:`TABLE_LIMIT` of them (the most rows read by sequential
scans first); sizes are computed for the hot ones only; statement texts longer than
:data:`_pg_statements.TEXT_LIMIT` are not parsed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import psycopg
from psycopg import sql

from watchkeeper.advisors import _pg_sql
from watchkeeper.advisors._pg_common import (
    Counters,
    NoAnswer,
    Session,
    count,
    finding,
    one_line,
    rounded,
    window,
    yes_no,
)
from watchkeeper.advisors._pg_statements import StatementStats
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import plural

_PREPARED = "watchkeeper_advisor_statement"
TABLE_LIMIT = 1000
"""Tables read from pg_stat_user_tables at most."""
_THREAD_CHARS = 100_000
"""Statement text to parse beyond which the parsing runs in a thread, off the event loop."""


class Verdict(Enum):
    helps = "helps"
    """The plan reads the table sequentially (without HypoPG) or a hypothetical index
    makes it cheaper enough (with HypoPG)."""
    no = "no"
    unknown = "unknown"
    """EXPLAIN failed or timed out: nothing shows the index would help."""


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
    basis: str = ""
    """What shows the index helps (the plan, HypoPG's costs)."""
    analyze_note: str = ""

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
    statements_window: str,
) -> MissingIndexes:
    """``window_text`` is the window of the table counters, ``statements_window`` that of
    the statements' calls and times."""
    settings = session.settings
    out = MissingIndexes()
    rows = await session.rows(
        "select s.relid, s.schemaname, s.relname,"
        " quote_ident(s.schemaname) || '.' || quote_ident(s.relname),"
        " greatest(coalesce(s.n_live_tup, 0), c.reltuples::bigint, 0),"
        " coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0)"
        " from pg_stat_user_tables s join pg_class c on c.oid = s.relid"
        " where greatest(coalesce(s.n_live_tup, 0), c.reltuples::bigint, 0) >= %s"
        " order by s.seq_tup_read desc nulls last, s.relid limit %s",
        (settings.missing_index_min_rows, TABLE_LIMIT),
    )
    tables: dict[str, _Table] = {}
    for relid, schema, name, quoted, nrows, seq, seq_rows, idx in rows:
        key = f"{schema}.{name}"
        out.counters[key] = [float(count(seq)), float(count(seq_rows)), float(count(idx))]
        tables[key] = _Table(int(relid), str(schema), str(name), str(quoted), count(nrows),
                             0, 0, 0, 0)  # fmt: skip
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
    hot = hot[: settings.max_findings]
    if not hot:
        return out
    sizes: dict[int, int] = {
        int(relid): count(size)
        for relid, size in await session.rows(
            "select r, pg_table_size(r) from unnest(%s::oid[]) as r", ([t.relid for t in hot],)
        )
    }
    for table in hot:
        table.size_bytes = count(sizes.get(table.relid))
    hypopg = await _hypopg(session)
    parsed = await _parsed(statements, hot)
    for table in hot:
        candidates, unverified, explained = await _candidates(session, table, parsed, hypopg)
        for candidate in candidates:
            for s in candidate.statements:
                out.index_for.setdefault(s.key, candidate.create)
            out.findings.append(
                _missing_finding(candidate, hypopg is not None, window_text, statements_window)
            )
        for candidate in unverified:
            out.findings.append(_unverified_finding(candidate, window_text, statements_window))
        if not candidates and not unverified:
            out.findings.append(_seq_scans_finding(table, explained, len(statements), window_text))
    return out


async def _parsed(
    statements: list[StatementStats], hot: list[_Table]
) -> list[tuple[StatementStats, _pg_sql.Statement]]:
    """The statements that name a hot table, parsed (texts cut short are left out: their
    WHERE clause may be cut too). In a thread when there is much text to read."""
    names = {t.name.lower() for t in hot}
    texts = [
        s
        for s in statements
        if s.query and not s.truncated and any(n in s.query.lower() for n in names)
    ]

    def parse() -> list[tuple[StatementStats, _pg_sql.Statement]]:
        out: list[tuple[StatementStats, _pg_sql.Statement]] = []
        for s in texts:
            statement = _pg_sql.parse(s.query)
            if statement is not None:
                out.append((s, statement))
        return out

    if sum(len(s.query) for s in texts) > _THREAD_CHARS:
        return await asyncio.to_thread(parse)
    return parse()


async def _hypopg(session: Session) -> str | None:
    found = await session.rows(
        "select quote_ident(n.nspname) from pg_extension e"
        " join pg_namespace n on n.oid = e.extnamespace where e.extname = 'hypopg'"
    )
    return str(found[0][0]) if found else None


async def _candidates(
    session: Session,
    table: _Table,
    parsed: list[tuple[StatementStats, _pg_sql.Statement]],
    hypopg: str | None,
) -> tuple[list[_Candidate], list[_Candidate], int]:
    """The indexes the statements filtering ``table`` would use and EXPLAIN shows would
    help; those EXPLAIN could not judge (failed, timed out); and how many statements were
    EXPLAINed to a verdict."""
    columns = {
        str(name): str(quoted)
        for name, quoted in await session.rows(
            "select attname, quote_ident(attname) from pg_attribute"
            " where attrelid = %s and attnum > 0 and not attisdropped",
            (table.relid,),
        )
    }
    existing = [
        (str(r[0]), [str(c) if c is not None else None for c in r[1]])
        for r in await session.rows(
            "select am.amname, array(select a.attname from unnest(i.indkey::int2[])"
            " with ordinality k(attnum, n) left join pg_attribute a on a.attrelid = i.indrelid"
            " and a.attnum = k.attnum where k.n <= i.indnkeyatts order by k.n)"
            " from pg_index i join pg_class c on c.oid = i.indexrelid"
            " join pg_am am on am.oid = c.relam"
            " where i.indrelid = %s and i.indisvalid and i.indpred is null",
            (table.relid,),
        )
    ]
    found: dict[tuple[str, ...], _Candidate] = {}
    unverified: dict[tuple[str, ...], _Candidate] = {}
    rejected: set[tuple[str, ...]] = set()
    attempts = explained = 0
    for stats, statement in parsed:
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
        if indexed(existing, *statement.key_columns(ref)):
            continue
        key = tuple(wanted)
        if key in rejected:
            continue
        if key in found:
            found[key].statements.append(stats)
            continue
        if attempts >= session.settings.missing_index_statements:
            if key in unverified:
                unverified[key].statements.append(stats)
            continue
        candidate = _Candidate(table, wanted, [columns[c] for c in wanted], [stats])
        attempts += 1
        verdict = await _explain(session, candidate, stats, statement, ref, hypopg)
        if verdict is Verdict.helps:
            explained += 1
            earlier = unverified.pop(key, None)
            found[key] = candidate
            if earlier is not None:
                candidate.statements.extend(earlier.statements)
        elif verdict is Verdict.no:
            explained += 1
            rejected.add(key)
            unverified.pop(key, None)
        elif key in unverified:
            unverified[key].statements.append(stats)
        else:
            unverified[key] = candidate
    merged = _merged(list(found.values()))
    unsure = [
        c
        for c in unverified.values()
        if not any(m.columns[: len(c.columns)] == c.columns for m in merged)
    ]
    return merged, unsure, explained


def indexed(
    existing: list[tuple[str, list[str | None]]], equal: list[str], last: str | None
) -> bool:
    """Does an index serve these filters already: a btree whose leading columns are the
    equality columns (in any order) followed by the range column ``last``, or a hash index
    on the one equality column? (A BRIN, GIN or GiST index, an index on an expression or a
    partial one does not count.)"""
    n = len(equal)
    for method, keys in existing:
        if method == "btree":
            if len(keys) < n + (last is not None) or set(keys[:n]) != set(equal):
                continue
            if last is not None and keys[n] != last:
                continue
            return True
        if method == "hash" and last is None and keys == equal and n == 1:
            return True
    return False


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
) -> Verdict:
    """EXPLAIN the statement's generic plan (and with a hypothetical index when HypoPG is
    there) in a read-only transaction that is rolled back. :attr:`Verdict.helps` when HypoPG's
    hypothetical index makes the plan cheaper enough, or without HypoPG the plan reads the
    table sequentially; :attr:`Verdict.unknown` when the statement could not be EXPLAINed
    (permissions, a lock or statement timeout, parameters of no known type)."""
    text = stats.query.strip().rstrip(";").strip()
    if any(t.text == ";" for t in _pg_sql.tokens(text)):
        candidate.explain_error = "a statement of several commands is not EXPLAINed"
        return Verdict.unknown
    connection = session.connection
    milliseconds = max(100, int(1000 * min(session.settings.explain_timeout_s, session.timeout)))
    table = candidate.table
    hung = False
    shown = False  # the plan (or HypoPG) has shown that the index helps
    try:
        await session.rows("begin read only")
        await session.rows(f"set local statement_timeout = {milliseconds}")
        await session.rows("set local plan_cache_mode = force_generic_plan")
        params = await _prepare(session, text)
        nulls = sql.SQL(", ").join([sql.NULL] * params)
        plan = await _plan(session, nulls if params else None, analyze=False)
        if hypopg is None and not _seq_scan(plan, table.schema, table.name):
            return Verdict.no  # (with HypoPG the costs decide: an index scan filtering most
            # rows away, as for ORDER BY id LIMIT, reads much of the table too)
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
                return Verdict.no
            candidate.basis = (
                f"HypoPG: with a hypothetical index the plan's cost is {with_index:.0f} "
                f"instead of {without:.0f}"
            )
        else:
            candidate.basis = (
                "EXPLAIN: the plan reads the table sequentially (CREATE EXTENSION hypopg "
                "would let the advisor estimate the saving)"
            )
        shown = True
        if session.analyze and statement.read_only:
            if await _plain_tables(session, statement.relations):
                values = await _samples(session, table, statement.params_of(ref), params)
                await session.rows("set local plan_cache_mode = force_custom_plan")
                actual = await _plan(session, values, analyze=True)
                candidate.costs["actual_ms"] = rounded(float(actual.get("Execution Time", 0.0)), 3)
                candidate.costs["actual_rows"] = float(actual.get("Actual Rows", 0))
            else:
                candidate.analyze_note = (
                    "not run: the statement reads a view, a foreign table or a name that is "
                    "no table, which could call any function"
                )
        return Verdict.helps
    except psycopg.errors.QueryCanceled:
        what = "EXPLAIN ANALYZE" if shown else "EXPLAIN"
        candidate.explain_error = f"{what} went over its statement timeout"
        return Verdict.helps if shown else Verdict.unknown
    except psycopg.Error as exc:
        if connection.broken:
            raise
        what = "EXPLAIN ANALYZE" if shown else "EXPLAIN"
        candidate.explain_error = f"{what} failed: {one_line(exc)}"
        return Verdict.helps if shown else Verdict.unknown
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


async def _plain_tables(session: Session, relations: list[_pg_sql.TableRef]) -> bool:
    """Is every relation the statement names a table, partitioned table or materialized
    view (no view, whose query could call any function; no foreign table)? A name that
    resolves to nothing counts against."""
    if not relations:
        return False
    found = await session.rows(
        "select bool_and(coalesce(c.relkind in ('r', 'p', 'm'), false))"
        " from unnest(%s::text[], %s::text[]) as r(nsp, rel)"
        " left join pg_class c on c.oid = to_regclass(case when r.nsp is null"
        "  then quote_ident(r.rel) else quote_ident(r.nsp) || '.' || quote_ident(r.rel) end)",
        ([r.schema for r in relations], [r.name for r in relations]),
    )
    return bool(found and found[0][0])


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


def _base_evidence(table: _Table, window_text: str) -> Evidence:
    return {
        "table_rows": table.rows,
        "size_bytes": table.size_bytes,
        "seq_scans": table.seq_scans,
        "idx_scans": table.idx_scans,
        "rows_read_by_seq_scans": table.seq_rows,
        "seq_scan_share_pct": rounded(table.seq_share_pct),
        "window": window_text,
    }


def _candidate_evidence(
    candidate: _Candidate, window_text: str, statements_window: str
) -> Evidence:
    calls = sum(s.calls for s in candidate.statements)
    total_ms = sum(s.total_ms for s in candidate.statements)
    explained = candidate.statements[0]  # the one EXPLAINed; merged ones follow
    evidence = _base_evidence(candidate.table, window_text)
    evidence |= {
        "columns": ", ".join(candidate.columns),
        "statements": len(candidate.statements),
        "calls": calls,
        "total_ms": rounded(total_ms),
        "mean_ms": rounded(total_ms / calls if calls else 0.0, 3),
        "query": _pg_sql.masked(explained.query),
        "queryid": explained.queryid,
        "statements_window": statements_window,
    }
    for name, value in candidate.costs.items():
        evidence[name] = rounded(value)
    without = candidate.costs.get("cost_without_index")
    with_index = candidate.costs.get("cost_with_index")
    if without and with_index is not None:
        evidence["cost_reduction_pct"] = rounded(100.0 * (without - with_index) / without, 1)
    if candidate.explain_error:
        evidence["explain_error"] = candidate.explain_error
    if candidate.analyze_note:
        evidence["explain_analyze"] = candidate.analyze_note
    return evidence


def _missing_finding(
    candidate: _Candidate, hypopg: bool, window_text: str, statements_window: str
) -> Finding:
    """A warning whose recommendation is the CREATE INDEX alone (CONCURRENTLY builds it
    without blocking writes); what shows it helps is in the evidence."""
    table = candidate.table
    evidence = _candidate_evidence(candidate, window_text, statements_window)
    evidence["verified_by"] = candidate.basis
    evidence["hypopg_installed"] = yes_no(hypopg)
    return finding(
        Severity.warning,
        f"Missing index on {table.schema}.{table.name} ({', '.join(candidate.columns)}): "
        f"{plural(table.seq_scans, 'sequential scan')} of {plural(table.rows, 'row')}",
        f"{table.schema}.{table.name}",
        evidence,
        candidate.create,
        float(table.seq_rows),
    )


def _unverified_finding(candidate: _Candidate, window_text: str, statements_window: str) -> Finding:
    table = candidate.table
    columns = ", ".join(candidate.columns)
    return finding(
        Severity.info,
        f"Index on {table.schema}.{table.name} ({columns}) could not be verified with EXPLAIN: "
        f"{plural(table.seq_scans, 'sequential scan')} of {plural(table.rows, 'row')}",
        f"{table.schema}.{table.name}",
        _candidate_evidence(candidate, window_text, statements_window),
        f"The statements filter {table.quoted} on {columns}, but EXPLAIN could not show that "
        "an index would be used (see explain_error). Run EXPLAIN (ANALYZE, BUFFERS) on the "
        "statement with typical values; if it reads the table sequentially, create the "
        f"index: {candidate.create}",
        float(table.seq_rows) / 2,
    )


def _seq_scans_finding(table: _Table, explained: int, statements: int, window_text: str) -> Finding:
    evidence = _base_evidence(table, window_text)
    evidence["statements_explained"] = explained
    if explained:
        return finding(
            Severity.info,
            f"Sequential scans on {table.schema}.{table.name} ({plural(table.rows, 'row')}), "
            "but no simple index would make its statements cheaper",
            f"{table.schema}.{table.name}",
            evidence,
            "The statements filtering this table were EXPLAINed: they do not read it "
            "sequentially, or an index on their WHERE columns would not make them cheaper. If "
            "the scans come from reports or batch jobs that is expected; otherwise find the "
            "statements reading it whole with EXPLAIN (ANALYZE, BUFFERS).",
            float(table.seq_rows),
        )
    evidence["columns"] = "unknown"
    why = (
        "no statement read from pg_stat_statements filters it on plain columns"
        if statements
        else "pg_stat_statements gave no statement to read"
    )
    return finding(
        Severity.info,
        f"Sequential scans on {table.schema}.{table.name}: {plural(table.seq_scans, 'scan')} "
        f"of {plural(table.rows, 'row')}; the column to index is unknown",
        f"{table.schema}.{table.name}",
        evidence,
        f"The advisor cannot tell which column an index on {table.quoted} needs: {why} (or "
        "the statements' WHERE is more than column = value comparisons joined by AND). Find "
        "the statements that read it whole (pg_stat_statements, or log_min_duration_statement "
        "and EXPLAIN) and index the columns their WHERE clause filters.",
        float(table.seq_rows),
    )
