"""``backup``: what a backup looks like from outside, every five minutes by default. The
newest backup in a folder, glob or S3 prefix must be younger than ``max_age`` (the recovery
point objective), at least ``min_size``, and whole when read with its format's own tools
(``pg_restore --list`` and a full read to /dev/null, ``gzip -t``/``zstd -t``,
``redis-check-rdb``, a SQL dump's completion footer); otherwise the monitor is down.
A newest backup under ``shrink`` of the recent ones' median size, or fewer than ``keep``
backups, degrades it (worth a look, not proof of loss).

    - {name: orders-backup, backup: /var/backups/orders}
    - name: cache-snapshots
      backup: {path: "/var/backups/redis/dump-*.rdb.gz", max_age: 2h, keep: 24}
    - name: offsite
      backup:
        s3: {endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: acme-backups,
             prefix: "db/", region: eu-west-1,
             access_key: "${S3_KEY}", secret_key: "${S3_SECRET}"}
        max_age: 26h

Facts for expectations: ``backup.age`` (of the newest backup), ``backup.size``,
``backup.count``, ``backup.newest`` (its name), ``backup.ratio`` (its size over the median
of the up to 7 before it), ``backup.format`` (``pg_custom``, ``mysql``, ``redis``...,
``unknown``) and ``backup.compression``. The result's report lists the newest 20 files, what
the format's tools said (TOC entries, tables, keys, the dump's database and pg_dump
version) and every failure and warning. S3 objects are judged on age, size and count only.
A ``drill:`` under ``backup:`` is not run by this check (``wk drill``, the ``drill`` kind).
"""

from __future__ import annotations

import time

from watchkeeper.backup.settings import BackupSpec
from watchkeeper.checks.base import Attempt, CheckKind
from watchkeeper.expect import ValueType

BackupSettings = BackupSpec
"""The settings of the kind: ``backup.settings.BackupSpec`` (shared with the drills)."""


async def probe(settings: BackupSpec, attempt: Attempt) -> None:
    from watchkeeper.backup.inspect import inspect

    now = time.time()
    found = await inspect(settings, now=now, timeout=attempt.timeout, monitor=attempt.monitor)
    attempt.observation.facts.update(found.facts)
    attempt.observation.detail = found.as_json(now)
    if found.failures:
        more = len(found.failures) - 1
        attempt.fail(found.failures[0] + (f" (and {more} more in the report)" if more else ""))
    for warning in found.warnings:
        attempt.warn(warning)


CHECK = CheckKind(
    name="backup",
    settings=BackupSettings,
    subjects={
        "backup.age": ValueType.DURATION,
        "backup.size": ValueType.SIZE,
        "backup.count": ValueType.NUMBER,
        "backup.newest": ValueType.TEXT,
        "backup.ratio": ValueType.NUMBER,
        "backup.format": ValueType.TEXT,
        "backup.compression": ValueType.TEXT,
    },
    probe=probe,
    interval=300.0,
    timeout=120.0,
    confirm=1,
    runtime=(
        "aiohttp",
        "yarl",
        "watchkeeper.backup.inspect",
        "watchkeeper.backup.s3",
    ),
)
