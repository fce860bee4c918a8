"""Content-Security-Policy parsing by the Observatory's rules (algorithm version 4).

Several policies (headers, meta tags) are merged into one effective policy: a source counts only
if every policy that names the directive allows it (a later policy can only narrow). Within one
policy a source that merely extends a shorter one is dropped (``https://a.example/x`` after
``https://a.example/``). A directive named twice in one policy makes the whole policy invalid,
except ``report-uri``/``report-to``, which are only noted. A ``*-src`` directive with no
source means ``'none'``; so does a directive left with nothing after merging. Meta tags may not
carry ``frame-ancestors``, ``report-uri`` or ``sandbox``.

Everything here is linear in the input but for one sort per directive: no regular expression
backtracks, and no step looks at a pair of sources other than neighbours after sorting.
"""

from __future__ import annotations

from collections.abc import Iterable

from watchkeeper.audit.observatory.jsstring import (
    URIError,
    collation_key,
    decode_uri_component,
    split_spaces,
    trim,
)

SHORTEST_POLICY = len("img-src") - 1
"""A policy shorter than this is invalid."""
META_FORBIDDEN = ("frame-ancestors", "report-uri", "sandbox")
REPEATABLE = frozenset({"report-uri", "report-to"})
MAX_POLICIES = 8
"""Policies merged at most; later ones are ignored. Each merge can keep every source the
previous ones kept, so a page of many meta policies costs time quadratic in their number
(the scanner has no such limit). Node folds every CSP header into one policy, so only meta
tags add more: real pages have one or two."""
DUPLICATES = "_observatory_duplicate_key_warnings"
"""Key under which the repeated report directives are listed (the scanner's own name)."""

Policy = dict[str, set[str]]


class CspError(ValueError):
    """The policy cannot be used: too short, or a directive repeated."""


class _Source:
    __slots__ = ("index", "keep", "order", "source")

    def __init__(self, source: str, index: int, keep: bool) -> None:
        self.source = source
        self.index = index
        self.keep = keep
        self.order = collation_key(source)
        """Computed once: a source is sorted again at every later policy's merge."""


def parse_csp(policies: Iterable[str]) -> Policy:
    """The effective policy of ``policies`` (each one header value or meta content), directive
    to its sources, in the order directives were first seen. Raises CspError."""
    raw = list(policies)[:MAX_POLICIES]
    cleaned = [trim(policy.replace("\r", "").replace("\n", "")) for policy in raw]
    if not cleaned:
        return {}
    for policy in cleaned:
        if len(policy) < SHORTEST_POLICY:
            raise CspError(f"policy too short: {policy!r}")
    merged: dict[str, list[_Source]] = {}
    duplicates: set[str] = set()
    several = len(raw) > 1
    for index, policy in enumerate(cleaned):
        seen: set[str] = set()
        for entry in policy.split(";"):
            tokens = split_spaces(trim(entry))
            if not tokens[0]:
                continue
            directive = tokens[0].lower()
            if directive in seen:
                if directive not in REPEATABLE:
                    raise CspError(f"directive {directive} repeated in policy {index}")
                duplicates.add(directive)
            else:
                seen.add(directive)
            first = index == 0
            values = [_Source(trim(token).lower(), index, first) for token in tokens[1:]]
            if not values and directive.endswith("-src"):
                values = [_Source("'none'", index, first)]
            combined = values if first else [*merged.get(directive, []), *values]
            combined.sort(key=lambda item: item.order)
            for position in range(1, len(combined)):
                current = combined[position]
                previous = combined[position - 1]
                if current.index == previous.index and current.source.startswith(previous.source):
                    current.keep = False
                if current.index != previous.index and _path_part_match(
                    previous.source, current.source
                ):
                    current.keep = True
            kept = [item for item in combined if item.keep]
            merged[directive] = kept
            if first and several:
                for item in kept:
                    item.keep = False
    result: Policy = {
        directive: {item.source for item in sources} if sources else {"'none'"}
        for directive, sources in merged.items()
    }
    if duplicates:
        result[DUPLICATES] = duplicates
    return result


def parse_csp_meta(policies: Iterable[str]) -> Policy:
    """As parse_csp, without the directives a meta tag may not set."""
    result = parse_csp(policies)
    for directive in META_FORBIDDEN:
        result.pop(directive, None)
    return result


def _path_part_match(path_a: str, path_b: str) -> bool:
    """Whether ``path_b`` lies within ``path_a`` (the scanner's test of one policy's source
    against another's). A malformed %-escape makes the policy invalid, as in the scanner."""
    if not path_a:
        return True
    if path_a == "/" and not path_b:
        return True
    exact = not path_a.endswith("/")
    parts_a = path_a.split("/")
    parts_b = path_b.split("/")
    if len(parts_a) > len(parts_b):
        return False
    if exact and len(parts_a) != len(parts_b):
        return False
    if not exact:
        parts_a.pop()
    try:
        return all(
            decode_uri_component(a) == decode_uri_component(b)
            for a, b in zip(parts_a, parts_b, strict=False)
        )
    except URIError as exc:
        raise CspError(f"malformed escape in a source: {exc}") from None
