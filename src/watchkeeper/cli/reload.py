"""``wk reload``: make the running ``wk up`` apply its changed config file, and say what
changed (or, the file being invalid, why nothing did).

The running server reads and validates the file itself — with its own environment for
``${VAR}`` — so this command needs no valid config, no store and no token: it finds the
process through its run file (see ``cli.runfile``) and sends it ``SIGHUP``.
Exit 0: reloaded; 1: no ``wk up`` runs that file, or it did not answer; 2: the file is
invalid (the running config stays).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Annotated, Any

import typer

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    ConfigOption,
    JsonOption,
    console,
    errors,
    fail,
)
from watchkeeper.cli.runfile import RunFiles
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import parse_duration

POLL_EVERY = 0.1


def reload(
    config: ConfigOption = DEFAULT_FILE,
    wait: Annotated[
        str, typer.Option("--wait", metavar="DURATION", help="How long to wait for the answer.")
    ] = "60s",
    as_json: JsonOption = False,
) -> None:
    """Reload the config of the running wk up (like SIGHUP) and print what changed."""
    try:
        patience = parse_duration(wait)
    except ValueError as exc:
        fail(f"--wait: {exc}")
    files = RunFiles(config)
    pid = files.running()
    if pid is None:
        fail(
            f"no wk up is running {os.path.abspath(config)} as this user "
            f"(its run file is {files.process_file})",
            EXIT_FAILED,
        )
    sent = time.time()
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        fail(f"cannot signal wk up (pid {pid}): {exc.strerror or exc}", EXIT_FAILED)
    outcome = _answer(files, sent, patience)
    if outcome is None:
        fail(
            f"wk up (pid {pid}) did not say within {wait} what its reload did; its output will",
            EXIT_FAILED,
        )
    if as_json:
        print(json.dumps(outcome, indent=2))
    else:
        for line in outcome.get("lines") or []:
            (console if outcome.get("ok") else errors).print(str(line), markup=False)
    if not outcome.get("ok"):
        raise typer.Exit(EXIT_USAGE)


def _answer(files: RunFiles, sent: float, patience: float) -> dict[str, Any] | None:
    """The Outcome of a reload that began after ``sent``, once it is written."""
    deadline = time.monotonic() + patience
    while True:
        outcome = files.outcome()
        started = outcome.get("started_at") if outcome else None
        if outcome is not None and isinstance(started, int | float) and started >= sent:
            return outcome
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_EVERY)
