"""String operations as the Observatory's JavaScript does them, where Python's differ in ways
that change a grade: what counts as white space (``trim``, ``split(/\\s+/)``), how sources are
ordered before duplicates are weeded out (``Intl.Collator("en")``), the default ``sort`` (UTF-16
code units) and ``decodeURIComponent``, which fails on a broken escape. All linear in the input.
"""

from __future__ import annotations

import re
import unicodedata

JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""The characters JavaScript's ``\\s`` and ``String.prototype.trim`` treat as white space."""

_SPACES = re.compile(f"[{re.escape(JS_SPACE)}]+")


def trim(text: str) -> str:
    return text.strip(JS_SPACE)


def split_spaces(text: str) -> list[str]:
    """``text.split(/\\s+/)``: an empty string gives ``[""]``, as in JavaScript."""
    return _SPACES.split(text)


# Printable ASCII in the order ICU's root collation (what Intl.Collator("en") uses) puts it:
# white space, punctuation and symbols, digits, then letters; control characters are ignored.
_ASCII_ORDER = (
    "\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"
    "aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ"
)
_PRIMARY = {char: index for index, char in enumerate(_ASCII_ORDER)}
for _letter in "abcdefghijklmnopqrstuvwxyz":  # case is a tertiary difference only
    _PRIMARY[_letter.upper()] = _PRIMARY[_letter]
_IGNORED = {chr(code) for code in [*range(0x20), 0x7F] if chr(code) not in "\t\n\v\f\r"}
# The same weights for ASCII as str.translate tables (every ASCII character is either weighed
# or ignored), so an ASCII string, a CSP source in practice, is keyed in C rather than one
# Python step per character: a page's policy may hold tens of thousands of sources.
_ASCII_PRIMARY = {ord(char): chr(weight) for char, weight in _PRIMARY.items()} | dict.fromkeys(
    map(ord, _IGNORED)
)
_ASCII_CASE = {ord(char): "\x01" if char.isupper() else "\x00" for char in _PRIMARY} | (
    dict.fromkeys(map(ord, _IGNORED))
)


def collation_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """A sort key ordering strings as ``Intl.Collator("en").compare`` does: exact for ASCII;
    other characters by their decomposed base letter, then accents, then code point (close to
    ICU, not identical: CSP sources are ASCII in practice)."""
    if text.isascii():
        weights = tuple(text.translate(_ASCII_PRIMARY).encode("latin-1"))
        cases = tuple(text.translate(_ASCII_CASE).encode("latin-1"))
        return weights, (0,) * len(weights), cases
    primary: list[int] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    for char in text:
        if char in _IGNORED:
            continue
        weight = _PRIMARY.get(char)
        if weight is not None:
            primary.append(weight)
            secondary.append(0)
            tertiary.append(1 if char.isupper() else 0)
            continue
        decomposed = unicodedata.normalize("NFD", char)
        base = decomposed[0]
        weight = _PRIMARY.get(base)
        primary.append(weight if weight is not None else 1000 + ord(base))
        secondary.append(sum(ord(mark) for mark in decomposed[1:]))
        tertiary.append(ord(char))
    return tuple(primary), tuple(secondary), tuple(tertiary)


def code_unit_key(text: str) -> bytes:
    """JavaScript's default ``sort`` order: by UTF-16 code units."""
    return text.encode("utf-16-be", errors="surrogatepass")


class URIError(ValueError):
    """``decodeURIComponent`` met a malformed escape."""


def decode_uri_component(text: str) -> str:
    """``decodeURIComponent``: every %XX decoded as UTF-8; a malformed one raises URIError."""
    if "%" not in text:
        return text
    out: list[str] = []
    pending = bytearray()
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "%":
            pair = text[index + 1 : index + 3]
            if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
                raise URIError(f"malformed escape at {index}")
            pending.append(int(pair, 16))
            index += 3
            continue
        if pending:
            out.append(_utf8(pending))
            pending.clear()
        out.append(char)
        index += 1
    if pending:
        out.append(_utf8(pending))
    return "".join(out)


def _utf8(data: bytearray) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise URIError("escapes that are not UTF-8") from None


def parse_int(text: str) -> int | None:
    """``parseInt(text, 10)``: leading white space, a sign, then digits up to the first
    other character; None where JavaScript gives NaN."""
    body = trim(text)
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    end = 0
    while end < len(body) and body[end] in "0123456789":
        end += 1
    return sign * int(body[:end]) if end else None
