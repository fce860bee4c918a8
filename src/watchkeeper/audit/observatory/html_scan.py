"""The few things the Observatory reads from a page: ``<meta http-equiv>`` policies, the
``<meta name="referrer">`` policy, and the ``<script>`` elements (src, integrity, crossorigin).

A small start-tag scanner after the HTML5 tokenizer, not a parser: comments, raw-text elements
(script, style, textarea, title, ...) and ``<template>`` contents are skipped as a browser
would skip them; attribute names are lower-cased, the first of a repeated attribute wins, and
character references in values are decoded. It moves forward only (``str.find`` and single
characters), so a hostile page costs time linear in its size.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass

_RAW_TEXT = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"}
)
_SPACE = "\t\n\f\r "
_NAME_END = _SPACE + "/>"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class Script:
    src: str | None
    integrity: str | None
    crossorigin: str | None


@dataclass(frozen=True, slots=True)
class PageSummary:
    csp: tuple[str, ...]
    """Content of each ``<meta http-equiv="content-security-policy">``, in order."""
    referrer: str | None
    """Content of the last ``<meta name="referrer">``."""
    scripts: tuple[Script, ...]


def summarize(page: str) -> PageSummary:
    csp: list[str] = []
    referrer: str | None = None
    scripts: list[Script] = []
    for tag in start_tags(page):
        if tag.name == "meta":
            attributes = tag.attributes
            if "http-equiv" in attributes and "content" in attributes:
                content = attributes["content"]
                if content and attributes["http-equiv"].strip().lower() == (
                    "content-security-policy"
                ):
                    csp.append(content)
            elif attributes.get("name", "").strip().lower() == "referrer" and attributes.get(
                "content"
            ):
                referrer = attributes["content"]
        elif tag.name == "script":
            scripts.append(
                Script(
                    src=tag.attributes.get("src"),
                    integrity=tag.attributes.get("integrity"),
                    crossorigin=tag.attributes.get("crossorigin"),
                )
            )
    return PageSummary(tuple(csp), referrer, tuple(scripts))


def start_tags(page: str) -> Iterator[Tag]:
    """Start tags outside ``<template>`` contents, in document order."""
    position = 0
    length = len(page)
    template_depth = 0
    lowered = page.translate(_ASCII_LOWER)  # same length, for case-blind searches
    next_at: dict[str, int] = {}
    while True:
        opening = page.find("<", position)
        if opening == -1 or opening + 1 >= length:
            return
        following = page[opening + 1]
        if following == "!":
            position = _skip_markup_declaration(page, opening)
        elif following == "?":
            position = _after(page, ">", opening)
        elif following == "/":
            position, name = _end_tag(page, opening)
            if name == "template" and template_depth:
                template_depth -= 1
        elif following.isascii() and following.isalpha():
            parsed = _start_tag(page, opening + 1)
            if parsed is None:
                return
            tag, position = parsed
            if tag.name == "template":
                template_depth += 1
            elif not template_depth:
                yield tag
            if tag.name == "script":
                position = _skip_script(page, lowered, position, next_at)
            elif tag.name in _RAW_TEXT:
                position = _skip_raw_text(page, lowered, position, tag.name)
            elif tag.name == "plaintext":
                return
        else:
            position = opening + 1


def _after(page: str, needle: str, start: int) -> int:
    found = page.find(needle, start)
    return len(page) if found == -1 else found + len(needle)


def _skip_markup_declaration(page: str, opening: int) -> int:
    if page.startswith("<!--", opening):
        body = opening + 4
        if page.startswith(">", body):
            return body + 1
        if page.startswith("->", body):
            return body + 2
        return _after(page, "-->", body)
    return _after(page, ">", opening)


def _end_tag(page: str, opening: int) -> tuple[int, str]:
    start = opening + 2
    if start >= len(page) or not (page[start].isascii() and page[start].isalpha()):
        return _after(page, ">", opening), ""
    end = start
    while end < len(page) and page[end] not in _NAME_END:
        end += 1
    return _after(page, ">", end), page[start:end].lower()


def _start_tag(page: str, start: int) -> tuple[Tag, int] | None:
    """The tag whose name starts at ``start`` and the position after its ``>``; None when
    the page ends inside it (a browser drops such a tag)."""
    length = len(page)
    end = start
    while end < length and page[end] not in _NAME_END:
        end += 1
    name = page[start:end].lower()
    attributes: dict[str, str] = {}
    index = end
    while True:
        while index < length and (page[index] in _SPACE or page[index] == "/"):
            index += 1
        if index >= length:
            return None
        if page[index] == ">":
            return Tag(name, attributes), index + 1
        name_start = index
        index += 1  # a first "=" belongs to the name
        while index < length and page[index] not in _SPACE and page[index] not in "/>=":
            index += 1
        attribute = page[name_start:index].lower()
        while index < length and page[index] in _SPACE:
            index += 1
        value = ""
        if index < length and page[index] == "=":
            index += 1
            while index < length and page[index] in _SPACE:
                index += 1
            if index >= length:
                return None
            quote = page[index]
            if quote in "\"'":
                closing = page.find(quote, index + 1)
                if closing == -1:
                    return None
                value = page[index + 1 : closing]
                index = closing + 1
            else:
                value_start = index
                while index < length and page[index] not in _SPACE and page[index] != ">":
                    index += 1
                value = page[value_start:index]
        if attribute not in attributes:
            attributes[attribute] = html.unescape(value) if "&" in value else value


def _skip_raw_text(page: str, lowered: str, position: int, name: str) -> int:
    """Past the element's end tag (``</name`` followed by a blank, ``/`` or ``>``)."""
    index = position
    length = len(page)
    pattern = "</" + name
    while True:
        found = lowered.find(pattern, index)
        if found == -1:
            return length
        after = found + len(pattern)
        if after >= length or page[after] in _NAME_END:
            return _after(page, ">", after)
        index = found + 2


