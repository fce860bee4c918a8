"""Restore drills on paper: one drill (``wk drill NAME``), a drill monitor's history
(``wk drill history NAME``) and the evidence report an auditor asks for (``wk drill report``:
the last successful restore of each backup, its RTO and RPO against the objectives).

Everything shown comes from a drill's record (``DrillRecord.as_json``), which quotes file
names, tool output and server errors: text from outside, escaped for each format. In the
terminal and in Markdown its control characters are shown, never sent (``printable.visible``:
an ESC sequence or a newline in a file or table name stays one inert line); Rich markup is
never interpreted, Markdown specials are backslashed and the log sits in a fence longer than
any run of backticks in it; HTML is escaped.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchkeeper.backup.evidence import Evidence, missed_objective
from watchkeeper.printable import visible
from watchkeeper.report.html import page, table, tile
from watchkeeper.units import format_duration, format_size

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def md(text: object) -> str:
    """``text`` as literal Markdown: control characters shown as escapes (so it is one
    line), every special character backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", shown(text))


def shown(text: object) -> str:
    """``text`` from a record, fit for a terminal: its control characters made visible."""
    return visible(str(text))


_BACKTICKS = re.compile(r"`+")


def fenced(lines: Sequence[object]) -> list[str]:
    """``lines`` as a fenced code block that none of them can end: each made visible (one
    line each), the fence one backtick longer than the longest run of them in the text."""
    texts = [shown(line) for line in lines]
    longest = max((len(run) for text in texts for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *texts, fence]


def _warning_kind(warning: object) -> str:
    """``objective`` for a missed RTO or RPO, ``warning`` for anything else (a clean-up)."""
    return "objective" if missed_objective(str(warning)) else "warning"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _seconds(value: float | None) -> str:
    return "—" if value is None else format_duration(value)


def _format(backup: dict[str, Any]) -> str:
    packed = backup.get("compression")
    return shown(backup.get("format")) + ("" if packed in (None, "none") else f", {shown(packed)}")


def _mark(ok: object) -> str:
    return f'<span class="{"pass" if ok else "fail"}">{"✓" if ok else "✗"}</span>'


def verdict(record: dict[str, Any]) -> str:
    if not record.get("ok"):
        return "failed"
    return "passed, with warnings" if record.get("warnings") else "passed"


# -- one drill --------------------------------------------------------------------------
def print_drill(console: Console, record: dict[str, Any]) -> None:
    ok = bool(record.get("ok"))
    style = (
        "bold green" if ok and not record.get("warnings") else "bold yellow" if ok else "bold red"
    )
    head = Text()
    head.append(f"{shown(record.get('monitor'))}: ", style="bold")
    head.append(verdict(record), style=style)
    console.print(head)
    backup = record.get("backup") or {}
    if backup:
        console.print(
            Text(
                f"  backup   {shown(backup.get('name'))} ({_format(backup)}"
                f", {format_size(backup.get('size') or 0)}), made {_when(backup.get('mtime'))}"
            )
        )
    if record.get("target"):
        console.print(Text(f"  into     {shown(record['target'])}"))
    objectives = record.get("objectives") or {}
    console.print(
        Text(
            f"  RTO      {_seconds(record.get('rto_s'))}"
            + (
                f" (objective {_seconds(objectives.get('rto_s'))})"
                if objectives.get("rto_s")
                else ""
            )
        )
    )
    console.print(
        Text(
            f"  RPO      {_seconds(record.get('rpo_s'))}"
            + (
                f" (objective {_seconds(objectives.get('rpo_s'))})"
                if objectives.get("rpo_s")
                else ""
            )
        )
    )
    timings = record.get("timings") or {}
    if timings:
        steps = ", ".join(f"{shown(k)} {format_duration(v)}" for k, v in timings.items())
        console.print(Text(f"  timings  {steps}", style="dim"))
    for check in record.get("checks") or []:
        mark = Text(
            "  ✓ " if check.get("ok") else "  ✗ ", style="green" if check.get("ok") else "red"
        )
        mark.append(f"{shown(check.get('check'))}: {shown(check.get('detail'))}")
        console.print(mark)
    for failure in record.get("failures") or []:
        if not any(failure.endswith(str(c.get("detail"))) for c in record.get("checks") or []):
            console.print(Text(f"  ✗ {shown(failure)}", style="red"))
    for warning in record.get("warnings") or []:
        console.print(Text(f"  ! {shown(warning)}", style="yellow"))


def drill_markdown(record: dict[str, Any]) -> str:
    backup = record.get("backup") or {}
    objectives = record.get("objectives") or {}
    lines = [
        f"# Restore drill of {md(record.get('monitor'))}: {verdict(record)}",
        "",
        f"- Drill: {md(record.get('id'))}, {_when(record.get('started_at'))}",
        f"- Backup: {md(backup.get('name', '—'))} ({md(backup.get('format', '—'))}, "
        f"{format_size(backup.get('size') or 0)}), made {_when(backup.get('mtime'))}",
        f"- Restored into: {md(record.get('target') or '—')}",
        f"- RTO: {_seconds(record.get('rto_s'))}"
        + (f" (objective {_seconds(objectives.get('rto_s'))})" if objectives.get("rto_s") else ""),
        f"- RPO: {_seconds(record.get('rpo_s'))}"
        + (f" (objective {_seconds(objectives.get('rpo_s'))})" if objectives.get("rpo_s") else ""),
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    for check in record.get("checks") or []:
        lines.append(
            f"| {md(check.get('check'))} | {'pass' if check.get('ok') else 'FAIL'} | "
            f"{md(check.get('detail'))} |"
        )
    for failure in record.get("failures") or []:
        lines.append(f"| drill | FAIL | {md(failure)} |")
    for warning in record.get("warnings") or []:
        lines.append(f"| {_warning_kind(warning)} | warning | {md(warning)} |")
    counts = record.get("counts") or {}
    if counts:
        lines += ["", "| table | rows |", "|---|---:|"]
        lines += [f"| {md(name)} | {rows:,} |" for name, rows in sorted(counts.items())]
    log = record.get("log") or []
    if log:
        lines += ["", "## Log", ""]
        lines += fenced(log)
    return "\n".join(lines) + "\n"


def _drill_card(record: dict[str, Any]) -> str:
    backup = record.get("backup") or {}
    objectives = record.get("objectives") or {}
    css = (
        "pass"
        if record.get("ok") and not record.get("warnings")
        else ("warn" if record.get("ok") else "fail")
    )
    tiles = tile("result", verdict(record), css)
    tiles += tile("RTO", _seconds(record.get("rto_s")))
    tiles += tile("RPO", _seconds(record.get("rpo_s")))
    if objectives.get("rto_s"):
        tiles += tile("RTO objective", _seconds(objectives.get("rto_s")))
    if objectives.get("rpo_s"):
        tiles += tile("RPO objective", _seconds(objectives.get("rpo_s")))
    rows = [
        [
            _mark(c.get("ok")),
            html.escape(str(c.get("check"))),
            html.escape(str(c.get("detail"))),
        ]
        for c in record.get("checks") or []
    ]
    rows += [
        ['<span class="fail">✗</span>', "drill", html.escape(str(f))]
        for f in record.get("failures") or []
        if not any(str(f).endswith(str(c.get("detail"))) for c in record.get("checks") or [])
    ]
    rows += [
        ['<span class="warn">!</span>', _warning_kind(w), html.escape(str(w))]
        for w in record.get("warnings") or []
    ]
    about = (
        f"{html.escape(str(backup.get('name', '—')))} · {html.escape(_format(backup))}"
        f" · {format_size(backup.get('size') or 0)} · made {_when(backup.get('mtime'))}"
        f" · restored into {html.escape(str(record.get('target') or '—'))}"
    )
    log = "\n".join(str(line) for line in record.get("log") or [])
    return (
        f'<section class="card"><h2>{html.escape(str(record.get("monitor")))} · '
        f"{_when(record.get('started_at'))}</h2>"
        f'<p class="muted">{about}</p><div class="tiles">{tiles}</div>'
        + (table(["", "check", "detail"], rows) if rows else "")
        + (f"<details><summary>Log</summary><pre>{html.escape(log)}</pre></details>" if log else "")
        + "</section>"
    )


def drill_html(record: dict[str, Any]) -> str:
    return page(
        f"Restore drill of {record.get('monitor')}",
        f"<h1>Restore drill of {html.escape(str(record.get('monitor')))}</h1>"
        + _drill_card(record),
        [],
        note="",
    )


# -- history ----------------------------------------------------------------------------
def print_history(console: Console, name: str, records: Sequence[dict[str, Any]]) -> None:
    if not records:
        console.print(
            Text(f"{shown(name)}: no drill recorded yet (wk drill {shown(name)} runs one now)")
        )
        return
    grid = Table(title=Text(f"Drills of {shown(name)}"), show_edge=False)
    for column in ("when", "result", "backup", "RTO", "RPO", "rows", "reason"):
        grid.add_column(column, justify="right" if column in ("RTO", "RPO", "rows") else "left")
    for record in records:
        counts = record.get("counts") or {}
        reason = (record.get("failures") or record.get("warnings") or [""])[0]
        grid.add_row(
            _when(record.get("started_at")),
            Text(verdict(record), style="green" if record.get("ok") else "red"),
            Text(shown((record.get("backup") or {}).get("name", "—"))),
            _seconds(record.get("rto_s")),
            _seconds(record.get("rpo_s")),
            f"{sum(counts.values()):,}" if counts else "—",
            Text(shown(reason)),
        )
    console.print(grid)


def history_markdown(name: str, records: Sequence[dict[str, Any]]) -> str:
    lines = [f"# Drills of {md(name)}", "", "| when | result | backup | RTO | RPO | reason |"]
    lines.append("|---|---|---|---:|---:|---|")
    for record in records:
        reason = (record.get("failures") or record.get("warnings") or [""])[0]
        lines.append(
            f"| {_when(record.get('started_at'))} | {verdict(record)} | "
            f"{md((record.get('backup') or {}).get('name', '—'))} | "
            f"{_seconds(record.get('rto_s'))} | {_seconds(record.get('rpo_s'))} | {md(reason)} |"
        )
    return "\n".join(lines) + "\n"


def history_html(name: str, records: Sequence[dict[str, Any]]) -> str:
    cards = "".join(_drill_card(r) for r in records) or "<p>No drill recorded yet.</p>"
    return page(f"Drills of {name}", f"<h1>Drills of {html.escape(name)}</h1>{cards}", [], note="")


# -- the evidence report ----------------------------------------------------------------
def _met(value: float | None, objective: float | None) -> str:
    if value is None:
        return "—"
    if objective is None:
        return format_duration(value)
    sign = "≤" if value <= objective else ">"
    return f"{format_duration(value)} {sign} {format_duration(objective)}"


def print_evidence(console: Console, rows: Sequence[Evidence]) -> None:
    if not rows:
        console.print("No backup monitor has a drill: add drill: to a backup: monitor.")
        return
    grid = Table(title="Restore drills: last successful restore of each backup", show_edge=False)
    for column in ("backup", "status", "last success", "RTO", "RPO", "passed"):
        grid.add_column(column, justify="right" if column == "passed" else "left")
    for row in rows:
        data = row.as_json()
        grid.add_row(
            Text(shown(row.backup)),
            Text(row.status, style="green" if row.status == "ok" else "red"),
            _when(data["last_success_at"]),
            _met(data["rto_s"], row.rto_objective),
            _met(data["rpo_s"], row.rpo_objective),
            f"{row.passed}/{row.drills}",
        )
    console.print(grid)
    for row in rows:
        for warning in row.warnings:
            console.print(Text(f"  ! {shown(row.backup)}: {shown(warning)}", style="yellow"))


def evidence_markdown(rows: Sequence[Evidence], *, generated: float | None = None) -> str:
    lines = [
        "# Restore drills: evidence",
        "",
        f"Generated {_when(generated or time.time())} by Watchkeeper. Each backup below is "
        "restored on a schedule into a scratch target that is removed afterwards; RTO is the "
        "time the restore took, RPO the backup's age when it was restored.",
        "",
        "| backup | status | last successful restore | backup restored | RTO | RPO | passed |",
        "|---|---|---|---|---|---|---:|",
    ]
    for row in rows:
        data = row.as_json()
        lines.append(
            f"| {md(row.backup)} | {row.status} | {_when(data['last_success_at'])} | "
            f"{md(data['last_success_backup'] or '—')} | "
            f"{_met(data['rto_s'], row.rto_objective)} | "
            f"{_met(data['rpo_s'], row.rpo_objective)} | {row.passed}/{row.drills} |"
        )
    warned = [(row, warning) for row in rows for warning in row.warnings]
    if warned:
        lines += ["", "Warnings of the latest drills:", ""]
        lines += [f"- {md(row.backup)}: {md(warning)}" for row, warning in warned]
    return "\n".join(lines) + "\n"


def evidence_html(rows: Sequence[Evidence], *, generated: float | None = None) -> str:
    body = [
        "<h1>Restore drills: evidence</h1>",
        f'<p class="muted">Generated {_when(generated or time.time())}. RTO is the time the '
        "restore took, RPO the backup's age when it was restored.</p>",
    ]
    cells = []
    for row in rows:
        data = row.as_json()
        css = "pass" if row.status == "ok" else "fail"
        cells.append(
            [
                html.escape(row.backup),
                f'<span class="{css}">{html.escape(row.status)}</span>',
                _when(data["last_success_at"]),
                html.escape(str(data["last_success_backup"] or "—")),
                html.escape(_met(data["rto_s"], row.rto_objective)),
                html.escape(_met(data["rpo_s"], row.rpo_objective)),
                f"{row.passed}/{row.drills}",
            ]
        )
    body.append(
        table(
            [
                "backup",
                "status",
                "last successful restore",
                "backup restored",
                "RTO",
                "RPO",
                "passed",
            ],
            cells,
            {6},
        )
        if cells
        else "<p>No backup monitor has a drill.</p>"
    )
    for row in rows:
        if row.latest is not None:
            body.append(_drill_card(row.latest))
    return page("Restore drills: evidence", "".join(body), [], note="")


def evidence_json(rows: Sequence[Evidence]) -> str:
    return json.dumps({"backups": [row.as_json() for row in rows]}, indent=2)
