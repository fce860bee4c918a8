"""What is kept of an event for its issue's page (``trim``): bounded, and without what an
event should not leave behind (local variables, cookies, authorization headers, query
strings, IP addresses)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from watchkeeper.errortrack.normalize import (
    MAX_FRAMES,
    context_name,
    environment,
    exceptions,
    first_line,
    frames,
    level,
    lone_stacktrace,
    mapping,
    message,
    release,
    tags,
    text,
    timestamp,
)

MAX_BREADCRUMBS = 30
CONTEXT_LINES = 5
STORED_MOST = 256 * 1024
"""A stored event's JSON past this loses context lines, then breadcrumbs, then frames."""
REQUEST_HEADERS = ("user-agent", "referer", "accept-language", "content-type", "host")


def trim(
    event: dict[str, Any],
    *,
    event_id: str,
    received_at: float,
    in_app: Any,
) -> dict[str, Any]:
    """What is kept of an event for its issue's page: ids, times, level, release,
    environment, the message, each exception with its frames (``MAX_FRAMES``, with up to
    five context lines each; local variables never), the last ``MAX_BREADCRUMBS``
    breadcrumbs, the tags, the user's id, username and email (never an IP address), the
    request's method, URL without its query, and a few headers (never cookies or
    authorization), the OS/browser/runtime names and the SDK. ``in_app(frame)`` says whether
    a frame is the application's own. At most ``STORED_MOST`` bytes once JSON."""
    formatted, _ = message(event)
    data: dict[str, Any] = {
        "event_id": event_id,
        "timestamp": timestamp(event, received_at),
        "received_at": received_at,
        "level": level(event),
        "platform": text(event.get("platform"), 40),
        "release": release(event),
        "environment": environment(event),
        "server_name": text(event.get("server_name"), 200),
        "transaction": text(event.get("transaction"), 500),
        "logger": text(event.get("logger"), 200),
        "message": formatted,
        "exception": [
            {
                "type": text(value.get("type"), 200),
                "value": text(value.get("value"), 4096),
                "module": text(value.get("module"), 200),
                "mechanism": _mechanism(value.get("mechanism")),
                **_frames_of(frames(value), in_app),
            }
            for value in exceptions(event)
        ],
        "breadcrumbs": _breadcrumbs(event.get("breadcrumbs")),
        "tags": [list(pair) for pair in tags(event)],
        "user": _user(event.get("user")),
        "request": _request(event.get("request")),
        "contexts": {
            name: {"name": shown}
            for name in ("os", "browser", "runtime", "device")
            if (shown := context_name(mapping(event.get("contexts")), name))
        },
        "sdk": {key: text(mapping(event.get("sdk")).get(key), 100) for key in ("name", "version")},
    }
    if not data["exception"]:
        lone = lone_stacktrace(event)
        if lone:
            data["stacktrace"] = _frames_of(lone, in_app)
    fingerprint = event.get("fingerprint")
    if isinstance(fingerprint, list):
        data["fingerprint"] = [text(part, 200) for part in fingerprint[:32]]
    return _fit(data)


def _mechanism(value: object) -> dict[str, Any] | None:
    found = mapping(value)
    if not found:
        return None
    handled = found.get("handled")
    return {
        "type": text(found.get("type"), 100),
        "handled": handled if isinstance(handled, bool) else None,
    }


def _frames_of(found: list[dict[str, Any]], in_app: Any) -> dict[str, Any]:
    omitted = 0
    if len(found) > MAX_FRAMES:
        omitted = len(found) - MAX_FRAMES
        found = found[:10] + found[-(MAX_FRAMES - 10) :]
    return {"frames": [_frame(frame, in_app(frame)) for frame in found], "frames_omitted": omitted}


