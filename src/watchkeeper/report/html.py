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
    "scale"?}], "time": bool, "units": {scale: "ms"|"rps"|"n"|"%"|""}, "from_zero": bool}``
    ("n" is a count: whole ticks; ``from_zero``: each y axis starts at 0, for quantities a
    small wobble in should not look large); a chart with ``"inline": true`` is drawn into the
    element of its id that ``body`` holds, the others each in a card of their own after
    ``body``. Each chart's accessible label tells its axes' ticks."""
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
  // decimals that tell ticks `step` apart (0 for whole steps)
  function places(step) {{
    for (var p = 0; p < 6; p++) {{
      var scaled = step * Math.pow(10, p);
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, Math.abs(scaled))) return p;
    }}
    return 6;
  }}
  // an axis's tick labels: one unit for the whole axis, as many decimals as its step needs,
  // never two alike (a flat series must not read "99/s 99/s 99/s")
  function ticks(unit, splits, step) {{
    var top = 0;
    splits.forEach(function (v) {{ if (v !== null) top = Math.max(top, Math.abs(v)); }});
    var factor = 1, suffix = "";
    if (unit === "ms") {{
      if (top < 1) {{ factor = 1000; suffix = "µs"; }}
      else if (top >= 1000) {{ factor = 0.001; suffix = "s"; }}
      else suffix = "ms";
    }} else if (unit === "rps") suffix = "/s";
    else if (unit === "%") {{ factor = 100; suffix = "%"; }}
    function show(p) {{
      return splits.map(function (v) {{
        if (v === null) return "";
        return (v * factor).toLocaleString(undefined,
          {{ minimumFractionDigits: p, maximumFractionDigits: p }}) + suffix;
      }});
    }}
    var p = places((step || 1) * factor), out = show(p);
    while (p < 6 && new Set(out).size < out.length) out = show(++p);
    return out;
  }}
  var WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
    1e6, 2e6, 5e6, 1e7];
  // a y range from zero (rates, latencies, counts: not a tiny wobble magnified)
  function fromZero(u, min, max) {{
    if (min === null || max === null) return [0, 1];
    var lo = Math.min(0, min), hi = Math.max(max, lo);
    if (hi === lo) hi = lo + 1;
    return [lo, hi + (hi - lo) * 0.05];
  }}
  // one x value (a one-step plan, a one-second test) still gets an axis around it
  function aroundOne(u, min, max) {{
    if (min === null || max === null) return [0, 1];
    if (min !== max) return [min, max];
    return [min >= 0 ? Math.max(0, min - 1) : min - 1, max + 1];
  }}
  charts.forEach(function (chart) {{
    var holder = document.getElementById(chart.id);
    var drawn = {{}};  // the tick labels of each axis, told in the chart's accessible label
    function axisValues(name, unit) {{
      return function (u, splits, axis, space, step) {{
        return (drawn[name] = ticks(unit, splits, step));
      }};
    }}
    var whole = chart.x.every(function (v) {{ return v === null || Number.isInteger(v); }});
    var scales = {{ x: chart.time ? {{ time: true }} : {{ time: false, range: aroundOne }} }};
    var xname = chart.xlabel || "";
    var axes = [chart.time ? {{ label: xname }} : {{ label: xname,
      values: axisValues(xname || "x", ""), incrs: whole ? WHOLE : undefined }}];
    var units = chart.units || {{}};
    Object.keys(units).forEach(function (scale, i) {{
      scales[scale] = chart.from_zero ? {{ auto: true, range: fromZero }} : {{ auto: true }};
      axes.push({{ scale: scale, side: i === 0 ? 3 : 1, size: 70,
        values: axisValues(scale, units[scale]),
        incrs: units[scale] === "n" ? WHOLE : undefined,
        grid: {{ show: i === 0 }} }});
    }});
    var series = [{{ label: xname || "t" }}].concat(chart.series.map(function (s) {{
      return {{ label: s.label, stroke: s.color, width: s.width || 1.6, scale: s.scale,
        fill: s.fill || undefined, dash: s.dash || undefined,
        points: {{ show: !!s.points, size: 6, fill: s.color }},
        paths: s.points && !s.line ? function () {{ return null; }} : undefined,
        value: function (u, v) {{ return fmt(units[s.scale])(u, v); }} }};
    }}));
    var columns = [chart.x].concat(chart.series.map(function (s) {{ return s.values; }}));
    function describe() {{
      var parts = Object.keys(drawn).map(function (name) {{
        return name + " axis " + drawn[name].join(", ");
      }});
      holder.setAttribute("aria-label", chart.title + " — " + parts.join("; "));
    }}
    holder.setAttribute("data-chart", "");
    holder.setAttribute("role", "img");
    new uPlot({{ width: Math.max(320, holder.clientWidth || 900), height: 300, series: series,
      scales: scales, axes: axes, legend: {{ live: true }}, hooks: {{ draw: [describe] }} }},
      columns, holder);
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
