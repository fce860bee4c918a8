"""One call from a URL or host name to a scorecard: parse, fetch, grade."""

from __future__ import annotations

import ssl

from yarl import URL

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.observatory.grader import grade
from watchkeeper.audit.observatory.model import ScanError, Scorecard
from watchkeeper.audit.observatory.preload import HstsPreload
from watchkeeper.audit.observatory.retrieve import retrieve


def target(url_or_host: str) -> tuple[str, int | None, int | None, str]:
    """Host, http port, https port and path of what the user named: a bare host grades both
    default ports; a URL's explicit port applies to its own scheme. Raises ScanError."""
    text = url_or_host.strip()
    if "://" not in text:
        text = f"https://{text}"
    try:
        parsed = URL(text)
    except ValueError:
        raise ScanError(f"not a URL or host name: {url_or_host!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ScanError(f"not an http(s) URL or host name: {url_or_host!r}")
    explicit = parsed.explicit_port
    http_port = explicit if parsed.scheme == "http" else None
    https_port = explicit if parsed.scheme == "https" else None
    path = parsed.raw_path_qs or "/"
    return parsed.host, http_port, https_port, path


async def audit_headers(
    url_or_host: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - each request's bound, not a deadline
    tls_context: ssl.SSLContext | bool = True,
    preload: HstsPreload | None = None,
) -> Scorecard:
    """Retrieve and grade one site as the Observatory would. ``timeout`` bounds each request;
    ``tls_context`` is the trust to verify certificates with (a private CA's context, say).
    Raises ScanError when there is nothing to grade."""
    host, http_port, https_port, path = target(url_or_host)
    async with Fetcher(timeout=timeout, tls=tls_context) as fetch:
        retrieval = await retrieve(
            fetch, host, http_port=http_port, https_port=https_port, path=path
        )
    return grade(retrieval, preload=preload)
