"""Findings for people: a terminal listing (Rich), Markdown for a ticket or a chat, and one
self-contained HTML file with the findings' charts. The JSON form is ``Finding.as_json``."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text

from watchkeeper.findings import Finding, Severity
from watchkeeper.report.html import page
from watchkeeper.units import format_size, plural

_MARK = {"critical": "✖", "warning": "▲", "info": "•"}
_STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "cyan"}
_CSS = {"critical": "fail", "warning": "warn", "info": "muted"}


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    out = {s.value: 0 for s in Severity}
    for finding in findings:
        out[finding.severity.value] += 1
    return out


def headline(findings: Sequence[Finding], errors: Sequence[str] = ()) -> str:
    n = counts(findings)
    parts = [
        plural(n[s], s, s if s != "warning" else None)  # "1 critical, 2 warnings, 3 info"
        for s in ("critical", "warning", "info")
        if n[s]
    ]
    text = ", ".join(parts) if parts else "nothing to report"
    if errors:
        text += f"; {len(errors)} could not be looked at"
    return text


def _evidence_text(evidence: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v, k)}" for k, v in evidence.items() if v is not None)


def _value(value: object, key: str = "") -> str:
    """A number as a person reads it: sizes for ``*_bytes``, thousands separators from
    10,000, else up to five significant digits (98.996 stays 98.996 beside "below 99 %")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key.endswith("_bytes"):
        return format_size(value)
    if key in ("pid", "queryid", "oid") or key.endswith(("_id", "_pid")):
        return str(value)  # an identifier, not a quantity
    if abs(value) >= 10_000 or isinstance(value, int):
        return f"{value:,.0f}"
    return f"{value:.5g}"


_SQL = ("CREATE ", "DROP ", "REINDEX ", "ALTER ", "SELECT ", "VACUUM ", "ANALYZE ", "SET ")


_KEYWORD = re.compile(r"\b(?:CREATE|DROP|ALTER|REINDEX|VACUUM|ANALYZE|SELECT|SET|CONFIG|CLUSTER)\b")


def _statements(prose: str) -> list[tuple[int, int]]:
    """Where statements stand inside prose: a keyword in capitals up to the first ';' after
    it, when that ';' ends a word (a space or the end follows). One pass: the next ';' is
    found once for every keyword before it (a lazy regex scanned to the end again from each
    keyword, quadratic on a long text of keywords without a ';')."""
    found: list[tuple[int, int]] = []
    semicolon = -1
    done = 0
    for keyword in _KEYWORD.finditer(prose):
        start = keyword.start()
        if start < done:
            continue
        if semicolon < start:
            semicolon = prose.find(";", start)
            if semicolon == -1:
                break
        after = semicolon + 1
        if after == len(prose) or prose[after].isspace():
            found.append((start, after))
            done = after
    return found


def _code_md(prose: str) -> str:
    out, last = [], 0
    for start, end in _statements(prose):
        out += [prose[last:start], f"`{prose[start:end]}`"]
        last = end
    out.append(prose[last:])
    return "".join(out)


def _code_html(prose: str) -> str:
    out, last = [], 0
    for start, end in _statements(prose):
        out.append(html.escape(prose[last:start]))
        out.append(f"<code>{html.escape(prose[start:end])}</code>")
        last = end
    out.append(html.escape(prose[last:]))
    return "".join(out)


def split_fix(text: str) -> tuple[str, str]:
    """A recommendation's leading statements (each up to its ';') and the prose after them:
    the statements go in a code block, the prose beside it."""
    statements: list[str] = []
    rest = text.strip()
    while rest.startswith(_SQL) and ";" in rest:  # statements are in capitals, prose is not
        end = rest.index(";") + 1
        statements.append(rest[:end])
        rest = rest[end:].lstrip()
    return "\n".join(statements), rest


def print_text(
    console: Console,
    findings: Sequence[Finding],
    errors: Sequence[str],
    looked_at: Sequence[str],
    *,
    title: str = "wk diagnose",
) -> None:
    """Each finding: a mark and its title, then its evidence and what to do."""
    console.print(
        f"[bold]{escape(title)}[/]: {escape(headline(findings, errors))} "
        f"[dim](looked at {len(looked_at)}: {escape(', '.join(looked_at)) or 'nothing'})[/]"
    )
    for error in errors:
        console.print(f"[red]cannot look at[/] {escape(error)}")
    for finding in findings:
        severity = finding.severity.value
        heading = Text.assemble(
            (f"{_MARK[severity]} {severity:<8} ", _STYLE[severity]),
            (f"[{finding.source}] ", "dim"),
            finding.title,
        )
        lines: list[Text] = [heading]
        if finding.evidence:
            lines.append(Text("           " + _evidence_text(finding.evidence), style="dim"))
        if finding.recommendation:
            lines.append(Text("           → " + finding.recommendation))
        console.print(Group(*lines))


