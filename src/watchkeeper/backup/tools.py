"""Running the restore tools (pg_restore, psql, mariadb, redis-server, gzip, sed...): as child
processes in sessions of their own, chained by pipes without Watchkeeper in the data path,
each killed with its session on a deadline or a cancellation, their output kept only as a
capped tail (a tool that prints a gigabyte of errors costs a few kilobytes).

A backup monitor reads dumps with the same pipelines: ``on_line`` hands it the last tool's
stdout a line at a time (each cut at ``MAX_LINE``: ``pg_restore --list`` of a large schema is
counted, never held), and ``memory`` caps each tool's address space (``prlimit --as``), since
a damaged dump may announce a block of any length and the tool would try to allocate it.

Every process started is announced to ``on_start`` (the drill's ledger records it), so a
restart after ``kill -9`` of Watchkeeper can find and stop what was left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

TAIL = 16 * 1024
"""Bytes of a tool's stderr (and captured stdout) kept."""
MAX_LINE = 4096
"""Bytes of one stdout line ``on_line`` sees (the rest of a longer line is dropped)."""


class ToolMissing(Exception):
    """A tool the restore needs is not installed (the message names its Debian package)."""


PACKAGES = {
    "pg_restore": "postgresql-client",
    "psql": "postgresql-client",
    "initdb": "postgresql",
    "postgres": "postgresql",
    "mariadb": "mariadb-client",
    "redis-server": "redis-server",
    "redis-check-rdb": "redis-tools",
    "zstd": "zstd",
    "gzip": "gzip",
    "sed": "sed",
    "tar": "tar",
    "setpriv": "util-linux",
}


def which(name: str, *, extra: Sequence[str] = ()) -> str:
    """The path of tool ``name`` (looked for on PATH, then in ``extra`` folders)."""
    for folder in extra:
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        package = PACKAGES.get(name, name)
        raise ToolMissing(f"{name} is not installed (Debian package {package})")
    return found


@dataclass(slots=True)
class Outcome:
    """How one process of a run ended."""

    argv: list[str]
    code: int | None = None
    """Exit status; negative: killed by that signal; None: still running (timed out)."""
    stderr: bytes = b""
    """The tail of what it wrote to stderr."""

    @property
    def name(self) -> str:
        """The tool's name, past the wrappers that exec it (prlimit, setpriv)."""
        argv = self.argv
        while os.path.basename(argv[0]) in ("prlimit", "setpriv") and "--" in argv:
            argv = argv[argv.index("--") + 1 :]
        return os.path.basename(argv[0]) if argv else "?"

    def last_lines(self, lines: int = 5) -> list[str]:
        text = self.stderr.decode("utf-8", "replace").strip()
        return [line.strip() for line in text.splitlines()[-lines:] if line.strip()]


@dataclass(slots=True)
class Run:
    """What a pipeline did: each process's outcome, the tail of the last one's stdout
    (when captured) and the time it took."""

    outcomes: list[Outcome] = field(default_factory=list)
    stdout: bytes = b""
    stdout_bytes: int = 0
    """How many bytes the last one wrote to stdout (when captured)."""
    elapsed: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(o.code == 0 for o in self.outcomes)

    def failure(self) -> str | None:
        """One line saying which tool failed and how (its last error line), or None."""
        if self.timed_out:
            running = [o.name for o in self.outcomes if o.code is None]
            return f"timed out after {self.elapsed:.0f}s ({', '.join(running) or 'tools'})"
        failed = [o for o in self.outcomes if o.code != 0]
        # a tool killed by SIGPIPE only saw the next one stop reading: the next one says why
        causes = [o for o in failed if o.code != -signal.SIGPIPE] or failed
        for outcome in causes[:1]:
            if outcome.code != 0:
                lines = outcome.last_lines(3)
                said = f": {_first_error(lines)}" if lines else ""
                how = (
                    f"killed by signal {-outcome.code}"
                    if outcome.code is not None and outcome.code < 0
                    else f"exited with {outcome.code}"
                )
                return f"{outcome.name} {how}{said}"
        return None


def _first_error(lines: list[str]) -> str:
    for line in lines:
        if "error" in line.lower() or "fatal" in line.lower():
            return line[:300]
    return lines[-1][:300]


OnStart = Callable[[int], None]


