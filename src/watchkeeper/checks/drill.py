"""``drill``: a restore drill of a backup monitor's newest backup, on a schedule (weekly by
default). Not written by hand: a ``backup:`` monitor with ``drill:`` settings brings one,
named after it (``orders-backup drill``), with the backup monitor's routes, tags and
severity.

    - name: orders-backup
      backup:
        path: /var/backups/orders/
        drill: {every: 7d, into: cluster, tables: [orders], rto: 30m, rpo: 26h}

A drill that cannot restore or verify the backup is down and notifies like any monitor; a
drill that works but misses its RTO or RPO is degraded. Facts (and series): ``drill.rto``
(seconds the restore took), ``drill.rpo`` (the backup's age when restored),
``drill.tables``, ``drill.rows`` (what the restore holds), ``drill.seconds`` (the whole
drill). The full record — file, checks, timings, log — is kept as the run's report: the
evidence ``wk drill history`` and the monitor page show.

The first drill after ``wk up`` starts comes when the last one recorded is ``every`` old
(at once if there is none): a restart does not rerun a weekly drill.
"""

from __future__ import annotations

from typing import Any, Protocol

from watchkeeper.backup.settings import BackupSpec
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType

CLEANUP_MARGIN = 60.0
"""Seconds of a drill monitor's timeout kept for removing the scratch target."""


class DrillSettings(CheckSettings):
    monitor: str
    """The backup monitor this drills."""
    backup: BackupSpec

    def target(self) -> str:
        drill = self.backup.drill
        into = drill.into if drill is not None else "auto"
        if "://" in into:
            from watchkeeper.redact import mask_url

            into = mask_url(into)
        return f"{self.backup.target()} into {into}"

    def host_key(self) -> str:
        return "drill"


class History(Protocol):
    """What the engine tells a drill of the drills before it (``drill.history``)."""

    async def previous_counts(self, monitor: str) -> dict[str, int] | None: ...


async def probe(settings: DrillSettings, attempt: Attempt) -> None:
    from watchkeeper.backup.drill import drill

    history: History | None = attempt.resources.shared("drill.history", lambda: None)
    previous = await history.previous_counts(attempt.monitor) if history is not None else None
    limit = max(1.0, attempt.timeout - CLEANUP_MARGIN)
    record = await drill(settings.monitor, settings.backup, previous=previous, limit=limit)
    attempt.observation.detail = record.as_json()
    attempt.observation.facts.update(facts(record))
    if record.failures:
        more = len(record.failures) - 1
        attempt.fail(record.failures[0] + (f" (and {more} more)" if more else ""))
    for warning in record.warnings:
        attempt.warn(warning)


def facts(record: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"drill.seconds": record.timings.get("total", 0.0)}
    if record.rto is not None:
        found["drill.rto"] = record.rto
    if record.rpo is not None:
        found["drill.rpo"] = record.rpo
    if record.counts:
        found["drill.tables"] = len(record.counts)
        found["drill.rows"] = sum(record.counts.values())
    return found


CHECK = CheckKind(
    name="drill",
    settings=DrillSettings,
    subjects={
        "drill.rto": ValueType.DURATION,
        "drill.rpo": ValueType.DURATION,
        "drill.seconds": ValueType.DURATION,
        "drill.tables": ValueType.NUMBER,
        "drill.rows": ValueType.NUMBER,
    },
    probe=probe,
    interval=7 * 86400.0,
    timeout=3600.0 + CLEANUP_MARGIN,
    confirm=1,
    runtime=(
        "psycopg",
        "pymysql",
        "redis.asyncio",
        "watchkeeper.backup.drill",
        "watchkeeper.backup.verify",
        "watchkeeper.backup.scratch_postgres",
        "watchkeeper.backup.scratch_mariadb",
        "watchkeeper.backup.scratch_redis",
    ),
)
