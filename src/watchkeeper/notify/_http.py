"""The HTTP plumbing the webhook and Alertmanager notifiers share: one session per route,
bounded time and response size, and the line between a passing and a permanent failure.

aiohttp is imported when a route is set up (``HttpSender()``), not when a config loads: that
imports the notifier kinds for their settings and sends nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchkeeper import __version__
from watchkeeper.notify.base import TransportError
from watchkeeper.printable import one_line
from watchkeeper.redact import mask_url, route_origin

if TYPE_CHECKING:
    import aiohttp

_MAX_RESPONSE = 64 * 1024


class HttpSender:
    def __init__(self, timeout: float) -> None:
        # aiohttp is imported here, when the route is set up, not by its first delivery:
        # an import on the event loop would hold up every check in flight
        import aiohttp  # noqa: F401

        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        """POST ``body``; return the (capped) response text or raise TransportError.

        A 4xx other than 408/429 is permanent (retrying the same request cannot help); a 5xx,
        a timeout or a refused connection is worth retrying.
        """
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"User-Agent": f"Watchkeeper/{__version__}"},
            )
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                text = (await response.content.read(_MAX_RESPONSE)).decode("utf-8", "replace")
                status = response.status
        except TimeoutError:
            raise TransportError(f"no answer within {self._timeout:g}s") from None
        except aiohttp.InvalidURL:
            raise TransportError(f"bad URL {route_origin(url)}", permanent=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(_clean(_describe(exc), url)) from None
        if 200 <= status < 300:
            return text
        # the status and the body's first line: a proxy's or framework's error page is
        # kilobytes of HTML, logged on every retry and kept in the incident's timeline
        detail = next((line.strip() for line in text.splitlines() if line.strip()), "")
        message = f"HTTP {status}" + (f": {detail}" if detail else "")
        permanent = 400 <= status < 500 and status not in (408, 425, 429)
        raise TransportError(one_line(_clean(message, url)), permanent=permanent)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _clean(message: str, url: str) -> str:
    """An error message as it may be stored and shown: the route's URL cut to its origin
    (its path may be the token), any other URL masked."""
    return mask_url(message.replace(url, route_origin(url)))


def _describe(exc: BaseException) -> str:
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc})"
    text: Any = str(exc) or type(exc).__name__
    return str(text).splitlines()[0][:200]


async def gather_ignoring(*coroutines: Any) -> None:
    import asyncio

    await asyncio.gather(*coroutines, return_exceptions=True)
