"""What a backup file is, from its first bytes: the dump format inside, and the compression
around it (gzip, zstd or none).

    pg_custom     pg_dump -Fc            starts with ``PGDMP``
    pg_tar        pg_dump -Ft            a tar whose first member is ``toc.dat``
    pg_directory  pg_dump -Fd            a folder holding ``toc.dat``
    pg_plain      pg_dump (plain SQL)    ``-- PostgreSQL database dump`` in its head
    mysql         mariadb-dump/mysqldump ``-- MariaDB dump`` / ``-- MySQL dump`` in its head
    redis         an RDB snapshot        starts with ``REDIS``

A compressed file is looked into: gzip through zlib (the first 64 KiB only), zstd through
the ``zstd`` tool reading as little as it must. Nothing here trusts the file's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import zlib
from dataclasses import dataclass

from watchkeeper import lanes

HEAD = 64 * 1024
"""How much of a file (decompressed) detection reads."""

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

POSTGRES_FORMATS = ("pg_custom", "pg_tar", "pg_directory", "pg_plain")
SQL_FORMATS = ("pg_plain", "mysql")


@dataclass(frozen=True, slots=True)
class Detected:
    format: str
    """One of ``settings.FORMATS`` but ``auto``; ``unknown`` when nothing matched."""
    compression: str = "none"
    """``none``, ``gzip`` or ``zstd``."""

    @property
    def postgres(self) -> bool:
        return self.format in POSTGRES_FORMATS

    def describe(self) -> str:
        names = {
            "pg_custom": "PostgreSQL custom-format dump",
            "pg_tar": "PostgreSQL tar-format dump",
            "pg_directory": "PostgreSQL directory-format dump",
            "pg_plain": "PostgreSQL plain SQL dump",
            "mysql": "MariaDB/MySQL SQL dump",
            "redis": "Redis RDB snapshot",
            "file": "file",
            "unknown": "unrecognised file",
        }
        text = names.get(self.format, self.format)
        return text if self.compression == "none" else f"{text} ({self.compression})"


def decompressor(compression: str) -> list[str] | None:
    """The command that writes the plain stream of a compressed file (its path appended)
    to stdout, or None for an uncompressed one."""
    if compression == "gzip":
        return ["gzip", "-dc"]
    if compression == "zstd":
        return ["zstd", "-dcq"]
    return None


def classify(head: bytes) -> str:
    """The format of a plain (decompressed) stream from its first bytes."""
    if head.startswith(b"PGDMP"):
        return "pg_custom"
    if head.startswith(b"REDIS") and head[5:9].isdigit():
        return "redis"
    if len(head) >= 262 and head[257:262] == b"ustar" and head[:8].rstrip(b"\0") == b"toc.dat":
        return "pg_tar"
    text = head[:HEAD].decode("utf-8", "replace")
    if "-- PostgreSQL database dump" in text or "\\restrict " in text[:4096]:
        return "pg_plain"
    if "-- MariaDB dump" in text or "-- MySQL dump" in text:
        return "mysql"
    return "unknown"


async def detect(path: str, declared: str = "auto", *, limit: float = 10.0) -> Detected:
    """Read the head of ``path`` and say what it is. A ``declared`` format (not ``auto``)
    is believed for the format; the compression is still read from the bytes. ``limit``
    bounds the seconds a zstd file's head may take to decompress."""
    folder, raw = await lanes.BACKUPS.run(_read_head, path, HEAD)
    if folder is not None:
        if folder:
            return Detected("pg_directory")
        return Detected(declared if declared != "auto" else "unknown")
    compression = "none"
    head = raw
    if raw.startswith(GZIP_MAGIC):
        compression = "gzip"
        head = _gunzip_head(raw)
    elif raw.startswith(ZSTD_MAGIC):
        compression = "zstd"
        head = await _unzstd_head(path, limit)
    if declared not in ("auto", ""):
        return Detected(declared, compression)
    return Detected(classify(head), compression)


def _read_head(path: str, size: int) -> tuple[bool | None, bytes]:
    """(None, the first ``size`` bytes) of a file; (holds toc.dat?, b"") of a folder."""
    if os.path.isdir(path):
        return os.path.exists(os.path.join(path, "toc.dat")), b""
    with open(path, "rb") as handle:
        return None, handle.read(size)


def _gunzip_head(raw: bytes) -> bytes:
    """As much of the start of a gzip stream as ``raw`` holds, decompressed (up to HEAD)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(raw, HEAD)
    except zlib.error:
        return b""


async def _unzstd_head(path: str, limit: float) -> bytes:
    """The first HEAD bytes that ``zstd -dc`` writes; the tool is stopped once they came."""
    try:
        process = await asyncio.create_subprocess_exec(
            "zstd",
            "-dcq",
            "--",
            path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return b""
    assert process.stdout is not None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limit):
            while size < HEAD:
                chunk = await process.stdout.read(HEAD - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except TimeoutError:
        pass  # what came within the limit is the head we judge (often enough to tell)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        # drain to the end of its output (closing the pipe) and reap it, bounded: a wait
        # alone left the pipe open, and once hung the loop past the test's timeout
        with contextlib.suppress(TimeoutError, ProcessLookupError):
            await asyncio.wait_for(process.communicate(), 5.0)
    return b"".join(chunks)
