"""Backups kept in S3-compatible object storage (AWS S3, MinIO, Garage, Ceph, Backblaze B2):
the objects under ``s3.prefix``, listed with ListObjectsV2 and judged on age, size and count.
Their contents are not read (no format check): that would mean downloading each backup.

Requests are path-style (``https://endpoint/bucket?list-type=2``), which every
S3-compatible server answers, signed with AWS Signature Version 4 as the S3 API reference
describes it ("Authenticating Requests: Using the Authorization Header"); without
``access_key`` they go unsigned (a public bucket). The answer is hostile input: each page is
read up to ``MAX_PAGE`` bytes, parsed by expat (on the backups lane) with every DOCTYPE
refused, so no entity can be declared, let alone expanded; at most ``MAX_PAGES`` pages are
asked for.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import posixpath
import time
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from watchkeeper import lanes
from watchkeeper.backup.files import BackupFile, Listing, ListingError, is_candidate
from watchkeeper.backup.settings import S3Spec

MAX_PAGE = 8 * 1024 * 1024
"""Bytes of one ListObjectsV2 answer (1,000 keys take about 300 KiB)."""
MAX_PAGES = 1000
"""Pages asked for at most (a million objects at 1,000 a page); objects past them are
neither listed nor counted."""
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

if TYPE_CHECKING:
    from aiohttp import StreamReader


# -- Signature Version 4 -------------------------------------------------------------------------
def uri_encode(text: str, *, keep_slash: bool = False) -> str:
    """Percent-encode every byte but A-Z a-z 0-9 - _ . ~ (and ``/`` in a path), upper-case
    hex, as SigV4 requires."""
    return quote(text, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    encoded = sorted((uri_encode(key), uri_encode(value)) for key, value in params)
    return "&".join(f"{key}={value}" for key, value in encoded)


def sign(
    *,
    method: str,
    path: str,
    params: list[tuple[str, str]],
    headers: Mapping[str, str],
    access_key: str,
    secret_key: str,
    region: str,
    stamp: str,
    service: str = "s3",
    payload_hash: str = EMPTY_SHA256,
) -> str:
    """The ``Authorization`` header for a request. ``headers`` are the ones signed (``host``,
    ``x-amz-date`` and ``x-amz-content-sha256`` at least); ``stamp`` is ``x-amz-date``
    (``20130524T000000Z``); ``path`` is already URI-encoded."""
    lowered = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    names = sorted(lowered)
    signed = ";".join(names)
    request = "\n".join(
        [
            method,
            path or "/",
            canonical_query(params),
            "".join(f"{name}:{lowered[name]}\n" for name in names),
            signed,
            payload_hash,
        ]
    )
    day = stamp[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


# -- the answer --------------------------------------------------------------------------------
@dataclass
class Page:
    """What one ListObjectsV2 answer (or S3 error document) said."""

    objects: list[tuple[str, int, float]] = field(default_factory=list)
    """(key, size, last modified) per ``Contents``."""
    truncated: bool = False
    token: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class _Refused(Exception):
    """The storage answered with an error document (its one line is the message)."""


def parse_page(body: bytes) -> Page:
    """Parse a ListObjectsV2 answer (or an ``<Error>`` document) with expat, refusing any
    DOCTYPE. Raises ListingError on anything malformed."""
    page = Page()
    path: list[str] = []
    text: list[str] = []
    current: dict[str, str] = {}

    def start(name: str, _attrs: dict[str, str]) -> None:
        path.append(name.rpartition(":")[2])
        text.clear()

    def end(_name: str) -> None:
        name = path.pop()
        value = "".join(text).strip()
        text.clear()
        parent = path[-1] if path else ""
        if parent == "Contents" and name in ("Key", "Size", "LastModified"):
            current[name] = value
        elif name == "Contents":
            _add(page, current)
            current.clear()
        elif parent in ("ListBucketResult", "Error"):
            if name == "IsTruncated":
                page.truncated = value.lower() == "true"
            elif name == "NextContinuationToken":
                page.token = value
            elif name == "Code":
                page.error_code = value[:100]
            elif name == "Message":
                page.error_message = value[:200]

    def chars(data: str) -> None:
        if sum(map(len, text)) < 4096:  # no value S3 sends is longer
            text.append(data)

    def doctype(*_args: object) -> None:
        raise _Refused("a DOCTYPE")

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(body, True)
    except _Refused as exc:
        raise ListingError(f"the S3 answer holds {exc} (refused)") from None
    except xml.parsers.expat.ExpatError as exc:
        raise ListingError(f"the S3 answer is not XML: {exc}") from None
    return page


def _add(page: Page, item: dict[str, str]) -> None:
    key = item.get("Key", "")
    try:
        size = int(item.get("Size", ""))
        modified = datetime.fromisoformat(item.get("LastModified", "")).timestamp()
    except ValueError:
        raise ListingError(
            f"the S3 answer has a bad Size or LastModified for '{key[:100]}'"
        ) from None
    if key:
        page.objects.append((key, size, modified))


# -- listing -----------------------------------------------------------------------------------
async def list_objects(
    spec: S3Spec, *, limit: int = 10_000, page_timeout: float = 30.0, page_size: int = 1000
) -> Listing:
    """The backups under ``spec.prefix``, newest first, at most ``limit`` (``total`` counts
    them all). Folder markers (keys ending in ``/``), hidden and partial names are skipped.
    Each page must come within ``page_timeout``; the whole is bounded by the caller's."""
    import aiohttp
    from yarl import URL

    endpoint = urlsplit(spec.endpoint)
    if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
        raise ListingError(f"s3 endpoint '{spec.endpoint}' must be an http(s):// address")
    base_path = endpoint.path.rstrip("/") + "/" + uri_encode(spec.bucket)
    where = f"s3://{spec.bucket}/{spec.prefix}"
    newest: list[tuple[float, str, int]] = []
    total = 0
    token: str | None = None
    if bool(spec.access_key) != bool(spec.secret_key):
        raise ListingError(f"{where}: give both access_key and secret_key, or neither")
    client_timeout = aiohttp.ClientTimeout(total=page_timeout, sock_connect=min(10.0, page_timeout))
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        for _ in range(MAX_PAGES):
            params = [("list-type", "2"), ("max-keys", str(page_size))]
            if spec.prefix:
                params.append(("prefix", spec.prefix))
            if token:
                params.append(("continuation-token", token))
            headers = _headers(spec, endpoint.netloc, base_path, params)
            url = URL(
                f"{endpoint.scheme}://{endpoint.netloc}{base_path}?{canonical_query(params)}",
                encoded=True,
            )
            try:
                async with session.get(url, headers=headers, allow_redirects=False) as answer:
                    body = await _read_capped(answer.content)
                    status = answer.status
            except TimeoutError:
                raise ListingError(f"{where}: no answer from {spec.endpoint} in time") from None
            except aiohttp.ClientError as exc:
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                raise ListingError(f"{where}: cannot reach {spec.endpoint}: {reason}") from None
            page = await lanes.BACKUPS.run(parse_page, body) if body.strip() else Page()
            if status != 200 or page.error_code:
                detail = page.error_code or "no error code"
                if page.error_message:
                    detail += f": {page.error_message}"
                raise ListingError(f"{where}: S3 answered {status} ({detail})")
            for key, size, modified in page.objects:
                name = posixpath.basename(key)
                if key.endswith("/") or not is_candidate(name):
                    continue
                total += 1
                item = (modified, key, size)
                if len(newest) < limit:
                    heapq.heappush(newest, item)
                elif item[:2] > newest[0][:2]:
                    heapq.heapreplace(newest, item)
            if not page.truncated or not page.token:
                break
            token = page.token
    newest.sort(key=lambda item: (item[0], posixpath.basename(item[1])), reverse=True)
    files = [
        BackupFile(
            path=f"s3://{spec.bucket}/{key}", name=posixpath.basename(key), size=size, mtime=mtime
        )
        for mtime, key, size in newest
    ]
    return Listing(files, total)


def _headers(spec: S3Spec, host: str, path: str, params: list[tuple[str, str]]) -> dict[str, str]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {"host": host, "x-amz-date": stamp, "x-amz-content-sha256": EMPTY_SHA256}
    if spec.access_key and spec.secret_key:
        headers["Authorization"] = sign(
            method="GET",
            path=path,
            params=params,
            headers=headers,
            access_key=spec.access_key,
            secret_key=spec.secret_key,
            region=spec.region,
            stamp=stamp,
        )
    return headers


async def _read_capped(content: StreamReader) -> bytes:
    """The answer's body, refused past MAX_PAGE bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_PAGE:
            raise ListingError(f"the S3 answer is larger than {MAX_PAGE // (1024 * 1024)} MiB")
        chunks.append(chunk)
