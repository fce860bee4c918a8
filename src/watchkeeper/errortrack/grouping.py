"""Grouping: which events are the same bug. A pure function of the event: ``group_hash``.

Sentry's default idea, without source maps:

- an event with exceptions is grouped by every exception of its chain (``exception.values``,
  causes included): each one's type, then its stack frames — the application's own frames
  (``in_app``) if the event has any, else all of them. A frame counts as its module (else its
  file's name, without directories, query or content hash: ``main.3f9a1c2e.chunk.js`` is
  ``main.chunk.js``) and its function, normalised: anonymous functions, lambda and closure
  ids, memory addresses and Rust hashes are dropped, so are ``async``/``new`` prefixes.
  Line and column numbers never count: an edit above the bug does not make a new issue.
  An exception without frames counts with its value, parameterised;
- an event without exceptions but with a stack trace (``attach_stacktrace``) is grouped by
  that stack trace the same way;
- anything else by its message, parameterised: numbers, hex, UUIDs, IP addresses and email
  addresses become ``<int>``, ``<hex>``, ``<uuid>``, ``<ip>``, ``<email>`` (the template of a
  log call, ``logentry.message``, is used when the SDK sent it).

A frame whose ``in_app`` the SDK left unset is the application's unless its path is a
library's or the runtime's: ``site-packages``, ``dist-packages``, ``node_modules``, Python's
standard library (``lib/python3.x/``), ``<frozen ...>``, ``node:``/``internal/`` modules,
browser extensions, ``[native code]``.

A client ``fingerprint`` replaces all of this: each entry is kept as written, except
``{{ default }}`` (the default grouping above), ``{{ type }}`` (the raised exception's type),
``{{ message }}``, ``{{ transaction }}``, ``{{ level }}`` and ``{{ function }}`` (the top
in-app frame's function). ``["{{ default }}"]`` groups exactly like no fingerprint.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import re2

from watchkeeper.errortrack import normalize

MAX_MESSAGE = 2048
"""Characters of a message that are parameterised and grouped by."""
_SEPARATOR = "\x1f"

# short, capped texts (function and file names, at most 300 characters): patterns without
# nested or ambiguous repetition, linear in Python's engine
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_RUST_HASH = re.compile(r"::h[0-9a-f]{16}")
_GENERATED_ID = re.compile(r"(?i)(lambda|anonymous|anon|closure|block|fn)([$_#]?)\d+")
_DOLLAR_ID = re.compile(r"\$\d+")
_HASH_PART = re.compile(r"^(?:[0-9a-fA-F]*[0-9][0-9a-fA-F]*|[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*)$")
_DASHED_HASH = re.compile(r"[-_.~]([0-9a-fA-F]{8,}|[A-Za-z0-9_]{16,})(?=\.)")
_STDLIB = re.compile(r"[/\\]lib(?:64)?[/\\]python\d(?:\.\d+)?[/\\]")
_NOT_APP = (
    "/site-packages/",
    "/dist-packages/",
    "/node_modules/",
    "\\site-packages\\",
    "\\dist-packages\\",
    "\\node_modules\\",
    "<frozen ",
    "node:",
    "webpack/bootstrap",
    "[native code]",
    "chrome-extension://",
    "moz-extension://",
    "safari-extension://",
    "safari-web-extension://",
)
_ANONYMOUS = frozenset({"", "?", "<anonymous>", "anonymous", "<unknown>", "unknown", "(anonymous)"})

# long hostile text (messages): RE2, linear whatever the text
_PARAMETERS = re2.compile(
    r"(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r"|(?P<uuid>\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}\b)"
    r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}\b|(?:\b[0-9a-fA-F]{1,4})?(?::[0-9a-fA-F]{0,4}){2,7}\b)"
    r"|(?P<hex>\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b)"
    r"|(?P<int>\b\d+(?:\.\d+)?)"
)
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


# -- frames ------------------------------------------------------------------------------------
def is_in_app(frame: dict[str, Any]) -> bool:
    """The SDK's ``in_app`` when it set one, else judged from the frame's path."""
    flag = frame.get("in_app")
    if isinstance(flag, bool):
        return flag
    return _path_in_app(
        normalize.text(frame.get("abs_path"), 1000) or "",
        normalize.text(frame.get("filename"), 1000) or "",
    )


@lru_cache(maxsize=8192)
def _path_in_app(abs_path: str, filename: str) -> bool:
    for path in (abs_path, filename):
        if not path:
            continue
        if any(mark in path for mark in _NOT_APP):
            return False
        if path.startswith("internal/") or (
            _STDLIB.search(path) is not None and "site-packages" not in path
        ):
            return False
    return True


def frame_key(frame: dict[str, Any]) -> str:
    """What a frame counts as: ``module:function`` (or ``file:function``)."""
    return _frame_key(
        normalize.text(frame.get("module"), 300) or "",
        normalize.text(frame.get("filename"), 500)
        or normalize.text(frame.get("abs_path"), 500)
        or "",
        normalize.text(frame.get("function"), 300) or "",
    )


@lru_cache(maxsize=65536)
def _frame_key(module: str, filename: str, function: str) -> str:
    where = normalise_module(module) if module else file_key(filename)
    return f"{where}:{normalise_function(function)}"


def normalise_function(name: str) -> str:
    """A function's name without what changes between builds and runs."""
    name = name.strip()
    for prefix in ("async ", "new "):
        if name.startswith(prefix):
            name = name[len(prefix) :].strip()
    if name in _ANONYMOUS:
        return "<anonymous>"
    name = _ADDRESS.sub("", name)
    name = _RUST_HASH.sub("", name)
    name = _GENERATED_ID.sub(r"\1\2", name)
    name = _DOLLAR_ID.sub("$", name)
    return name.strip() or "<anonymous>"


