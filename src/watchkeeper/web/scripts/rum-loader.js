/* Watchkeeper's real-user monitoring loader: the second half of /rum.js, after Google's
   web-vitals (attribution build), inside the same function (so `webVitals` is not a global).

     <script src="https://wk.example.com/rum.js" defer></script>
       data-endpoint="https://wk.example.com/rum"   where beacons go (default: the script's
                                                    own origin + /rum)
       data-sample="0.1"                            the share of page views that report

   Each page view gets a random id; it reports when the id's first 32 bits, as a fraction, are
   under the sample (Watchkeeper keeps or drops page views by the same rule). LCP, INP, CLS,
   FCP and TTFB are queued as web-vitals reports them and sent in batches, as text/plain JSON
   with navigator.sendBeacon (no preflight, survives the page closing), when the page is
   hidden or left (and what web-vitals reports after that, at once); fetch(..., {keepalive:
   true}) where sendBeacon is missing or refuses. No
   cookie is read or set; the page's address is sent as its path only (no query, no
   fragment). */
var script = document.currentScript;
if (!script || !window.JSON || !webVitals) return;
var MOST_METRICS = 50, MOST_BYTES = 60000, MOST_TEXT = 300;

function setting(name) {
  var value = script.getAttribute("data-" + name);
  return value === null ? null : value;
}

var endpoint = setting("endpoint");
if (!endpoint) {
  try { endpoint = new URL(script.src, location.href).origin + "/rum"; } catch (e) { return; }
}
var sample = parseFloat(setting("sample"));
if (!(sample >= 0 && sample <= 1)) sample = 1;

function randomHex(bytes) {
  var out = "", data = new Uint8Array(bytes);
  (window.crypto || window.msCrypto).getRandomValues(data);
  for (var i = 0; i < data.length; i++) out += (data[i] < 16 ? "0" : "") + data[i].toString(16);
  return out;
}

var view = randomHex(8);
if (parseInt(view.slice(0, 8), 16) / 4294967296 >= sample) return;

function deviceClass() {
  var data = navigator.userAgentData;
  var shorter = Math.min(screen.width || 0, screen.height || 0) || window.innerWidth || 1024;
  if ((data && data.mobile) || shorter < 600) return "mobile";
  if (shorter < 1024 && navigator.maxTouchPoints > 0) return "tablet";
  return "desktop";
}
var device = deviceClass();

function pathOf(address) {
  try { return new URL(address || location.href, location.href).pathname; } catch (e) { return location.pathname; }
}

function text(value) {
  return typeof value === "string" && value ? value.slice(0, MOST_TEXT) : undefined;
}

function withoutQuery(address) {
  return typeof address === "string" && address ? address.split("#")[0].split("?")[0].slice(0, MOST_TEXT) : undefined;
}

function number(value) {
  return typeof value === "number" && isFinite(value) ? Math.round(value * 1000) / 1000 : undefined;
}

/* Only what explains the metric: web-vitals' attribution holds whole DOM entries. */
function trimmed(metric) {
  var a = metric.attribution || {};
  switch (metric.name) {
    case "LCP":
      return { target: text(a.target || a.element), url: withoutQuery(a.url),
               timeToFirstByte: number(a.timeToFirstByte), resourceLoadDelay: number(a.resourceLoadDelay),
               resourceLoadDuration: number(a.resourceLoadDuration), elementRenderDelay: number(a.elementRenderDelay) };
    case "INP":
      return { interactionTarget: text(a.interactionTarget), interactionType: text(a.interactionType),
               inputDelay: number(a.inputDelay), processingDuration: number(a.processingDuration),
               presentationDelay: number(a.presentationDelay), loadState: text(a.loadState) };
    case "CLS":
      return { largestShiftTarget: text(a.largestShiftTarget), largestShiftValue: number(a.largestShiftValue),
               largestShiftTime: number(a.largestShiftTime), loadState: text(a.loadState) };
    case "FCP":
      return { timeToFirstByte: number(a.timeToFirstByte), firstByteToFCP: number(a.firstByteToFCP),
               loadState: text(a.loadState) };
    case "TTFB":
      return { waitingDuration: number(a.waitingDuration), cacheDuration: number(a.cacheDuration),
               dnsDuration: number(a.dnsDuration), connectionDuration: number(a.connectionDuration),
               requestDuration: number(a.requestDuration) };
  }
  return {};
}

var queue = [], soon = false;

/* Every change is reported (reportAllChanges) and the queue keeps the newest report of each
   metric id: web-vitals' own final report when the page hides can come before it has looked
   at the last interaction (an idle callback not yet run), and then never comes. Queued while
   the page is visible; once it is hidden, sent at once (those listeners may run after ours).
   A metric sent and changed later goes again under its id: Watchkeeper keeps the newer. */
function report(metric) {
  var entry = {
    id: metric.id, name: metric.name, value: metric.value, delta: metric.delta,
    rating: metric.rating, navigationType: metric.navigationType,
    page: pathOf(metric.navigationURL), device: device, attribution: trimmed(metric)
  };
  for (var i = 0; i < queue.length; i++) {
    if (queue[i].id === entry.id) { queue.splice(i, 1); break; }
  }
  queue.push(entry);
  if (document.visibilityState === "hidden" && !soon) {
    soon = true;
    Promise.resolve().then(function () { soon = false; flush(); });
  }
}

function send(body) {
  try {
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) return;
  } catch (e) { /* fall through to fetch */ }
  try {
    fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "omit",
                      mode: "cors", headers: { "Content-Type": "text/plain" } }).catch(function () {});
  } catch (e) { /* nothing more to try */ }
}

function flush() {
  while (queue.length) {
    var batch = queue.splice(0, MOST_METRICS);
    var body = JSON.stringify({ view: view, metrics: batch });
    while (body.length > MOST_BYTES && batch.length > 1) {  // halve until it fits
      queue = batch.splice(Math.ceil(batch.length / 2)).concat(queue);
      body = JSON.stringify({ view: view, metrics: batch });
    }
    if (body.length <= MOST_BYTES) send(body);
  }
}

var every = { reportAllChanges: true };
webVitals.onTTFB(report, every);
webVitals.onFCP(report, every);
webVitals.onLCP(report, every);
webVitals.onINP(report, every);
webVitals.onCLS(report, every);

addEventListener("visibilitychange", function () {
  if (document.visibilityState === "hidden") flush();
}, true);
addEventListener("pagehide", flush, true);
