"""Running py-spy: ``record`` on a PID, or on a command it starts, for a duration, into
collapsed stacks (its ``raw`` format, aggregated by function with ``--function``), read
back with a size cap. Its failures become one line each (``ProfileError``): ptrace not
permitted, not a Python process, no such process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.profile.stacks import Profile, StacksError, parse

MOST_BYTES = 64 * 1024 * 1024
"""The collapsed stacks read back at most."""
GRACE = 30.0
"""Seconds py-spy gets past the duration (attaching, writing) before it is killed."""


class ProfileError(Exception):
    """One line a user can act on."""


@dataclass(frozen=True, slots=True)
class Request:
    pid: int | None = None
    command: tuple[str, ...] = ()
    duration: float = 30.0
    rate: int = 100
    subprocesses: bool = False
    native: bool = False


def binary() -> str:
    """The py-spy beside this Python (the venv's ``bin``), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("py-spy")
    if found is None:
        raise ProfileError("py-spy is not installed (pip install py-spy)")
    return found


def explain(stderr: str, request: Request) -> str:
    """py-spy's error output as one line."""
    text = stderr.lower()
    who = f"process {request.pid}" if request.pid is not None else "the command"
    if "operation not permitted" in text or "permission denied" in text or "eperm" in text:
        return (
            f"cannot read {who}: ptrace is not permitted (run wk profile as the process's "
            "user or root; in a container add CAP_SYS_PTRACE; kernel.yama.ptrace_scope may "
            "forbid it)"
        )
    if "failed to find python version" in text or "not a python" in text:
        return f"{who} is not a Python program (no Python interpreter found in its memory)"
    if (
        "no such file or directory" in text
        or "no such process" in text
        or "check that the process is running" in text
    ):
        return f"no {who} (it is not running)"
    for line in stderr.splitlines():
        if line.startswith("Error:"):
            return f"py-spy could not profile {who}: {line[6:].strip()}"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
    return f"py-spy could not profile {who}: {last[:200]}"


async def record(request: Request) -> Profile:
    if request.pid is None and not request.command:
        raise ProfileError("give a PID or -- COMMAND")
    if request.pid is not None and request.pid <= 0:
        raise ProfileError(f"no process {request.pid}")
    with tempfile.TemporaryDirectory(prefix="wk-profile-") as folder:
        out = Path(folder) / "stacks.txt"
        args = [
            binary(),
            "record",
            "--format",
            "raw",
            "--function",
            "--duration",
            str(max(1, round(request.duration))),
            "--rate",
            str(request.rate),
            "--output",
            str(out),
        ]
        if request.subprocesses:
            args.append("--subprocesses")
        if request.native:
            args.append("--native")
        if request.pid is not None:
            args += ["--pid", str(request.pid)]
        else:
            args += ["--", *request.command]
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if request.pid is not None else None,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(process.communicate(), request.duration + GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise ProfileError(
                f"py-spy did not finish within {request.duration + GRACE:.0f} s"
            ) from None
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        stderr = (err or b"")[-16384:].decode("utf-8", "replace")
        if not out.exists() or out.stat().st_size == 0:
            if process.returncode == 0 and request.pid is None:
                raise ProfileError("the command ended before a sample was taken")
            raise ProfileError(explain(stderr, request))
        with out.open("rb") as handle:
            data = handle.read(MOST_BYTES + 1)
    try:
        profile = parse(data[:MOST_BYTES].decode("utf-8", "replace"))
    except StacksError as exc:
        raise ProfileError(f"py-spy wrote what is not collapsed stacks: {exc}") from None
    profile.truncated = profile.truncated or len(data) > MOST_BYTES
    if not profile.samples:
        raise ProfileError(
            "no samples: the process was idle the whole time (py-spy leaves idle threads out)"
        )
    return profile
