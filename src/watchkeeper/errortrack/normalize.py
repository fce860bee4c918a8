"""Reading an event as an SDK sent it: hostile JSON, read defensively, never trusted.

Each function takes the event's decoded JSON (a dict) and returns plain, bounded values:
texts cut to a length, without NUL characters or lone surrogates (no store can hold those),
lists cut to a count. Nothing here raises on a strange shape: a field of the wrong type is
as good as absent. What is kept of an event: ``keep``.
"""

from __future__ import annotations

from collections.abc import Iterator
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
FUTURE_SLACK = 60.0
PAST_SLACK = 30 * 86400.0


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
        ("browser", context_name(contexts, "browser")),
        ("os", context_name(contexts, "os")),
        ("runtime", context_name(contexts, "runtime")),
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


def context_name(contexts: dict[str, Any], name: str) -> str | None:
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
