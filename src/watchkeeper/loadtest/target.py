"""What to send: a URL, or a scenario file of weighted requests, turned into ready bytes.

A scenario (YAML):

    base: http://127.0.0.1:8080          # every path is relative to it
    headers: {Authorization: "Bearer ${TOKEN}"}
    data: users.csv                      # optional: {column} in paths, headers, bodies
    think: 500ms                         # closed model (--users) only: pause between
    requests:
      - {path: /, weight: 5}
      - {path: "/search?q={term}", weight: 3, name: search}
      - method: POST
        path: /cart
        headers: {Content-Type: application/json}
        body: '{"item": "{item}", "user": "{user}"}'
        weight: 1

Every request is rendered to bytes before the test starts (one variant per CSV row, up to
``MAX_VARIANTS``), so sending costs a ``write`` and nothing more. Errors in the file are one
line with file:line.
"""

from __future__ import annotations

import csv
import ipaddress
import os
import random
import socket
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from watchkeeper import __version__
from watchkeeper.config.interpolate import InterpolationError, interpolate
from watchkeeper.config.reporting import Reporter
from watchkeeper.config.yamlsource import load_with_lines
from watchkeeper.errors import ConfigError
from watchkeeper.units import Duration

MAX_VARIANTS = 10_000
SCHEDULE = 4096
"""How many weighted picks are drawn ahead (then cycled)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestSpec(_Strict):
    path: str = "/"
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    weight: float = Field(1.0, gt=0)
    name: str | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        value = value.upper()
        if value not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            raise ValueError(f"unknown method '{value}'")
        return value


class ScenarioSpec(_Strict):
    base: str
    headers: dict[str, str] = Field(default_factory=dict)
    data: str | None = None
    think: Duration = 0.0
    requests: tuple[RequestSpec, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    def show(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass
class Target:
    """Where requests go and the bytes of each, with the weighted order to send them in."""

    endpoint: Endpoint
    names: list[str]
    variants: list[list[bytes]]
    """Per request: its rendered forms (one per data row, or one)."""
    weights: list[float]
    think: float = 0.0
    schedule: list[tuple[int, bytes]] = field(default_factory=list)
    replayable: list[bool] = field(default_factory=list)
    """Per request: whether it may be sent again when a reused connection dies before any
    byte of its answer. Only an idempotent method, or a request with an Idempotency-Key,
    may be (RFC 9110 9.2.2): a POST the server did get must not be made twice."""

    def __post_init__(self) -> None:
        self.replayable = [_replayable(forms[0]) for forms in self.variants]
        rng = random.Random(1)
        picks = rng.choices(range(len(self.names)), weights=self.weights, k=SCHEDULE)
        counters = [0] * len(self.names)
        for index in picks:
            forms = self.variants[index]
            self.schedule.append((index, forms[counters[index] % len(forms)]))
            counters[index] += 1


_IDEMPOTENT = (b"get", b"head", b"options", b"put", b"delete")


def _replayable(request: bytes) -> bool:
    head = request.split(b"\r\n\r\n", 1)[0].lower()
    return head.split(b" ", 1)[0] in _IDEMPOTENT or b"\r\nidempotency-key:" in head


def parse_endpoint(url: str) -> tuple[Endpoint, str]:
    """``http://host:port/path?q`` → (endpoint, ``/path?q``); ValueError with a hint."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{url}' is not an http:// or https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Endpoint(parts.scheme, parts.hostname, port), path


