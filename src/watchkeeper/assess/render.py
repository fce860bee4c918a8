"""An assessment as text (the terminal), Markdown, a self-contained HTML page, or JSON:
what to do first, the baseline numbers, what could not be looked at, and (with a saved
baseline) what improved and what regressed since."""

from __future__ import annotations

import datetime as dt
import html
import json
from io import StringIO
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text

from watchkeeper.assess.items import EFFORT_WORDS, Item
from watchkeeper.units import format_duration

if TYPE_CHECKING:
    from watchkeeper.assess.baseline import Comparison
    from watchkeeper.assess.run import Assessment

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_MARK = {"critical": "✗", "warning": "!", "info": "·"}
_CSS = {"critical": "fail", "warning": "warn", "info": "muted"}


def headline(report: Assessment) -> str:
    counts = report.counts()
    parts = [f"{counts[s]} {s}" for s in ("critical", "warning", "info") if counts[s]]
    return ", ".join(parts) or "nothing found"


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _evidence(finding_evidence: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in finding_evidence.items() if v not in (None, ""))


def _why(entry: Item) -> str:
    return (
        f"score {entry.score:g} = risk {entry.risk} × impact {entry.impact} ÷ effort "
        f"{entry.effort} ({EFFORT_WORDS[entry.effort]})"
    )


def _baseline_rows(report: Assessment) -> list[tuple[str, str]]:
    """(what, value) pairs of the numbers a later run compares against."""
    rows: list[tuple[str, str]] = []
    facts = report.facts
    for name, row in facts.get("status", {}).get("monitors", {}).items():
        parts = [row.get("state", "?")]
        if row.get("uptime_pct") is not None:
            parts.append(f"up {row['uptime_pct']:.3f} %")
        if row.get("latency_p95_ms") is not None:
            parts.append(f"p95 {row['latency_p95_ms']:g} ms")
        rows.append((f"monitor {name}", ", ".join(parts)))
    for name, row in facts.get("status", {}).get("slos", {}).items():
        left = row.get("budget_remaining_pct")
        rows.append(
            (f"SLO {name}", "no events yet" if left is None else f"{left:g} % of the budget left")
        )
    for name, row in facts.get("audit", {}).get("grades", {}).items():
        rows.append((f"audit {name}", f"grade {row.get('grade') or 'none'}"))
    for name, row in facts.get("backups", {}).get("drills", {}).items():
        rows.append((f"drill {name}", f"{row['status']} ({row['passed']}/{row['drills']} passed)"))
    capacity = facts.get("capacity", {})
    if capacity.get("sustainable_rps") is not None:
        rows.append(
            (f"capacity {capacity.get('target')}", f"{capacity['sustainable_rps']:,.0f} req/s")
        )
    cost = facts.get("cost", {})
    if cost.get("monthly_cost") is not None:
        saving = cost.get("monthly_saving") or 0
        rows.append(
            (
                "monthly cost",
                f"{cost['monthly_cost']:,.2f} {cost.get('currency', '')}".strip()
                + (f", {saving:,.2f} could be saved" if saving else ""),
            )
        )
    return rows


def text(report: Assessment, comparison: Comparison | None = None, width: int = 120) -> str:
    buffer = StringIO()
    console = Console(file=buffer, width=width, highlight=False, soft_wrap=True)
    print_text(console, report, comparison)
    return buffer.getvalue()


def print_text(console: Console, report: Assessment, comparison: Comparison | None = None) -> None:
    console.print(
        f"[bold]wk assess[/]: {escape(headline(report))} "
        f"[dim](looked back {format_duration(report.lookback)}; {_when(report.generated)})[/]"
    )
    if report.items:
        console.print("\n[bold]What to do first[/]")
    for number, entry in enumerate(report.items, start=1):
        finding = entry.finding
        severity = finding.severity.value
        lines: list[Text] = [
            Text.assemble(
                (f"{number:>3}. ", "bold"),
                (f"{_MARK[severity]} {severity:<8} ", _STYLE[severity]),
                (f"[{entry.area}] ", "dim"),
                finding.title,
            ),
            Text("       " + _why(entry), style="dim"),
        ]
        if finding.evidence:
            lines.append(Text("       " + _evidence(dict(finding.evidence)), style="dim"))
        if finding.recommendation:
            fix = finding.recommendation.strip().splitlines()
            lines.append(Text("       → " + fix[0]))
            lines += [Text("         " + line) for line in fix[1:]]
        if entry.link:
            lines.append(Text("       ↗ " + entry.link, style="dim"))
        console.print(Group(*lines))
    rows = _baseline_rows(report)
    if rows:
        console.print("\n[bold]Baseline[/]")
        wide = max(len(r[0]) for r in rows)
        for what, value in rows:
            console.print(Text(f"  {what:<{wide}}  {value}"))
    skipped = [s for s in report.sections if s.skipped]
    if skipped or report.errors:
        console.print("\n[bold]Not looked at[/]")
        for section in skipped:
            console.print(Text(f"  {section.name}: {section.skipped}", style="dim"))
        for error in report.errors:
            console.print(Text(f"  {error}", style="red"))
    if comparison is not None:
        console.print(f"\n[bold]Since the baseline of {_when(comparison.since)}[/]")
        if not comparison.changes:
            console.print("  nothing changed")
        for change in comparison.regressed:
            console.print(Text(f"  ▼ {change.what}", style="red"))
        for change in comparison.improved:
            console.print(Text(f"  ▲ {change.what}", style="green"))


