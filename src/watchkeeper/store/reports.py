"""Reports: the structured report a check kind makes of a run (``Result.detail``: an audit's
grade, tests and findings), one row per run that made one, as JSON text.

A report is capped at ``MAX_BYTES`` when stored: a larger one keeps its summary keys and
says it was cut (``"truncated": true``), so a hostile target cannot grow the store through
what an audit quotes of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import schema

MAX_BYTES = 256 * 1024
_SUMMARY = ("target", "started_at", "elapsed_s", "grade", "score", "errors")


@dataclass(frozen=True, slots=True)
class Report:
    monitor: str
    at: float
    body: dict[str, Any]


def encode(detail: dict[str, Any]) -> str:
    """The JSON text of ``detail``, cut down to its summary past ``MAX_BYTES``."""
    text = json.dumps(detail, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text.encode()) <= MAX_BYTES:
        return text
    summary = {key: detail[key] for key in _SUMMARY if key in detail}
    findings = detail.get("findings")
    if isinstance(findings, list):
        kept: list[Any] = []
        size = len(json.dumps(summary, default=str))
        for finding in findings:
            size += len(json.dumps(finding, ensure_ascii=False, default=str)) + 1
            if size > MAX_BYTES // 2:
                break
            kept.append(finding)
        summary["findings"] = kept
    summary["truncated"] = True
    return json.dumps(summary, ensure_ascii=False, separators=(",", ":"), default=str)


def insert(connection: sa.Connection, rows: Sequence[tuple[int, float, str]]) -> None:
    """``(monitor_id, ts, body)`` rows."""
    if rows:
        connection.execute(
            schema.reports.insert(),
            [{"monitor_id": m, "ts": ts, "body": body} for m, ts, body in rows],
        )


def latest(connection: sa.Connection, names: Iterable[str]) -> dict[str, Report]:
    """The newest report of each monitor in ``names`` that has one."""
    r, m = schema.reports, schema.monitors
    wanted = list(names)
    if not wanted:
        return {}
    newest = (
        sa.select(r.c.monitor_id, sa.func.max(r.c.ts).label("ts"))
        .join(m, m.c.id == r.c.monitor_id)
        .where(m.c.name.in_(wanted))
        .group_by(r.c.monitor_id)
        .subquery()
    )
    rows = connection.execute(
        sa.select(m.c.name, r.c.ts, r.c.body)
        .join(newest, sa.and_(newest.c.monitor_id == r.c.monitor_id, newest.c.ts == r.c.ts))
        .join(m, m.c.id == r.c.monitor_id)
    )
    return {name: Report(name, ts, json.loads(body)) for name, ts, body in rows}


def history(connection: sa.Connection, monitor: str, limit: int) -> list[Report]:
    """The newest ``limit`` reports of ``monitor``, newest first."""
    r, m = schema.reports, schema.monitors
    rows = connection.execute(
        sa.select(r.c.ts, r.c.body)
        .join(m, m.c.id == r.c.monitor_id)
        .where(m.c.name == monitor)
        .order_by(r.c.ts.desc())
        .limit(limit)
    )
    return [Report(monitor, ts, json.loads(body)) for ts, body in rows]
