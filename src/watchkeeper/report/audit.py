"""``wk audit`` reports: each site's grade and its Observatory tests, then the findings of
every part, most important first (terminal, Markdown, HTML, JSON, SARIF)."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchkeeper.findings import Finding, ranked
from watchkeeper.report import findings as render
from watchkeeper.report.html import table, tile
from watchkeeper.units import format_duration

if TYPE_CHECKING:
    from watchkeeper.audit.run import SiteReport

TITLE = "wk audit"


def _grade_style(grade: str | None) -> str:
    if grade is None:
        return "dim"
    return {"A": "bold green", "B": "green", "C": "yellow", "D": "red"}.get(grade[0], "bold red")


def _grade_css(grade: str | None) -> str:
    if grade is None:
        return "muted"
    return {"A": "pass", "B": "pass", "C": "warn"}.get(grade[0], "fail")


def all_findings(reports: Sequence[SiteReport]) -> list[Finding]:
    return ranked(f for report in reports for f in report.findings)


def all_errors(reports: Sequence[SiteReport]) -> list[str]:
    return [f"{r.target.url}: {e}" for r in reports for e in r.errors]


def _tests(report: SiteReport) -> list[tuple[str, bool, int, str]]:
    """(test, passed, score modifier, result) of the site's Observatory tests."""
    card = report.scorecard
    if card is None:
        return []
    return [
        (name, bool(outcome.passed), int(outcome.modifier), str(outcome.result))
        for name, outcome in card.tests.items()
    ]


def _summary(report: SiteReport) -> str:
    grade = report.grade or "no grade"
    score = f" ({report.score}/100)" if report.score is not None else ""
    version = (
        f" · Observatory algorithm v{report.scorecard.algorithm_version}"
        if report.scorecard is not None
        else ""
    )
    return f"{report.target.url}: {grade}{score}{version} · {format_duration(report.elapsed)}"


def print_text(console: Console, reports: Sequence[SiteReport]) -> None:
    for report in reports:
        console.print(
            Text.assemble(
                (report.target.url, "bold"),
                "  ",
                (report.grade or "no grade", _grade_style(report.grade)),
                f" ({report.score}/100)" if report.score is not None else "",
                (
                    f"  Observatory algorithm v{report.scorecard.algorithm_version}"
                    if report.scorecard is not None
                    else ""
                ),
                (f"  {format_duration(report.elapsed)}", "dim"),
            )
        )
        tests = _tests(report)
        if tests:
            grid = Table(box=None, pad_edge=False, show_header=False)
            for _ in range(3):
                grid.add_column(no_wrap=True)
            grid.add_column()
            for name, passed, modifier, result in tests:
                grid.add_row(
                    Text("  ✓" if passed else "  ✗", style="green" if passed else "red"),
                    name,
                    Text(
                        f"{modifier:+d}" if modifier else "0", style="dim" if not modifier else ""
                    ),
                    Text(result, style="dim"),
                )
            console.print(grid)
    render.print_text(
        console,
        all_findings(reports),
        all_errors(reports),
        [r.target.url for r in reports],
        title=TITLE,
    )


def markdown(reports: Sequence[SiteReport]) -> str:
    lines: list[str] = []
    for report in reports:
        lines.append(f"## {render._md(_summary(report))}")
        tests = _tests(report)
        if tests:
            lines += ["", "| test | pass | score | result |", "|---|---|---:|---|"]
            lines += [
                f"| {name} | {'✓' if passed else '✗'} | {modifier:+d} | `{result}` |"
                for name, passed, modifier, result in tests
            ]
        lines.append("")
    return render.markdown(
        all_findings(reports),
        all_errors(reports),
        [r.target.url for r in reports],
        title=TITLE,
        before="\n".join(lines),
    )


def html_report(reports: Sequence[SiteReport], *, generated: float | None = None) -> str:
    cards = []
    for report in reports:
        tiles = tile("grade", report.grade or "—", _grade_css(report.grade))
        tiles += tile("score", "—" if report.score is None else str(report.score))
        tiles += tile("findings", str(len(report.findings)))
        tiles += tile("took", format_duration(report.elapsed))
        rows = [
            [
                f'<span class="{"pass" if passed else "fail"}">{"✓" if passed else "✗"}</span>',
                html.escape(name),
                f"{modifier:+d}",
                f"<code>{html.escape(result)}</code>",
            ]
            for name, passed, modifier, result in _tests(report)
        ]
        version = (
            f"Observatory algorithm v{report.scorecard.algorithm_version}"
            if report.scorecard is not None
            else "not graded"
        )
        cards.append(
            f'<section class="card"><h2>{html.escape(report.target.url)}</h2>'
            f'<p class="muted">{html.escape(version)}</p>'
            f'<div class="tiles">{tiles}</div>'
            + (table(["", "test", "score", "result"], rows, {2}) if rows else "")
            + "</section>"
        )
    return render.html_report(
        all_findings(reports),
        all_errors(reports),
        [r.target.url for r in reports],
        generated=time.time() if generated is None else generated,
        title=TITLE,
        before="\n".join(cards),
    )


def as_json(reports: Sequence[SiteReport]) -> dict[str, Any]:
    """``findings`` (DESIGN.md's shape, every site's, most important first) and ``sites``."""
    return {
        "findings": [f.as_json() for f in all_findings(reports)],
        "sites": [r.as_json() for r in reports],
        "errors": all_errors(reports),
    }


def sarif(reports: Sequence[SiteReport]) -> dict[str, Any]:
    from watchkeeper.report.sarif import sarif as log

    return log(
        all_findings(reports),
        errors=all_errors(reports),
        properties={
            "sites": [{"target": r.target.url, "grade": r.grade, "score": r.score} for r in reports]
        },
    )


def render_text(reports: Sequence[SiteReport], fmt: str) -> str:
    """The report in ``fmt`` (text, md, html, json, sarif) as one string."""
    if fmt == "json":
        return json.dumps(as_json(reports), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(sarif(reports), indent=2) + "\n"
    if fmt == "md":
        return markdown(reports)
    if fmt == "html":
        return html_report(reports)
    from io import StringIO

    buffer = StringIO()
    print_text(Console(file=buffer, width=120, highlight=False, soft_wrap=True), reports)
    return buffer.getvalue()
