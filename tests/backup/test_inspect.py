"""A backup monitor's judgement on folders of real dumps: age against max_age, size against
min_size and the recent median, count against keep, the format's verdict (cached per file),
and a file still being written left alone."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from tests.helpers.dumps import Dumps, truncated

from watchkeeper.backup.files import BackupFile
from watchkeeper.backup.formats import Detected
from watchkeeper.backup.inspect import CACHE_SIZE, Inspection, _judge_format, inspect
from watchkeeper.backup.sanity import Sanity
from watchkeeper.backup.settings import BackupSpec

DAY = 86400.0


def _place(source: Path, target: Path, age: float, now: float) -> Path:
    if source.is_dir():
        shutil.copytree(source, target)
        stamp = target / "toc.dat"
    else:
        shutil.copyfile(source, target)
        stamp = target
    os.utime(stamp, (now - age, now - age))
    return target


def _nightly(backup_dumps: Dumps, folder: Path, now: float, nights: int = 3) -> list[Path]:
    """One custom-format dump a night, the newest a day old."""
    return [
        _place(backup_dumps.pg_custom, folder / f"orders-{n}.dump", (nights - n + 1) * DAY, now)
        for n in range(1, nights + 1)
    ]


async def _inspect(path: Path, now: float, cache: Any = None, **settings: Any) -> Inspection:
    spec = BackupSpec(path=str(path), **settings)
    return await inspect(spec, now=now, timeout=60, cache={} if cache is None else cache)


async def test_good_nightly_dumps_pass_with_their_facts(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    now = time.time()
    _nightly(backup_dumps, tmp_path, now)

    found = await _inspect(tmp_path, now, keep=3)

    assert found.failures == [] and found.warnings == [], found
    size = backup_dumps.pg_custom.stat().st_size
    assert found.facts == {
        "backup.count": 3,
        "backup.newest": "orders-3.dump",
        "backup.age": DAY,
        "backup.size": size,
        "backup.ratio": 1.0,
        "backup.format": "pg_custom",
        "backup.compression": "none",
    }
    report = found.as_json(now)
    assert [f["name"] for f in report["files"]] == [
        "orders-3.dump",
        "orders-2.dump",
        "orders-1.dump",
    ]
    assert report["format"]["evidence"]["tables"] == 2
    assert report["format"]["evidence"]["dbname"] == backup_dumps.database
    assert report["median_size"] == size


async def test_a_stale_backup_fails_with_its_age(backup_dumps: Dumps, tmp_path: Path) -> None:
    now = time.time()
    _place(backup_dumps.pg_custom, tmp_path / "orders.dump", 3 * DAY + 2 * 3600, now)

    found = await _inspect(tmp_path, now)

    assert found.failures == ["newest backup orders.dump is 3d2h old (max_age 1d2h)"]
    assert found.facts["backup.age"] == 3 * DAY + 2 * 3600


async def test_an_empty_file_fails_on_min_size_and_is_not_read(tmp_path: Path) -> None:
    now = time.time()
    (tmp_path / "orders.dump").write_bytes(b"")
    os.utime(tmp_path / "orders.dump", (now - 3600, now - 3600))

    found = await _inspect(tmp_path, now)

    assert found.failures == ["newest backup orders.dump is 0B (min_size 1B)"]
    assert found.sanity is None


async def test_a_truncated_newest_dump_fails_naming_it(backup_dumps: Dumps, tmp_path: Path) -> None:
    now = time.time()
    paths = _nightly(backup_dumps, tmp_path, now)
    truncated(backup_dumps.pg_custom, paths[-1], 0.9)
    os.utime(paths[-1], (now - DAY, now - DAY))

    found = await _inspect(tmp_path, now)

    assert found.failures == [
        "newest backup orders-3.dump: pg_restore could not read the data: pg_restore: error: "
        "could not read from input file: end of file"
    ]
    assert found.sanity is not None and found.sanity.evidence["tables"] == 2


async def test_a_backup_half_the_size_of_the_recent_ones_warns(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    # the nights before held three times the SQL: valid dumps, padded with comments
    now = time.time()
    text = backup_dumps.pg_plain.read_bytes()
    middle = len(text) // 2
    padding = b"-- padding\n" * (2 * len(text) // 11)
    padded = tmp_path / "padded.sql"
    padded.write_bytes(text[:middle] + b"\n" + padding + text[middle:])
    for night in range(1, 6):
        _place(padded, tmp_path / f"orders-{night}.sql", (7 - night) * DAY, now)
    padded.unlink()
    _place(backup_dumps.pg_plain, tmp_path / "orders-6.sql", DAY, now)

    found = await _inspect(tmp_path, now)

    ratio = found.facts["backup.ratio"]
    median = len(text) + 1 + len(padding)
    assert found.median_size == median
    assert ratio == len(text) / median and 0.3 < ratio < 0.35
    assert found.failures == []
    assert len(found.warnings) == 1
    assert found.warnings[0].startswith(f"newest backup orders-6.sql is {ratio:.0%} of the recent ")
    assert found.warnings[0].endswith(" over the 5 before it)")


async def test_fewer_backups_than_keep_warns(backup_dumps: Dumps, tmp_path: Path) -> None:
    now = time.time()
    _nightly(backup_dumps, tmp_path, now, nights=2)

    found = await _inspect(tmp_path, now, keep=7)

    assert found.failures == []
    assert found.warnings == ["2 backups kept, fewer than keep: 7"]


async def test_a_missing_folder_and_an_empty_one_fail_in_one_line(tmp_path: Path) -> None:
    now = time.time()

    missing = await _inspect(tmp_path / "nope", now)
    empty = await _inspect(tmp_path, now)

    assert missing.failures == [f"{tmp_path / 'nope'} does not exist"]
    assert empty.failures == [f"no backups found in {tmp_path}"]
    assert empty.facts == {"backup.count": 0}


async def test_the_file_being_written_is_passed_over(backup_dumps: Dumps, tmp_path: Path) -> None:
    now = time.time()
    _nightly(backup_dumps, tmp_path, now, nights=2)
    writing = truncated(backup_dumps.pg_custom, tmp_path / "orders-3.dump", 0.2)  # pg_dump at work
    os.utime(writing, (now - 5, now - 5))

    found = await _inspect(tmp_path, now)

    assert found.failures == [] and found.warnings == [], found
    assert found.judged is not None and found.judged.name == "orders-2.dump"
    assert found.facts["backup.newest"] == "orders-2.dump"
    assert [f.name for f in found.writing] == ["orders-3.dump"]
    assert found.notes == [
        "orders-3.dump modified within the last 1m (still being written?): judging orders-2.dump"
    ]


async def test_a_lone_file_being_written_is_not_judged_on_its_format(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    now = time.time()
    writing = truncated(backup_dumps.pg_custom, tmp_path / "orders-1.dump", 0.2)
    os.utime(writing, (now - 5, now - 5))

    found = await _inspect(tmp_path, now)

    assert found.failures == [] and found.sanity is None
    assert found.notes == ["orders-1.dump is still being written: its format is not judged"]


async def test_a_file_that_changed_since_it_was_listed_is_judged_later(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    # the listing saw it a moment ago, smaller: it grew while being checked (a tool that
    # keeps the old mtime, such as a copy with cp -p still running)
    now = time.time()
    growing = _place(backup_dumps.pg_plain, tmp_path / "orders.sql", DAY, now)
    info = growing.stat()
    listed = BackupFile(str(growing), growing.name, info.st_size - 100, info.st_mtime)
    found = Inspection(where=str(tmp_path), files=[listed], total=1, judged=listed)
    cache: dict[Any, Any] = {}

    await _judge_format(found, BackupSpec(path=str(tmp_path)), listed, 60, cache, "m")

    assert found.failures == [] and found.sanity is None
    assert found.notes == [
        "orders.sql changed while it was being checked: judged at the next check"
    ]
    assert cache == {}


async def test_the_verdict_is_cached_until_the_file_changes(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    now = time.time()
    newest = _nightly(backup_dumps, tmp_path, now)[-1]
    cache: dict[Any, Any] = {}

    first = await _inspect(tmp_path, now, cache=cache)
    # same size and time, other bytes: only a re-read would notice
    newest.write_bytes(os.urandom(newest.stat().st_size))
    os.utime(newest, (now - DAY, now - DAY))
    second = await _inspect(tmp_path, now, cache=cache)
    os.utime(newest, (now - DAY + 1, now - DAY + 1))  # now it looks changed
    third = await _inspect(tmp_path, now, cache=cache)

    assert not first.cached and first.failures == []
    assert second.cached and second.failures == []
    assert not third.cached
    assert third.failures == [
        "newest backup orders-3.dump is not recognised, though orders-2.dump before it is a "
        "PostgreSQL custom-format dump"
    ]
    assert len(cache) == 2


async def test_the_cache_is_bounded(backup_dumps: Dumps, tmp_path: Path) -> None:
    now = time.time()
    _nightly(backup_dumps, tmp_path, now, nights=1)
    cache: dict[Any, Any] = {
        ("other", f"/x/{n}", n, 0.0, "auto"): (Detected("file"), Sanity(ok=True))
        for n in range(CACHE_SIZE)
    }

    await _inspect(tmp_path, now, cache=cache)

    assert len(cache) == CACHE_SIZE
    assert ("other", "/x/0", 0, 0.0, "auto") not in cache
    assert any(key[1].endswith("orders-1.dump") for key in cache)


async def test_an_unrecognised_file_warns_and_a_declared_format_fails(tmp_path: Path) -> None:
    now = time.time()
    blob = tmp_path / "export.bin"
    blob.write_bytes(os.urandom(5000))
    os.utime(blob, (now - 3600, now - 3600))

    unknown = await _inspect(tmp_path, now)
    declared = await _inspect(tmp_path, now, format="redis")
    plain_file = await _inspect(tmp_path, now, format="file")

    assert unknown.failures == []
    assert unknown.warnings == [
        "export.bin: format not recognised (set format: to have it checked)"
    ]
    assert unknown.facts["backup.format"] == "unknown"
    assert declared.failures[0].startswith(
        "newest backup export.bin: redis-check-rdb found the RDB damaged: "
    )
    assert plain_file.failures == [] and plain_file.warnings == [] and plain_file.sanity is None


async def test_check_format_off_reads_nothing(backup_dumps: Dumps, tmp_path: Path) -> None:
    now = time.time()
    newest = _nightly(backup_dumps, tmp_path, now, nights=1)[0]
    truncated(backup_dumps.pg_custom, newest, 0.5)
    os.utime(newest, (now - DAY, now - DAY))

    found = await _inspect(tmp_path, now, check_format=False)

    assert found.failures == [] and found.sanity is None
