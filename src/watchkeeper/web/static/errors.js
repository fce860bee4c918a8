/* An issue's events over time (uPlot): the counts per step the page carries in
   #issue-chart's data-series (numbers only), drawn as bars. */
(function () {
  "use strict";

  function draw(holder, data) {
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    var axis = dark ? "#9aa6ba" : "#5b6678", grid = dark ? "#223050" : "#eef1f5";
    var colour = dark ? "#f87171" : "#dc2626";
    holder.innerHTML = "";
    var top = Math.max.apply(null, data.counts.concat([1]));
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
    return new uPlot({
      width: holder.clientWidth || 600, height: 200,
      series: [
        {},
        { label: "events", stroke: colour, fill: colour + "99", width: 1, paths: bars,
          points: { show: false }, value: function (u, v, s, i) { return i === null ? "–" : String(v || 0); } }
      ],
      axes: [{ stroke: axis, grid: { stroke: grid } },
             { stroke: axis, grid: { stroke: grid }, size: 48,
               values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? v : ""; }); } }],
      scales: { x: { time: true }, y: { range: [0, Math.ceil(top * 1.15)] } }
    }, [data.at, data.counts.map(function (n) { return n || null; })], holder);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("issue-chart");
    if (!holder || !window.uPlot) return;
    var data;
    try {
      data = JSON.parse(holder.getAttribute("data-series") || "{}");
    } catch (e) {
      return;
    }
    if (!data.at || !data.at.length) return;
    var plot = draw(holder, data);
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { plot.setSize({ width: holder.clientWidth, height: 200 }); }, 150);
    });
  });
})();
