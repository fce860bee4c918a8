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

  function poll(name, apply) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fetch("/api/v1/states?name=" + encodeURIComponent(name), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (r.status === 401) { location.reload(); } return r.ok ? r.json() : null; })
        .then(function (data) { if (data) apply(data); })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    setInterval(tick, 5000);
    document.addEventListener("visibilitychange", tick);
  }

  // -- overview ------------------------------------------------------------------------------
  // The server filters and pages (it holds every monitor; the page holds one page of rows).
  // Changing a filter or a page asks /overview/rows for that view; every 5 s it is asked
  // again, so states, counts and which monitors are on the page follow the fleet live.
  function overview() {
    var table = document.getElementById("monitors");
    if (!table) return;
    var body = table.tBodies[0];
    var search = document.getElementById("search");
    var tagSelect = document.getElementById("tag-filter");
    var stateField = document.getElementById("state-field");
    var pager = document.getElementById("pager");
    var empty = document.getElementById("no-match");
    var view = new URLSearchParams(location.search);
    var drawn = {};  // name -> the row's HTML as the server last sent it
    var asked = 0, shown = 0, searchTimer = null;

    Array.prototype.slice.call(body.childNodes).forEach(function (node) {
      if (node.nodeType !== 1) body.removeChild(node);
    });
    Array.prototype.forEach.call(body.rows, function (row) { drawn[row.getAttribute("data-name")] = row.outerHTML; });

    function params() {
      var out = new URLSearchParams();
      var q = (search.value || "").trim();
      if (q) out.set("q", q);
      if (stateField.value) out.set("state", stateField.value);
      if (tagSelect && tagSelect.value) out.set("tag", tagSelect.value);
      var page = view.get("page");
      if (page && page !== "1") out.set("page", page);
      return out;
    }

    function rowsFrom(html) {
      var holder = document.createElement("template");
      holder.innerHTML = "<table><tbody>" + html + "</tbody></table>";
      return Array.prototype.slice.call(holder.content.querySelectorAll("tbody > tr"));
    }

    function draw(data) {
      var old = {};
      Array.prototype.forEach.call(body.rows, function (row) { old[row.getAttribute("data-name")] = row; });
      var fresh = rowsFrom(data.rows), next = {}, nodes = [];
      fresh.forEach(function (row) {
        var name = row.getAttribute("data-name"), html = row.outerHTML, kept = old[name];
        next[name] = html;
        if (kept && drawn[name] === html) { nodes.push(kept); return; }
        if (kept && kept.getAttribute("data-state") !== row.getAttribute("data-state")) row.classList.add("flash");
        nodes.push(document.importNode(row, true));
      });
      var cursor = body.firstChild;  // move rows only where they changed (keeps focus and hover)
      nodes.forEach(function (node) {
        if (node === cursor) { cursor = cursor.nextSibling; } else { body.insertBefore(node, cursor); }
      });
      while (cursor) { var after = cursor.nextSibling; body.removeChild(cursor); cursor = after; }
      drawn = next;
      pager.innerHTML = data.pager;
      document.getElementById("summary-line").innerHTML = data.summary;
      shown = data.shown;
      empty.classList.toggle("hidden", shown > 0);
      document.querySelectorAll("[data-count]").forEach(function (el) {
        el.textContent = data.counts[el.getAttribute("data-count")] || 0;
      });
      var troubled = document.getElementById("troubled-count");
      if (troubled) troubled.textContent = data.open_incidents;
      refreshAgo();
    }

    function marks() {
      var state = stateField.value;
      document.querySelectorAll("#state-chips .chip").forEach(function (chip) {
        chip.classList.toggle("on", chip.getAttribute("data-state") === state);
      });
      document.querySelectorAll("[data-state-filter]").forEach(function (tile) {
        tile.classList.toggle("selected", tile.getAttribute("data-state-filter") === state);
      });
    }

    function load(live) {
      var query = params().toString(), mine = ++asked;
      return fetch("/overview/rows" + (query ? "?" + query : ""), {
        credentials: "same-origin", headers: { Accept: "application/json" }
      })
        .then(function (r) {
          var json = (r.headers.get("content-type") || "").indexOf("application/json") === 0;
          if (r.status === 401 || (r.ok && !json)) { location.reload(); return null; }  // logged out
          return r.ok ? r.json() : null;
        })
        .then(function (data) {
          if (!data || mine !== asked) return;  // a newer view was asked for meanwhile
          draw(data);
          if (!live) history.replaceState(null, "", data.address);
          view = new URLSearchParams(data.address.split("?")[1] || "");
        })
        .catch(function () {});
    }

    function change() { view.delete("page"); marks(); load(false); }
    search.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(change, 200);
    });
    if (tagSelect) tagSelect.addEventListener("change", change);
    document.querySelectorAll("#state-chips .chip").forEach(function (chip) {
      chip.addEventListener("click", function (event) {
        event.preventDefault();
        stateField.value = chip.getAttribute("data-state");
        change();
      });
    });
    document.querySelectorAll("[data-state-filter]").forEach(function (tile) {
      tile.addEventListener("click", function (event) {
        event.preventDefault();
        var state = tile.getAttribute("data-state-filter");
        stateField.value = stateField.value === state ? "" : state;
        change();
      });
    });
    pager.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-page]");
      if (!link) return;
      event.preventDefault();
      view.set("page", link.getAttribute("data-page"));
      load(false).then(function () { table.scrollIntoView({ block: "start" }); });
    });
    document.getElementById("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      clearTimeout(searchTimer);
      change();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "/" && document.activeElement !== search) { event.preventDefault(); search.focus(); }
    });
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      load(true).then(function () { busy = false; });
    }, 5000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) load(true); });
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
    poll(name, function (data) {
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
    var page = document.body.dataset.page;
    if (page === "overview") overview();  // first: it keeps the rows as the server drew them
    refreshAgo();
    setInterval(refreshAgo, 5000);
    if (page === "monitor") { monitorPage(); chart(); metricChart(); diagnosis(); }
    if (page === "status") setTimeout(function () { location.reload(); }, 60000);
  });
})();
