"""Reading an event as an SDK sent it: hostile JSON, read defensively, never trusted.

Each function takes the event's decoded JSON (a dict) and returns plain, bounded values:
texts cut to a length, without NUL characters or lone surrogates (no store can hold those),
lists cut to a count. Nothing here raises on a strange shape: a field of the wrong type is
as good as absent. ``trim`` builds what is stored of an event (see its docstring).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

LEVELS = ("fatal", "error", "warning", "info", "debug")
_LEVEL_ALIASES = {"critical": "fatal", "warn": "warning", "err": "error", "log": "info"}
MAX_EXCEPTIONS = 10
"""Chained exceptions read per event (the newest)."""
MAX_FRAMES = 50
"""Frames kept per stack trace: the 10 outermost and the 40 innermost."""
MAX_TAGS = 25
MAX_TAG_KEY = 32
MAX_TAG_VALUE = 200
MAX_BREADCRUMBS = 30
CONTEXT_LINES = 5
STORED_MOST = 256 * 1024
"""A stored event's JSON past this loses context lines, then breadcrumbs, then frames."""
FUTURE_SLACK = 60.0
PAST_SLACK = 30 * 86400.0
REQUEST_HEADERS = ("user-agent", "referer", "accept-language", "content-type", "host")


def text(value: object, most: int = 1000) -> str | None:
    """A text fit to store: a string (or a number, written out), at most ``most``
    characters, NULs replaced, lone surrogates replaced; None for anything else."""
    if isinstance(value, str):
        found = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found = str(value)
    else:
        return None
    if len(found) > most:
        found = found[:most]
    if "\x00" in found:
        found = found.replace("\x00", "\ufffd")
    if not found.isascii():
        try:
            found.encode("utf-8")
        except UnicodeEncodeError:
            found = found.encode("utf-8", "replace").decode("utf-8")
    return found


def mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def first_line(value: str | None, most: int = 200) -> str:
    if not value:
        return ""
    line = value.strip().split("\n", 1)[0].strip()
    return line if len(line) <= most else line[: most - 1] + "…"


