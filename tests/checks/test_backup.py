"""The ``backup`` kind: facts for expectations, the report kept with the result, down for a
stale or damaged backup and degraded for a shrunken one, from a config as a user writes it
(``wk check -c FILE --json`` included), on real dumps of the machine's databases."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.helpers.cli import wk
from tests.helpers.dumps import Dumps, truncated

from watchkeeper.checks import Resources, get
from watchkeeper.checks.backup import CHECK, BackupSettings
from watchkeeper.checks.base import Attempt
from watchkeeper.model import Result

DAY = 86400.0


def _nightly(backup_dumps: Dumps, folder: Path, nights: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    placed = []
    for night in range(1, nights + 1):
        target = folder / f"orders-{night}.dump"
        shutil.copyfile(backup_dumps.pg_custom, target)
        age = (nights - night + 1) * DAY - 3600  # the newest 23 hours old
        os.utime(target, (now - age, now - age))
        placed.append(target)
    return placed


async def _probe(settings: BackupSettings, monitor: str) -> Attempt:
    attempt = Attempt(resources=Resources(), timeout=60, monitor=monitor)
    await CHECK.probe(settings, attempt)
    return attempt


def test_the_kind_is_registered_with_its_defaults() -> None:
    check = get("backup")

    assert check is CHECK
    assert (check.interval, check.timeout, check.confirm) == (300.0, 120.0, 1)
    assert BackupSettings.expand("/var/backups/db") == {"path": "/var/backups/db"}


async def test_good_backups_give_facts_and_a_report(backup_dumps: Dumps, tmp_path: Path) -> None:
    _nightly(backup_dumps, tmp_path)

    attempt = await _probe(BackupSettings(path=str(tmp_path), keep=3), "orders-backup")

    observation = attempt.observation
    assert observation.error is None and observation.warnings == []
    facts = observation.facts
    assert facts["backup.count"] == 3 and facts["backup.newest"] == "orders-3.dump"
    assert 23 * 3600 <= facts["backup.age"] < 24 * 3600
    assert facts["backup.format"] == "pg_custom" and facts["backup.ratio"] == 1.0
    detail = observation.detail
    assert detail is not None
    assert [f["name"] for f in detail["files"]] == [
        "orders-3.dump",
        "orders-2.dump",
        "orders-1.dump",
    ]
    assert detail["format"]["evidence"]["tables"] == 2
    assert detail["format"]["evidence"]["dbname"] == backup_dumps.database


async def test_a_stale_damaged_backup_is_down_with_every_reason_in_the_report(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    newest = _nightly(backup_dumps, tmp_path, nights=1)[-1]
    truncated(backup_dumps.pg_custom, newest, 0.7)
    os.utime(newest, (time.time() - 3 * DAY, time.time() - 3 * DAY))

    attempt = await _probe(BackupSettings(path=str(tmp_path)), "stale-backup")

    error = attempt.observation.error
    assert error is not None
    assert error.startswith("newest backup orders-1.dump is 3d old (max_age 1d2h)")
    assert error.endswith(" (and 1 more in the report)")
    detail = attempt.observation.detail
    assert detail is not None and len(detail["failures"]) == 2
    assert detail["failures"][1].startswith(
        "newest backup orders-1.dump: pg_restore could not read"
    )


async def test_a_shrunken_backup_degrades(backup_dumps: Dumps, tmp_path: Path) -> None:
    newest = _nightly(backup_dumps, tmp_path, nights=4)[-1]
    stamp = newest.stat().st_mtime
    truncated(
        backup_dumps.pg_custom, newest, 0.3
    )  # the size alone is judged here (no format check)
    os.utime(newest, (stamp, stamp))

    attempt = await _probe(BackupSettings(path=str(tmp_path), check_format=False), "shrunk")

    assert attempt.observation.error is None
    [warning] = attempt.observation.warnings
    assert warning.startswith("newest backup orders-4.dump is 30% of the recent median (")
    assert attempt.observation.facts["backup.ratio"] < 0.31


async def test_expectations_on_the_facts(
    backup_dumps: Dumps, tmp_path: Path, check: Callable[[str], Awaitable[Result]]
) -> None:
    _nightly(backup_dumps, tmp_path / "db")
    yaml = """
        monitors:
          - name: orders-backup
            backup: {{path: "{path}/*.dump", keep: 3, max_age: 2d}}
            expect: ["backup.size > 1KiB", "backup.format == 'pg_custom'", "backup.age < {age}"]
    """

    passed = await check(yaml.format(path=tmp_path / "db", age="1d"))
    failed = await check(yaml.format(path=tmp_path / "db", age="1h"))

    assert passed.ok and passed.metrics["backup.count"] == 3.0, passed
    assert passed.detail is not None and passed.detail["judged"] == "orders-3.dump"
    assert not failed.ok and failed.error is None
    assert len(failed.failures) == 1 and failed.failures[0].startswith("backup.age 23h")


async def test_wk_check_json_reports_ok_and_failed_backup_monitors(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    _nightly(backup_dumps, tmp_path / "good")
    damaged = _nightly(backup_dumps, tmp_path / "damaged")[-1]
    stamp = damaged.stat().st_mtime
    truncated(backup_dumps.pg_custom, damaged, 0.7)
    os.utime(damaged, (stamp, stamp))
    shutil.copyfile(backup_dumps.redis, tmp_path / "cache.rdb")
    config = tmp_path / "watchkeeper.yaml"
    config.write_text(
        f"""
monitors:
  - name: orders
    backup: {{path: "{tmp_path / "good"}", keep: 3}}
    expect: ["backup.format == 'pg_custom'", "backup.count >= 3"]
  - {{name: damaged, backup: "{tmp_path / "damaged"}"}}
  - {{name: cache, backup: "{tmp_path / "cache.rdb"}"}}
  - {{name: missing, backup: "{tmp_path / "nope"}/*.dump"}}
"""
    )

    completed = await wk("check", "-c", str(config), "--json", timeout=120)

    assert completed.code == 1, completed.stderr
    results = {r["monitor"]: r for r in completed.json()}
    assert results["orders"]["ok"] is True, results["orders"]
    assert results["orders"]["metrics"]["backup.count"] == 3.0
    assert results["cache"]["ok"] is True, results["cache"]
    assert results["damaged"]["ok"] is False
    assert results["damaged"]["error"] == (
        "newest backup orders-3.dump: pg_restore could not read the data: pg_restore: error: "
        "could not read from input file: end of file"
    )
    assert results["missing"]["error"] == (
        f"{tmp_path / 'nope'} does not exist (the folder of {tmp_path / 'nope'}/*.dump)"
    )
    assert "Traceback" not in completed.stderr