def normalise_module(module: str) -> str:
    module = _ADDRESS.sub("", module.strip())
    return _DOLLAR_ID.sub("$", module)


def file_key(path: str) -> str:
    """A file's name as grouping sees it: no directories, query, fragment or content hash."""
    for mark in ("?", "#"):
        path = path.split(mark, 1)[0]
    base = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    base = _DASHED_HASH.sub("", base)
    parts = base.split(".")
    if len(parts) > 2:  # name.<hash>.chunk.js: keep the name and the extension
        parts = [parts[0], *(p for p in parts[1:-1] if not _hashlike(p)), parts[-1]]
    return ".".join(parts)


def _hashlike(part: str) -> bool:
    return len(part) >= 7 and _HASH_PART.match(part) is not None


# -- messages ----------------------------------------------------------------------------------
def parameterise(message: str) -> str:
    """``message`` with its variable parts replaced by their kind (see the module)."""
    return str(_PARAMETERS.sub(_placeholder, message[:MAX_MESSAGE]))


def _placeholder(match: Any) -> str:
    kind = match.lastgroup
    if kind == "hex":
        found = str(match.group(0))
        if not any(c.isdigit() for c in found):
            return found  # 'deadbeef' and 'cafebabe' are words too
        if found.isdigit():
            return "<int>"
    return f"<{kind}>"


# -- events ------------------------------------------------------------------------------------
def default_components(event: dict[str, Any]) -> list[str]:
    """What the default grouping hashes (see the module)."""
    values = normalize.exceptions(event)
    if values:
        stacks = [normalize.frames(value) for value in values]
        app_only = any(is_in_app(frame) for stack in stacks for frame in stack)
        counted = [_stack_keys(stack, app_only) for stack in stacks]
        with_frames = any(counted)
        parts = ["exception"]
        for value, keys in zip(values, counted, strict=True):
            parts.append("type:" + exception_type(value))
            parts.extend(keys)
            if not with_frames:
                parts.append(
                    "value:" + parameterise(normalize.text(value.get("value"), 4096) or "")
                )
        return parts
    lone = normalize.lone_stacktrace(event)
    if lone:
        keys = _stack_keys(lone, any(is_in_app(frame) for frame in lone))
        if keys:
            return ["stacktrace", *keys]
    formatted, template = normalize.message(event)
    if template or formatted:
        return ["message", parameterise(template or formatted or "")]
    return ["empty", normalize.text(event.get("logger"), 200) or ""]


