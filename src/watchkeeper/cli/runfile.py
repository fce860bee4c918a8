"""How ``wk reload`` finds the ``wk up`` running a config file, and learns what its reload did.

``wk up`` writes a small run file per config file (named by a hash of its absolute path)
under ``$XDG_STATE_HOME/watchkeeper/run/`` (default ``~/.local/state/watchkeeper/run/``):
its pid and the process's start time. After every reload, whatever asked for it, it writes
the Outcome beside it. ``wk reload`` reads the run file, checks that the process is still that
``wk up`` (a pid can be reused), sends it ``SIGHUP`` and waits for an Outcome that began after
the signal.

Why a signal and not an HTTP endpoint: the operating system already says who may ask (the
user running ``wk up``, or root), nothing listens for it on any address, and
``systemctl reload`` / ``kill -HUP`` work the same way. Nothing here is secret: the files are
the user's own (mode 0600 in a 0700 folder) only so that other users' processes cannot plant
a pid for ``wk reload`` to signal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

_MOST = 4 * 1024 * 1024
"""Bytes read of a run or outcome file at most."""


def folder() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "watchkeeper" / "run"


@dataclass(frozen=True, slots=True)
class RunFiles:
    """The run and outcome files of one config file."""

    config: str
    where: Path | None = None
    """The folder they are in (default: ``folder()``)."""

    @property
    def stem(self) -> Path:
        key = hashlib.sha256(os.path.abspath(self.config).encode()).hexdigest()[:20]
        return (self.where or folder()) / key

    @property
    def process_file(self) -> Path:
        return self.stem.with_suffix(".json")

    @property
    def outcome_file(self) -> Path:
        return self.stem.with_suffix(".reload.json")

    # -- written by wk up --------------------------------------------------------------------
    def announce(self) -> None:
        """Say that this process runs the config file. Blocking; OSError if it cannot."""
        me = psutil.Process()
        _write(
            self.process_file,
            {"pid": me.pid, "started": me.create_time(), "config": os.path.abspath(self.config)},
        )

    def record(self, outcome: dict[str, Any]) -> None:
        """Keep what the last reload did, for ``wk reload`` to read. Blocking."""
        _write(self.outcome_file, outcome)

    def withdraw(self) -> None:
        """This process stops: remove its files (only if they are still its own)."""
        found = _read(self.process_file)
        if found is not None and found.get("pid") == os.getpid():
            for path in (self.process_file, self.outcome_file):
                with contextlib.suppress(OSError):
                    path.unlink()

    # -- read by wk reload -------------------------------------------------------------------
    def running(self) -> int | None:
        """The pid of the ``wk up`` running the config file, if it still runs."""
        found = _read(self.process_file)
        if found is None:
            return None
        pid, started = found.get("pid"), found.get("started")
        if not isinstance(pid, int) or not isinstance(started, int | float):
            return None
        try:
            alive = psutil.Process(pid)
            same = abs(alive.create_time() - started) < 0.01
        except (psutil.Error, OSError):
            return None
        return pid if same else None

    def outcome(self) -> dict[str, Any] | None:
        return _read(self.outcome_file)


def _write(path: Path, document: dict[str, Any]) -> None:
    """Atomically (a reader sees the old file or the new one), readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            found = json.loads(handle.read(_MOST))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
