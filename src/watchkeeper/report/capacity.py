"""A capacity plan for people: terminal text and the HTML report with its charts."""

from __future__ import annotations

import html
import math
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from watchkeeper.report.html import page, table, tile
from watchkeeper.report.loadtest import ms, share


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} req/s"


def terminal(plan: dict[str, Any], target: str) -> RenderableType:
    parts: list[RenderableType] = [Text(f"capacity of {target}", style="bold")]
    steps = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("offered", "answered", "p50", "p99", "errors", "SLO"):
        steps.add_column(column, justify="right")
    for step in plan["steps"]:
        latency = step["latency_ms"]
        steps.add_row(
            _rate(step["rate"]),
            _rate(step["achieved_rps"]),
            ms(latency["p50"]),
            ms(latency["p99"]),
            share(step["error_rate"]),
            Text("held", style="green") if step["passed"] else Text("failed", style="red"),
        )
    parts.append(steps)
    fit = plan["usl"]
    if plan["sweep"]:
        parts.append(Text(f"sweep (concurrent → req/s): {_sweep(plan['sweep'])}"))
    if fit is not None and not fit["trusted"]:
        parts.append(
            Text(
                f"scalability: no model — the USL fit explains little (R² "
                f"{fit['r_squared']:.3f}); the measured sweep above and the knee are the facts",
                style="yellow",
            )
        )
    elif fit is not None:
        peak = fit["peak_concurrency"]
        parts.append(
            Text(
                f"scalability (USL, R² {fit['r_squared']:.3f}): contention α {fit['alpha']:.4f}, "
                f"coherency β {fit['beta']:.6f}; peak "
                + (f"at N* ≈ {peak:.0f} concurrent" if peak else "none (no coherency cost)")
                + f", {_rate(fit['peak_throughput_rps'])}"
                + (" (extrapolated)" if fit["extrapolated"] else "")
            )
        )
    elif plan["usl_error"]:
        parts.append(Text(f"scalability: {plan['usl_error']}", style="dim"))
    if plan["knee_rps"]:
        parts.append(Text(f"latency bends at about {_rate(plan['knee_rps'])} (p99 doubles)"))
    first = plan["saturates_first"]
    if first:
        parts.append(
            Text(
                f"saturates first: {first['resource']} at {first['share'] * 100:.0f}% "
                f"around {_rate(first['at_rps'])}",
                style="yellow",
            )
        )
    verdict = plan["plan"].get("verdict")
    if verdict:
        parts.append(Text(f"→ {verdict}", style="bold"))
    if plan["plan"].get("scaling"):
        parts.append(Text(f"→ {plan['plan']['scaling']}"))
    for note in plan["notes"]:
        parts.append(Text(f"! {note}", style="yellow"))
    return Group(*parts)


def _sweep(sweep: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{p['concurrency']} → {p['throughput_rps']:,.0f}" + (" (cap)" if p["capped"] else "")
        for p in sweep
    )