def _stack_keys(stack: Sequence[dict[str, Any]], app_only: bool) -> list[str]:
    """The frames' keys (the innermost ``MAX_FRAMES``), a run of equal ones (recursion) once."""
    keys: list[str] = []
    for frame in stack[-normalize.MAX_FRAMES :]:
        if app_only and not is_in_app(frame):
            continue
        key = frame_key(frame)
        if not keys or keys[-1] != key:
            keys.append(key)
    return keys


def exception_type(value: dict[str, Any]) -> str:
    found = normalize.text(value.get("type"), 200) or ""
    if not found:
        found = normalize.text(mapping_type(value), 200) or "Error"
    return _ADDRESS.sub("", found)


def mapping_type(value: dict[str, Any]) -> object:
    return normalize.mapping(value.get("mechanism")).get("type")


def components(event: dict[str, Any]) -> list[str]:
    """The default grouping, or what the client's ``fingerprint`` asks for."""
    fingerprint = event.get("fingerprint")
    if not isinstance(fingerprint, list) or not fingerprint:
        return default_components(event)
    parts: list[str] = []
    default: list[str] | None = None
    for entry in fingerprint[:32]:
        item = normalize.text(entry, 500)
        if item is None:
            continue
        variable = _VARIABLE.fullmatch(item.strip())
        name = variable.group(1).lower() if variable else None
        if name == "default":
            default = default if default is not None else default_components(event)
            parts.extend(default)
        elif name is not None:
            parts.append(f"{name}={_variable(event, name)}")
        else:
            parts.append("fingerprint:" + item)
    return parts or default_components(event)


def _variable(event: dict[str, Any], name: str) -> str:
    if name == "type":
        values = normalize.exceptions(event)
        return exception_type(values[-1]) if values else ""
    if name == "message":
        formatted, template = normalize.message(event)
        return parameterise(template or formatted or "")
    if name == "transaction":
        return normalize.text(event.get("transaction"), 500) or ""
    if name == "level":
        return normalize.level(event)
    if name == "function":
        frame = top_frame(event)
        return normalise_function(normalize.text(frame.get("function"), 300) or "") if frame else ""
    return "{{ " + name + " }}"  # unknown: kept as written, as Sentry does


def group_hash(event: dict[str, Any]) -> str:
    """The issue an event belongs to within its project: 32 hex digits."""
    joined = _SEPARATOR.join(components(event))
    return hashlib.blake2b(joined.encode("utf-8", "replace"), digest_size=16).hexdigest()


# -- what an issue is called -------------------------------------------------------------------
def top_frame(event: dict[str, Any]) -> dict[str, Any] | None:
    """The innermost application frame of the raised exception (else of the lone stack
    trace), else its innermost frame."""
    values = normalize.exceptions(event)
    stack = normalize.frames(values[-1]) if values else normalize.lone_stacktrace(event)
    found: dict[str, Any] | None = next(
        (frame for frame in reversed(stack) if is_in_app(frame)), stack[-1] if stack else None
    )
    return found


def title(event: dict[str, Any]) -> str:
    """``Type: value`` of the raised exception, else the message's first line."""
    values = normalize.exceptions(event)
    if values:
        raised = values[-1]
        kind = exception_type(raised)
        value = normalize.first_line(normalize.text(raised.get("value"), 1000), 200)
        return f"{kind}: {value}" if value else kind
    formatted, template = normalize.message(event)
    shown = normalize.first_line(formatted or template, 200)
    if shown:
        return shown
    return normalize.first_line(normalize.text(event.get("transaction"), 200)) or "<no message>"


def culprit(event: dict[str, Any]) -> str | None:
    """Where it happened: the top application frame (``module in function``), else the
    event's transaction."""
    frame = top_frame(event)
    if frame is not None:
        where = normalize.text(frame.get("module"), 200) or file_key(
            normalize.text(frame.get("filename"), 500)
            or normalize.text(frame.get("abs_path"), 500)
            or ""
        )
        function = normalize.text(frame.get("function"), 200) or "<anonymous>"
        return f"{where} in {function}" if where else function
    found = normalize.text(event.get("culprit"), 200) or normalize.text(
        event.get("transaction"), 200
    )
    return found or None
