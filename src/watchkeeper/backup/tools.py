"""Running the tools that read a backup (``pg_restore``, ``gzip``, ``zstd``, ``tar``,
``redis-check-rdb``), alone or behind a decompressor, without trusting them or the file.

Each command runs in a session of its own, so a timeout (or the probe being cancelled)
kills its whole process group. What they print is read as it comes and never kept whole: a
callback sees stdout line by line (each line cut at ``MAX_LINE``), the last ``tail`` bytes
of stdout are kept, and of stderr only its last ``MAX_STDERR`` bytes — a tool that writes a
gigabyte costs kilobytes. A decompressor feeds the next command through a pipe the two
share directly, so the bytes of a dump never pass through Python unless asked for. Each
tool's address space is capped (``MAX_MEMORY``): a damaged dump may announce a block of
any length, and the tool would try to allocate it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from watchkeeper.printable import one_line

MAX_MEMORY = 4 * 1024**3
"""Address space each tool may take (``prlimit --as``, where util-linux has it): a damaged
dump can announce a block of any length, and pg_restore then allocates it."""
MAX_LINE = 4096
"""Bytes of one stdout line a line callback sees (the rest of a longer line is dropped)."""
MAX_STDERR = 4096
"""Bytes of each command's stderr kept (its end, where the error is)."""
CHUNK = 64 * 1024

PACKAGES = {
    "pg_restore": "postgresql-client",
    "gzip": "gzip",
    "zstd": "zstd",
    "tar": "tar",
    "redis-check-rdb": "redis-tools",
}
"""The Debian package that installs each tool (for the line that says it is missing)."""


class MissingTool(Exception):
    """A tool is not installed; ``str`` is the line that says which and where from."""

    def __init__(self, tool: str) -> None:
        package = PACKAGES.get(tool, tool)
        super().__init__(f"{tool} is not installed (Debian: apt-get install {package})")
        self.tool = tool


@dataclass
class Exit:
    """How one command of a pipeline ended."""

    argv: list[str]
    code: int | None = None
    """Its exit code; negative for a signal (-13: SIGPIPE, the next command stopped
    reading); None when it was killed for the timeout."""
    stderr: str = ""
    """The end of what it wrote to stderr, decoded."""

    @property
    def tool(self) -> str:
        return os.path.basename(self.argv[0])

    def error_line(self, *, hide: str = "") -> str:
        """The first line of its stderr (where tools say what went wrong first; later lines
        are consequences: "Error is not recoverable: exiting now"), visible and cut. ``hide``
        (the file's path, which the user knows) is left out to keep the line short."""
        for line in self.stderr.splitlines():
            if line.strip():
                if hide:
                    line = line.replace(f"{hide}: ", "").replace(f'"{hide}"', "the file")
                    shown, colon, rest = line.partition(" : ")  # zstd: "<name> : <what>"
                    if colon and shown.strip() and hide.endswith(shown.strip()):
                        line = rest
                return one_line(line)
        if self.code is not None and self.code < 0:
            return f"killed by signal {-self.code}"
        return f"exit code {self.code}"


@dataclass
class Outcome:
    exits: list[Exit]
    timed_out: bool = False
    tail: bytes = b""
    """The last ``tail`` bytes of the last command's stdout."""
    stdout_bytes: int = 0
    """How many bytes the last command wrote to stdout."""
    lines_cut: int = 0
    """Lines longer than MAX_LINE (cut before the callback saw them)."""
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def last(self) -> Exit:
        return self.exits[-1]


def which(tool: str) -> str:
    """The tool's path; MissingTool when it is not installed."""
    found = shutil.which(tool)
    if found is None:
        raise MissingTool(tool)
    return found


async def pipeline(
    commands: list[list[str]],
    *,
    seconds: float,
    on_line: Callable[[bytes], None] | None = None,
    tail: int = 0,
) -> Outcome:
    """Run ``commands`` as a pipeline (each one's stdout the next one's stdin; the first reads
    nothing), read the last one's stdout, wait for all of them; past ``seconds`` every one is
    killed (``timed_out``). Raises MissingTool."""
    for argv in commands:
        which(argv[0])
    limit = ["prlimit", f"--as={MAX_MEMORY}", "--"] if shutil.which("prlimit") else []
    exits = [Exit(argv) for argv in commands]
    processes: list[asyncio.subprocess.Process] = []
    outcome = Outcome(exits)
    read_end: int | None = None
    try:
        for index, argv in enumerate(commands):
            last = index == len(commands) - 1
            write_end: int | None = None
            if not last:
                next_read, write_end = os.pipe()
            try:
                process = await asyncio.create_subprocess_exec(
                    *limit,
                    *argv,
                    stdin=read_end if read_end is not None else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE if last else write_end,
                    stderr=asyncio.subprocess.PIPE,
                    start_new_session=True,
                )
            finally:
                for fd in (read_end, write_end):
                    if fd is not None:
                        os.close(fd)
                read_end = None
            processes.append(process)
            if not last:
                read_end = next_read
        async with asyncio.timeout(seconds):
            readers = [_stderr(p, e) for p, e in zip(processes, exits, strict=True)]
            await asyncio.gather(_stdout(processes[-1], outcome, on_line, tail), *readers)
            for process, ended in zip(processes, exits, strict=True):
                ended.code = await process.wait()
    except TimeoutError:
        outcome.timed_out = True
    finally:
        if read_end is not None:
            os.close(read_end)
        for process in processes:
            if process.returncode is None:
                _kill(process)
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
    return outcome


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


async def _stderr(process: asyncio.subprocess.Process, ended: Exit) -> None:
    assert process.stderr is not None
    kept = bytearray()
    while chunk := await process.stderr.read(CHUNK):
        kept += chunk
        if len(kept) > MAX_STDERR:
            del kept[: len(kept) - MAX_STDERR]
    ended.stderr = kept.decode("utf-8", "replace")


async def _stdout(
    process: asyncio.subprocess.Process,
    outcome: Outcome,
    on_line: Callable[[bytes], None] | None,
    tail: int,
) -> None:
    assert process.stdout is not None
    kept = bytearray()
    partial = bytearray()
    cutting = False
    while chunk := await process.stdout.read(CHUNK):
        outcome.stdout_bytes += len(chunk)
        if tail:
            kept += chunk
            if len(kept) > tail:
                del kept[: len(kept) - tail]
        if on_line is None:
            continue
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not cutting:
                room = MAX_LINE - len(partial)
                partial += piece[:room]
                if len(piece) > room:
                    cutting = True
                    outcome.lines_cut += 1
            if end < 0:
                break
            on_line(bytes(partial))
            partial.clear()
            cutting = False
            start = end + 1
    if on_line is not None and partial:
        on_line(bytes(partial))
    outcome.tail = bytes(kept)