def markdown(
    findings: Sequence[Finding],
    errors: Sequence[str],
    looked_at: Sequence[str],
    *,
    title: str = "wk diagnose",
    before: str = "",
) -> str:
    """The report as Markdown; ``before`` (Markdown) goes between the headline and the
    findings."""
    out = [
        f"# {title}",
        "",
        f"**{headline(findings, errors)}** (looked at: {', '.join(looked_at) or 'nothing'})",
        "",
    ]
    if before:
        out += [before.rstrip(), ""]
    for error in errors:
        out.append(f"- cannot look at {error}")
    if errors:
        out.append("")
    for finding in findings:
        out.append(f"## {finding.severity.value.upper()} · {_md(finding.title)}")
        out.append("")
        out.append(f"*{finding.source}* · `{finding.subject}`")
        out.append("")
        if finding.evidence:
            out.append("| evidence | value |")
            out.append("|---|---|")
            for key, value in finding.evidence.items():
                if value is not None:
                    out.append(f"| {key} | {_md(_value(value, key))} |")
            out.append("")
        if finding.recommendation:
            out.append(_fix_md(finding.recommendation))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fix_md(text: str) -> str:
    sql, prose = split_fix(text)
    if not sql:
        return f"**Fix:** {_code_md(prose)}"
    return f"**Fix:**\n\n```sql\n{sql}\n```" + (f"\n\n{_code_md(prose)}" if prose else "")


def html_report(
    findings: Sequence[Finding],
    errors: Sequence[str],
    looked_at: Sequence[str],
    *,
    generated: float,
    title: str = "wk diagnose",
    before: str = "",
) -> str:
    """One self-contained page; ``before`` (trusted markup) goes above the findings."""
    when = dt.datetime.fromtimestamp(generated).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    n = counts(findings)
    tiles = "".join(
        f'<div class="tile"><div class="label">{s}</div>'
        f'<div class="value {_CSS[s]}">{n[s]}</div></div>'
        for s in ("critical", "warning", "info")
    )
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">{html.escape(when)} · looked at '
        f"{html.escape(', '.join(looked_at) or 'nothing')}</p>",
        f'<div class="tiles">{tiles}</div>',
    ]
    if before:
        parts.append(before)
    if errors:
        parts.append(
            '<section class="card"><h2>Could not look at</h2><ul>'
            + "".join(f'<li class="fail">{html.escape(e)}</li>' for e in errors)
            + "</ul></section>"
        )
    if not findings:
        parts.append('<section class="card"><p class="pass">Nothing to report.</p></section>')
    charts: list[dict[str, Any]] = []
    for index, finding in enumerate(findings):
        severity = finding.severity.value
        rows = "".join(
            f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd></div>"
            for k, v in _paired(finding.evidence)
        )
        chart_holder = ""
        if finding.chart is not None and finding.chart.times:
            chart_id = f"chart{index}"
            chart_holder = f'<div id="{chart_id}" class="chart"></div>'
            charts.append(_chart(chart_id, finding))
        fix = ""
        if finding.recommendation:
            sql, prose = split_fix(finding.recommendation)
            fix = "<p><b>Fix:</b></p>" if sql else ""
            fix += f"<pre><code>{html.escape(sql)}</code></pre>" if sql else ""
            fix += f"<p>{'' if sql else '<b>Fix:</b> '}{_code_html(prose)}</p>" if prose else ""
        parts.append(
            f'<section class="card finding {severity}">'
            f'<h2><span class="{_CSS[severity]}">{_MARK[severity]} {severity}</span> '
            f"{html.escape(finding.title)}</h2>"
            f'<p class="muted">{html.escape(finding.source)} · {html.escape(finding.subject)}'
            "</p>"
            f"{chart_holder}"
            + (f'<dl class="evidence">{rows}</dl>' if rows else "")
            + fix
            + "</section>"
        )
    return page(
        title,
        "\n".join(parts),
        charts,
        note="Charts show local time; the onset of a change is marked.",
    )


def _paired(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """Evidence rows, with each ``x_before_<unit>`` and ``x_after_<unit>`` pair as one row
    ``x (unit): before → after``."""
    rows: list[tuple[str, str]] = []
    for key, value in evidence.items():
        if value is None:
            continue
        name, _, unit = key.rpartition("_")
        if name.endswith("_after") and f"{name.removesuffix('_after')}_before_{unit}" in evidence:
            continue
        if name.endswith("_before"):
            partner = f"{name.removesuffix('_before')}_after_{unit}"
            if evidence.get(partner) is not None:
                label = f"{name.removesuffix('_before')} ({unit})"
                pair = f"{_value(value, key)} → {_value(evidence[partner], partner)}"
                rows.append((label, pair))
                continue
        rows.append((key, _value(value, key)))
    return rows


def _chart(chart_id: str, finding: Finding) -> dict[str, Any]:
    chart = finding.chart
    assert chart is not None
    x = list(chart.times)
    series: list[dict[str, Any]] = [
        {"label": chart.label, "values": list(chart.values), "color": "#2563eb", "scale": "v"}
    ]
    if chart.marker is not None:
        nearest = min(range(len(x)), key=lambda i: abs(x[i] - chart.marker))  # type: ignore[operator]
        marks: list[float | None] = [None] * len(x)
        marks[nearest] = chart.values[nearest]
        series.append(
            {"label": "onset", "values": marks, "color": "#dc2626", "scale": "v", "points": True}
        )
    return {
        "id": chart_id,
        "inline": True,
        "title": chart.label,
        "x": x,
        "time": True,
        "series": series,
        "units": {"v": chart.unit},
    }
