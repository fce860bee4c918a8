"""What a backup looks like from outside: the newest one's age against ``max_age`` (the
recovery point objective), its size against ``min_size`` and against the recent ones (a
dump that shrank by half is suspect), how many are kept against ``keep``, and its format
read with its own tools (``sanity``). Each finding is a failure (the backup cannot be
trusted) or a warning (worth a look), with the numbers that show it.

A file still being written is not judged: pg_dump writing tonight's dump would otherwise
look truncated, and small. The newest file modified within ``SETTLE`` seconds is passed
over for the newest one before it; and the file whose format was checked is looked at again
afterwards: if its size or time changed meanwhile, the verdict is dropped (and not cached),
and the next check judges it.

An unrecognised newest file is a warning on its own (a format Watchkeeper cannot read), but
a failure when the backup before it was a recognised dump: zeros written after a full disk,
an error page saved as the backup.

Reading a large dump takes a while (a GiB through ``pg_restore`` is seconds of CPU), so a
verdict is cached per monitor and file (path, size, modification time): a backup is read
once, not every interval.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper import lanes
from watchkeeper.backup.files import BackupFile, Listing, ListingError, list_backups, local_stat
from watchkeeper.backup.formats import Detected, detect
from watchkeeper.backup.sanity import Sanity, check
from watchkeeper.backup.settings import BackupSpec
from watchkeeper.units import format_duration, format_size

SETTLE = 60.0
"""A file modified less than this many seconds ago may still be being written."""
RECENT = 7
"""How many backups before the newest its size is held against (their median)."""
SHOWN = 20
"""Files listed in the report (newest first)."""
CACHE_SIZE = 256
"""Verdicts kept (the oldest goes first): a few per monitor."""
MARGIN = 1.0
"""Seconds of the timeout kept back for reporting, so a slow format check ends as a warning
rather than the whole probe timing out."""

CacheKey = tuple[str, str, int, float, str]
Cache = MutableMapping[CacheKey, tuple[Detected, Sanity]]
_CACHE: dict[CacheKey, tuple[Detected, Sanity]] = {}


@dataclass
class Inspection:
    where: str
    files: list[BackupFile] = field(default_factory=list)
    """The newest backups, newest first (capped)."""
    total: int = 0
    """How many backups there are in all."""
    judged: BackupFile | None = None
    """The backup the judgements are about: the newest one not still being written."""
    writing: list[BackupFile] = field(default_factory=list)
    """Newer files passed over as still being written."""
    detected: Detected | None = None
    sanity: Sanity | None = None
    cached: bool = False
    """The format verdict came from the cache (the file has not changed since)."""
    median_size: float | None = None
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What is worth knowing without being wrong (why a file was passed over...)."""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self, now: float) -> dict[str, Any]:
        """The report kept with the result (JSON-able)."""
        return {
            "where": self.where,
            "count": self.total,
            "files": [
                {
                    "name": f.name,
                    "path": f.path,
                    "size": f.size,
                    "mtime": f.mtime,
                    "age": max(0.0, now - f.mtime),
                }
                for f in self.files[:SHOWN]
            ],
            "judged": self.judged.name if self.judged else None,
            "writing": [f.name for f in self.writing],
            "median_size": self.median_size,
            "format": None
            if self.sanity is None or self.detected is None
            else {
                "detected": self.detected.describe(),
                "cached": self.cached,
                **self.sanity.as_json(),
            },
            "failures": list(self.failures),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


async def inspect(
    spec: BackupSpec,
    *,
    now: float,
    timeout: float,  # noqa: ASYNC109 - split between listing and the format's tools
    cache: Cache | None = None,
    monitor: str = "",
) -> Inspection:
    """Look at the backups ``spec`` names as they are at ``now``. Never raises for what the
    backups or the tools do: every finding is in the Inspection."""
    deadline = time.monotonic() + timeout
    found = Inspection(where=spec.target())
    try:
        listing = await list_backups(spec)
    except ListingError as exc:
        found.failures.append(str(exc))
        return found
    found.files, found.total = list(listing), listing.total
    found.facts["backup.count"] = listing.total
    if not listing:
        found.failures.append(f"no backups found in {found.where}")
        return found
    judged = _settled(found, listing, now, local=spec.s3 is None)
    found.judged = judged
    _judge_numbers(found, spec, judged, now)
    if spec.keep is not None and listing.total < spec.keep:
        found.warnings.append(f"{listing.total} backups kept, fewer than keep: {spec.keep}")
    if spec.s3 is not None:
        found.notes.append("object storage: age, size and count only (contents not read)")
    elif spec.check_format and spec.format != "file":
        if judged in found.writing:
            found.notes.append(f"{judged.name} is still being written: its format is not judged")
        elif judged.size >= spec.min_size:
            left = deadline - time.monotonic() - MARGIN
            verdicts = _CACHE if cache is None else cache
            await _judge_format(found, spec, judged, left, verdicts, monitor)
    return found


def _settled(found: Inspection, listing: Listing, now: float, *, local: bool) -> BackupFile:
    """The newest backup not modified within SETTLE seconds (the newest when all are)."""
    if not local:  # an object appears whole when its upload completes
        return listing[0]
    for file in listing:
        if abs(now - file.mtime) < SETTLE:  # also just after ``now``: written meanwhile
            found.writing.append(file)
            continue
        if found.writing:
            names = ", ".join(f.name for f in found.writing[:3])
            found.notes.append(
                f"{names} modified within the last {format_duration(SETTLE)} (still being "
                f"written?): judging {file.name}"
            )
        return file
    return listing[0]


def _judge_numbers(found: Inspection, spec: BackupSpec, judged: BackupFile, now: float) -> None:
    age = max(0.0, now - judged.mtime)
    facts = found.facts
    facts["backup.newest"] = judged.name
    facts["backup.age"] = age
    facts["backup.size"] = judged.size
    if age > spec.max_age:
        found.failures.append(
            f"newest backup {judged.name} is {format_duration(age)} old "
            f"(max_age {format_duration(spec.max_age)})"
        )
    if judged.size < spec.min_size:
        found.failures.append(
            f"newest backup {judged.name} is {format_size(judged.size)} "
            f"(min_size {format_size(spec.min_size)})"
        )
    index = found.files.index(judged)
    previous = [f.size for f in found.files[index + 1 : index + 1 + RECENT]]
    if not previous:
        return
    median = float(statistics.median(previous))
    found.median_size = median
    if median <= 0:
        return
    ratio = judged.size / median
    facts["backup.ratio"] = ratio
    if ratio < spec.shrink:
        found.warnings.append(
            f"newest backup {judged.name} is {ratio:.0%} of the recent median "
            f"({format_size(median)} over the {len(previous)} before it)"
        )


async def _judge_format(
    found: Inspection,
    spec: BackupSpec,
    judged: BackupFile,
    seconds: float,
    cache: Cache,
    monitor: str,
) -> None:
    key: CacheKey = (monitor, judged.path, judged.size, judged.mtime, spec.format)
    hit = cache.get(key)
    if hit is not None:
        detected, sanity = hit
        found.cached = True
    else:
        if seconds <= 0:
            found.warnings.append("no time left to check the format (raise the timeout)")
            return
        started = time.monotonic()
        try:
            detected = await detect(judged.path, spec.format, limit=min(10.0, seconds))
            left = seconds - (time.monotonic() - started)
            sanity = await check(judged, detected, timeout=max(0.1, left))
        except FileNotFoundError:
            found.notes.append(f"{judged.name} vanished while it was being checked")
            return
        except OSError as exc:
            found.failures.append(f"cannot read {judged.name}: {exc.strerror or exc}")
            return
        now_stat = await lanes.BACKUPS.run(local_stat, judged.path)
        if now_stat != (judged.size, judged.mtime):
            found.notes.append(
                f"{judged.name} changed while it was being checked: judged at the next check"
            )
            return
        if detected.format == "unknown" and spec.format == "auto":
            await _unlike_before(found, judged, sanity)
        if not sanity.retry:
            cache[key] = (detected, sanity)
            while len(cache) > CACHE_SIZE:
                del cache[next(iter(cache))]
    found.detected, found.sanity = detected, sanity
    found.facts["backup.format"] = detected.format
    found.facts["backup.compression"] = detected.compression
    for problem in sanity.problems:
        joiner = " " if problem.startswith("is ") else ": "
        found.failures.append(f"newest backup {judged.name}{joiner}{problem}")
    for warning in sanity.warnings:
        found.warnings.append(f"{judged.name}: {warning}")


async def _unlike_before(found: Inspection, judged: BackupFile, sanity: Sanity) -> None:
    """An unrecognised newest file where the one before it was a dump (zeros after a full
    disk, an error page saved as the backup, a wrong file rotated in) is a failure, not the
    warning an unknown format alone gets."""
    index = found.files.index(judged)
    before = found.files[index + 1] if index + 1 < len(found.files) else None
    if before is None:
        return
    try:
        earlier = await detect(before.path)
    except OSError:
        return
    if earlier.format in ("unknown", "file"):
        return
    sanity.ok = False
    sanity.problems.append(
        f"is not recognised, though {before.name} before it is a {earlier.describe()}"
    )
    sanity.warnings = [w for w in sanity.warnings if not w.startswith("format not recognised")]
