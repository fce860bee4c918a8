"""The regular expressions users write (``body matches '...'``, PromQL ``=~``), on RE2.

A user's pattern meets text a target sent, so it runs on RE2: time linear in the text whatever
the pattern (Python's ``re`` backtracks: ``(a+)+$`` on 30 bytes takes seconds, on 40 hours).
RE2 has no backreferences and no lookarounds; such a pattern is refused when the config is
loaded, with a column. Its ``\\d \\w \\s \\b`` are ASCII (``\\pL``, ``\\p{Greek}`` reach
further); ``(?i)`` folds case in any script.

Only "is there a match" is asked, so patterns compile without captures: RE2 then answers from
its DFA alone (``(.*a){20}`` on 1 MiB: 3 ms instead of 500 ms). ``$`` also matches before one
final newline, as in Python and PCRE (``'^ok$'`` holds for a body ``ok\\n``); ``\\z`` is the very
end only. The one place this differs from Python: a ``$`` followed by something that consumes
that final newline (``'ok$\\n'``, which Python matches in ``ok\\n``) never matches, since RE2 has no
lookahead to express it; nobody writes it on purpose.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

_HINTS = (
    ("invalid escape sequence: \\Z", "write \\z (or $) for the end of the text"),
    ("invalid perl operator: (?=", "RE2 has no lookahead"),
    ("invalid perl operator: (?!", "RE2 has no lookahead"),
    ("invalid perl operator: (?<=", "RE2 has no lookbehind"),
    ("invalid perl operator: (?<!", "RE2 has no lookbehind"),
    ("invalid repetition size", "RE2 repeats at most 1000 times"),
    ("pattern too large", "RE2 caps a pattern's size"),
)
"""Why RE2 refuses what Python would take; only the first hint that fits is shown."""


class RegexError(ValueError):
    """A pattern RE2 cannot take; ``offset`` is the 0-based index of the fault in it."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class Regex:
    """One compiled pattern; both tests are linear in the length of the text."""

    __slots__ = ("_anchored_end", "_compiled", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._compiled = compiled
        self._anchored_end = "$" in pattern

    def search(self, text: str) -> bool:
        """Does the pattern match anywhere in ``text`` (Python's ``re.search``)?"""
        data = _utf8(text)
        if self._compiled.search(data) is not None:
            return True
        # Python's $ matches before a final newline too; RE2's only at the very end
        return (
            self._anchored_end
            and data.endswith(b"\n")
            and self._compiled.search(data[:-1]) is not None
        )

    def fullmatch(self, text: str) -> bool:
        """Does the pattern match the whole of ``text`` (PromQL's anchored ``=~``)?"""
        return self._compiled.fullmatch(_utf8(text)) is not None


def _utf8(text: str) -> bytes:
    # JSON may hold lone surrogates ("\ud800"), which strict UTF-8 refuses
    return text.encode("utf-8", "surrogatepass")


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the refusal is ours to report, not stderr's
    options.never_capture = True  # no captures: the DFA answers alone
    return options


_OPTIONS = _options()


@lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> Regex:
    """Compile ``pattern`` for RE2, or raise RegexError saying why it cannot be."""
    try:
        return Regex(pattern, re2.compile(pattern, _OPTIONS))
    except re2.error as exc:
        raise _explain(pattern, exc) from None


def _explain(pattern: str, exc: Exception) -> RegexError:
    raw = exc.args[0] if exc.args else ""
    reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    reason = reason or "not a regular expression RE2 can take"
    _, _, fragment = reason.partition(": ")
    offset = pattern.find(fragment) if fragment else -1
    hint = next((h for prefix, h in _HINTS if reason.startswith(prefix)), None)
    if fragment[:1] == "\\" and fragment[1:2].isdigit():
        hint = "RE2 has no backreferences"
    message = f"{reason} ({hint})" if hint else reason
    return RegexError(message, max(offset, 0))
