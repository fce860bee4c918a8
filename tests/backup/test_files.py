"""Listing backups: a folder, a glob or one file, newest first; what is not a backup is left
out; a directory-format dump counts as one; a large folder is counted whole but kept short."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from tests.helpers.dumps import Dumps

from watchkeeper.backup.files import ListingError, list_backups, list_local
from watchkeeper.backup.settings import BackupSpec

DAY = 86400.0


def _write(path: Path, size: int, age: float, now: float) -> Path:
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age, now - age))
    return path


async def _names(path: str) -> list[str]:
    return [f.name for f in await list_backups(BackupSpec(path=path))]


async def test_a_folder_lists_its_backups_newest_first(tmp_path: Path) -> None:
    now = time.time()
    for day in range(3):
        _write(tmp_path / f"db-{day}.dump", 100 + day, (3 - day) * DAY, now)

    listing = await list_backups(BackupSpec(path=str(tmp_path)))

    assert [f.name for f in listing] == ["db-2.dump", "db-1.dump", "db-0.dump"]
    assert listing.total == 3 and not listing.capped
    newest = listing[0]
    assert newest.path == str(tmp_path / "db-2.dump")
    assert newest.size == 102
    assert newest.mtime == pytest.approx(now - DAY)


async def test_equal_times_are_ordered_by_name(tmp_path: Path) -> None:
    now = time.time()
    for name in ("b.dump", "c.dump", "a.dump"):
        _write(tmp_path / name, 1, DAY, now)

    assert await _names(str(tmp_path)) == ["c.dump", "b.dump", "a.dump"]


async def test_hidden_partial_and_sidecar_files_are_not_backups(tmp_path: Path) -> None:
    now = time.time()
    _write(tmp_path / "db.dump", 10, DAY, now)
    for name in (
        ".db.dump.swp",
        "db2.dump.tmp",
        "db3.dump.part",
        "db4.dump.partial",
        "db.dump.sha256",
        "db.dump.md5",
        "db.dump.manifest.json",
    ):
        _write(tmp_path / name, 10, 0, now)  # all newer than the backup
    (tmp_path / "old").mkdir()  # a plain folder is not a backup either

    assert await _names(str(tmp_path)) == ["db.dump"]


async def test_a_link_to_a_backup_beside_it_is_not_counted_twice(tmp_path: Path) -> None:
    now = time.time()
    _write(tmp_path / "db-1.dump", 10, 2 * DAY, now)
    _write(tmp_path / "db-2.dump", 10, DAY, now)
    (tmp_path / "latest.dump").symlink_to(tmp_path / "db-2.dump")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere.dump"
    _write(elsewhere, 7, 3 * DAY, now)
    (tmp_path / "linked.dump").symlink_to(elsewhere)  # a backup kept elsewhere: counted

    listing = await list_backups(BackupSpec(path=str(tmp_path)))

    assert [f.name for f in listing] == ["db-2.dump", "db-1.dump", "linked.dump"]
    assert listing[2].size == 7


async def test_a_glob_lists_its_matches(tmp_path: Path) -> None:
    now = time.time()
    _write(tmp_path / "orders-1.dump.gz", 1, 2 * DAY, now)
    _write(tmp_path / "orders-2.dump.gz", 1, DAY, now)
    _write(tmp_path / "users-1.dump.gz", 1, 0.5 * DAY, now)
    _write(tmp_path / "orders-3.dump.gz.part", 1, 0, now)

    assert await _names(str(tmp_path / "orders-*.dump.gz")) == [
        "orders-2.dump.gz",
        "orders-1.dump.gz",
    ]


async def test_one_file_is_itself(tmp_path: Path) -> None:
    backup = _write(tmp_path / "only.rdb", 42, DAY, time.time())

    listing = await list_backups(BackupSpec(path=str(backup)))

    assert [(f.name, f.size) for f in listing] == [("only.rdb", 42)]


async def test_a_directory_format_dump_is_one_backup_sized_as_its_files(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    now = time.time()
    copy = tmp_path / "orders-2.dir"
    shutil.copytree(backup_dumps.pg_directory, copy)
    os.utime(copy / "toc.dat", (now - DAY, now - DAY))
    _write(tmp_path / "orders-1.dump", 5, 2 * DAY, now)
    writing = tmp_path / "orders-3.dir"  # pg_dump -Fd still at work: no toc.dat yet
    writing.mkdir()
    _write(writing / "3344.dat.gz", 5, 0, now)

    listing = await list_backups(BackupSpec(path=str(tmp_path)))

    assert [f.name for f in listing] == ["orders-2.dir", "orders-1.dump"]
    expected = sum(p.stat().st_size for p in copy.iterdir())
    assert listing[0].size == expected and expected > 0
    assert listing[0].mtime == pytest.approx(now - DAY)  # the toc.dat's time


async def test_a_large_folder_is_counted_whole_and_kept_to_the_newest(tmp_path: Path) -> None:
    now = time.time()
    for number in range(3000):
        _write(tmp_path / f"b-{number:04d}.dump", 1, (3000 - number) * 60, now)

    listing = await list_backups(BackupSpec(path=str(tmp_path)), limit=100)

    assert listing.total == 3000 and len(listing) == 100 and listing.capped
    assert [f.name for f in listing[:2]] == ["b-2999.dump", "b-2998.dump"]
    assert listing[-1].name == "b-2900.dump"


async def test_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    with pytest.raises(ListingError) as raised:
        await list_backups(BackupSpec(path=str(missing)))
    with pytest.raises(ListingError) as globbed:
        await list_backups(BackupSpec(path=str(missing / "*.dump")))

    assert str(raised.value) == f"{missing} does not exist"
    assert str(globbed.value) == f"{missing} does not exist (the folder of {missing}/*.dump)"


async def test_an_empty_folder_and_a_glob_matching_nothing_list_nothing(tmp_path: Path) -> None:
    assert await _names(str(tmp_path)) == []
    assert await _names(str(tmp_path / "*.dump")) == []


def test_the_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="limit"):
        list_local(str(tmp_path), 0)
