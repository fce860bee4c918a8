"""The subresources a page loads, read from its HTML (and its stylesheets' ``url()``).

What counts, by kind:

    script    <script src>, <link rel=modulepreload>, <link rel=preload as=script>
    style     <link rel=stylesheet>, <link rel=preload as=style>, CSS @import
    image     <img src/srcset>, <picture><source srcset>, <video poster>, <link rel=icon>,
              <input type=image src>, <link rel=preload as=image>, CSS url() of an image
    font      <link rel=preload as=font>, CSS url() of a font (woff2, woff, ttf, otf, eot)
    media     <video src>, <audio src>, <source src>, <track src>
    frame     <iframe src>, <object data>, <embed src>

Of a ``srcset`` only the first candidate is taken (a browser loads one). ``data:`` URLs are
part of the page's own bytes and are skipped; ``<base href>`` is honoured. An asset inside a
comment, a ``<script>``, ``<style>``, ``<noscript>``, ``<template>``, ``<textarea>`` or
``<title>`` is not one.

Parsing is linear in the page. Python 3.11's ``html.parser`` is not on hostile input: fed a
whole page and closed, 200 KB of ``<!--`` took 31 s here, and a megabyte of bare ``<`` 7 s
even unclosed. So a scanner built on ``str.find`` (each character looked at a bounded number
of times) finds the tags, comments and raw-text elements, and ``html.parser`` reads the
attributes of each asset tag alone (at most ``MAX_TAG`` characters, fed and never closed),
which keeps its quoting and entity rules. ``MAX_ASSETS`` URLs are kept at most, from the
first ``MAX_ASSET_TAGS`` asset tags of the first ``MAX_HTML`` characters: about a second of
one core per megabyte at worst (a megabyte of ``<a>``), a few milliseconds for a real page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

from yarl import URL

MAX_HTML = 1024 * 1024
"""Characters of a page read for its assets."""
MAX_TAG = 8 * 1024
MAX_ASSETS = 500
MAX_ASSET_TAGS = 5000
"""Asset tags read at most (a page of sixty thousand identical <img> costs no more)."""
MAX_CSS_URLS = 200

_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9:-]{0,40})")
_MARKUP = re.compile(r"<[a-zA-Z!/?]")
"""A ``<`` that may open markup: a bare one in text is skipped without a look."""
_RAW_TEXT = ("script", "style", "noscript", "template", "textarea", "title")
_RAW_END = {name: re.compile(f"</{name}", re.IGNORECASE) for name in _RAW_TEXT}
_WANTED = frozenset(
    {
        "script",
        "link",
        "img",
        "source",
        "video",
        "audio",
        "track",
        "iframe",
        "object",
        "embed",
        "input",
        "base",
    }
)
_QUOTE_OR_END = re.compile(r"[>\"']")
_FONT_EXTENSIONS = (".woff2", ".woff", ".ttf", ".otf", ".eot")
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico")
_PRELOAD_KINDS = {
    "script": "script",
    "style": "style",
    "image": "image",
    "font": "font",
    "audio": "media",
    "video": "media",
    "track": "media",
}
PASSIVE = frozenset({"image", "media"})
"""Kinds a browser loads over http:// on an https page with a warning (upgraded or shown),
where every other kind is blocked outright (mixed content: "blockable" vs "upgradeable")."""


@dataclass(frozen=True, slots=True)
class Asset:
    url: str
    """Absolute, fragment removed."""
    kind: str
    tag: str
    """What referred to it: ``img``, ``link rel=stylesheet``, ``css url()``..."""


def assets(html: str, page_url: str) -> list[Asset]:
    """The page's subresources in document order, each URL once."""
    base = URL(page_url)
    found: list[Asset] = []
    seen: set[str] = set()
    for name, attributes in _asset_tags(html[:MAX_HTML]):
        if name == "base":
            href = attributes.get("href")
            if href:
                joined = _join(base, href)
                if joined is not None:
                    base = URL(joined)
            continue
        for reference, kind, tag in _references(name, attributes):
            url = _join(base, reference)
            if url is None or url in seen:
                continue
            seen.add(url)
            found.append(Asset(url, kind, tag))
            if len(found) >= MAX_ASSETS:
                return found
    return found


def css_assets(css: str, sheet_url: str) -> list[Asset]:
    """Fonts, images and imported stylesheets a stylesheet refers to (``url(...)`` and
    ``@import "..."``), linear in the text."""
    base = URL(sheet_url)
    found: list[Asset] = []
    position = 0
    while len(found) < MAX_CSS_URLS:
        start = css.find("url(", position)
        if start < 0:
            break
        end = css.find(")", start + 4)
        if end < 0 or end - start > 2048:
            break
        reference = css[start + 4 : end].strip().strip("\"'").strip()
        position = end + 1
        kind = _kind_by_extension(reference)
        if css[max(0, start - 12) : start].rstrip().lower().endswith("@import"):
            kind = "style"
        url = _join(base, reference) if kind else None
        if url is not None and kind is not None:
            found.append(Asset(url, kind, "css url()"))
    position = 0
    while len(found) < MAX_CSS_URLS:
        start = css.find("@import", position)
        if start < 0:
            break
        position = start + 7
        rest = css[position : position + 2048].lstrip()
        if rest[:1] in ("'", '"'):
            end = rest.find(rest[0], 1)
            url = _join(base, rest[1:end]) if end > 0 else None
            if url is not None:
                found.append(Asset(url, "style", "css @import"))
    return found


