"""Self-contained HTML reports: one file with its styles, data and charts inside (uPlot is
inlined from the package), so it can be mailed, attached to a ticket or opened offline."""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

_STYLE = """
:root { --text:#0f172a; --muted:#5b6678; --border:#e3e7ee; --bg:#f5f6f8; --card:#fff;
  --good:#16a34a; --bad:#dc2626; --warn:#d97706; color-scheme: light dark; }
@media (prefers-color-scheme: dark) { :root { --text:#e5e9f0; --muted:#9aa6ba;
  --border:#223050; --bg:#0b1120; --card:#111a2e; } }
body { margin:0; background:var(--bg); color:var(--text);
  font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
main { max-width:1100px; margin:0 auto; padding:24px; }
h1 { font-size:22px; margin:0 0 4px; } h2 { font-size:16px; margin:0 0 12px; }
.muted { color:var(--muted); }
.card { background:var(--card); border:1px solid var(--border); border-radius:10px;
  padding:16px; margin:16px 0; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; }
.tile { background:var(--card); border:1px solid var(--border); border-radius:10px;
  padding:12px 14px; }
.tile .label { color:var(--muted); font-size:12px; } .tile .value { font-size:22px;
  font-weight:650; font-variant-numeric:tabular-nums; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--border); }
th { color:var(--muted); font-weight:560; font-size:12px; text-transform:uppercase; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.pass { color:var(--good); font-weight:650; } .fail { color:var(--bad); font-weight:650; }
.warn { color:var(--warn); }
.verdict { font-size:18px; font-weight:650; padding:12px 16px; border-radius:10px;
  color:#fff; } .verdict.pass { background:var(--good); color:#fff; }
.verdict.fail { background:var(--bad); color:#fff; }
dl.evidence { display:grid; grid-template-columns:repeat(auto-fill,minmax(200px,1fr));
  gap:8px; margin:12px 0; }
dl.evidence div { border:1px solid var(--border); border-radius:8px; padding:6px 10px; }
dl.evidence dt { color:var(--muted); font-size:11px; text-transform:uppercase;
  letter-spacing:.03em; overflow-wrap:anywhere; }
dl.evidence dd { margin:2px 0 0; font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
code { font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace; background:var(--bg);
  border-radius:4px; padding:1px 4px; }
pre code { background:none; padding:0; }
pre { background:var(--bg); border:1px solid var(--border); border-radius:8px;
  padding:10px 12px; overflow-x:auto; font-size:13px; }
.u-legend th { text-transform:none; border:0; } .u-legend td { border:0; }
"""


def _asset(name: str) -> str:
    return (
        resources.files("watchkeeper.web")
        .joinpath("static/vendor/uplot")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


def page(
    title: str,
    body: str,
    charts: list[dict[str, Any]],
    *,
    note: str = "Times are seconds from the start of the run.",
) -> str:
    """A whole HTML document: ``body`` (trusted markup, escaped by the caller) and
    ``charts``, each ``{"id", "title", "x": [...], "series": [{"label", "values", "color",
    "scale"?}], "time": bool, "units": {scale: "ms"|"rps"|""}}``; a chart with ``"inline":
    true`` is drawn into the element of its id that ``body`` holds, the others each in a card
    of their own after ``body``."""
    data = json.dumps(charts, separators=(",", ":")).replace("<", "\\u003c")
    blocks = "".join(
        f'<section class="card"><h2>{html.escape(c["title"])}</h2><div id="{c["id"]}"></div>'
        "</section>"
        for c in charts
        if not c.get("inline")
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_asset("uPlot.min.css")}{_STYLE}</style>
</head><body><main>
{body}
{blocks}
<p class="muted">Made by Watchkeeper. {html.escape(note)}</p>
</main>
<script>{_asset("uPlot.iife.min.js")}</script>
<script>
(function () {{
  var charts = {data};
  function fmt(unit) {{
    return function (u, v) {{
      if (v === null || v === undefined) return "–";
      if (unit === "ms") return v < 1 ? (v * 1000).toFixed(0) + "µs" : v < 1000 ? v.toFixed(v < 10 ? 1 : 0) + "ms" : (v / 1000).toFixed(2) + "s";
      if (unit === "rps") return Math.round(v).toLocaleString() + "/s";
      if (unit === "%") return (v * 100).toFixed(1) + "%";
      return (Math.round(v * 100) / 100).toLocaleString();
    }};
  }}
  charts.forEach(function (chart) {{
    var holder = document.getElementById(chart.id);
    var scales = {{ x: {{ time: !!chart.time }} }};
    var axes = [{{ label: chart.xlabel || "" }}];
    var units = chart.units || {{}};
    Object.keys(units).forEach(function (scale, i) {{
      scales[scale] = {{ auto: true }};
      axes.push({{ scale: scale, side: i === 0 ? 3 : 1, size: 70,
        values: function (u, vals) {{ return vals.map(function (v) {{ return fmt(units[scale])(u, v); }}); }},
        grid: {{ show: i === 0 }} }});
    }});
    var series = [{{ label: chart.xlabel || "t" }}].concat(chart.series.map(function (s) {{
      return {{ label: s.label, stroke: s.color, width: s.width || 1.6, scale: s.scale,
        fill: s.fill || undefined, dash: s.dash || undefined,
        points: {{ show: !!s.points, size: 6, fill: s.color }},
        paths: s.points && !s.line ? function () {{ return null; }} : undefined,
        value: function (u, v) {{ return fmt(units[s.scale])(u, v); }} }};
    }}));
    var columns = [chart.x].concat(chart.series.map(function (s) {{ return s.values; }}));
    new uPlot({{ width: Math.max(320, holder.clientWidth || 900), height: 300, series: series,
      scales: scales, axes: axes, legend: {{ live: true }} }}, columns, holder);
  }});
}})();
</script>
</body></html>
"""


def tile(label: str, value: str, css: str = "") -> str:
    return (
        f'<div class="tile"><div class="label">{html.escape(label)}</div>'
        f'<div class="value {css}">{html.escape(value)}</div></div>'
    )


def table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
