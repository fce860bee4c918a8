/* The Web Vitals page's charts (uPlot): the chosen page group's p75 over time with the
   good and poor thresholds, and the shares of good / needs-improvement / poor page views
   over time, stacked. Data from /api/v1/rum/series. */
(function () {
  "use strict";

  var GOOD = "#16a34a", MIDDLE = "#d97706", POOR = "#dc2626";

  function format(unit, value) {
    if (value === null || value === undefined) return "–";
    if (unit !== "ms") return value === 0 ? "0" : value.toFixed(value >= 0.01 ? 2 : 3);
    if (Math.abs(value) >= 1000) return (value / 1000).toFixed(2) + " s";
    return Math.round(value) + " ms";
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : Math.round(value) + "%";
  }

  function draw(p75Holder, sharesHolder, data) {
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    var axis = dark ? "#9aa6ba" : "#5b6678", grid = dark ? "#223050" : "#eef1f5";
    var xs = [], p75 = [], good = [], middle = [], all = [];
    data.points.forEach(function (p) {
      xs.push(p.at);
      p75.push(p.p75);
      good.push(p.good * 100);
      middle.push((p.good + p.needs_improvement) * 100);
      all.push((p.good + p.needs_improvement + p.poor) * 100);
    });
    var note = document.getElementById("vitals-chart-note");
    p75Holder.innerHTML = "";
    sharesHolder.innerHTML = "";
    if (!xs.length) {
      p75Holder.innerHTML = '<div class="empty">No page views in this window.</div>';
      sharesHolder.innerHTML = '<div class="empty">No page views in this window.</div>';
      return [];
    }
    var unit = data.unit, few = xs.length < 60;
    var range = function () {
      var first = xs[0], span = data.until - first;
      return [Math.max(data.since, first - Math.max(60, span * 0.05)), data.until];
    };
    var width = p75Holder.clientWidth || 600;
    var lines = [xs, p75, xs.map(function () { return data.thresholds.good; }),
                 xs.map(function () { return data.thresholds.poor; })];
    var top = Math.max.apply(null, p75.concat([data.thresholds.poor])) * 1.15;
    var p75Plot = new uPlot({
      width: width, height: 240,
      series: [
        {},
        { label: "p75", stroke: dark ? "#60a5fa" : "#2563eb", width: 2,
          points: { show: few, size: 6 }, value: function (u, v) { return format(unit, v); } },
        { label: "good up to", stroke: GOOD, width: 1, dash: [5, 4], points: { show: false },
          value: function (u, v) { return format(unit, v); } },
        { label: "poor above", stroke: POOR, width: 1, dash: [5, 4], points: { show: false },
          value: function (u, v) { return format(unit, v); } }
      ],
      axes: [{ stroke: axis, grid: { stroke: grid } },
             { stroke: axis, grid: { stroke: grid }, size: 64,
               values: function (u, vals) { return vals.map(function (v) { return format(unit, v); }); } }],
      scales: { x: { time: true, range: range }, y: { range: [0, top] } }
    }, lines, p75Holder);
    var sharesPlot = new uPlot({
      width: width, height: 180,
      series: [
        {},
        { label: "poor", stroke: POOR, fill: POOR + "cc", width: 1, points: { show: false },
          value: function (u, v, s, i) { return i === null ? "–" : percent(all[i] - middle[i]); } },
        { label: "needs improvement", stroke: MIDDLE, fill: MIDDLE + "cc", width: 1, points: { show: false },
          value: function (u, v, s, i) { return i === null ? "–" : percent(middle[i] - good[i]); } },
        { label: "good", stroke: GOOD, fill: GOOD + "cc", width: 1, points: { show: false },
          value: function (u, v) { return percent(v); } }
      ],
      axes: [{ stroke: axis, grid: { stroke: grid } },
             { stroke: axis, grid: { stroke: grid }, size: 64,
               values: function (u, vals) { return vals.map(function (v) { return v + "%"; }); } }],
      scales: { x: { time: true, range: range }, y: { range: [0, 100] } }
    }, [xs, all, middle, good], sharesHolder);
    if (note) {
      var step = data.step_s >= 3600 ? data.step_s / 3600 + " h" : data.step_s / 60 + " min";
      note.textContent = xs.length + (xs.length === 1 ? " step" : " steps") + " of " + step +
        "; dashed: good up to " + format(unit, data.thresholds.good) + ", poor above " +
        format(unit, data.thresholds.poor) + ".";
    }
    return [p75Plot, sharesPlot];
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("vitals-chart");
    var shares = document.getElementById("vitals-shares");
    if (!holder || !shares || !window.uPlot) return;
    var query = new URLSearchParams({
      page: holder.getAttribute("data-page"),
      metric: holder.getAttribute("data-metric"),
      device: holder.getAttribute("data-device"),
      since: holder.getAttribute("data-since")
    });
    var plots = [];
    fetch("/api/v1/rum/series?" + query.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) { plots = draw(holder, shares, data); })
      .catch(function () { holder.innerHTML = '<div class="empty">The chart could not be loaded.</div>'; });
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        plots.forEach(function (plot, i) {
          plot.setSize({ width: holder.clientWidth, height: i === 0 ? 240 : 180 });
        });
      }, 150);
    });
  });
})();
