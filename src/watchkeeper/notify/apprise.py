"""``apprise``: any service Apprise knows — Slack, Discord, Telegram, e-mail, ntfy, Teams,
PagerDuty, Opsgenie, ... — from one URL (or several), without writing a provider ourselves.

    notify:
      - {name: ops, apprise: "slack://${SLACK_TOKEN}/#ops"}
      - name: oncall
        apprise: {urls: ["mailto://alerts:${SMTP_PASS}@mail.example.com?to=oncall@example.com",
                         "ntfy://ntfy.example.com/watchkeeper"]}

Apprise is synchronous (it uses requests and smtplib), so each delivery runs in a thread with
a time limit; a URL Apprise cannot parse is refused when the config loads. Apprise reports a
failure without saying whether it is permanent, so failures are retried with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pydantic import field_validator, model_validator

from watchkeeper.notify.base import (
    AlertItem,
    Message,
    NotifierKind,
    NotifierSettings,
    RouteInfo,
    TransportError,
)

_TYPES = {
    "firing": "failure",
    "resolved": "success",
    "mixed": "warning",
    "reminder": "failure",
    "escalation": "failure",
    "test": "info",
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
                scheme = url.split("://", 1)[0] if "://" in url else url[:20]
                raise ValueError(
                    f"Apprise does not understand this URL (scheme '{scheme}'): check it "
                    "against https://github.com/caronc/apprise/wiki"
                )
        return self

    def target(self) -> str:
        return ", ".join(url.split("://", 1)[0] + "://…" for url in self.urls)


class AppriseNotifier:
    refresh_every: float | None = None

    def __init__(self, settings: AppriseSettings, route: RouteInfo) -> None:
        self._settings = settings
        self._timeout = route.timeout

    def _deliver(self, message: Message) -> None:
        import apprise

        client = apprise.Apprise()
        for url in self._settings.urls:
            client.add(url)
        problems: list[str] = []

        def collect(entry: Any, _plugin: Any) -> None:
            if str(getattr(entry, "level", "")).upper() in ("WARNING", "ERROR"):
                problems.append(str(getattr(entry, "message", entry)))

        result = client.notify(
            body=message.text,
            title=message.title,
            notify_type=_TYPES.get(message.event, "info"),
            log_callback=collect,
            timeout=self._timeout,
        )
        if not result:
            detail = problems[-1] if problems else "Apprise reported a failure"
            raise TransportError(detail.strip()[:300])

    async def send(self, message: Message) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._deliver, message), self._timeout + 5)
        except TimeoutError:
            raise TransportError(f"no answer within {self._timeout:g}s") from None

    async def refresh(self, firing: Sequence[AlertItem]) -> None:
        """Chat and mail get each change once; nothing to refresh."""

    async def aclose(self) -> None:
        """Nothing held open between deliveries."""


NOTIFIER = NotifierKind(name="apprise", settings=AppriseSettings, create=AppriseNotifier)
