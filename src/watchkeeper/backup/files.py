"""The backups a ``backup:`` monitor's ``path`` names, newest first: a folder (every file in
it), a glob (its matches) or one file. A PostgreSQL directory-format dump (a folder holding
``toc.dat``) counts as one backup, sized as the sum of its files and dated by its
``toc.dat`` (pg_dump writes that last, so a dump still being written is not one yet).

Skipped, because they are not backups: hidden names (``.``), partial files a tool is still
writing (``*.tmp``, ``*.part``, ``*.partial``), and the sidecars tools write beside a
backup (``*.manifest.json``, ``*.sha256``, ``*.md5``...), which would otherwise be "the
newest backup" a second after each dump. A symbolic link to a file in the same folder (a
``latest.dump`` link) is skipped too: it would count the newest backup twice.

A folder of a million files must not cost a million objects: every entry is counted, but
only the newest ``limit`` are kept (a bounded heap). All file system calls run on the
backups lane: a hung NFS mount holds one of its threads, never the event loop.
"""

from __future__ import annotations

import glob
import heapq
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from watchkeeper import lanes
from watchkeeper.backup.settings import BackupSpec

PARTIAL_SUFFIXES = (".tmp", ".part", ".partial")
"""Names of files a tool is still writing (rsync, curl, wget, browsers, many dump scripts)."""
SIDECAR_SUFFIXES = (".manifest.json", ".sha256", ".sha512", ".sha1", ".md5", ".asc", ".sig")
"""Names of files written beside a backup about it: not backups themselves."""


class ListingError(Exception):
    """The backups cannot be listed (a missing folder, no permission): one line."""


@dataclass(frozen=True, slots=True)
class BackupFile:
    path: str
    """Where it is: a local path, or ``s3://bucket/key``."""
    name: str
    """Its base name (what a user recognises in a message)."""
    size: int
    """Bytes; for a directory-format dump, the sum of its files."""
    mtime: float
    """Last modified, epoch seconds (a directory-format dump: its ``toc.dat``'s)."""


class Listing(list[BackupFile]):
    """The newest backups, newest first, and ``total``: how many there are in all (more
    than ``len`` when the listing was capped)."""

    total: int

    def __init__(self, files: Iterable[BackupFile] = (), total: int | None = None) -> None:
        super().__init__(files)
        self.total = len(self) if total is None else total

    @property
    def capped(self) -> bool:
        return self.total > len(self)


def is_candidate(name: str) -> bool:
    """Is a file of this name possibly a backup (not hidden, partial or a sidecar)?"""
    if not name or name.startswith("."):
        return False
    lowered = name.lower()
    return not lowered.endswith(PARTIAL_SUFFIXES + SIDECAR_SUFFIXES)


def is_glob(path: str) -> bool:
    return any(char in path for char in "*?[")


async def list_backups(spec: BackupSpec, *, limit: int = 10_000) -> Listing:
    """The backups ``spec`` names, newest first (by mtime, then name); at most ``limit`` of
    them, with the count of all in ``total``. Raises ListingError (one line)."""
    if spec.s3 is not None:
        from watchkeeper.backup.s3 import list_objects

        return await list_objects(spec.s3, limit=limit)
    assert spec.path is not None
    return await lanes.BACKUPS.run(list_local, spec.path, limit)


def list_local(path: str, limit: int) -> Listing:
    """``list_backups`` for a local path, blocking (run it on the backups lane)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if is_glob(path):
        base = _fixed_part(path)
        if not os.path.isdir(base):
            raise ListingError(f"{base} does not exist (the folder of {path})")
        entries: Iterator[tuple[str, float, int, bool]] = _globbed(path)
    else:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise ListingError(f"{path} does not exist") from None
        except PermissionError:
            raise ListingError(f"cannot read {path}: permission denied") from None
        except OSError as exc:
            raise ListingError(f"cannot read {path}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(info.st_mode) and not os.path.exists(os.path.join(path, "toc.dat")):
            entries = _in_folder(path)
        else:
            entries = iter([e for e in [_entry(path, follow_same_folder=True)] if e is not None])
    newest: list[tuple[float, str, str, int, bool]] = []
    total = 0
    try:
        for entry_path, mtime, size, is_dump_folder in entries:
            total += 1
            item = (mtime, os.path.basename(entry_path), entry_path, size, is_dump_folder)
            if len(newest) < limit:
                heapq.heappush(newest, item)
            elif item[:2] > newest[0][:2]:
                heapq.heapreplace(newest, item)
    except PermissionError:
        raise ListingError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ListingError(f"cannot list {path}: {exc.strerror or exc}") from None
    newest.sort(key=lambda item: item[:2], reverse=True)
    files = [
        BackupFile(
            path=entry_path,
            name=name,
            size=_folder_size(entry_path) if is_dump_folder else size,
            mtime=mtime,
        )
        for mtime, name, entry_path, size, is_dump_folder in newest
    ]
    return Listing(files, total)


def _fixed_part(pattern: str) -> str:
    """The folder a glob lists: its leading components without wildcards."""
    fixed: list[str] = []
    for part in pattern.split(os.sep):
        if is_glob(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or os.sep


def _in_folder(folder: str) -> Iterator[tuple[str, float, int, bool]]:
    with os.scandir(folder) as scan:
        for item in scan:
            if not is_candidate(item.name):
                continue
            entry = _entry(item.path, follow_same_folder=False)
            if entry is not None:
                yield entry


def _globbed(pattern: str) -> Iterator[tuple[str, float, int, bool]]:
    for match in glob.iglob(pattern):
        if not is_candidate(os.path.basename(match)):
            continue
        entry = _entry(match, follow_same_folder=False)
        if entry is not None:
            yield entry


def _entry(path: str, *, follow_same_folder: bool) -> tuple[str, float, int, bool] | None:
    """(path, mtime, size, is a directory-format dump) of a backup candidate, or None when it
    is not one (a plain folder, a device, a dangling link, a link to a sibling)."""
    try:
        if not follow_same_folder and os.path.islink(path):
            target = os.path.realpath(path)
            if os.path.dirname(target) == os.path.realpath(os.path.dirname(path)):
                return None
        info = os.stat(path)
    except FileNotFoundError:  # vanished while listing, or a dangling link
        return None
    if stat.S_ISREG(info.st_mode):
        return path, info.st_mtime, info.st_size, False
    if stat.S_ISDIR(info.st_mode):
        try:
            toc = os.stat(os.path.join(path, "toc.dat"))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return path, toc.st_mtime, 0, True
    return None


def _folder_size(folder: str) -> int:
    """The bytes of a directory-format dump: its files (one level; pg_dump makes no
    subfolders)."""
    size = 0
    try:
        with os.scandir(folder) as scan:
            for item in scan:
                if item.is_file(follow_symlinks=False):
                    size += item.stat(follow_symlinks=False).st_size
    except OSError:
        return size
    return size


def local_stat(path: str) -> tuple[int, float] | None:
    """(size, mtime) of a backup now, as ``list_local`` measures it; None when it is gone.
    Blocking: run it on the backups lane."""
    entry = _entry(path, follow_same_folder=True)
    if entry is None:
        return None
    entry_path, mtime, size, is_dump_folder = entry
    return (_folder_size(entry_path) if is_dump_folder else size), mtime
