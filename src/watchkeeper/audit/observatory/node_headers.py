"""A response's headers as the scanner's HTTP stack hands them to its tests.

Node.js folds a header sent more than once into one value: most are joined with ", " (two
Content-Security-Policy headers become one policy with a comma in it; two
Strict-Transport-Security headers read as "set twice", which is invalid), Set-Cookie stays a
list, and for a few (Content-Type, Location, Server, ...) only the first is kept. Values lose
control characters and surrounding blanks. This reproduces that, so each test sees what the
scanner's would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

FIRST_ONLY = frozenset(
    {
        "age",
        "authorization",
        "content-length",
        "content-type",
        "etag",
        "expires",
        "from",
        "host",
        "if-modified-since",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "proxy-authorization",
        "referer",
        "retry-after",
        "server",
        "user-agent",
    }
)
"""Headers whose repeats Node.js drops."""
_STRIPPED = frozenset(chr(code) for code in [*range(0x09), *range(0x0A, 0x20), 0x7F])


class NodeHeaders(Mapping[str, str | list[str]]):
    """Header name (lower case) to its folded value, in the order first seen."""

    def __init__(self, raw: Iterable[tuple[str, str]]) -> None:
        gathered: dict[str, list[str]] = {}
        for name, value in raw:
            key = name.strip().lower()
            if not key:
                continue
            values = gathered.setdefault(key, [])
            if values and key in FIRST_ONLY:
                continue
            values.append(_sanitize(value))
        self._folded: dict[str, str | list[str]] = {
            key: values if key == "set-cookie" else ("; " if key == "cookie" else ", ").join(values)
            for key, values in gathered.items()
        }

    def __getitem__(self, name: str) -> str | list[str]:
        return self._folded[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._folded)

    def __len__(self) -> int:
        return len(self._folded)

    def values_of(self, name: str) -> list[str]:
        """The scanner's ``getHttpHeaders``: the value(s) as a list (Set-Cookie may be many)."""
        value = self._folded.get(name.lower())
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    def first(self, name: str) -> str | None:
        """The scanner's ``getFirstHttpHeader``."""
        values = self.values_of(name)
        return values[0] if values else None

    def as_json(self) -> dict[str, str | list[str]]:
        return {
            key: list(value) if isinstance(value, list) else value for key, value in self.items()
        }


def _sanitize(value: str) -> str:
    if any(char in _STRIPPED for char in value):
        value = "".join(char for char in value if char not in _STRIPPED)
    return value.strip(" \t")
