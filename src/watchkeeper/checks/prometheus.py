"""``prometheus``: scrape an exposition endpoint (node_exporter, an app's /metrics) and hold
its series to expectations.

    - name: app-metrics
      prometheus: http://127.0.0.1:9100/metrics
      expect: ['metric.http_requests_total{code="500"}.rate < 1',
               "metric.node_filesystem_avail_bytes{mountpoint=\\"/\\"}.value > 1GiB",
               "metric.up.value == 1"]
    - name: node
      prometheus: {url: "http://127.0.0.1:9100/metrics",
                   series: [node_memory_MemAvailable_bytes, "node_load1"]}

A subject is ``metric.<name>{<label matchers>}.<what>``: matchers as in PromQL (``=``, ``!=``,
``=~``, ``!~``); ``what`` is ``value`` (the sum of the matching series), ``rate`` (its change
per second since the previous scrape, for counters), ``count`` (how many series match), or
``max``/``min``. Only the series the expectations (and ``series:``) name are computed; each
is recorded as series (``metric.<selector>.value``, ``.rate``, ...) beside the result. The
body is capped (``max_body``) and parsed with prometheus_client's parser.
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.expect.regex import RegexError, compile_regex
from watchkeeper.units import Size

if TYPE_CHECKING:  # aiohttp and the parser come with the first scrape, not with a config
    import aiohttp

MACHINE_SERIES = (
    'node_cpu_seconds_total{mode="idle"}',
    "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes",
    'node_network_receive_bytes_total{device!="lo"}',
    'node_network_transmit_bytes_total{device!="lo"}',
)
"""node_exporter's series a monitor with ``instance:`` or ``cost:`` records besides what it
names (``wk cost`` sizes the machine from them): idle CPU seconds (its ``.rate`` is idle
cores, its ``.count`` the cores), memory available and total, and network bytes."""

_SELECTOR = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


class PrometheusSettings(CheckSettings):
    shorthand_field = "url"

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    max_body: Size = 16 * 1024 * 1024
    series: tuple[str, ...] = ()
    """Selectors to record as series even when no expectation names them
    (``node_memory_MemAvailable_bytes``, ``http_requests_total{code="500"}``)."""

    @field_validator("series")
    @classmethod
    def _series(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_selector(text)
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"'{value}' is not an http(s):// URL")
        return value

    def host_key(self) -> str:
        return self.url.split("/")[2]

    def target(self) -> str:
        return self.url


Matcher = tuple[str, str, Any]


def parse_selector(text: str) -> tuple[str, list[Matcher]]:
    """``http_requests_total{code="500",method=~"GET|POST"}`` → (name, matchers)."""
    found = _SELECTOR.match(text.strip())
    if not found:
        raise ValueError(f"'{text}' is not a metric selector like name{{label=\"x\"}}")
    name, _, inner = found.groups()
    matchers: list[Matcher] = []
    rest = inner or ""
    while rest.strip():
        match = _MATCHER.match(rest)
        if not match:
            raise ValueError(f"bad label matcher in '{text}': use label=\"value\"")
        label, op, value = match.groups()
        value = bytes(value, "utf-8").decode("unicode_escape")
        if "~" in op:  # fully anchored, as in PromQL, and on RE2 (as in PromQL): linear time
            try:
                matchers.append((label, op, compile_regex(value)))
            except RegexError as exc:
                raise ValueError(f"bad regular expression in '{text}': {exc.message}") from None
        else:
            matchers.append((label, op, value))
        rest = rest[match.end() :]
    return name, matchers


def _matches(labels: dict[str, str], matchers: list[Matcher]) -> bool:
    for label, op, wanted in matchers:
        value = labels.get(label, "")
        if op == "=" and value != wanted:
            return False
        if op == "!=" and value == wanted:
            return False
        if op == "=~" and not wanted.fullmatch(value):
            return False
        if op == "!~" and wanted.fullmatch(value):
            return False
    return True


Scrapes = dict[tuple[str, str], deque[tuple[float, float]]]
"""(url, selector) → the last few (monotonic time, sum) of that selector, oldest first."""

MIN_RATE_SPAN = 1.0
"""Seconds a rate spans at least: checks that run back to back (run now, a retry) measure
against an older scrape, since a counter over a few milliseconds says nothing."""


async def probe(settings: PrometheusSettings, attempt: Attempt) -> None:
    import asyncio  # with aiohttp (``_scrape``): loading a config that names this kind, no loop

    named = {key[len("metric.") :] for key in attempt.wants if key.startswith("metric.")}
    wanted = sorted(named | set(settings.series))
    try:
        selectors = {text: parse_selector(text) for text in wanted}
    except ValueError as exc:
        attempt.fail(str(exc))
        return
    previous: Scrapes = attempt.resources.shared("prometheus.previous", dict)
    first = selectors and all((settings.url, text) not in previous for text in selectors)
    sums = await _scrape(settings, attempt, selectors)
    if sums is None:
        return
    if first and attempt.timeout > 2.5:  # no earlier scrape: take a second one for rates
        _remember(settings, sums, previous)
        await asyncio.sleep(MIN_RATE_SPAN)
        sums = await _scrape(settings, attempt, selectors)
        if sums is None:
            return
    facts = attempt.observation.facts
    now = time.monotonic()
    for text, values in sums.items():
        entry: dict[str, Any] = {"count": len(values)}
        if values:
            total = sum(values)
            entry.update(value=total, max=max(values), min=min(values))
            rate = _rate(previous.get((settings.url, text)), now, total)
            if rate is not None:
                entry["rate"] = rate
        facts[f"metric.{text}"] = entry
    _remember(settings, sums, previous)


def _rate(history: deque[tuple[float, float]] | None, now: float, total: float) -> float | None:
    """Change per second against the newest earlier scrape at least MIN_RATE_SPAN old (a
    counter that went down was reset: no rate until the next scrape)."""
    if not history:
        return None
    for at, before in reversed(history):
        if now - at >= MIN_RATE_SPAN * 0.95:
            return (total - before) / (now - at) if total >= before else None
    return None


def _remember(
    settings: PrometheusSettings, sums: dict[str, list[float]], previous: Scrapes
) -> None:
    now = time.monotonic()
    for text, values in sums.items():
        if not values:
            continue
        history = previous.setdefault((settings.url, text), deque(maxlen=4))
        total = sum(values)
        if history and total < history[-1][1]:
            history.clear()  # a reset counter starts over
        history.append((now, total))


async def _scrape(
    settings: PrometheusSettings,
    attempt: Attempt,
    selectors: dict[str, tuple[str, list[Matcher]]],
) -> dict[str, list[float]] | None:
    """One scrape: the values of the series each selector matches (None: it failed)."""
    import aiohttp
    from prometheus_client.parser import text_string_to_metric_families

    timeout = aiohttp.ClientTimeout(total=attempt.timeout)
    attempt.begin("ttfb")
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                settings.url, headers={"Accept": "text/plain", **settings.headers}
            ) as answer,
        ):
            attempt.end("ttfb")
            attempt.observation.facts["status"] = answer.status
            if answer.status != 200:
                attempt.fail(f"HTTP {answer.status} from {settings.url}")
                return None
            attempt.begin("transfer")
            body = await _read_capped(answer.content, settings.max_body + 1)
            attempt.end("transfer")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        attempt.fail(f"cannot scrape: {reason}".splitlines()[0][:300])
        return None
    if len(body) > settings.max_body:
        attempt.fail(f"the exposition is over {settings.max_body} bytes (max_body)")
        return None
    sums: dict[str, list[float]] = {text: [] for text in selectors}
    names = {name for name, _ in selectors.values()}
    try:
        kept, series = _wanted_lines(body.decode("utf-8", "replace"), names)
        for family in text_string_to_metric_families(kept):
            for sample in family.samples:
                for text, (name, matchers) in selectors.items():
                    if sample.name == name and _matches(sample.labels, matchers):
                        sums[text].append(float(sample.value))
    except ValueError as exc:
        attempt.fail(f"not the Prometheus text format: {exc}".splitlines()[0][:300])
        return None
    attempt.observation.facts["prometheus.series"] = series
    attempt.observation.facts["prometheus.bytes"] = len(body)
    return sums


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"[+-]?(?:[0-9.]+(?:[eE][+-]?[0-9]+)?|Inf|NaN|inf|nan)")


def _wanted_lines(text: str, names: set[str]) -> tuple[str, int]:
    """The sample lines of the metrics the selectors name (the full parser is slow: 18 ms
    for node_exporter's 58 KB, when the expectations look at a handful of its 500 series),
    and how many samples there are in all. Other lines are only checked for shape."""
    kept: list[str] = []
    series = 0
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        series += 1
        cut = min((i for i in (line.find("{"), line.find(" ")) if i >= 0), default=len(line))
        name = line[:cut]
        if name in names:
            kept.append(line)
            continue
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid metric name in '{line[:80]}'")
        tail = line.rsplit(None, 2)[-2:]
        if not any(_NUMBER.fullmatch(token) for token in tail):
            raise ValueError(f"no value in '{line[:80]}'")
    return ("\n".join(kept) + "\n") if kept else "", series


async def _read_capped(stream: aiohttp.StreamReader, most: int) -> bytes:
    """The whole body, or its first ``most`` bytes (``read(n)`` returns what has arrived,
    which for a large exposition is a fraction of it)."""
    chunks: list[bytes] = []
    size = 0
    while size < most:
        chunk = await stream.read(min(65536, most - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


CHECK = CheckKind(
    name="prometheus",
    settings=PrometheusSettings,
    subjects={
        "ttfb": ValueType.DURATION,
        "transfer": ValueType.DURATION,
        "status": ValueType.NUMBER,
        "prometheus.series": ValueType.NUMBER,
        "prometheus.bytes": ValueType.SIZE,
        "metric.*": ValueType.ANY,
    },
    probe=probe,
    runtime=("asyncio", "aiohttp", "prometheus_client.parser"),
)