async def pipeline(
    commands: Sequence[Sequence[str]],
    *,
    limit: float,
    capture: bool = False,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    on_start: OnStart | None = None,
    user: str | None = None,
    on_line: Callable[[bytes], None] | None = None,
    memory: int | None = None,
) -> Run:
    """Run ``commands`` as ``a | b | c``: each one's stdout feeds the next one's stdin
    through a pipe between them (the data never passes through this process); the first
    reads nothing on stdin (tools are given their files as arguments). The last one's stdout
    is kept (a tail) when ``capture`` or ``on_line``, else discarded; ``on_line`` also sees
    it line by line. ``memory`` caps each tool's address space in bytes (where util-linux's
    ``prlimit`` is installed). ``user``: run as that account (``as_user``). Everything is
    killed after ``limit`` seconds or when the caller is cancelled."""
    capture = capture or on_line is not None
    cap = (
        ["prlimit", f"--as={memory}", "--"]
        if memory is not None and shutil.which("prlimit")
        else []
    )
    started = time.perf_counter()
    run = Run()
    processes: list[asyncio.subprocess.Process] = []
    readers: list[asyncio.Task[bytes]] = []
    previous_read: int | None = None
    try:
        for index, argv in enumerate(commands):
            last = index == len(commands) - 1
            read_end, write_end = (None, None) if last else os.pipe()
            if index == 0:
                source: Any = asyncio.subprocess.DEVNULL
            else:
                source = previous_read
            target: Any
            if last:
                target = asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL
            else:
                target = write_end
            try:
                if cap:
                    which(argv[0])  # prlimit would say it, less clearly
                process = await asyncio.create_subprocess_exec(
                    *as_user(user),
                    *cap,
                    *argv,
                    stdin=source,
                    stdout=target,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                )
            except FileNotFoundError:
                raise ToolMissing(
                    f"{argv[0]} is not installed (Debian package "
                    f"{PACKAGES.get(os.path.basename(argv[0]), argv[0])})"
                ) from None
            finally:
                # the child holds its own copies; ours must close, or the reader never
                # sees the end of its input
                if previous_read is not None:
                    os.close(previous_read)
                if write_end is not None:
                    os.close(write_end)
            previous_read = read_end
            processes.append(process)
            run.outcomes.append(Outcome(list(argv)))
            if on_start is not None:
                on_start(process.pid)
            assert process.stderr is not None
            readers.append(asyncio.create_task(_tail(process.stderr)))
        out_reader = (
            asyncio.create_task(_stdout(processes[-1].stdout, run, on_line))
            if capture and processes and processes[-1].stdout is not None
            else None
        )
        try:
            async with asyncio.timeout(limit):
                for process in processes:
                    await process.wait()
                if out_reader is not None:
                    run.stdout = await out_reader
        except TimeoutError:
            run.timed_out = True
    finally:
        if previous_read is not None:
            os.close(previous_read)
        running = [process.returncode is None for process in processes]
        for process in processes:
            if process.returncode is None:
                kill_session(process.pid)
        with contextlib.suppress(Exception):
            await asyncio.shield(_reap(processes))
        run.elapsed = time.perf_counter() - started
        for outcome, process, reader, killed in zip(
            run.outcomes, processes, readers, running, strict=False
        ):
            outcome.code = None if killed else process.returncode
            if reader.done() and not reader.cancelled():
                outcome.stderr = reader.result()
            else:
                reader.cancel()
    return run


async def run_tool(
    argv: Sequence[str],
    *,
    limit: float,
    capture: bool = True,
    env: dict[str, str] | None = None,
    on_start: OnStart | None = None,
    user: str | None = None,
) -> Run:
    """One tool, its stdout's tail captured."""
    return await pipeline(
        [argv], limit=limit, capture=capture, env=env, on_start=on_start, user=user
    )


async def _tail(stream: asyncio.StreamReader | None) -> bytes:
    """Read ``stream`` to its end, keeping the last ``TAIL`` bytes."""
    if stream is None:
        return b""
    kept = bytearray()
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return bytes(kept)
        kept += chunk
        if len(kept) > TAIL:
            del kept[: len(kept) - TAIL]


async def _stdout(
    stream: asyncio.StreamReader, run: Run, on_line: Callable[[bytes], None] | None
) -> bytes:
    """Read the last tool's stdout to its end: count it, keep its last ``TAIL`` bytes, and
    hand ``on_line`` each line (cut at ``MAX_LINE``)."""
    kept = bytearray()
    partial = bytearray()
    cutting = False
    while chunk := await stream.read(65536):
        run.stdout_bytes += len(chunk)
        kept += chunk
        if len(kept) > TAIL:
            del kept[: len(kept) - TAIL]
        if on_line is None:
            continue
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not cutting:
                room = MAX_LINE - len(partial)
                partial += piece[:room]
                cutting = len(piece) > room
            if end < 0:
                break
            on_line(bytes(partial))
            partial.clear()
            cutting = False
            start = end + 1
    if on_line is not None and partial:
        on_line(bytes(partial))
    return bytes(kept)


async def _reap(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            await asyncio.wait_for(process.wait(), 10.0)


def as_user(user: str | None) -> list[str]:
    """The prefix that runs a command as ``user`` (none for None): util-linux's
    ``setpriv``, which execs the command in its own place (same pid, so the ledger's pid is
    the tool's). Not ``user=`` of the subprocess call: uvloop's loop does not take it."""
    if user is None:
        return []
    import pwd

    account = pwd.getpwnam(user)  # its own group by number: Debian's nobody has no "nobody"
    return [
        which("setpriv"),
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--init-groups",
        "--",
    ]


def kill_session(pid: int) -> None:
    """SIGKILL the session (process group) ``pid`` leads, and ``pid`` itself."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if there
    is no such process (or only its zombie, which nobody has reaped): with the pid, it names
    one process even after pids wrap."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count after its end
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        if fields[0] in (b"Z", b"X"):
            return None
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(pid: int, started: int | None) -> bool:
    """Is process ``pid`` the one that started at ``started`` still running? A process whose
    start was never read (it had ended before it was recorded) is never taken for a live
    one: the pid may be another process's by now."""
    if started is None:
        return False
    return start_time(pid) == started
