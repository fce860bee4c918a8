"""What an audit is pointed at: a page URL and the host and port it lives on, parsed from what
a user types (``example.com``, ``example.com:8443``, ``http://10.0.0.5:8080/app``)."""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL


class TargetError(ValueError):
    """A target that is not an http(s) URL or a host name: the message is one line."""


@dataclass(frozen=True, slots=True)
class Target:
    """What to audit: the page URL, and the host and ports it lives on."""

    url: str
    host: str
    scheme: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Target:
        """``example.com``, ``example.com:8443``, ``https://example.com/app`` → Target
        (https when no scheme is given, as a browser's address bar would try first)."""
        raw = text.strip()
        if not raw or any(c.isspace() for c in raw) or len(raw) > 2048:
            raise TargetError(f"{text[:80]!r} is not a URL or host name")
        if "://" not in raw:
            raw = f"https://{raw}"
        try:
            url = URL(raw)
        except ValueError as exc:
            raise TargetError(f"{text!r} is not a URL ({exc})") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise TargetError(f"{text!r}: only http:// and https:// sites can be audited")
        if url.user or url.password:
            raise TargetError(f"{text!r}: leave credentials out of an audit target")
        port = url.port or (443 if url.scheme == "https" else 80)
        path = url.path or "/"
        shown = url.with_path(path).with_query(url.query).with_fragment(None)
        return cls(str(shown), url.host.lower(), url.scheme, port)

    @property
    def https(self) -> bool:
        return self.scheme == "https"

    @property
    def path(self) -> str:
        return URL(self.url).path_qs or "/"
