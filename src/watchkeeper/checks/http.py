"""``http``: one request (following redirects up to a cap), a fresh connection each time so
DNS, connect, TLS, time to first byte and transfer are all measured.

    - {name: api, http: https://api.example.com/health, expect: ["json.status == 'ok'"]}
    - name: login
      http: {url: "https://app.example.com/login", method: POST, json: {user: probe},
             headers: {X-Probe: "1"}, follow_redirects: 3, verify_tls: true, max_body: 256KiB}
    - {name: internal, http: {url: "https://app.internal/health", ca_file: /etc/wk/ca.pem}}
"""

from __future__ import annotations

import base64
import functools
import json
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator
from yarl import URL

from watchkeeper.checks._address import is_ip
from watchkeeper.checks._certs import certificate_problems, describe, peer_certificate
from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
    client_context,
    describe_os_error,
    describe_ssl_error,
    describe_verify_error,
    readable_ca_file,
)
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.redact import mask_url
from watchkeeper.units import Size, format_size

if TYPE_CHECKING:
    import aiohttp

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_REDIRECT_CAP = 10
_CREDENTIALS = ("authorization", "cookie", "proxy-authorization")
_CHUNK = 64 * 1024


class BasicAuth(CheckSettings):
    username: str
    password: str = ""

    @field_validator("username")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("a basic_auth username cannot contain ':'")
        return value

    def header(self) -> str:
        """The ``Authorization`` value (RFC 7617, UTF-8)."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


class HttpSettings(CheckSettings):
    shorthand_field = "url"

    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(None, alias="json")
    follow_redirects: bool | int = True
    verify_tls: bool = True
    ca_file: str | None = None
    """PEM file of the CAs to trust instead of the system's (a private CA)."""
    max_body: Size = 1024 * 1024
    basic_auth: BasicAuth | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = URL(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"bad URL '{value}': {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"url must be http:// or https:// with a host, got '{value}'")
        return value

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @field_validator("follow_redirects")
    @classmethod
    def _cap(cls, value: bool | int) -> bool | int:
        if not isinstance(value, bool) and not 0 <= value <= 50:
            raise ValueError("follow_redirects is true, false or a cap between 0 and 50")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> HttpSettings:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give body or json, not both")
        return self

    @property
    def redirect_cap(self) -> int:
        if self.follow_redirects is True:
            return _DEFAULT_REDIRECT_CAP
        return int(self.follow_redirects)

    def host_key(self) -> str:
        url = URL(self.url)
        return f"{url.host}:{url.port}"

    def target(self) -> str:
        return self.url if self.method == "GET" else f"{self.method} {self.url}"


# -- the probe --------------------------------------------------------------------------------
async def probe(settings: HttpSettings, attempt: Attempt) -> None:
    # aiohttp comes with the first probe: loading a config imports this module for its settings
    import aiohttp

    from watchkeeper.checks._http_session import current_attempt, new_session

    session = attempt.resources.shared("http.session", new_session)
    try:
        tls = _tls(settings, attempt)
    except OSError as exc:  # ssl.SSLError is an OSError too
        attempt.fail(f"cannot load ca_file {settings.ca_file} ({describe_os_error(exc)})")
        return
    token = current_attempt.set(attempt)
    try:
        await _exchange(settings, attempt, session, tls)
    except aiohttp.ClientConnectorCertificateError as exc:
        certificate_error = exc.certificate_error
        if isinstance(certificate_error, ssl.SSLCertVerificationError):
            attempt.fail(
                await _certificate_failure(exc.host, exc.port or 443, certificate_error, attempt)
            )
        else:
            attempt.fail(describe_ssl_error(certificate_error))
    except aiohttp.ClientConnectorSSLError as exc:
        attempt.fail(describe_ssl_error(exc.os_error))
    except aiohttp.ClientConnectorDNSError as exc:
        attempt.fail(describe_os_error(exc.os_error))
    except aiohttp.ClientConnectorError as exc:
        attempt.fail(f"{describe_os_error(exc.os_error)} ({exc.host}:{exc.port})")
    except aiohttp.ServerDisconnectedError:
        attempt.fail(_disconnected(attempt))
    except aiohttp.ClientPayloadError as exc:
        attempt.fail(f"body incomplete: {_payload_reason(exc)}")
    except aiohttp.ClientResponseError as exc:
        # masked before it is cut: a cut inside a URL's password would slip past masking
        attempt.fail(mask_url(f"invalid HTTP response: {exc.message or exc}")[:200])
    except (aiohttp.ClientOSError, OSError) as exc:
        where = " while waiting for the response" if attempt.phase == "ttfb" else ""
        attempt.fail(describe_os_error(exc) + where)
    except aiohttp.ClientError as exc:
        attempt.fail(mask_url(f"HTTP error: {exc}")[:200])
    finally:
        current_attempt.reset(token)


async def _exchange(
    settings: HttpSettings,
    attempt: Attempt,
    session: aiohttp.ClientSession,
    tls: bool | ssl.SSLContext,
) -> None:
    url = _parse_url(settings.url)
    method = settings.method
    data: bytes | None = _request_body(settings)
    headers = dict(settings.headers)
    if settings.json_body is not None and not _has_header(headers, "content-type"):
        headers["Content-Type"] = "application/json"
    if settings.basic_auth is not None:
        headers = _without(headers, "authorization")
        headers["Authorization"] = settings.basic_auth.header()
    visited = [url]
    cap = settings.redirect_cap
    while True:
        async with session.request(
            method, url, headers=headers, data=data, allow_redirects=False, ssl=tls
        ) as response:
            attempt.end("ttfb")
            facts = attempt.observation.facts
            facts["status"] = response.status
            facts["headers"] = _headers(response.headers)
            location = response.headers.get("Location")
            if cap and response.status in _REDIRECTS and location:
                try:
                    target = url.join(URL(location))
                except (ValueError, TypeError):
                    attempt.fail(f"bad redirect: unusable Location {location[:200]!r}")
                    return
                if target.scheme not in ("http", "https") or not target.host:
                    attempt.fail(f"bad redirect: Location {location[:200]!r} is not http(s)")
                    return
                if target in visited:
                    attempt.fail(
                        "redirect loop: " + " → ".join(_short(u) for u in [*visited, target])
                    )
                    return
                if len(visited) > cap:
                    attempt.fail(f"too many redirects (more than {cap})")
                    return
                visited.append(target)
                if (response.status == 303 and method != "HEAD") or (
                    response.status in (301, 302) and method not in ("GET", "HEAD")
                ):
                    method, data = "GET", None
                    headers = _without(headers, "content-type")
                if target.origin() != url.origin():  # credentials stay with their origin
                    headers = _without(headers, *_CREDENTIALS)
                url = target
                continue
            facts["url"] = str(url)
            await _read_body(response, settings.max_body, attempt, method)
            return


async def _read_body(
    response: aiohttp.ClientResponse, cap: int, attempt: Attempt, method: str
) -> None:
    if method == "HEAD":
        attempt.observation.facts["body"] = b""
        return
    declared = response.content_length
    if declared is not None and declared > cap:
        attempt.fail(
            f"body over cap: Content-Length {format_size(declared)} exceeds max_body "
            f"{format_size(cap)}"
        )
        return
    attempt.begin("transfer")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await response.content.read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            attempt.end("transfer")
            attempt.fail(f"body over cap: more than {format_size(cap)} (raise max_body)")
            return
        chunks.append(chunk)
    attempt.end("transfer")
    attempt.observation.facts["body"] = b"".join(chunks)
    attempt.observation.facts["body.size"] = size


async def _certificate_failure(
    host: str, port: int, error: ssl.SSLCertVerificationError, attempt: Attempt
) -> str:
    """Every problem with the certificate a verifying handshake refused (OpenSSL names only
    the first): it is read again without verifying, and judged whole."""
    der = await peer_certificate(host, port, None if is_ip(host) else host, attempt)
    problems = certificate_problems(error, der, host)
    return describe(problems) if problems else describe_verify_error(error)


def _tls(settings: HttpSettings, attempt: Attempt) -> bool | ssl.SSLContext:
    """aiohttp's ``ssl=``: verify with the system CAs, with ``ca_file``'s CAs, or not at all.

    A ``ca_file`` context is made once per engine run and shared by the monitors naming it."""
    if not settings.verify_tls or settings.ca_file is None:
        return settings.verify_tls
    return client_context(attempt.resources, verify=True, ca_file=settings.ca_file)


@functools.lru_cache(maxsize=65536)
def _parse_url(text: str) -> URL:
    """Parsed once per distinct URL: monitors ask for the same URL every interval."""
    return URL(text)


def _request_body(settings: HttpSettings) -> bytes | None:
    if settings.json_body is not None:
        return json.dumps(settings.json_body).encode()
    if settings.body is not None:
        return settings.body.encode()
    return None


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name for key in headers)


