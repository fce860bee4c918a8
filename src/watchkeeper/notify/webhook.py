"""``webhook``: POST a documented JSON body, signed with HMAC-SHA256 when a secret is set.

    notify:
      - {name: hook, webhook: "https://hooks.example.com/wk", secret: "${HOOK_SECRET}"}

The request:

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <dedup_key>                 (the same on every retry of a notification)
    X-Watchkeeper-Timestamp: <unix seconds>
    X-Watchkeeper-Signature: sha256=<hex>        (with a secret: HMAC-SHA256 over
                                                  "<timestamp>.<body>" with the secret)

    {"version": 1, "dedup_key": "...", "event": "firing|resolved|mixed|reminder|escalation|test",
     "route": "hook", "title": "...", "text": "...", "dashboard": "https://..." | null,
     "sent_at": "2026-11-28T12:00:00+00:00",
     "alerts": [{"monitor", "state", "previous_state", "at", "since", "kind", "target",
                 "reason", "failures", "warnings", "error", "cause", "affected", "runbook",
                 "url", "incident", "severity", "tags", "event", "duration"}]}

An error alert (``event`` ``new``, ``regression``, ``spike`` or ``flood``: more new issues
in an hour than are told one by one) has one alert: ``monitor`` is the project, ``kind``
``error``, ``target`` the top in-app frame, ``reason`` the issue's title (a spike: its rate),
``url`` the issue's page, and ``issue``, ``count``, ``users``,
``release``, ``environment`` added (a monitor's alerts have none of these five).

A receiver verifies by recomputing the HMAC and comparing in constant time, and can drop a
repeated Idempotency-Key: delivery is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import Field, field_validator

from watchkeeper.notify._http import HttpSender
from watchkeeper.notify.base import AlertItem, Message, NotifierKind, NotifierSettings, RouteInfo
from watchkeeper.redact import route_origin


class WebhookSettings(NotifierSettings):
    url: str
    secret: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must be http:// or https://, got '{value}'")
        return value

    def target(self) -> str:
        return route_origin(self.url)  # the path or query of a webhook is often its token


def body_of(message: Message, sent_at: float) -> bytes:
    document = {
        "version": 1,
        "dedup_key": message.dedup_key,
        "event": message.event,
        "route": message.route,
        "title": message.title,
        "text": message.text,
        "dashboard": message.dashboard,
        "sent_at": datetime.fromtimestamp(sent_at, UTC).isoformat(),
        "alerts": [item.to_json() for item in message.items],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class WebhookNotifier:
    refresh_every: float | None = None

    def __init__(self, settings: WebhookSettings, route: RouteInfo) -> None:
        self._settings = settings
        self._http = HttpSender(route.timeout)

    async def send(self, message: Message) -> None:
        now = time.time()
        body = body_of(message, now)
        timestamp = str(int(now))
        headers = {
            **self._settings.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": message.dedup_key,
            "X-Watchkeeper-Timestamp": timestamp,
        }
        if self._settings.secret:
            headers["X-Watchkeeper-Signature"] = signature(self._settings.secret, timestamp, body)
        await self._http.post(self._settings.url, body, headers)

    async def refresh(self, firing: Sequence[AlertItem]) -> None:
        """Webhooks get each change once; nothing to refresh."""

    async def aclose(self) -> None:
        await self._http.aclose()


NOTIFIER = NotifierKind(name="webhook", settings=WebhookSettings, create=WebhookNotifier)