def _kind_by_extension(reference: str) -> str | None:
    path = reference.split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(_FONT_EXTENSIONS):
        return "font"
    if path.endswith(_IMAGE_EXTENSIONS):
        return "image"
    if path.endswith(".css"):
        return "style"
    return None


def _join(base: URL, reference: str) -> str | None:
    reference = reference.strip()
    if not reference or reference.lower().startswith(("data:", "javascript:", "about:", "blob:")):
        return None
    try:
        url = base.join(URL(reference))
    except (ValueError, TypeError):
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    return str(url.with_fragment(None))


def _references(name: str, attributes: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(URL as written, kind, what referred to it) of one tag."""
    get = attributes.get
    if name == "script" and get("src"):
        yield get("src", ""), "script", "script"
    elif name == "link" and get("href"):
        rel = set(get("rel", "").lower().split())
        href = get("href", "")
        if "stylesheet" in rel:
            yield href, "style", "link rel=stylesheet"
        elif "modulepreload" in rel:
            yield href, "script", "link rel=modulepreload"
        elif "preload" in rel and get("as", "").lower() in _PRELOAD_KINDS:
            kind = _PRELOAD_KINDS[get("as", "").lower()]
            yield href, kind, f"link rel=preload as={get('as', '').lower()}"
        elif rel & {"icon", "apple-touch-icon"}:
            yield href, "image", "link rel=icon"
    elif name == "img":
        if get("src"):
            yield get("src", ""), "image", "img"
        elif get("srcset"):
            yield _first_candidate(get("srcset", "")), "image", "img srcset"
    elif name == "source":
        if get("srcset"):
            yield _first_candidate(get("srcset", "")), "image", "source srcset"
        elif get("src"):
            yield get("src", ""), "media", "source"
    elif name in ("video", "audio", "track"):
        if get("src"):
            yield get("src", ""), "media", name
        if name == "video" and get("poster"):
            yield get("poster", ""), "image", "video poster"
    elif name in ("iframe", "embed") and get("src"):
        yield get("src", ""), "frame", name
    elif name == "object" and get("data"):
        yield get("data", ""), "frame", "object"
    elif name == "input" and get("type", "").lower() == "image" and get("src"):
        yield get("src", ""), "image", "input type=image"


def _first_candidate(srcset: str) -> str:
    first = srcset.strip().split(",", 1)[0].strip()
    return first.split()[0] if first else ""


class _TagReader(HTMLParser):
    """Reads the attributes of one start tag; never closed (see the module)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.found is None:
            self.found = (tag, {key: value or "" for key, value in attrs})

    handle_startendtag = handle_starttag


def _asset_tags(html: str) -> Iterator[tuple[str, dict[str, str]]]:
    read = 0
    for name, start, end in _start_tags(html):
        if name not in _WANTED or end - start > MAX_TAG:
            continue
        read += 1
        if read > MAX_ASSET_TAGS:
            return
        reader = _TagReader()
        reader.feed(html[start:end])
        if reader.found is not None:
            yield reader.found


def _start_tags(html: str) -> Iterator[tuple[str, int, int]]:
    """(lower-cased name, start, end) of every start tag outside comments and raw text."""
    position = 0
    length = len(html)
    while position < length:
        markup = _MARKUP.search(html, position)
        if markup is None:
            return
        start = markup.start()
        if html.startswith("<!--", start):
            close = html.find("-->", start + 4)
            if close < 0:
                return  # an unterminated comment runs to the end
            position = close + 3
            continue
        named = _TAG_NAME.match(html, start)
        if named is None:
            close = html.find(">", start + 2)  # </x>, <!doctype>, <?x>: to the next >
            if close < 0:
                return
            position = close + 1
            continue
        end = _tag_end(html, named.end())
        if end < 0:
            return
        name = named.group(1).lower()
        yield name, start, end
        position = end
        if name in _RAW_TEXT and not html.startswith("/>", end - 2):
            close_match = _RAW_END[name].search(html, end)
            if close_match is None:
                return
            position = close_match.start()


def _tag_end(html: str, position: int) -> int:
    """The index just past the ``>`` that ends a start tag whose attributes begin at
    ``position``, skipping quoted attribute values; -1 if the text ends first."""
    while True:
        found = _QUOTE_OR_END.search(html, position)
        if found is None:
            return -1
        at = found.start()
        if html[at] == ">":
            return at + 1
        back = at - 1
        while back >= position and html[back] in " \t\n\r\f":
            back -= 1
        if back >= 0 and html[back] == "=":
            close = html.find(html[at], at + 1)
            if close < 0:
                return -1
            position = close + 1
        else:
            position = at + 1
