"""``${VAR}``, ``${VAR:-default}`` and ``${file:/path}`` in config strings.

Every substituted value is remembered as a secret, so the rest of Watchkeeper can redact it
from anything it prints, logs, stores or serves. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from watchkeeper.redact import redact

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_FILE = 64 * 1024


__all__ = ["InterpolationError", "interpolate", "redact"]


class InterpolationError(ValueError):
    """A reference that cannot be filled; the message names it."""


def interpolate(
    text: str, env: Mapping[str, str], secrets: set[str], files: set[str] | None = None
) -> str:
    """Replace references in ``text``; raise InterpolationError naming the bad reference.
    ``files`` collects the path of each ``${file:...}`` (read or not)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        inner = match.group(1).strip()
        if inner.startswith("file:"):
            path = inner[5:].strip()
            if files is not None and path:
                files.add(os.path.abspath(path))
            value = _read_file(path)
        else:
            name, _, default = inner.partition(":-")
            has_default = ":-" in inner
            if not _NAME.fullmatch(name):
                raise InterpolationError(
                    f"bad reference '${{{inner}}}': use ${{NAME}}, ${{NAME:-default}} "
                    "or ${file:/path}"
                )
            if name in env:
                value = env[name]
            elif has_default:
                return default
            else:
                raise InterpolationError(f"${{{name}}} is not set in the environment")
        if len(value) >= 3:
            secrets.add(value)
        return value

    if "${" not in text:
        return text
    return _REFERENCE.sub(replace, text)


def _read_file(path: str) -> str:
    if not path:
        raise InterpolationError("${file:} needs a path, e.g. ${file:/run/secrets/token}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except OSError as exc:
        raise InterpolationError(
            f"${{file:{path}}} cannot be read ({exc.strerror or exc})"
        ) from None
    if len(data) > _MAX_FILE:
        raise InterpolationError(f"${{file:{path}}} is larger than 64 KiB")
    return data.decode("utf-8", errors="replace").rstrip("\r\n")
