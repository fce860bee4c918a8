"""Notifiers: one module per kind, one line per kind in ``KINDS``; the outbox delivers.

The kind string is the module name and the route's config key (``apprise: ...``). Modules are
imported only when a route of that kind is configured.
"""

from __future__ import annotations

import importlib
from typing import Any

from watchkeeper.notify.base import (
    AlertItem,
    Message,
    Notifier,
    NotifierKind,
    NotifierSettings,
    RouteInfo,
    TransportError,
)

KINDS: dict[str, str] = {
    "apprise": "watchkeeper.notify.apprise",
    "webhook": "watchkeeper.notify.webhook",
    "alertmanager": "watchkeeper.notify.alertmanager",
}


def get(kind: str) -> NotifierKind[Any]:
    """The NotifierKind registered under ``kind``; KeyError when there is none."""
    module = importlib.import_module(KINDS[kind])
    notifier: NotifierKind[Any] = module.NOTIFIER
    return notifier


__all__ = [
    "KINDS",
    "AlertItem",
    "Message",
    "Notifier",
    "NotifierKind",
    "NotifierSettings",
    "RouteInfo",
    "TransportError",
    "get",
]