def _without(headers: Mapping[str, str], *names: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key.lower() not in names}


def _headers(raw: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for key, value in raw.items():
        name = key.lower()
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def _short(url: URL) -> str:
    return str(url.relative()) if url.path_qs else str(url)


def _disconnected(attempt: Attempt) -> str:
    if attempt.phase == "transfer":
        return "server closed the connection in the middle of the body"
    return "server closed the connection without a response"


def _payload_reason(exc: aiohttp.ClientPayloadError) -> str:
    cause = exc.__cause__ or (exc.args[1] if len(exc.args) > 1 else None)
    if isinstance(cause, OSError):
        return describe_os_error(cause)
    text = str(exc.args[0] if exc.args else exc)
    return text.split(". ")[0][:160] or "the server stopped sending"


CHECK = CheckKind(
    name="http",
    settings=HttpSettings,
    subjects={
        "status": ValueType.NUMBER,
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "transfer": ValueType.DURATION,
        "body": ValueType.TEXT,
        "body.size": ValueType.SIZE,
        "json.*": ValueType.ANY,
        "header.*": ValueType.TEXT,
        "url": ValueType.TEXT,
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.sans": ValueType.SET,
    },
    probe=probe,
    default_expect=("status < 400",),
    runtime=(*RUNTIME, "aiohttp", "watchkeeper.checks._http_session"),
)