def _skip_script(page: str, lowered: str, position: int, next_at: dict[str, int]) -> int:
    """Past a script element's end tag, as the HTML tokenizer finds it: after ``<!--`` a
    ``<script`` starts a stretch where ``</script>`` does not end the element until ``-->``.
    Each pattern's next position is searched once and reused until passed, across all the
    page's scripts (``next_at``; positions only grow): linear in the page."""
    length = len(page)
    state = "data"
    index = position

    def seek(pattern: str, start: int) -> int:
        cached = next_at.get(pattern)
        if cached is None or (cached != -1 and cached < start):
            cached = lowered.find(pattern, start)
            next_at[pattern] = cached
        return length if cached == -1 else cached

    def tag_end(at: int, pattern: str) -> bool:
        after = at + len(pattern)
        return after >= length or page[after] in _NAME_END

    while index < length:
        if state == "data":
            comment = seek("<!--", index)
            end = seek("</script", index)
            if end < comment:
                if tag_end(end, "</script"):
                    return _after(page, ">", end + len("</script"))
                index = end + 2
                continue
            if comment >= length:
                return length
            state, index = "escaped", comment + 2  # "-->" may share the dashes
        elif state == "escaped":
            close = seek("-->", index)
            end = seek("</script", index)
            start = seek("<script", index)
            first = min(close, end, start)
            if first >= length:
                return length
            if first == close:
                state, index = "data", close + 3
            elif first == end:
                if tag_end(end, "</script"):
                    return _after(page, ">", end + len("</script"))
                index = end + 2
            elif tag_end(start, "<script"):
                state, index = "double", start + len("<script")
            else:
                index = start + 1
        else:
            close = seek("-->", index)
            end = seek("</script", index)
            if close <= end:
                if close >= length:
                    return length
                state, index = "data", close + 3
            elif tag_end(end, "</script"):
                state, index = "escaped", end + len("</script")
            else:
                index = end + 2
    return length
