"""``apprise``: any service Apprise knows — Slack, Discord, Telegram, e-mail, ntfy, Teams,
PagerDuty, Opsgenie, ... — from one URL (or several), without writing a provider ourselves.

    notify:
      - {name: ops, apprise: "slack://${SLACK_TOKEN}/#ops"}
      - name: oncall
        apprise: {urls: ["mailto://alerts:${SMTP_PASS}@mail.example.com?to=oncall@example.com",
                         "ntfy://ntfy.example.com/watchkeeper"]}

The message is declared to Apprise as plain text, so Apprise escapes it for destinations that
read HTML (``mailto://...?format=html``, Telegram) and Slack; mail is plain text by default.
Services that render Markdown anyway (Discord, Mattermost, ...) get it escaped for Markdown
(``notify.escape``). The route's target shows the host only where a host is not a token
(``mailto://mail.example.com``, ``slack://…``).

Apprise is synchronous (it uses requests and smtplib), so each delivery runs in a thread with
a time limit; a URL Apprise cannot parse is refused when the config loads. Apprise reports a
failure without saying whether it is permanent, so failures are retried with backoff.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from pydantic import field_validator, model_validator

from watchkeeper.lanes import NOTIFY, Busy
from watchkeeper.notify.base import (
    AlertItem,
    Message,
    NotifierKind,
    NotifierSettings,
    RouteInfo,
    TransportError,
)
from watchkeeper.notify.escape import escape_markdown
from watchkeeper.redact import mask_url, route_origin

_TYPES = {
    "firing": "failure",
    "resolved": "success",
    "mixed": "warning",
    "reminder": "failure",
    "escalation": "failure",
    "test": "info",
    "new": "failure",
    "regression": "failure",
    "spike": "warning",
    "flood": "failure",
}


class AppriseSettings(NotifierSettings):
    shorthand_field = "urls"

    urls: tuple[str, ...]

    @field_validator("urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _understood(self) -> AppriseSettings:
        import apprise

        for url in self.urls:
            if not apprise.Apprise().add(url):
                scheme = url.split("://", 1)[0][:20] if "://" in url else ""
                what = f"this URL (scheme '{scheme}')" if scheme else "this (not a URL)"
                raise ValueError(
                    f"Apprise does not understand {what}: check it "
                    "against https://github.com/caronc/apprise/wiki"
                )
        return self

    def target(self) -> str:
        return ", ".join(_shown(url) for url in self.urls)


def _shown(url: str) -> str:
    """``mailto://mail.example.com``, ``ntfy://ntfy.sh``: the host when it is a host name;
    ``slack://…``, ``tgram://…``: many services keep a token where the host would be."""
    origin = route_origin(url)
    scheme, _, where = origin.partition("://")
    host, colon, port = where.rpartition(":") if not where.endswith("]") else ("", "", "")
    if not colon:
        host, port = where, ""
    if (not colon or port.isdigit()) and (
        _HOST_NAME.fullmatch(host) or host == "localhost" or host.startswith("[")
    ):
        return origin
    return f"{scheme}://…" if scheme and scheme != "…" else "…"


RENDERS_MARKDOWN = frozenset(
    {"discord", "mmost", "mmosts", "zulip", "guilded", "msteams", "ryver", "rocket", "rockets"}
)
"""Schemes of services that render Markdown in a message even when it is sent as text."""


def reads_markdown(url: str, service: Any) -> bool:
    """Does this destination read its text as Markdown (so we escape it for Markdown)? Yes
    for the services in RENDERS_MARKDOWN and for those that take only Markdown."""
    import apprise

    scheme = url.split("://", 1)[0].lower()
    taken = service.resolve_format(apprise.NotifyFormat.TEXT)
    return scheme in RENDERS_MARKDOWN or taken == apprise.NotifyFormat.MARKDOWN


_HOST_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}|(?:[0-9]{1,3}\.){3}[0-9]{1,3}"
)
"""Lower-case labels with a letters-only top level (tokens mix case and digits), or IPv4."""


class AppriseNotifier:
    refresh_every: float | None = None

    def __init__(self, settings: AppriseSettings, route: RouteInfo) -> None:
        self._settings = settings
        self._timeout = route.timeout
        self._key = ("apprise", route.name)

    def _deliver(self, message: Message) -> None:
        import apprise

        plain, markdown = apprise.Apprise(), apprise.Apprise()
        problems: list[str] = []
        for url in self._settings.urls:
            service = apprise.Apprise.instantiate(url)
            if service is None:
                problems.append(f"Apprise cannot load {_shown(url)}")
                continue
            (markdown if reads_markdown(url, service) else plain).add(service)

        def collect(entry: Any, _plugin: Any) -> None:
            if str(getattr(entry, "level", "")).upper() in ("WARNING", "ERROR"):
                problems.append(str(getattr(entry, "message", entry)))

        ok = not problems
        # the text is declared as text: Apprise escapes it for HTML (mail with ?format=html,
        # Telegram) and for Slack, and never reads it as markup (issue 12)
        for client, title, body, declared in (
            (plain, message.title, message.text, apprise.NotifyFormat.TEXT),
            (
                markdown,
                escape_markdown(message.title),
                escape_markdown(message.text),
                apprise.NotifyFormat.MARKDOWN,
            ),
        ):
            if len(client) and not client.notify(
                body=body,
                title=title,
                body_format=declared,
                notify_type=_TYPES.get(message.event, "info"),
                log_callback=collect,
                # no call-wide timeout: with one, Apprise abandons a slow service to a
                # worker thread of its own that may still deliver later, unseen by us; without,
                # the service runs on this thread (bounded by its socket timeouts) and the
                # route stays busy until it ends (``send``)
            ):
                ok = False
        if not ok:
            detail = problems[-1] if problems else "Apprise reported a failure"
            raise TransportError(mask_url(detail.strip())[:300])

    async def send(self, message: Message) -> None:
        """One delivery thread per route at a time: one the deadline gave up on may still be
        sending (Apprise cannot be stopped), and a copy must never race it; until it ends,
        a retry fails and backs off."""
        try:
            await asyncio.wait_for(
                NOTIFY.run_one(self._key, self._deliver, message), self._timeout + 5
            )
        except Busy:
            raise TransportError(
                "the previous delivery on this route is still running; retrying after it"
            ) from None
        except TimeoutError:
            raise TransportError(f"no answer within {self._timeout:g}s") from None

    async def refresh(self, firing: Sequence[AlertItem]) -> None:
        """Chat and mail get each change once; nothing to refresh."""

    async def aclose(self) -> None:
        """Nothing held open between deliveries."""


NOTIFIER = NotifierKind(name="apprise", settings=AppriseSettings, create=AppriseNotifier)