def capacity_html(plan: dict[str, Any], target: str) -> str:
    steps = plan["steps"]
    info = plan["plan"]
    tiles = "".join(
        [
            tile("Sustainable", _rate(plan["sustainable_rps"])),
            tile("First failing", _rate(plan["first_failing_rps"])),
            tile("Knee", _rate(plan["knee_rps"])),
            tile("Replicas", str(info["replicas"]) if "replicas" in info else "–"),
        ]
    )
    rows = [
        [
            _rate(s["rate"]),
            _rate(s["achieved_rps"]),
            ms(s["latency_ms"]["p50"]),
            ms(s["latency_ms"]["p99"]),
            share(s["error_rate"]),
            '<span class="pass">held</span>' if s["passed"] else '<span class="fail">failed</span>',
            html.escape(", ".join(f"{k} {v * 100:.0f}%" for k, v in s["resources"].items())),
        ]
        for s in steps
    ]
    fit = plan["usl"]
    trusted = fit is not None and fit["trusted"]
    facts = []
    if fit is not None and not trusted:
        facts.append(
            f"No scalability model: the USL fit explains little of the measured throughput "
            f"(R² {fit['r_squared']:.3f}), so it is not drawn; the measured sweep and the knee "
            "are the facts."
        )
    elif fit is not None:
        facts.append(
            f"USL fit (R² {fit['r_squared']:.3f}): α = {fit['alpha']:.4f}, β = {fit['beta']:.6f}, "
            f"γ = {fit['gamma']:.1f} req/s per concurrent request; N* = "
            + (f"{fit['peak_concurrency']:.1f}" if fit["peak_concurrency"] else "∞")
            + (" (extrapolated: the sweep never reached the peak)" if fit["extrapolated"] else "")
        )
    if plan["saturates_first"]:
        first = plan["saturates_first"]
        facts.append(
            f"Saturates first: {first['resource']} at {first['share'] * 100:.0f}% around "
            f"{_rate(first['at_rps'])}."
        )
    for key in ("verdict", "scaling"):
        if info.get(key):
            facts.append(info[key])
    notes = "".join(f'<li class="warn">{html.escape(n)}</li>' for n in plan["notes"])
    sweep_rows = [
        [
            str(p["concurrency"]),
            _rate(p["throughput_rps"]),
            "the --max-rate cap" if p["capped"] else "",
        ]
        for p in plan["sweep"]
    ]
    body = (
        f"<h1>Capacity plan: {html.escape(target)}</h1>"
        f'<p class="muted">Steps at rising arrival rates (open model), each judged over its '
        "steady window, then a concurrency sweep fitted with the Universal Scalability Law.</p>"
        f'<section class="tiles">{tiles}</section>'
        + "".join(
            f'<section class="card"><strong>{html.escape(f)}</strong></section>' for f in facts
        )
        + '<section class="card"><h2>Steps</h2>'
        + table(
            ["offered", "answered", "p50", "p99", "errors", "SLO", "resources"],
            rows,
            {0, 1, 2, 3, 4},
        )
        + "</section>"
        + (
            '<section class="card"><h2>Concurrency sweep (measured)</h2>'
            + table(["concurrent", "throughput", ""], sweep_rows, {0, 1})
            + "</section>"
            if sweep_rows
            else ""
        )
        + (
            f'<section class="card"><h2>Read this first</h2><ul>{notes}</ul></section>'
            if notes
            else ""
        )
    )
    charts = [
        {
            "id": "steps",
            "title": "Latency and throughput as the rate rises",
            "x": [s["rate"] for s in steps],
            "xlabel": "offered req/s",
            "units": {"ms": "ms", "rps": "rps"},
            "from_zero": True,
            "series": [
                {"label": "p99", "values": [s["latency_ms"]["p99"] for s in steps], "color": "#f59e0b", "scale": "ms", "points": True, "line": True},
                {"label": "p50", "values": [s["latency_ms"]["p50"] for s in steps], "color": "#60a5fa", "scale": "ms", "points": True, "line": True},
                {"label": "answered", "values": [s["achieved_rps"] for s in steps], "color": "#2563eb", "scale": "rps", "dash": [4, 3], "points": True, "line": True},
            ],
        }
    ]  # fmt: skip
    sweep = plan["sweep"]
    if sweep:
        loads = [p["concurrency"] for p in sweep]
        # the curve runs on past its peak, when it has a trusted one near the measured loads
        peak = (fit["peak_concurrency"] or 0) if trusted else 0
        top = max(loads[-1], min(peak * 1.5, 4 * loads[-1]))
        grid = sorted({*loads, *[round(1 + i * (top - 1) / 40, 2) for i in range(41)]})
        measured = {p["concurrency"]: p["throughput_rps"] for p in sweep}
        series = [
            {"label": "measured", "values": [measured.get(n) for n in grid], "color": "#2563eb", "scale": "rps", "points": True},
        ]  # fmt: skip
        if trusted:
            curve: list[float | None] = []
            for n in grid:
                value = fit["gamma"] * n / (1 + fit["alpha"] * (n - 1) + fit["beta"] * n * (n - 1))
                curve.append(None if math.isnan(value) else round(value, 2))
            series.append({"label": "USL fit", "values": curve, "color": "#f59e0b", "scale": "rps"})
        charts.append(
            {
                "id": "usl",
                "title": "Throughput by concurrency: measured"
                + (" and the USL fit" if trusted else ""),
                "x": grid,
                "xlabel": "concurrent requests",
                "units": {"rps": "rps"},
                "from_zero": True,
                "series": series,
            }
        )  # fmt: skip
    return page(f"Capacity plan {target}", body, charts)