def _frame(frame: dict[str, Any], in_app: bool) -> dict[str, Any]:
    lineno = frame.get("lineno")
    colno = frame.get("colno")
    return {
        "filename": text(frame.get("filename"), 500),
        "abs_path": _without_query(text(frame.get("abs_path"), 1000)),
        "module": text(frame.get("module"), 300),
        "function": text(frame.get("function"), 300),
        "lineno": lineno if isinstance(lineno, int) and not isinstance(lineno, bool) else None,
        "colno": colno if isinstance(colno, int) and not isinstance(colno, bool) else None,
        "in_app": in_app,
        "context_line": text(frame.get("context_line"), 300),
        "pre_context": _lines(frame.get("pre_context"), last=True),
        "post_context": _lines(frame.get("post_context"), last=False),
    }


def _lines(value: object, *, last: bool) -> list[str]:
    if not isinstance(value, list):
        return []
    picked = value[-CONTEXT_LINES:] if last else value[:CONTEXT_LINES]
    return [line for item in picked if (line := text(item, 300)) is not None]


def _breadcrumbs(value: object) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = value.get("values")
    if not isinstance(value, list):
        return []
    kept = []
    for crumb in value[-MAX_BREADCRUMBS:]:
        if not isinstance(crumb, dict):
            continue
        data = mapping(crumb.get("data"))
        kept.append(
            {
                "timestamp": _crumb_time(crumb.get("timestamp")),
                "type": text(crumb.get("type"), 40),
                "category": text(crumb.get("category"), 100),
                "level": text(crumb.get("level"), 20),
                "message": text(crumb.get("message"), 1000),
                "data": {
                    key[:64]: shown
                    for key, item in list(data.items())[:10]
                    if (shown := text(item, 200)) is not None
                },
            }
        )
    return kept


def _crumb_time(value: object) -> float | str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return text(value, 40)


def _user(value: object) -> dict[str, Any] | None:
    user = mapping(value)
    kept = {key: text(user.get(key), 200) for key in ("id", "username", "email")}
    return kept if any(kept.values()) else None


def _request(value: object) -> dict[str, Any] | None:
    request = mapping(value)
    if not request:
        return None
    headers: dict[str, str] = {}
    raw = request.get("headers")
    pairs: Iterable[Any] = raw.items() if isinstance(raw, dict) else raw or []
    if isinstance(pairs, Iterable):
        for pair in list(pairs)[:100]:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            name = text(pair[0], 100)
            if name and name.lower() in REQUEST_HEADERS:
                value = text(pair[1], 500)
                if value is not None:
                    kept = _without_query(value) if name.lower() == "referer" else value
                    headers[name] = kept or ""
    return {
        "method": text(request.get("method"), 16),
        "url": _without_query(text(request.get("url"), 2000)),
        "headers": headers,
    }


def _without_query(url: str | None) -> str | None:
    """A URL without its query and fragment (they carry tokens as often as not)."""
    if url is None:
        return None
    for mark in ("?", "#"):
        url = url.split(mark, 1)[0]
    return url


def _fit(data: dict[str, Any]) -> dict[str, Any]:
    """Shed what matters least until the JSON is within ``STORED_MOST``."""

    def size() -> int:
        return len(json.dumps(data, ensure_ascii=False))

    if size() <= STORED_MOST:
        return data
    stacks = [value for value in data["exception"]] + (
        [data["stacktrace"]] if "stacktrace" in data else []
    )
    for stack in stacks:
        for frame in stack["frames"]:
            frame["pre_context"], frame["post_context"] = [], []
    if size() > STORED_MOST:
        data["breadcrumbs"] = []
    if size() > STORED_MOST:
        for stack in stacks:
            stack["frames_omitted"] += max(0, len(stack["frames"]) - 10)
            stack["frames"] = stack["frames"][-10:]
            for frame in stack["frames"]:
                frame["context_line"] = None
    if size() > STORED_MOST:
        data["message"] = first_line(data["message"], 1000)
        for value in data["exception"]:
            value["value"] = first_line(value["value"], 1000)
    return data
