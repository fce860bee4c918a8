"""Check kinds: one module per kind, one line per kind in ``KINDS``.

The kind string is the module name and the config key (``http: https://...``). Modules are
imported only when a monitor of that kind is configured, so optional drivers stay optional.
"""

from __future__ import annotations

import importlib
from typing import Any

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings, Resources

KINDS: dict[str, str] = {
    "http": "watchkeeper.checks.http",
    "tcp": "watchkeeper.checks.tcp",
    "dns": "watchkeeper.checks.dns",
    "tls": "watchkeeper.checks.tls",
    "postgres": "watchkeeper.checks.postgres",
    "mysql": "watchkeeper.checks.mysql",
    "redis": "watchkeeper.checks.redis",
    "host": "watchkeeper.checks.host",
    "prometheus": "watchkeeper.checks.prometheus",
    "heartbeat": "watchkeeper.checks.heartbeat",
    "slo": "watchkeeper.checks.slo",
}


def get(kind: str) -> CheckKind[Any]:
    """The CheckKind registered under ``kind``; KeyError when there is none."""
    module = importlib.import_module(KINDS[kind])
    check: CheckKind[Any] = module.CHECK
    return check


__all__ = ["KINDS", "Attempt", "CheckKind", "CheckSettings", "Resources", "get"]
