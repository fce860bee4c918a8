"""Format detection on real dumps (pg_dump's four formats, mariadb-dump, a Redis RDB), plain
and through gzip and zstd, from the first bytes only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.helpers.dumps import Dumps

from watchkeeper.backup.formats import Detected, detect

KINDS = {
    "pg_custom": "pg_custom",
    "pg_tar": "pg_tar",
    "pg_plain": "pg_plain",
    "mysql": "mysql",
    "redis": "redis",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
async def test_every_dump_is_recognised_plain_and_through_compression(
    backup_dumps: Dumps, kind: str, compression: str
) -> None:
    path: Path = getattr(backup_dumps, kind)
    if compression != "none":
        path = backup_dumps.compressed(path, compression)

    found = await detect(str(path))

    assert found == Detected(KINDS[kind], compression)


async def test_a_directory_format_dump_is_recognised_by_its_toc(backup_dumps: Dumps) -> None:
    assert await detect(str(backup_dumps.pg_directory)) == Detected("pg_directory")


async def test_the_name_is_not_trusted(backup_dumps: Dumps, tmp_path: Path) -> None:
    misnamed = tmp_path / "backup.sql.gz"  # a custom-format dump, named like a gzip'd SQL one
    misnamed.write_bytes(backup_dumps.pg_custom.read_bytes())

    assert await detect(str(misnamed)) == Detected("pg_custom", "none")


async def test_unknown_bytes_and_an_empty_file_are_unknown(tmp_path: Path) -> None:
    noise = tmp_path / "noise.bin"
    noise.write_bytes(os.urandom(4096))
    empty = tmp_path / "empty.dump"
    empty.write_bytes(b"")

    assert (await detect(str(noise))).format == "unknown"
    assert (await detect(str(empty))).format == "unknown"


async def test_a_declared_format_is_believed_and_the_compression_still_read(
    backup_dumps: Dumps,
) -> None:
    zipped = backup_dumps.compressed(backup_dumps.mysql, "gzip")

    assert await detect(str(zipped), "pg_plain") == Detected("pg_plain", "gzip")