# -- the parts of an event ----------------------------------------------------------------------
def exceptions(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The event's exceptions, oldest (the first cause) first, the one raised last."""
    found = event.get("exception")
    if found is None:
        found = event.get("sentry.interfaces.Exception")
    if isinstance(found, dict):
        values = found.get("values")
        found = values if isinstance(values, list) else [found] if "type" in found else []
    if not isinstance(found, list):
        return []
    return [value for value in found[-MAX_EXCEPTIONS:] if isinstance(value, dict)]


def frames(holder: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames of an exception's (or a thread's) stack trace, outermost call first."""
    stack = holder.get("stacktrace")
    if not isinstance(stack, dict):
        return []
    found = stack.get("frames")
    if not isinstance(found, list):
        return []
    return [frame for frame in found if isinstance(frame, dict)]


def lone_stacktrace(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames of a stack trace sent without an exception (``attach_stacktrace``): the
    event's own, or its crashed (else current, else only) thread's."""
    own = frames(event)
    if own:
        return own
    threads = event.get("threads")
    if isinstance(threads, dict):
        threads = threads.get("values")
    if not isinstance(threads, list):
        return []
    candidates = [t for t in threads if isinstance(t, dict) and frames(t)]
    for flag in ("crashed", "current"):
        for thread in candidates:
            if thread.get(flag) is True:
                return frames(thread)
    return frames(candidates[0]) if len(candidates) == 1 else []


def message(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """(formatted, template) of the event's message; either may be None."""
    entry = event.get("logentry")
    if not isinstance(entry, dict):
        entry = event.get("sentry.interfaces.Message")
    raw = event.get("message")
    if not isinstance(entry, dict):
        entry = raw if isinstance(raw, dict) else {}
    template = text(entry.get("message"), 8192)
    formatted = text(entry.get("formatted"), 8192)
    if formatted is None and isinstance(raw, str):
        formatted = text(raw, 8192)
    return formatted or template, template or formatted


def level(event: dict[str, Any]) -> str:
    found = event.get("level")
    if isinstance(found, str):
        name = found.lower()
        name = _LEVEL_ALIASES.get(name, name)
        if name in LEVELS:
            return name
    return "error"


def timestamp(event: dict[str, Any], received_at: float) -> float:
    """When the SDK says it happened (epoch seconds, or RFC 3339), kept within
    ``PAST_SLACK`` before and ``FUTURE_SLACK`` after receipt."""
    found = event.get("timestamp")
    at: float | None = None
    if isinstance(found, int | float) and not isinstance(found, bool):
        at = float(found)
    elif isinstance(found, str) and len(found) <= 40:
        try:
            moment = datetime.fromisoformat(found)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:  # Sentry's own rule: a time without a zone is UTC
                from datetime import UTC

                moment = moment.replace(tzinfo=UTC)
            at = moment.timestamp()
    if at is None or at != at:
        return received_at
    return min(max(at, received_at - PAST_SLACK), received_at + FUTURE_SLACK)


def release(event: dict[str, Any]) -> str | None:
    return _name(event.get("release"), 200)


def environment(event: dict[str, Any]) -> str | None:
    return _name(event.get("environment"), 64)


def _name(value: object, most: int) -> str | None:
    found = text(value, most)
    if found is None:
        return None
    found = found.strip()
    return found if found and "\n" not in found else None


def user_identity(event: dict[str, Any], client_address: str | None) -> str | None:
    """Who the event happened to, as Sentry counts users: the user's id, else email, else
    username, else IP address (``{{auto}}``: the sender's). Hashed before it is kept."""
    user = mapping(event.get("user"))
    for field in ("id", "email", "username"):
        found = text(user.get(field), 200)
        if found:
            return f"{field}:{found}"
    address = text(user.get("ip_address"), 64)
    if address == "{{auto}}":
        address = client_address
    return f"ip:{address}" if address else None


def tags(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The tags an issue counts values of: level, environment, release, server name,
    transaction, browser, os, runtime, whether it was handled, then the event's own, at most
    ``MAX_TAGS`` (keys cut to 32 characters, values to 200; ``user`` and empty values left out)."""
    found: dict[str, str] = {"level": level(event)}
    contexts = mapping(event.get("contexts"))
    builtin = (
        ("environment", environment(event)),
        ("release", release(event)),
        ("server_name", text(event.get("server_name"), MAX_TAG_VALUE)),
        ("transaction", text(event.get("transaction"), MAX_TAG_VALUE)),
        ("browser", _context_name(contexts, "browser")),
        ("os", _context_name(contexts, "os")),
        ("runtime", _context_name(contexts, "runtime")),
        ("handled", _handled(event)),
    )
    for key, value in builtin:
        if value:
            found[key] = value
    for own_key, own_value in _own_tags(event.get("tags")):
        if len(found) >= MAX_TAGS:
            break
        name = text(own_key, MAX_TAG_KEY)
        shown = text(own_value, MAX_TAG_VALUE)
        if name and shown and name not in found and name != "user":
            found[name] = shown
    return list(found.items())


def _own_tags(value: object) -> Iterator[tuple[object, object]]:
    if isinstance(value, dict):
        yield from list(value.items())[: MAX_TAGS * 2]
    elif isinstance(value, list):
        for pair in value[: MAX_TAGS * 2]:
            if isinstance(pair, list | tuple) and len(pair) == 2:
                yield pair[0], pair[1]


def _context_name(contexts: dict[str, Any], name: str) -> str | None:
    context = mapping(contexts.get(name))
    shown = text(context.get("name"), 60)
    if not shown:
        return None
    version = text(context.get("version"), 40)
    return f"{shown} {version}" if version else shown


def _handled(event: dict[str, Any]) -> str | None:
    for value in reversed(exceptions(event)):
        handled = mapping(value.get("mechanism")).get("handled")
        if isinstance(handled, bool):
            return "yes" if handled else "no"
    return None


# -- what is stored of an event -----------------------------------------------------------------
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
            if (shown := _context_name(mapping(event.get("contexts")), name))
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
