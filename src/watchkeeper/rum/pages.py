"""Page groups: which configured route pattern a page's path falls under.

    rum:
      pages:
        - {name: product, pattern: "/product/*"}
        - {name: docs, pattern: "/docs/**"}
        - {name: home, pattern: "/"}

A pattern is a path with two wildcards: ``*`` stands for any characters within one path
segment (``/product/*`` matches ``/product/42``, not ``/product/42/reviews``), ``**`` for any
characters across segments. Everything else matches itself. Patterns are tried in the order
written, the first match wins; a path no pattern matches is in the group ``other``. Patterns
come from the config, paths from browsers: each pattern is compiled once to an RE2 expression
(linear time whatever the path), and the answers for the most recent paths are cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import re2

OTHER = "other"
"""The group of a path no pattern matches."""
CACHED_PATHS = 10_000


def to_expression(pattern: str) -> str:
    """The RE2 expression of a page pattern (``*`` within a segment, ``**`` across)."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        else:
            parts.append(re2.escape(pattern[index]))
            index += 1
    return "".join(parts)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a page pattern, or None."""
    if not pattern.startswith("/"):
        return f"pattern '{pattern}' must start with / (e.g. /product/*)"
    if len(pattern) > 500:
        return "pattern is longer than 500 characters"
    if any(character in pattern for character in "?#"):
        return f"pattern '{pattern}' matches a path: no query (?) or fragment (#)"
    return None


class PageGroups:
    """The page group of a path, from ``(name, pattern)`` pairs in the order written."""

    def __init__(self, pages: Sequence[tuple[str, str]]) -> None:
        self.names = tuple(name for name, _ in pages)
        self._compiled = [(name, re2.compile(to_expression(pattern))) for name, pattern in pages]
        self._cache: OrderedDict[str, str] = OrderedDict()

    def group(self, path: str) -> str:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        found = OTHER
        for name, expression in self._compiled:
            if expression.fullmatch(path) is not None:
                found = name
                break
        self._cache[path] = found
        if len(self._cache) > CACHED_PATHS:
            self._cache.popitem(last=False)
        return found
