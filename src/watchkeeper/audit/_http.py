"""The audit's HTTP client: one request at a time, bounded in time and size, redirects
followed by hand so that every hop is seen (the Observatory grades the chain, delivery counts
its cost) and none is followed to a host the audit was not told about unless asked.

Everything a target sends is hostile: a body is read up to ``max_body`` bytes and the rest is
dropped (``truncated``), a header line longer than ``max_field`` is an error, each request
has one deadline covering connect, TLS, headers and body, and a redirect chain stops at
``max_redirects`` or at the first URL seen twice (a loop).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from yarl import URL

from watchkeeper import __version__

if TYPE_CHECKING:
    import aiohttp

USER_AGENT = f"Watchkeeper-audit/{__version__}"
MAX_BODY = 2 * 1024 * 1024
"""Bytes of a body read before the rest is dropped (a page, a script, a leak probe)."""
MAX_FIELD = 16 * 1024
"""Longest header line accepted; a longer one makes the request fail with a clear reason."""
MAX_REDIRECTS = 10


class FetchError(Exception):
    """A request that got no HTTP answer: the one-line reason is the message."""

    def __init__(
        self, url: str, reason: str, *, certificate: bool = False, refused: bool = False
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.certificate = certificate
        """True when the answer was refused because the certificate did not verify (a caller
        may try again with ``verify=False``, as the Observatory does, to grade the rest)."""
        self.refused = refused
        """True when the request was not sent: its host is not one this audit may visit."""


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP answer, as sent: every header in order (names lower-cased), the body up to the
    cap, and the time it took."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    truncated: bool = False
    version: str = "1.1"
    elapsed: float = 0.0
    wire_bytes: int | None = None
    """Bytes of body as transferred (compressed), when the server said or it was counted."""

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def all(self, name: str) -> list[str]:
        """Every value of ``name`` in the order sent (``set-cookie`` comes several times)."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

    def joined(self, name: str) -> str | None:
        """All values of ``name`` joined with ", " as RFC 9110 §5.3 combines them."""
        values = self.all(name)
        return ", ".join(values) if values else None

    @property
    def location(self) -> str | None:
        """The absolute redirect target of a 3xx answer, else None."""
        if not 300 <= self.status < 400 or self.status == 304:
            return None
        target = self.header("location")
        if not target:
            return None
        try:
            return str(URL(self.url).join(URL(target.strip())))
        except ValueError:
            return None

    @property
    def text(self) -> str:
        """The body as text (charset from the content type, else UTF-8, errors replaced)."""
        charset = "utf-8"
        kind = self.header("content-type") or ""
        for part in kind.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"' ")
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Chain:
    """The answers to one URL and the redirects it led to, in order."""

    responses: tuple[Response, ...]
    stopped: str | None = None
    """Why the chain ended before a final answer (a loop, too many hops, a host not allowed,
    an error on a later hop), or None when the last response is final."""

    @property
    def final(self) -> Response:
        return self.responses[-1]

    @property
    def urls(self) -> list[str]:
        return [response.url for response in self.responses]


@dataclass
class Fetcher:
    """Bounded HTTP requests for one audit. Use as ``async with Fetcher(...) as fetch``."""

    timeout: float = 10.0
    """Seconds for one request, connect to last body byte."""
    tls: ssl.SSLContext | bool = True
    """Certificate checking for https: True (the system's trust), False, or a context (a
    private CA)."""
    max_body: int = MAX_BODY
    max_field: int = MAX_FIELD
    max_redirects: int = MAX_REDIRECTS
    allowed_hosts: frozenset[str] | None = None
    """Hosts a redirect may lead to (None: any). Requests for other hosts are refused."""
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> Fetcher:
        import aiohttp

        connector = aiohttp.TCPConnector(ssl=self.tls, limit=4, force_close=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            auto_decompress=True,
            max_field_size=self.max_field,
            max_line_size=self.max_field,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        max_body: int | None = None,
        verify: bool = True,
    ) -> Response:
        """One request, no redirect followed. Raises FetchError with a one-line reason.
        ``verify=False`` accepts any certificate for this request only."""
        import aiohttp

        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise FetchError(url, "not an http(s) URL")
        if self.allowed_hosts is not None and parsed.host.lower() not in self.allowed_hosts:
            raise FetchError(
                url, f"host {parsed.host} is not one this audit was given", refused=True
            )
        cap = self.max_body if max_body is None else max_body
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session.request(
                    method,
                    parsed,
                    headers=dict(headers or {}),
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=None),
                    ssl=verify,  # True: the connector's trust; False: any certificate
                ) as answer:
                    body, truncated, wire = await _read_capped(answer, cap)
                    return Response(
                        url=url,
                        status=answer.status,
                        headers=tuple(
                            (key.decode("latin-1").lower(), value.decode("latin-1"))
                            for key, value in answer.raw_headers
                        ),
                        body=body,
                        truncated=truncated,
                        version=f"{answer.version.major}.{answer.version.minor}"
                        if answer.version
                        else "1.1",
                        elapsed=loop.time() - started,
                        wire_bytes=wire,
                    )
        except TimeoutError:
            raise FetchError(url, f"no complete answer within {self.timeout:g}s") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise FetchError(
                url, f"certificate not trusted ({_first_line(exc)})", certificate=True
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError(url, _connect_reason(exc)) from None
        except aiohttp.ClientResponseError as exc:
            raise FetchError(url, f"bad HTTP answer: {exc.message}") from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(url, f"body broken off: {_first_line(exc)}") from None
        except aiohttp.ClientError as exc:
            raise FetchError(url, _first_line(exc) or type(exc).__name__) from None
        except (ssl.SSLError, OSError) as exc:
            raise FetchError(
                url,
                _first_line(exc) or type(exc).__name__,
                certificate=isinstance(exc, ssl.SSLCertVerificationError),
            ) from None

    async def follow(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_body: int | None = None,
    ) -> Chain:
        """``url`` and every redirect after it, up to ``max_redirects`` hops. The first
        request's failure raises FetchError; a later hop's ends the chain (``stopped``)."""
        responses = [await self.get(url, headers=headers, max_body=max_body)]
        seen = {url}
        while (target := responses[-1].location) is not None:
            if len(responses) > self.max_redirects:
                return Chain(tuple(responses), f"more than {self.max_redirects} redirects")
            if target in seen:
                return Chain(tuple(responses), f"redirect loop back to {target}")
            seen.add(target)
            try:
                responses.append(await self.get(target, headers=headers, max_body=max_body))
            except FetchError as exc:
                return Chain(tuple(responses), exc.reason)
        return Chain(tuple(responses))


async def _read_capped(answer: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool, int | None]:
    """Up to ``cap`` bytes of the decoded body; whether more was there; wire bytes if known."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    async for chunk in answer.content.iter_chunked(64 * 1024):
        room = cap - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            size = cap
            truncated = True
            break
        chunks.append(chunk)
        size += len(chunk)
    length = answer.headers.get("Content-Length")
    wire = int(length) if length and length.isdigit() else None
    return b"".join(chunks), truncated, wire


def hosts(urls: Iterable[str]) -> frozenset[str]:
    """The lower-cased hosts of ``urls`` (for ``allowed_hosts``)."""
    return frozenset(host.lower() for url in urls if (host := URL(url).host))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _connect_reason(exc: BaseException) -> str:
    cause = getattr(exc, "os_error", None) or exc.__cause__ or exc
    text = _first_line(cause) or _first_line(exc)
    if "Connect call failed" in text or "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "name not found"
    return text or "cannot connect"