def _md(value: str) -> str:
    out = value.replace("\\", "\\\\")
    for char in "`*_[]<>|#":
        out = out.replace(char, "\\" + char)
    return out.replace("\n", " ")


def markdown(report: Assessment, comparison: Comparison | None = None) -> str:
    out = [
        "# Watchkeeper assessment",
        "",
        f"{_md(headline(report))} — looked back {format_duration(report.lookback)}, "
        f"{_when(report.generated)}.",
        "",
    ]
    if report.items:
        out += ["## What to do first", ""]
    for number, entry in enumerate(report.items, start=1):
        finding = entry.finding
        out.append(
            f"{number}. **{finding.severity.value}** · {entry.area} · score {entry.score:g} "
            f"(effort {EFFORT_WORDS[entry.effort]}) — {_md(finding.title)}"
        )
        if finding.evidence:
            out.append(f"   - Evidence: {_md(_evidence(dict(finding.evidence)))}")
        if finding.recommendation:
            fix = finding.recommendation.strip().splitlines()
            out.append(f"   - Fix: {_md(fix[0])}")
            if len(fix) > 1:
                out += [
                    "",
                    "     ```",
                    *(f"     {line.replace('```', '')}" for line in fix[1:]),
                    "     ```",
                ]
        if entry.link:
            out.append(f"   - See: `{entry.link.replace('`', '')}`")
    rows = _baseline_rows(report)
    if rows:
        out += ["", "## Baseline", "", "| what | now |", "|---|---|"]
        out += [f"| {_md(a)} | {_md(b)} |" for a, b in rows]
    skipped = [s for s in report.sections if s.skipped]
    if skipped or report.errors:
        out += ["", "## Not looked at", ""]
        out += [f"- {_md(s.name)}: {_md(s.skipped)}" for s in skipped]
        out += [f"- {_md(e)}" for e in report.errors]
    if comparison is not None:
        out += ["", f"## Since the baseline of {_when(comparison.since)}", ""]
        if not comparison.changes:
            out.append("Nothing changed.")
        out += [f"- ▼ regressed: {_md(c.what)}" for c in comparison.regressed]
        out += [f"- ▲ improved: {_md(c.what)}" for c in comparison.improved]
    return "\n".join(out) + "\n"


def html_page(report: Assessment, comparison: Comparison | None = None) -> str:
    from watchkeeper.report.html import page, table, tile

    esc = html.escape
    counts = report.counts()
    tiles = "".join(
        tile(s, str(counts[s]), _CSS[s] if counts[s] else "")
        for s in ("critical", "warning", "info")
    )
    body = [
        "<h1>Watchkeeper assessment</h1>",
        f'<p class="muted">Looked back {esc(format_duration(report.lookback))}; '
        f"made {esc(_when(report.generated))}.</p>",
        f'<div class="tiles">{tiles}</div>',
    ]
    if report.items:
        rows = []
        for number, entry in enumerate(report.items, start=1):
            finding = entry.finding
            fix = esc(finding.recommendation).replace("\n", "<br>")
            see = f"<code>{esc(entry.link)}</code>" if entry.link else ""
            rows.append(
                [
                    str(number),
                    f'<span class="{_CSS[finding.severity.value]}">'
                    f"{esc(finding.severity.value)}</span>",
                    esc(entry.area),
                    f"<strong>{esc(finding.title)}</strong><br>"
                    f'<span class="muted">{esc(_evidence(dict(finding.evidence)))}</span>',
                    fix,
                    see,
                    f'<span title="{esc(_why(entry))}">{entry.score:g}</span>',
                    esc(EFFORT_WORDS[entry.effort]),
                ]
            )
        body.append('<section class="card"><h2>What to do first</h2>')
        body.append(
            table(["#", "severity", "area", "finding", "fix", "see", "score", "effort"], rows)
        )
        body.append("</section>")
    baseline = _baseline_rows(report)
    if baseline:
        body.append('<section class="card"><h2>Baseline</h2>')
        body.append(table(["what", "now"], [[esc(a), esc(b)] for a, b in baseline]))
        body.append("</section>")
    skipped = [s for s in report.sections if s.skipped]
    if skipped or report.errors:
        body.append('<section class="card"><h2>Not looked at</h2><ul>')
        body += [f"<li>{esc(s.name)}: {esc(s.skipped)}</li>" for s in skipped]
        body += [f"<li>{esc(e)}</li>" for e in report.errors]
        body.append("</ul></section>")
    if comparison is not None:
        body.append(
            f'<section class="card"><h2>Since the baseline of {esc(_when(comparison.since))}'
            "</h2><ul>"
        )
        if not comparison.changes:
            body.append("<li>Nothing changed.</li>")
        body += [f"<li>▼ regressed: {esc(c.what)}</li>" for c in comparison.regressed]
        body += [f"<li>▲ improved: {esc(c.what)}</li>" for c in comparison.improved]
        body.append("</ul></section>")
    return page(
        "Watchkeeper assessment",
        "\n".join(body),
        [],
        note="Score = risk × impact ÷ effort; hover a score for its parts.",
    )


def as_json(report: Assessment, comparison: Comparison | None = None) -> str:
    data = report.as_json()
    if comparison is not None:
        data["comparison"] = comparison.as_json()
    return json.dumps(data, indent=2, default=str) + "\n"
