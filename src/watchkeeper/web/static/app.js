/* Watchkeeper's pages: live updates, instant filters, the latency chart, "run check now".
   Plain JavaScript, no build step; everything it needs is served by Watchkeeper itself. */
(function () {
  "use strict";

  var LABELS = { up: "Up", down: "Down", degraded: "Degraded", flapping: "Flapping", paused: "Paused", unknown: "Pending" };
  var csrf = document.body.getAttribute("data-csrf") || "";

  function short(seconds) {
    if (seconds < 1) return "just now";
    if (seconds < 60) return Math.floor(seconds) + "s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m ago";
    if (seconds < 86400) {
      var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
      return h + "h" + (m ? " " + m + "m" : "") + " ago";
    }
    var d = Math.floor(seconds / 86400), hh = Math.floor((seconds % 86400) / 3600);
    return d + "d" + (hh ? " " + hh + "h" : "") + " ago";
  }

  function ms(value) {
    if (value === null || value === undefined) return "–";
    if (value < 1) return Math.round(value * 1000) + "µs";
    if (value < 1000) return (value < 10 ? value.toFixed(1) : Math.round(value)) + "ms";
    return (value / 1000).toFixed(value < 10000 ? 2 : 1) + "s";
  }

  function refreshAgo() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-role=ago][data-at]").forEach(function (el) {
      var at = parseFloat(el.getAttribute("data-at"));
      if (at) el.textContent = short(now - at);
    });
  }

  function setState(pill, state) {
    if (!pill || pill.getAttribute("data-current") === state) return false;
    var before = pill.getAttribute("data-current");
    pill.setAttribute("data-current", state);
    pill.className = pill.className.replace(/\b(up|down|degraded|flapping|paused|unknown)\b/g, "").trim() + " " + state;
    var dot = pill.querySelector(".dot");
    if (dot) dot.className = "dot " + state;
    var text = pill.querySelector("[data-role=state-text]");
    if (text) text.textContent = LABELS[state] || state;
    return before !== null;
  }

  function poll(apply) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fetch("/api/v1/states", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (r.status === 401) { location.reload(); } return r.ok ? r.json() : null; })
        .then(function (data) { if (data) apply(data); })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    setInterval(tick, 5000);
    document.addEventListener("visibilitychange", tick);
  }

  // -- overview ------------------------------------------------------------------------------
  function overview() {
    var table = document.getElementById("monitors");
    if (!table) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var search = document.getElementById("search");
    var tagSelect = document.getElementById("tag-filter");
    var stateField = document.getElementById("state-field");
    var chips = document.querySelectorAll("#state-chips .chip");
    var tiles = document.querySelectorAll("[data-state-filter]");
    var empty = document.getElementById("no-match");
    rows.forEach(function (row) {
      var pill = row.querySelector("[data-role=state]");
      if (pill) pill.setAttribute("data-current", row.getAttribute("data-state"));
    });

    var serverFiltered = table.getAttribute("data-filtered") === "1";
    var reloadTimer = null;

    function query() {
      var params = new URLSearchParams();
      if ((search.value || "").trim()) params.set("q", search.value.trim());
      if (stateField.value) params.set("state", stateField.value);
      if (tagSelect && tagSelect.value) params.set("tag", tagSelect.value);
      var text = params.toString();
      return text ? "/?" + text : "/";
    }

    function apply() {
      if (serverFiltered) {  // the server left rows out: ask it again
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(function () { location.href = query(); }, 350);
        return;
      }
      var needle = (search.value || "").trim().toLowerCase();
      var state = stateField.value;
      var tag = tagSelect ? tagSelect.value : "";
      var shown = 0;
      rows.forEach(function (row) {
        var ok = (!needle || row.getAttribute("data-search").indexOf(needle) >= 0) &&
          (!state || row.getAttribute("data-state") === state) &&
          (!tag || (" " + row.getAttribute("data-tags") + " ").indexOf(" " + tag + " ") >= 0);
        row.classList.toggle("hidden", !ok);
        if (ok) shown++;
      });
      empty.classList.toggle("hidden", shown > 0);
      chips.forEach(function (chip) { chip.classList.toggle("on", chip.getAttribute("data-state") === state); });
      tiles.forEach(function (tile) { tile.classList.toggle("selected", tile.getAttribute("data-state-filter") === state); });
      history.replaceState(null, "", query());
    }
    function pickState(state) { stateField.value = stateField.value === state ? "" : state; apply(); }
    search.addEventListener("input", apply);
    if (tagSelect) tagSelect.addEventListener("change", apply);
    chips.forEach(function (chip) {
      chip.addEventListener("click", function () { stateField.value = chip.getAttribute("data-state"); apply(); });
    });
    tiles.forEach(function (tile) {
      tile.addEventListener("click", function (event) { event.preventDefault(); pickState(tile.getAttribute("data-state-filter")); });
    });
    document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "/" && document.activeElement !== search) { event.preventDefault(); search.focus(); }
    });

    var byName = {};
    rows.forEach(function (row) { byName[row.getAttribute("data-name")] = row; });
    poll(function (data) {
      Object.keys(data.monitors).forEach(function (name) {
        var row = byName[name], m = data.monitors[name];
        if (!row) return;
        row.setAttribute("data-state", m.state);
        if (setState(row.querySelector("[data-role=state]"), m.state)) {
          row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash");
        }
        var reason = row.querySelector("[data-role=reason]");
        if (reason) {
          var bad = m.state === "down" || m.state === "degraded" || m.state === "flapping";
          reason.textContent = bad && m.reason ? (m.reason.length > 80 ? m.reason.slice(0, 77) + "..." : m.reason) : "";
          reason.classList.toggle("warn", m.state === "degraded");
        }
        var latency = row.querySelector("[data-role=latency]");
        if (latency) latency.textContent = ms(m.latency_ms);
        var ago = row.querySelector("[data-role=ago]");
        if (ago && m.at) ago.setAttribute("data-at", m.at);
      });
      document.querySelectorAll("[data-count]").forEach(function (el) {
        el.textContent = data.counts[el.getAttribute("data-count")] || 0;
      });
      refreshAgo();
      if (!serverFiltered) apply();
    });
  }

  // -- monitor page --------------------------------------------------------------------------
  var PHASES = [
    ["dns", "DNS", "#a5b4fc"],
    ["connect", "Connect", "#60a5fa"],
    ["tls", "TLS", "#34d399"],
    ["ttfb", "Waiting (TTFB)", "#fbbf24"],
    ["rest", "Transfer & other", "#f472b6"]
  ];

  function chart() {
    var holder = document.getElementById("chart");
    if (!holder || !window.uPlot) return;
    var name = holder.getAttribute("data-monitor");
    var plot = null, raw = null;
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    var axisColor = dark ? "#9aa6ba" : "#5b6678", gridColor = dark ? "#223050" : "#eef1f5";

    function load(range) {
      document.getElementById("chart-note").textContent = "Loading…";
      fetch("/api/v1/monitors/" + encodeURIComponent(name) + "/series?since=" + range, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { draw(data, range); })
        .catch(function () { document.getElementById("chart-note").textContent = "The chart could not be loaded."; });
    }

    function draw(data, range) {
      var points = data.points;
      var xs = [], own = PHASES.map(function () { return []; }), p95 = [], failed = [];
      points.forEach(function (p) {
        xs.push(p.at);
        var sum = 0;
        PHASES.forEach(function (phase, i) {
          var v;
          if (phase[0] === "rest") {
            v = p.phases.transfer !== undefined && p.phases.transfer !== null ? p.phases.transfer : (p.p50_ms !== null ? Math.max(0, p.p50_ms - sum) : null);
          } else {
            v = p.phases[phase[0]];
          }
          own[i].push(v === undefined ? null : v);
          if (v) sum += v;
        });
        p95.push(p.p95_ms);
        failed.push(p.failures > 0 ? (p.p95_ms || sum || 0) : null);
      });
      raw = own;
      // stacked: series k is the sum of phases 0..k, drawn from the tallest down
      var stacks = PHASES.map(function (_, k) {
        return xs.map(function (_, j) {
          var total = 0, any = false;
          for (var i = 0; i <= k; i++) { var v = own[i][j]; if (v !== null) { total += v; any = true; } }
          return any ? total : null;
        });
      });
      var series = [{}];
      var columns = [xs];
      for (var k = PHASES.length - 1; k >= 0; k--) {
        (function (k) {
          series.push({
            label: PHASES[k][1],
            stroke: PHASES[k][2],
            fill: PHASES[k][2] + "cc",
            width: 1,
            points: { show: false },
            value: function (u, v, si, i) { var x = i === null ? null : raw[k][i]; return x === null || x === undefined ? "–" : ms(x); }
          });
          columns.push(stacks[k]);
        })(k);
      }
      series.push({ label: "p95", stroke: dark ? "#e5e9f0" : "#0f172a", width: 1.5, dash: [4, 3], points: { show: false }, value: function (u, v) { return v === null ? "–" : ms(v); } });
      columns.push(p95);
      series.push({ label: "failed", stroke: "#dc2626", width: 0, points: { show: true, size: 7, fill: "#dc2626", stroke: "#dc2626" }, paths: function () { return null; }, value: function (u, v) { return v === null ? "" : "failed"; } });
      columns.push(failed);
      var width = holder.clientWidth || 600;
      var options = {
        width: width,
        height: 280,
        series: series,
        cursor: { points: { show: false } },
        legend: { live: true },
        axes: [
          { stroke: axisColor, grid: { stroke: gridColor } },
          { stroke: axisColor, grid: { stroke: gridColor }, values: function (u, vals) { return vals.map(ms); }, size: 60 }
        ],
        // the whole range asked for, unless the monitor is younger: then from its first point
        scales: { x: { time: true, range: function () {
          var first = xs.length ? xs[0] : data.since;
          var start = first - data.since > (data.until - data.since) * 0.1 ? first - (data.until - first) * 0.02 : data.since;
          return [start, data.until];
        } } }
      };
      if (plot) plot.destroy();
      holder.innerHTML = "";
      if (!xs.length) {
        holder.innerHTML = '<div class="empty">No results in this range yet.</div>';
      } else {
        plot = new uPlot(options, columns, holder);
      }
      document.getElementById("chart-note").textContent =
        points.length + (points.length === 1 ? " point (" : " points (") + (data.resolution === "raw" ? "every check" : data.resolution + " buckets, medians") +
        ") over the last " + range + ". Phases stacked; dashed: p95; red: failed checks.";
    }

    document.querySelectorAll("#ranges button").forEach(function (button) {
      button.addEventListener("click", function () {
        document.querySelectorAll("#ranges button").forEach(function (b) { b.classList.toggle("on", b === button); });
        load(button.getAttribute("data-range"));
      });
    });
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { if (plot) plot.setSize({ width: holder.clientWidth, height: 280 }); }, 150);
    });
    load("24h");
  }

  function metricChart() {
    var holder = document.getElementById("metric-chart");
    if (!holder || !window.uPlot) return;
    var name = holder.getAttribute("data-monitor");
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-metric]"));
    var plot = null;
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    var axisColor = dark ? "#9aa6ba" : "#5b6678", gridColor = dark ? "#223050" : "#eef1f5";
    function value(v) {
      if (v === null || v === undefined) return "–";
      var a = Math.abs(v);
      if (a >= 1e9) return (v / 1e9).toFixed(2) + " G";
      if (a >= 1e6) return (v / 1e6).toFixed(2) + " M";
      if (a >= 1e4) return (v / 1e3).toFixed(1) + " k";
      return Math.round(v * 1000) / 1000 + "";
    }
    function show(metric) {
      rows.forEach(function (row) { row.classList.toggle("on", row.getAttribute("data-metric") === metric); });
      var note = document.getElementById("metric-note");
      note.textContent = "Loading…";
      fetch("/api/v1/monitors/" + encodeURIComponent(name) + "/metrics/series?since=24h&metric=" + encodeURIComponent(metric), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var xs = [], mean = [], lo = [], hi = [];
          data.points.forEach(function (p) { xs.push(p.at); mean.push(p.mean); lo.push(p.min); hi.push(p.max); });
          if (plot) plot.destroy();
          holder.innerHTML = "";
          if (!xs.length) { holder.innerHTML = '<div class="empty">No points in the last 24 h.</div>'; return; }
          plot = new uPlot({
            width: holder.clientWidth || 600, height: 200,
            series: [{}, { label: "max", stroke: "#93c5fd", width: 1, points: { show: false }, value: function (u, v) { return value(v); } },
                     { label: "mean", stroke: "#2563eb", width: 2, points: { show: xs.length < 60, size: 6, fill: "#2563eb" }, value: function (u, v) { return value(v); } },
                     { label: "min", stroke: "#93c5fd", width: 1, points: { show: false }, value: function (u, v) { return value(v); } }],
            bands: [{ series: [1, 3], fill: "rgba(37, 99, 235, 0.12)" }],
            axes: [{ stroke: axisColor, grid: { stroke: gridColor } },
                   { stroke: axisColor, grid: { stroke: gridColor }, values: function (u, vals) { return vals.map(value); }, size: 76 }],
            // the last 24 h, or from a little before the first point when the series is younger
            scales: { x: { time: true, range: function () {
              var first = xs[0], span = data.until - first;
              return [Math.max(data.since, first - Math.max(60, span * 0.05)), data.until];
            } } }
          }, [xs, hi, mean, lo], holder);
          note.textContent = metric + ": " + xs.length + (xs.length === 1 ? " point (" : " points (") + (data.resolution === "raw" ? "every check" : data.resolution + " buckets") + ") over the last 24 h.";
        })
        .catch(function () { note.textContent = "The series could not be loaded."; });
    }
    rows.forEach(function (row) {
      row.addEventListener("click", function () { show(row.getAttribute("data-metric")); });
      row.addEventListener("keydown", function (event) { if (event.key === "Enter") show(row.getAttribute("data-metric")); });
    });
    var first = holder.getAttribute("data-first");
    if (first) show(first); else if (rows.length) show(rows[0].getAttribute("data-metric"));
  }

  function diagnosis() {
    var card = document.getElementById("diagnosis");
    if (!card) return;
    var name = card.getAttribute("data-monitor");
    fetch("/api/v1/monitors/" + encodeURIComponent(name) + "/diagnosis?since=6h", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { findings: [] }; })
      .then(function (data) {
        var list = document.getElementById("findings");
        list.textContent = "";
        data.findings.forEach(function (f) {
          var item = document.createElement("li");
          item.className = "finding " + f.severity;
          var title = document.createElement("div");
          title.className = "finding-title";
          var mark = document.createElement("span");
          mark.className = "sev " + f.severity;
          mark.textContent = f.severity;
          title.appendChild(mark);
          title.appendChild(document.createTextNode(" " + f.title));
          item.appendChild(title);
          if (f.recommendation) {
            var fix = document.createElement("div");
            fix.className = "muted";
            fix.textContent = f.recommendation;
            item.appendChild(fix);
          }
          list.appendChild(item);
        });
        card.hidden = data.findings.length === 0;
      })
      .catch(function () { card.hidden = true; });
  }

  function monitorPage() {
    var pill = document.querySelector("[data-role=state][data-name]");
    if (!pill) return;
    var name = pill.getAttribute("data-name");
    pill.setAttribute("data-current", (pill.className.match(/\b(up|down|degraded|flapping|paused|unknown)\b/) || ["unknown"])[0]);
    poll(function (data) {
      var m = data.monitors[name];
      if (!m) return;
      setState(pill, m.state);
      var latency = document.querySelector("[data-role=latency]");
      if (latency) latency.textContent = ms(m.latency_ms);
    });
    var run = document.getElementById("run-now");
    if (run) {
      run.addEventListener("click", function () {
        var out = document.getElementById("run-result");
        run.disabled = true;
        out.textContent = "Checking…";
        fetch("/api/v1/monitors/" + encodeURIComponent(name) + "/check", {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf, Accept: "application/json" }
        })
          .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
          .then(function (answer) {
            var r = answer.body;
            if (!answer.ok) { out.textContent = "Could not run: " + (r.detail || "error"); out.className = "reason"; return; }
            var text = r.ok ? "Passed in " + ms(r.latency_ms) : "Failed: " + (r.error || (r.failures || []).join("; "));
            out.textContent = text;
            out.className = r.ok ? "result-ok" : "reason";
          })
          .catch(function () { out.textContent = "Could not run the check."; })
          .then(function () { run.disabled = false; });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    refreshAgo();
    setInterval(refreshAgo, 5000);
    var page = document.body.dataset.page;
    if (page === "overview") overview();
    if (page === "monitor") { monitorPage(); chart(); metricChart(); diagnosis(); }
    if (page === "status") setTimeout(function () { location.reload(); }, 60000);
  });
})();
