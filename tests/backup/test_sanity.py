"""Format sanity on real dumps: every good one passes with its evidence, and each kind of
damage a backup really suffers (cut off while written, bit rot, a missing footer) fails
with one line that says what is wrong."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.helpers.dumps import Dumps, compress, flipped, truncated, without_last_lines

from watchkeeper.backup.files import BackupFile
from watchkeeper.backup.formats import Detected, detect
from watchkeeper.backup.sanity import TAIL, Sanity, check


def _file(path: Path) -> BackupFile:
    info = path.stat()
    return BackupFile(str(path), path.name, info.st_size, info.st_mtime)


async def _check(path: Path, declared: str = "auto") -> tuple[Detected, Sanity]:
    detected = await detect(str(path), declared)
    return detected, await check(_file(path), detected, timeout=60)


# -- good dumps ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["pg_custom", "pg_tar", "pg_directory"])
async def test_postgres_archives_pass_with_their_table_of_contents(
    backup_dumps: Dumps, kind: str
) -> None:
    detected, sanity = await _check(getattr(backup_dumps, kind))

    assert detected.format == kind
    assert sanity.ok and sanity.problems == [] and sanity.warnings == [], sanity
    evidence = sanity.evidence
    assert evidence["dbname"] == backup_dumps.database
    assert evidence["tables"] == 2 and evidence["table_data"] == 2
    assert isinstance(evidence["entries"], int) and evidence["entries"] >= 4
    assert str(evidence["pg_dump_version"]).startswith(("15.", "16.", "17.", "18."))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
@pytest.mark.parametrize("kind", ["pg_custom", "pg_tar"])
async def test_compressed_archives_are_read_through_their_decompressor(
    backup_dumps: Dumps, kind: str, compression: str
) -> None:
    detected, sanity = await _check(
        backup_dumps.compressed(getattr(backup_dumps, kind), compression)
    )

    assert detected == Detected(kind, compression)
    assert sanity.ok and sanity.warnings == [], sanity
    assert sanity.evidence["tables"] == 2


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("kind", ["pg_plain", "mysql"])
async def test_sql_dumps_pass_on_their_completion_footer(
    backup_dumps: Dumps, kind: str, compression: str
) -> None:
    path: Path = getattr(backup_dumps, kind)
    if compression != "none":
        path = backup_dumps.compressed(path, compression)

    _, sanity = await _check(path)

    assert sanity.ok and sanity.warnings == [], sanity
    assert "completion" not in " ".join(sanity.problems)
    if compression != "none":  # the whole stream went through the decompressor
        assert sanity.evidence["uncompressed"] == getattr(backup_dumps, kind).stat().st_size


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
async def test_an_rdb_passes_redis_check_rdb_with_its_key_count(
    backup_dumps: Dumps, compression: str
) -> None:
    path = (
        backup_dumps.redis
        if compression == "none"
        else backup_dumps.compressed(backup_dumps.redis, compression)
    )

    _, sanity = await _check(path)

    assert sanity.ok, sanity
    assert sanity.evidence["keys"] == 301  # 300 strings and one list
    assert sanity.evidence["redis_version"]


# -- damaged dumps ------------------------------------------------------------------------------
async def test_a_truncated_custom_dump_fails_although_its_table_of_contents_reads(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    cut = truncated(backup_dumps.pg_custom, tmp_path / "orders.dump", 0.6)

    _, sanity = await _check(cut)

    # pg_restore --list alone passes: the TOC is whole, the data is not
    assert sanity.evidence["tables"] == 2
    assert not sanity.ok
    assert sanity.problems == [
        "pg_restore could not read the data: pg_restore: error: could not read from input "
        "file: end of file"
    ]


async def test_a_custom_dump_cut_inside_its_table_of_contents_fails_the_listing(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    cut = tmp_path / "orders.dump"
    cut.write_bytes(backup_dumps.pg_custom.read_bytes()[:200])

    _, sanity = await _check(cut)

    assert not sanity.ok
    assert len(sanity.problems) == 1
    assert sanity.problems[0].startswith("pg_restore --list failed: pg_restore: error: ")


async def test_a_truncated_tar_dump_fails_where_pg_restore_alone_would_pass(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    cut = truncated(backup_dumps.pg_tar, tmp_path / "orders.tar", 0.6)

    _, sanity = await _check(cut)

    assert not sanity.ok
    assert sanity.problems == ["the tar archive is damaged: tar: Unexpected EOF in archive"]


async def test_a_tar_dump_cut_between_members_fails_on_its_missing_restore_sql(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    import tarfile

    cut = tmp_path / "orders.tar"
    with (
        tarfile.open(backup_dumps.pg_tar) as whole,
        tarfile.open(cut, "w", format=tarfile.USTAR_FORMAT) as part,
    ):
        for member in whole.getmembers():
            if member.name != "restore.sql":
                part.addfile(member, whole.extractfile(member))

    _, sanity = await _check(cut)

    assert sanity.problems == ["truncated: the tar has no restore.sql (pg_dump writes it last)"]


async def test_a_directory_dump_missing_a_data_file_fails(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    copy = tmp_path / "orders.dir"
    shutil.copytree(backup_dumps.pg_directory, copy)
    data = sorted(p for p in copy.iterdir() if p.name != "toc.dat")
    data[0].unlink()

    _, sanity = await _check(copy)

    assert not sanity.ok
    assert sanity.problems[0].startswith("pg_restore could not read the data: ")
    assert data[0].name.split(".")[0] in sanity.problems[0]


@pytest.mark.parametrize("kind", ["pg_plain", "mysql"])
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
async def test_sql_dumps_without_their_last_lines_fail_for_want_of_a_footer(
    backup_dumps: Dumps, tmp_path: Path, kind: str, compression: str
) -> None:
    source: Path = getattr(backup_dumps, kind)
    cut = without_last_lines(source, tmp_path / source.name, 8)
    if compression != "none":
        cut = backup_dumps.compressed(cut, compression)

    _, sanity = await _check(cut)

    words = "-- PostgreSQL database dump complete" if kind == "pg_plain" else "-- Dump completed"
    assert not sanity.ok
    assert len(sanity.problems) == 1
    assert sanity.problems[0].startswith(f"truncated: no completion footer ('{words}') at the end")


async def test_the_footer_is_looked_for_in_the_last_bytes_only(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    # a footer followed by more SQL than TAIL is not the end of the dump
    padded = tmp_path / "orders.sql"
    padded.write_bytes(backup_dumps.pg_plain.read_bytes() + b"-- more\n" * (TAIL // 4))

    _, sanity = await _check(padded)

    assert not sanity.ok


async def test_a_corrupt_gzip_fails_with_gzip_s_own_words(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    rotten = flipped(
        backup_dumps.compressed(backup_dumps.pg_plain, "gzip"), tmp_path / "orders.sql.gz"
    )

    detected, sanity = await _check(rotten)

    assert detected == Detected("pg_plain", "gzip")  # the head is intact
    assert not sanity.ok
    assert len(sanity.problems) == 1
    assert sanity.problems[0].startswith("gzip stream is damaged: gzip: ")
    assert str(tmp_path) not in sanity.problems[0]


async def test_a_truncated_zstd_stream_fails(backup_dumps: Dumps, tmp_path: Path) -> None:
    cut = truncated(
        backup_dumps.compressed(backup_dumps.mysql, "zstd"), tmp_path / "shop.sql.zst", 0.5
    )

    _, sanity = await _check(cut)

    assert sanity.problems == ["zstd stream is damaged: Read error (39) : premature end"]


async def test_a_corrupt_custom_dump_inside_gzip_names_the_gzip_damage(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    rotten = flipped(
        backup_dumps.compressed(backup_dumps.pg_custom, "gzip"), tmp_path / "orders.dump.gz"
    )

    _, sanity = await _check(rotten)

    assert not sanity.ok
    assert any(p.startswith("gzip stream is damaged") for p in sanity.problems), sanity


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
async def test_a_damaged_rdb_fails_redis_check_rdb(
    backup_dumps: Dumps, tmp_path: Path, damage: str
) -> None:
    target = tmp_path / "cache.rdb"
    broken = (
        truncated(backup_dumps.redis, target)
        if damage == "truncated"
        else flipped(backup_dumps.redis, target)
    )

    _, sanity = await _check(broken)

    assert not sanity.ok
    assert len(sanity.problems) == 1
    assert sanity.problems[0].startswith("redis-check-rdb found the RDB damaged: [offset ")


async def test_a_damaged_rdb_inside_gzip_is_read_through_the_pipe(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    broken = backup_dumps.compressed(truncated(backup_dumps.redis, tmp_path / "cache.rdb"), "gzip")

    _, sanity = await _check(broken)

    assert sanity.problems[0].startswith("redis-check-rdb found the RDB damaged: ")


# -- what cannot be judged ----------------------------------------------------------------------
async def test_an_unknown_format_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    blob = tmp_path / "export.bin"
    blob.write_bytes(os.urandom(10_000))

    _, sanity = await _check(blob)

    assert sanity.ok and not sanity.checked
    assert sanity.warnings == ["format not recognised (set format: to have it checked)"]


async def test_an_unknown_format_inside_gzip_gets_gzip_s_integrity_test(tmp_path: Path) -> None:
    blob = tmp_path / "export.bin"
    blob.write_bytes(os.urandom(100_000))
    good = compress(blob, "gzip")
    rotten = flipped(good, tmp_path / "rotten.bin.gz")

    _, passed = await _check(good)
    _, failed = await _check(rotten)

    assert passed.ok and passed.evidence["integrity"] == "gzip -t passed"
    assert passed.warnings == ["format not recognised inside the gzip stream"]
    assert not failed.ok and failed.problems[0].startswith("gzip stream is damaged: ")


async def test_a_declared_format_is_judged_by_its_tool(tmp_path: Path) -> None:
    blob = tmp_path / "orders.dump"
    blob.write_bytes(os.urandom(10_000))

    _, sanity = await _check(blob, "pg_custom")

    assert not sanity.ok
    assert sanity.problems[0].startswith("pg_restore --list failed: ")


async def test_format_file_reads_nothing(tmp_path: Path) -> None:
    blob = tmp_path / "repo.tar"
    blob.write_bytes(b"anything")

    _, sanity = await _check(blob, "file")

    assert sanity.ok and not sanity.checked and sanity.warnings == []


async def test_a_missing_tool_is_one_line_naming_its_package(
    backup_dumps: Dumps, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a PATH without redis-check-rdb: this machine as it would be without redis-tools
    only = tmp_path / "bin"
    only.mkdir()
    for tool in ("gzip", "zstd"):
        (only / tool).symlink_to(shutil.which(tool) or tool)
    monkeypatch.setenv("PATH", str(only))

    _, sanity = await _check(backup_dumps.redis)

    assert sanity.ok and not sanity.checked and sanity.retry
    assert sanity.warnings == [
        "cannot check the format: redis-check-rdb is not installed (Debian package redis-tools)"
    ]


async def test_a_check_past_its_timeout_is_killed_and_said(
    backup_dumps: Dumps, tmp_path: Path
) -> None:
    # a FIFO no one writes to: pg_restore would wait on it forever
    fifo = tmp_path / "stuck.dump"
    os.mkfifo(fifo)
    stuck = BackupFile(str(fifo), fifo.name, 1, 0.0)

    sanity = await check(stuck, Detected("pg_custom"), timeout=0.5)

    assert sanity.ok and not sanity.checked
    assert sanity.warnings == [
        "the format check of 1B did not finish in 500ms (raise the monitor's timeout)"
    ]
