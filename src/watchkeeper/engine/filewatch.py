"""``wk up --watch``: poll the config file, and the ``${file:...}`` files it reads, and ask
for a reload when what they hold changes.

Polling, not inotify: it works the same on every filesystem (a bind mount, NFS, a
Kubernetes ConfigMap swapping a symlink) and needs nothing new. Each poll is one ``stat``
per file; a file is read and hashed only when its stat changed, and a change counts only
when the content did (``touch`` or an editor's rewrite of the same text reloads nothing).
A change is acted on once the files have held still for one more poll, so an editor's
write in several steps is read once, whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from watchkeeper.lanes import RELOAD

log = logging.getLogger("watchkeeper.engine")
POLL_EVERY = 1.0
_MOST = 32 * 1024 * 1024 + 1
"""Bytes hashed per file at most (the loader refuses a config past 32 MiB)."""


@dataclass(frozen=True, slots=True)
class Seen:
    """One file as a poll found it; ``digest`` None: it is missing or unreadable."""

    stat: tuple[int, int, int] | None
    digest: str | None


Snapshot = Mapping[str, Seen]


def snapshot(paths: Iterable[str], before: Snapshot | None = None) -> dict[str, Seen]:
    """Each file's stat and content hash, reusing ``before``'s hash where the stat is the
    same. Blocking."""
    found: dict[str, Seen] = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            found[path] = Seen(None, None)
            continue
        stat = (info.st_mtime_ns, info.st_size, info.st_ino)
        known = before.get(path) if before else None
        if known is not None and known.stat == stat:
            found[path] = known
            continue
        try:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read(_MOST)).hexdigest()
        except OSError:
            digest = None
        found[path] = Seen(stat, digest)
    return found


def contents(snap: Snapshot) -> dict[str, str | None]:
    """What a snapshot says about the files' contents only."""
    return {path: seen.digest for path, seen in snap.items()}


async def watch_files(
    files: Callable[[], Iterable[str]],
    changed: Callable[[], None],
    *,
    every: float = POLL_EVERY,
    start: Snapshot | None = None,
) -> None:
    """Poll ``files()`` (asked again at every poll: a reload may change them) and call
    ``changed()`` once their contents differ from what they were at the start (or at the
    last call) and then held still for a poll. Runs until cancelled.

    ``start``: the files as they were when the running config was read (taken before the
    server answers): a change made after that but before this task's first poll is a
    change too. Without it the first poll is the start, and a file rewritten while ``wk
    up`` was still starting (a slow store, a loaded machine) was never reloaded."""
    seen = dict(start) if start is not None else await RELOAD.run(snapshot, list(files()))
    baseline = contents(seen)
    pending: dict[str, str | None] | None = None
    while True:
        await asyncio.sleep(every)
        try:
            seen = await RELOAD.run(snapshot, list(files()), seen)
        except Exception:  # a bug; the next poll tries again
            log.exception("watching the config files failed")
            continue
        now = contents(seen)
        for path, digest in now.items():
            baseline.setdefault(path, digest)  # a file a reload began to read: as it read it
        if all(baseline[path] == digest for path, digest in now.items()):
            pending = None
        elif pending == now:
            pending, baseline = None, now
            changed()
        else:
            pending = now
