"""Check kinds: one module per kind, one line per kind in ``KINDS``.

The kind string is the module name and the config key (``http: https://...``). Modules are
imported only when a monitor of that kind is configured, so optional drivers stay optional;
a kind's drivers are imported by ``prepare``, when the engine is about to probe with it.
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
    "audit": "watchkeeper.checks.audit",
    "backup": "watchkeeper.checks.backup",
    "drill": "watchkeeper.checks.drill",
    "rum": "watchkeeper.checks.rum",
    "browser": "watchkeeper.checks.browser",
    "mqtt": "watchkeeper.checks.mqtt",
    "amqp": "watchkeeper.checks.amqp",
    "snmp": "watchkeeper.checks.snmp",
    "icmp": "watchkeeper.checks.icmp",
    "websocket": "watchkeeper.checks.websocket",
    "grpc": "watchkeeper.checks.grpc",
    "smtp": "watchkeeper.checks.smtp",
    "imap": "watchkeeper.checks.imap",
}

WRITTEN = tuple(kind for kind in KINDS if kind != "drill")
"""The kinds a monitor is written with (a drill comes with its ``backup:`` monitor)."""


_PREPARED: set[str] = set()


def prepare(check: CheckKind[Any]) -> None:
    """Import what the probes of ``check`` import on first use (``CheckKind.runtime``). Call
    it before probing (the scheduler does, when a monitor is added): once per kind, it may
    take a few hundred milliseconds, which must not be spent on the event loop inside a
    probe's timeout while other checks are in flight."""
    if check.name not in _PREPARED:
        for module in check.runtime:
            importlib.import_module(module)
        _PREPARED.add(check.name)


def get(kind: str) -> CheckKind[Any]:
    """The CheckKind registered under ``kind``; KeyError when there is none."""
    module = importlib.import_module(KINDS[kind])
    check: CheckKind[Any] = module.CHECK
    return check


__all__ = [
    "KINDS",
    "WRITTEN",
    "Attempt",
    "CheckKind",
    "CheckSettings",
    "Resources",
    "get",
    "prepare",
]
