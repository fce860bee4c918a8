"""A load test's summary for people: a terminal table (Rich) and the HTML report."""

from __future__ import annotations

import html
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from watchkeeper.report.html import page, table, tile
from watchkeeper.units import plural

LATENCY_ORDER = ("p50", "p90", "p95", "p99", "p999", "max")


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1:
        return f"{value * 1000:.0f}µs"
    if value < 1000:
        return f"{value:.1f}ms" if value < 100 else f"{value:.0f}ms"
    return f"{value / 1000:.2f}s"


def share(value: float) -> str:
    """An error rate (from ``results.error_rate``) as every report shows it."""
    return f"{value * 100:.2f}%"


def terminal(summary: dict[str, Any]) -> RenderableType:
    model = "open model" if summary["model"] == "open" else "closed model (latency from send)"
    head = Text()
    head.append(f"{summary['target']}  ", style="bold")
    head.append(f"{model}, {summary['workers']} worker(s), {summary['duration_s']:g}s")
    numbers = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for column in ("offered", "achieved", "requests", "errors", *LATENCY_ORDER):
        numbers.add_column(column, justify="right")
    latency = summary["latency_ms"]
    numbers.add_row(
        f"{summary['offered_rps']:,.0f}/s",
        f"{summary['achieved_rps']:,.0f}/s",
        f"{summary['requests']:,}",
        f"{summary['errors']:,} ({share(summary['error_rate'])})",
        *(ms(latency[k]) for k in LATENCY_ORDER),
    )
    parts: list[RenderableType] = [head, numbers]
    if summary["errors_by_kind"]:
        kinds = ", ".join(f"{k} ×{v:,}" for k, v in summary["errors_by_kind"].items())
        parts.append(Text(f"errors: {kinds}", style="red"))
    service = summary["service_ms"]
    parts.append(
        Text(
            f"server time (from the actual send): p50 {ms(service['p50'])}, "
            f"p99 {ms(service['p99'])}; generator CPU {summary['generator_cpu'] * 100:.0f}% "
            f"per core; {plural(summary['connections_opened'], 'connection')}"
            + (
                f"; {summary['retried']:,} requests sent again on a fresh connection (the "
                "server had closed the idle one they went out on)"
                if summary.get("retried")
                else ""
            ),
            style="dim",
        )
    )
    for check in summary["thresholds"]:
        mark = "✓" if check["passed"] else "✗"
        parts.append(
            Text(
                f"{mark} {check['threshold']}: {check['shown']}",
                style="green" if check["passed"] else "bold red",
            )
        )
    for warning in summary["warnings"]:
        parts.append(Text(f"! {warning}", style="yellow"))
    return Group(*parts)


def _line(
    seconds: list[dict[str, Any]], key: str, color: str, scale: str, **extra: Any
) -> dict[str, Any]:
    label = "errors/s" if key == "errors" else key
    return {
        "label": label,
        "values": [s[key] for s in seconds],
        "color": color,
        "scale": scale,
        **extra,
    }


def charts(summary: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    seconds = summary["seconds"]
    x = [s["t"] for s in seconds]
    dashed = {"dash": [4, 3]}
    return [
        {
            "id": f"{prefix}latency",
            "title": "Latency over time (per second)",
            "x": x,
            "xlabel": "second",
            "units": {"ms": "ms"},
            "from_zero": True,
            "series": [
                _line(seconds, "p50", "#60a5fa", "ms"),
                _line(seconds, "p90", "#34d399", "ms"),
                _line(seconds, "p99", "#f59e0b", "ms"),
                _line(seconds, "max", "#ef4444", "ms", **dashed),
            ],
        },
        {
            "id": f"{prefix}throughput",
            "title": "Offered and achieved throughput",
            "x": x,
            "xlabel": "second",
            "units": {"rps": "rps"},
            "from_zero": True,
            "series": [
                _line(seconds, "offered", "#94a3b8", "rps", **dashed),
                _line(seconds, "achieved", "#2563eb", "rps"),
            ],
        },
        {
            "id": f"{prefix}errors",
            "title": "Errors",
            "x": x,
            "xlabel": "second",
            "units": {"n": "n"},
            "from_zero": True,
            "series": [_line(seconds, "errors", "#dc2626", "n")],
        },
    ]


def _card(title: str, inner: str) -> str:
    return f'<section class="card"><h2>{html.escape(title)}</h2>{inner}</section>' if inner else ""


def summary_html(summary: dict[str, Any]) -> str:
    latency = summary["latency_ms"]
    verdict = ""
    if summary["thresholds"]:
        css = "pass" if summary["passed"] else "fail"
        words = "All thresholds held" if summary["passed"] else "Thresholds failed"
        verdict = f'<div class="verdict {css}">{words}</div>'
    error_css = "fail" if summary["errors"] else ""
    tiles = "".join(
        [
            tile("Offered", f"{summary['offered_rps']:,.0f}/s"),
            tile("Achieved", f"{summary['achieved_rps']:,.0f}/s"),
            tile("Errors", share(summary["error_rate"]), error_css),
            *(tile(k, ms(latency[k])) for k in ("p50", "p99", "p999", "max")),
        ]
    )
    rows = [
        [
            html.escape(c["threshold"]),
            html.escape(c["shown"]),
            f'<span class="{"pass" if c["passed"] else "fail"}">'
            + ("held" if c["passed"] else "failed")
            + "</span>",
        ]
        for c in summary["thresholds"]
    ]
    errors = "".join(
        f"<li>{html.escape(k)}: {v:,}</li>" for k, v in summary["errors_by_kind"].items()
    )
    warns = "".join(f'<li class="warn">{html.escape(w)}</li>' for w in summary["warnings"])
    return (
        verdict
        + f'<section class="tiles" style="margin-top:16px">{tiles}</section>'
        + _card("Thresholds", table(["threshold", "observed", ""], rows) if rows else "")
        + _card("Errors by kind", f"<ul>{errors}</ul>" if errors else "")
        + _card("Read this first", f"<ul>{warns}</ul>" if warns else "")
    )


def loadtest_html(summary: dict[str, Any]) -> str:
    model = "Open model" if summary["model"] == "open" else "Closed model"
    head = (
        f"<h1>Load test: {html.escape(summary['target'])}</h1>"
        f'<p class="muted">{model}, {plural(summary["workers"], "worker")}, '
        f"{summary['duration_s']:g} s, {plural(summary['requests'], 'request')}. Latency is "
        "measured "
        + (
            "from each request's intended send time (queueing in the generator counts)."
            if summary["model"] == "open"
            else "from the actual send (a stall hides as a lower rate)."
        )
        + "</p>"
    )
    return page(f"Load test {summary['target']}", head + summary_html(summary), charts(summary))