def _render(
    method: str, path: str, endpoint: Endpoint, headers: dict[str, str], body: str | None
) -> bytes:
    host = endpoint.host if endpoint.port in (80, 443) else f"{endpoint.host}:{endpoint.port}"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: watchkeeper/{__version__}"]
    lower = {k.lower() for k in headers}
    lines += [f"{k}: {v}" for k, v in headers.items()]
    data = body.encode() if body is not None else b""
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(data)}")
    if "accept" not in lower:
        lines.append("Accept: */*")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def from_url(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Target:
    endpoint, path = parse_endpoint(url)
    request = _render(method.upper(), path, endpoint, headers or {}, None)
    return Target(endpoint, [path], [[request]], [1.0])


def from_scenario(filename: str, env: dict[str, str] | None = None) -> Target:
    """Load a scenario file; ConfigError (file:line) when it is wrong."""
    try:
        with open(filename, encoding="utf-8") as handle:
            text = handle.read(4 * 1024 * 1024)
    except OSError as exc:
        raise ConfigError(f"cannot read scenario ({exc.strerror or exc})", file=filename) from None
    data, lines = load_with_lines(text, filename)
    reporter = Reporter(filename)
    reporter.lines = lines
    reporter.raw = data
    if not isinstance(data, dict):
        raise ConfigError("a scenario is a mapping with base: and requests:", file=filename, line=1)
    environment = dict(os.environ if env is None else env)
    try:
        data = _substitute(data, environment, reporter.secrets)
    except InterpolationError as exc:
        raise ConfigError(str(exc), file=filename) from None
    spec: ScenarioSpec | None = reporter.validate(ScenarioSpec, data, ())
    if spec is None:
        raise ConfigError.collect(reporter.problems)
    if not spec.requests:
        reporter.problem("requests: give at least one, e.g. - {path: /}", ("requests",))
        raise ConfigError.collect(reporter.problems)
    try:
        endpoint, base_path = parse_endpoint(spec.base)
    except ValueError as exc:
        reporter.problem(f"base: {exc}", ("base",))
        raise ConfigError.collect(reporter.problems) from None
    rows = _rows(spec.data, filename, reporter)
    columns = set(rows[0]) if rows else set()
    names, variants, weights = [], [], []
    prefix = base_path.rstrip("/")
    for index, request in enumerate(spec.requests):
        where = ("requests", index)
        fields = {
            "path": request.path,
            "body": request.body or "",
            **{f"header {k}": v for k, v in request.headers.items()},
        }
        used = {name for text in fields.values() for name in _placeholders(text)}
        missing = sorted(used - columns)
        if missing:
            reporter.problem(
                f"{{{missing[0]}}} is not a column of the data file"
                + (f" ({spec.data}: {', '.join(sorted(columns))})" if spec.data else " (no data:)"),
                where,
            )
            continue
        headers = {**spec.headers, **request.headers}
        forms: list[bytes] = []
        for row in (rows[:MAX_VARIANTS] if used else [{}]) or [{}]:
            path = _fill(request.path, row)
            if not path.startswith("/"):
                path = "/" + path
            body = None if request.body is None else _fill(request.body, row)
            filled = {k: _fill(v, row) for k, v in headers.items()}
            forms.append(_render(request.method, prefix + path, endpoint, filled, body))
        names.append(request.name or f"{request.method} {request.path}")
        variants.append(forms)
        weights.append(request.weight)
    if reporter.problems:
        raise ConfigError.collect(reporter.problems)
    return Target(endpoint, names, variants, weights, think=spec.think)


def _substitute(value: Any, env: dict[str, str], secrets: set[str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env, secrets)
    if isinstance(value, dict):
        return {k: _substitute(v, env, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, secrets) for v in value]
    return value


def _rows(data: str | None, filename: str, reporter: Reporter) -> list[dict[str, str]]:
    if data is None:
        return []
    path = data if os.path.isabs(data) else os.path.join(os.path.dirname(filename), data)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [dict(row) for _, row in zip(range(MAX_VARIANTS), reader, strict=False)]
    except OSError as exc:
        reporter.problem(f"data: cannot read {data} ({exc.strerror or exc})", ("data",))
        raise ConfigError.collect(reporter.problems) from None
    if not rows:
        reporter.problem(f"data: {data} has a header but no rows", ("data",))
        raise ConfigError.collect(reporter.problems)
    return rows


_FORMATTER = string.Formatter()


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in _FORMATTER.parse(text) if name}
    except ValueError:
        return set()


def _fill(text: str, row: dict[str, str]) -> str:
    if not row or "{" not in text:
        return text
    return text.format_map(row)


def is_private(host: str) -> bool:
    """Loopback or a private address (what ``--yes`` is not needed for). A name counts when
    every address it resolves to does."""
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    return bool(addresses) and all(
        a.is_loopback or a.is_private or a.is_link_local for a in addresses
    )
