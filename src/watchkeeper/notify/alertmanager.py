"""``alertmanager``: hand alerts to a Prometheus Alertmanager (``POST /api/v2/alerts``).

    notify:
      - {name: am, alertmanager: "http://127.0.0.1:9093", resend: 1m, labels: {team: web}}

Each monitor is one alert, identified by its labels: ``alertname="WatchkeeperMonitor"``,
``monitor``, ``severity``, ``kind`` and the route's static ``labels``; an error alert (a new
issue, a regression, a spike) is ``alertname="WatchkeeperError"`` with ``project`` and
``issue``, sent once (it ends by itself after four ``resend`` periods). Firing alerts carry an
``endsAt`` of four ``resend`` periods ahead and are re-sent every ``resend`` while they fire,
as Prometheus does, so Alertmanager resolves them by itself if Watchkeeper goes away; a
recovery is sent at once with ``endsAt`` set to when it recovered. Alertmanager then does its
own grouping, inhibition, silencing and routing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator

from watchkeeper.notify._http import HttpSender
from watchkeeper.notify.base import AlertItem, Message, NotifierKind, NotifierSettings, RouteInfo
from watchkeeper.redact import route_origin
from watchkeeper.units import Duration

ALERTNAME = "WatchkeeperMonitor"
ERROR_ALERTNAME = "WatchkeeperError"


class AlertmanagerSettings(NotifierSettings):
    url: str
    resend: Duration = 60.0
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"alertmanager url must be http:// or https://, got '{value}'")
        return value.rstrip("/")

    @field_validator("resend")
    @classmethod
    def _sane(cls, value: float) -> float:
        if not 1 <= value <= 3600:
            raise ValueError("resend must be between 1s and 1h")
        return value

    def target(self) -> str:
        return route_origin(self.url)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def labels_of(item: AlertItem, extra: dict[str, str]) -> dict[str, str]:
    """The alert's identity: stable for the whole life of a monitor's problem."""
    labels = {**extra, "alertname": ALERTNAME, "monitor": item.monitor, "severity": item.severity}
    if item.issue is not None:  # an error alert: one per issue (``monitor`` is its project)
        labels.update(alertname=ERROR_ALERTNAME, project=item.monitor, issue=str(item.issue))
        del labels["monitor"]
    if item.kind:
        labels["kind"] = item.kind
    return labels


def alert_of(
    item: AlertItem, settings: AlertmanagerSettings, now: float, dashboard: str | None
) -> dict[str, Any]:
    resolved = item.event == "resolved"
    annotations = {
        "summary": (
            item.reason
            if item.issue is not None and item.reason
            else f"{item.monitor} is {item.state}"
        ),
        "state": item.state,
        "description": item.reason or item.error or "",
    }
    if item.runbook:
        annotations["runbook_url" if item.runbook.startswith("http") else "runbook"] = item.runbook
    if item.cause:
        annotations["cause"] = f"{item.cause} is down"
    if item.affected:
        annotations["affected"] = ", ".join(item.affected)
    if item.target:
        annotations["target"] = item.target
    alert: dict[str, Any] = {
        "labels": labels_of(item, settings.labels),
        "annotations": {key: value for key, value in annotations.items() if value},
        "startsAt": _iso(item.since),
        "endsAt": _iso(item.at if resolved else now + 4 * settings.resend),
    }
    link = item.url or dashboard
    if link:
        alert["generatorURL"] = link
    return alert


class AlertmanagerNotifier:
    def __init__(self, settings: AlertmanagerSettings, route: RouteInfo) -> None:
        self._settings = settings
        self._dashboard = route.dashboard
        self._http = HttpSender(route.timeout)
        self.refresh_every: float | None = settings.resend

    async def _post(self, items: Sequence[AlertItem]) -> None:
        now = time.time()
        alerts = [alert_of(item, self._settings, now, self._dashboard) for item in items]
        body = json.dumps(alerts).encode()
        await self._http.post(
            f"{self._settings.url}/api/v2/alerts", body, {"Content-Type": "application/json"}
        )

    async def send(self, message: Message) -> None:
        if message.event == "test":
            now = time.time()
            test = AlertItem(
                "watchkeeper-test",
                "test",
                "test",
                now,
                now,
                event="resolved",
                reason=message.text,
                severity="info",
            )
            await self._post([test])
            return
        await self._post(message.items)

    async def refresh(self, firing: Sequence[AlertItem]) -> None:
        if firing:
            await self._post(firing)

    async def aclose(self) -> None:
        await self._http.aclose()


NOTIFIER = NotifierKind(
    name="alertmanager", settings=AlertmanagerSettings, create=AlertmanagerNotifier
)
