"""Fetching a page's assets, bounded, and the bytes each one costs on the wire.

Only assets on the page's own host (or hosts the caller names) are fetched, at most
``max_assets`` of them, ``CONCURRENCY`` at a time; an asset elsewhere is counted from its
URL (kind, host) and never requested, so the audit scans nothing it was not given. Text
assets (scripts, styles, SVG) are read up to ``TEXT_BODY`` bytes, to measure compression;
images, fonts and media up to ``BINARY_BODY``, their size coming from ``Content-Length``.

Transfer size is what a browser's network panel shows: the header bytes plus the body as
sent. The body as sent is ``Content-Length`` when the server gave one; for a response
compressed on the fly without one (nginx's gzip is chunked) it is estimated as the body
compressed with gzip level 6 (``estimated``); for an uncompressed body cut at the cap it is
at least the cap (``at_least``).
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass

from yarl import URL

from watchkeeper.audit._http import Fetcher, FetchError, Response
from watchkeeper.audit.delivery._page import Asset

CONCURRENCY = 4
TEXT_BODY = 1024 * 1024
BINARY_BODY = 16 * 1024
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}
"""What is asked for: the encodings the fetcher can always decode (a server that offers br
or zstd offers gzip too; one that has only those is reported as not compressing)."""

_TEXT_KINDS = frozenset({"document", "script", "style"})
_COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/ld+json",
    "application/manifest+json",
    "image/svg+xml",
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """One resource of the page, fetched or not."""

    url: str
    kind: str
    """document, script, style, image, font, media, frame"""
    tag: str
    response: Response | None = None
    error: str | None = None

    @property
    def fetched(self) -> bool:
        return self.response is not None and 200 <= self.response.status < 300


def encoding(response: Response) -> str | None:
    """The content coding the server applied, or None."""
    coding = (response.header("content-encoding") or "").strip().lower()
    return coding if coding and coding != "identity" else None


def compressible(response: Response) -> bool:
    kind = (response.header("content-type") or "").split(";")[0].strip().lower()
    return kind.startswith(_COMPRESSIBLE) or kind.endswith(("+json", "+xml"))


def header_bytes(response: Response) -> int:
    """The response head as sent, roughly: a status line and ``name: value\\r\\n`` each."""
    return 17 + sum(len(name) + len(value) + 4 for name, value in response.headers) + 2


def body_bytes(response: Response) -> tuple[int, str]:
    """(bytes of body as sent, how known: ``exact``, ``estimated`` or ``at_least``)."""
    if response.wire_bytes is not None:
        return response.wire_bytes, "exact"
    if encoding(response) is not None:
        return len(gzip.compress(response.body, 6)), "estimated"
    return len(response.body), "at_least" if response.truncated else "exact"


def transfer_bytes(response: Response) -> tuple[int, str]:
    body, how = body_bytes(response)
    return header_bytes(response) + body, how


def gzip_saving(response: Response) -> int:
    """Bytes gzip level 6 would save on the body as received (decoded)."""
    return max(0, len(response.body) - len(gzip.compress(response.body, 6)))


async def load(
    assets: list[Asset],
    *,
    fetch: Fetcher,
    hosts: frozenset[str],
    max_assets: int,
) -> tuple[list[Loaded], list[Asset]]:
    """(the assets on ``hosts``, fetched up to ``max_assets``; the others, not fetched)."""
    own = [a for a in assets if (URL(a.url).host or "").lower() in hosts]
    elsewhere = [a for a in assets if (URL(a.url).host or "").lower() not in hosts]
    chosen, skipped = own[:max_assets], own[max_assets:]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(asset: Asset) -> Loaded:
        cap = TEXT_BODY if asset.kind in _TEXT_KINDS or asset.url.endswith(".svg") else BINARY_BODY
        async with gate:
            try:
                response = await fetch.get(asset.url, headers=ACCEPT_ENCODING, max_body=cap)
            except FetchError as exc:
                return Loaded(asset.url, asset.kind, asset.tag, error=exc.reason)
        return Loaded(asset.url, asset.kind, asset.tag, response)

    loaded = list(await asyncio.gather(*(one(asset) for asset in chosen)))
    return loaded, elsewhere + skipped
