"""Is a backup file whole, read with its own format's tools, without restoring it?

    pg_custom     pg_restore --list (its table of contents), then pg_restore -f /dev/null:
                  every data block read and decompressed (--list alone passes a dump cut
                  anywhere after its table of contents)
    pg_directory  the same, on the folder
    pg_tar        the same, and tar -t: pg_restore reads a tar cut in the middle of a table's
                  data as a shorter table and exits 0; tar says "Unexpected EOF", and a tar
                  cut between members lacks restore.sql, which pg_dump writes last
    pg_plain      the stream ends with "-- PostgreSQL database dump complete" (then, since
                  the August 2025 releases, a "\\unrestrict" line)
    mysql         the stream ends with "-- Dump completed" (mariadb-dump, mysqldump)
    redis         redis-check-rdb: every object, and the checksum
    gzip / zstd   whatever is inside: the decompressor's own test (gzip -t, zstd -t), or its
                  exit status while it feeds one of the above

A compressed dump is read through its decompressor, in a pipe: never unpacked to disk, and
never held in memory (of a plain dump only its last 4 KiB are kept). A tool that is not
installed, or too old for the dump (pg_restore 15 reading a dump of pg_dump 17), is a
warning: nothing is known to be wrong with the backup. An unrecognised file is a warning
too, unless the monitor declared its format (then the declared format's tool judges it).
S3 objects are not read here (``inspect`` says so).
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from watchkeeper import lanes
from watchkeeper.backup.files import BackupFile
from watchkeeper.backup.formats import Detected, decompressor
from watchkeeper.backup.tools import Outcome, Run, ToolMissing, pipeline
from watchkeeper.printable import one_line
from watchkeeper.units import format_duration, format_size

TAIL = 4096
"""Bytes at the end of a SQL dump where its completion footer must be."""
MAX_MEMORY = 4 * 1024**3
"""Address space each tool may take: a damaged dump may announce a block of any length."""

Evidence = dict[str, str | int | float]


@dataclass
class Sanity:
    ok: bool
    """No problem found (warnings do not count)."""
    problems: list[str] = field(default_factory=list)
    """Why the backup is bad, one line each."""
    evidence: Evidence = field(default_factory=dict)
    """What the tools said, in numbers and short texts (TOC entries, tables, keys...)."""
    warnings: list[str] = field(default_factory=list)
    """What could not be checked, or looks odd without being wrong."""
    checked: bool = True
    """False when no tool looked at the contents (an unknown format, a missing tool)."""
    retry: bool = False
    """The verdict is about this machine, not the file (a tool missing or too old): not
    worth caching, the next check may do better."""

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "evidence": dict(self.evidence),
        }


async def _run(
    commands: list[list[str]],
    seconds: float,
    *,
    on_line: Callable[[bytes], None] | None = None,
    capture: bool = False,
) -> Run:
    return await pipeline(
        commands, limit=seconds, on_line=on_line, capture=capture, memory=MAX_MEMORY
    )


def _last(run: Run) -> Outcome:
    return run.outcomes[-1]


def _said(outcome: Outcome, hide: str) -> str:
    """The first line a tool wrote to stderr (where tools say what went wrong first; later
    lines are consequences: "Error is not recoverable: exiting now"), visible and cut, without
    ``hide`` (the file's path, which the user knows)."""
    for line in outcome.stderr.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        line = line.replace(f"{hide}: ", "").replace(f'"{hide}"', "the file")
        shown, colon, rest = line.partition(" : ")  # zstd: "<name, maybe cut> : <what>"
        if colon and shown.strip() and hide.endswith(shown.strip()):
            line = rest
        return one_line(line)
    if outcome.code is not None and outcome.code < 0:
        return f"killed by signal {-outcome.code}"
    return f"exit code {outcome.code}"


class _Clock:
    """What is left of one timeout shared by several commands."""

    def __init__(self, total: float) -> None:
        self.total = total
        self._deadline = time.monotonic() + total

    def left(self) -> float:
        return max(0.001, self._deadline - time.monotonic())


class _Judge:
    """Collects problems, warnings and evidence for one file."""

    def __init__(self, file: BackupFile, detected: Detected) -> None:
        self.file = file
        self.detected = detected
        self.sanity = Sanity(ok=True)
        self.sanity.evidence["format"] = detected.format
        self.sanity.evidence["compression"] = detected.compression

    def said(self, ended: Outcome) -> str:
        """What a tool said went wrong, in one line, without the file's path."""
        return _said(ended, self.file.path)

    def problem(self, text: str) -> None:
        self.sanity.problems.append(text)
        self.sanity.ok = False

    def warn(self, text: str) -> None:
        self.sanity.warnings.append(text)

    def source(self) -> list[list[str]]:
        """The decompressor feeding the file's plain stream into the next command (none for
        an uncompressed file)."""
        command = decompressor(self.detected.compression)
        return [] if command is None else [[*command, "--", self.file.path]]

    def input(self, stdin: str | None) -> tuple[list[list[str]], list[str]]:
        """(commands before the tool, the arguments that make the tool read the file): the
        path, or ``stdin`` (``-``, ``/dev/stdin``, nothing) behind a decompressor."""
        source = self.source()
        if not source:
            return source, [self.file.path]
        return source, [stdin] if stdin else []

    def timed_out(self, outcome: Run, timeout: float) -> bool:
        if outcome.timed_out:
            self.warn(
                f"the format check of {format_size(self.file.size)} did not finish in "
                f"{format_duration(timeout)} (raise the monitor's timeout)"
            )
            self.sanity.checked = False
        return outcome.timed_out

    async def stream_whole(self, outcome: Run, seconds: float) -> bool:
        """Was the compressed stream in front of the tool (if any) whole? A decompressor
        stopped by SIGPIPE was cut off by the tool quitting: fine when the tool was done
        (``--list`` reads only the head), but when the tool failed, garbage from a damaged
        stream may be why (pg_restore then says "out of memory"), so the decompressor's own
        test decides whom to blame."""
        if len(outcome.outcomes) < 2:
            return True
        first = outcome.outcomes[0]
        if first.code == -signal.SIGPIPE:
            return _last(outcome).code == 0 or await self.integrity(seconds)
        return self.stream_ok(first)

    async def integrity(self, seconds: float) -> bool:
        """``gzip -t`` / ``zstd -t`` of the file; a problem when it fails."""
        command = self.detected.compression
        test = [command, "-tq" if command == "zstd" else "-t", "--", self.file.path]
        outcome = await _run([test], seconds)
        if self.timed_out(outcome, seconds):
            return False
        if self.stream_ok(_last(outcome)):
            self.sanity.evidence["integrity"] = f"{command} -t passed"
            return True
        return False

    def stream_ok(self, ended: Outcome) -> bool:
        """Judge a decompressor's exit: 0 is whole; gzip's 2 with "trailing garbage" is a
        whole stream with bytes after it (a warning); anything else a damaged stream."""
        if ended.code == 0:
            return True
        if ended.code == 2 and b"trailing garbage" in ended.stderr:
            self.warn(f"{ended.name}: {self.said(ended)}")
            return True
        self.problem(f"{self.detected.compression} stream is damaged: {self.said(ended)}")
        return False


async def check(
    file: BackupFile,
    detected: Detected,
    *,
    timeout: float,  # noqa: ASYNC109 - shared by the tools it runs, each killed at its end
) -> Sanity:
    """Judge ``file`` (a local path) as the format ``detected`` says it is. Never raises for
    what the file or a tool does: every outcome is in the Sanity."""
    judge = _Judge(file, detected)
    try:
        if detected.format == "file":
            judge.sanity.checked = False
        elif detected.format in ("pg_custom", "pg_tar", "pg_directory"):
            await _postgres(judge, timeout)
        elif detected.format == "pg_plain":
            await _footer(judge, _PG_FOOTER, "-- PostgreSQL database dump complete", timeout)
        elif detected.format == "mysql":
            await _footer(judge, _MYSQL_FOOTER, "-- Dump completed", timeout)
        elif detected.format == "redis":
            await _redis(judge, timeout)
        elif detected.compression != "none":
            judge.warn(f"format not recognised inside the {detected.compression} stream")
            await _compressed(judge, timeout)
        else:
            judge.warn("format not recognised (set format: to have it checked)")
            judge.sanity.checked = False
    except ToolMissing as exc:
        judge.warn(f"cannot check the format: {exc}")
        judge.sanity.checked = False
        judge.sanity.retry = True
    return judge.sanity


# -- PostgreSQL archives --------------------------------------------------------------------------
_TOC_ENTRY = re.compile(rb"^(\d+); \d+ \d+ (.+)$")
_HEADER = {
    b";     dbname: ": "dbname",
    b";     Dumped by pg_dump version: ": "pg_dump_version",
    b";     Dumped from database version: ": "server_version",
    b";     Dump Version: ": "archive_version",
    b";     Format: ": "archive_format",
    b";     Compression: ": "archive_compression",
    b";     TOC Entries: ": "toc_entries_declared",
}
_TOO_NEW = re.compile(r"unsupported version \(([\d.]+)\) in file header")


class _Toc:
    """Counts of a ``pg_restore --list`` output, read line by line."""

    def __init__(self) -> None:
        self.entries = 0
        self.tables = 0
        self.table_data = 0
        self.data_ids: list[int] = []
        self.header: dict[str, str] = {}

    def line(self, raw: bytes) -> None:
        if raw.startswith(b";"):
            for prefix, name in _HEADER.items():
                if raw.startswith(prefix):
                    self.header[name] = raw[len(prefix) :].decode("utf-8", "replace")[:200]
            return
        match = _TOC_ENTRY.match(raw)
        if match is None:
            return
        self.entries += 1
        rest = match.group(2)
        if rest.startswith(b"TABLE DATA "):
            self.table_data += 1
            if len(self.data_ids) < 100_000:
                self.data_ids.append(int(match.group(1)))
        elif rest.startswith(b"TABLE "):
            self.tables += 1


async def _postgres(judge: _Judge, seconds: float) -> None:
    clock = _Clock(seconds)
    source, path = judge.input(None)
    toc = _Toc()
    listed = await _run([*source, ["pg_restore", "--list", *path]], clock.left(), on_line=toc.line)
    if judge.timed_out(listed, seconds):
        return
    evidence = judge.sanity.evidence
    if _last(listed).code != 0:
        line = judge.said(_last(listed))
        too_new = _TOO_NEW.search(_last(listed).stderr.decode("utf-8", "replace"))
        if too_new:
            judge.warn(
                f"this pg_restore cannot read archive version {too_new.group(1)}: "
                "install the postgresql-client of the server's major version"
            )
            judge.sanity.checked = False
            judge.sanity.retry = True
            return
        if await judge.stream_whole(listed, clock.left()):
            judge.problem(f"pg_restore --list failed: {line}")
        return
    evidence.update(toc.header)
    evidence["entries"] = toc.entries
    evidence["tables"] = toc.tables
    evidence["table_data"] = toc.table_data
    if toc.tables == 0:
        judge.warn("the dump holds no table (an empty database, or the wrong one dumped?)")
    if judge.detected.format == "pg_tar":
        await _tar_members(judge, toc, clock)
        if not judge.sanity.ok or not judge.sanity.checked:
            return
    read = await _run([*source, ["pg_restore", "-f", "/dev/null", *path]], clock.left())
    if judge.timed_out(read, seconds):
        return
    if not await judge.stream_whole(read, clock.left()):
        return
    if _last(read).code != 0:
        judge.problem(f"pg_restore could not read the data: {judge.said(_last(read))}")


async def _tar_members(judge: _Judge, toc: _Toc, clock: _Clock) -> None:
    """tar -t over the archive: every member whole, restore.sql (written last) present, and a
    member for each TABLE DATA entry."""
    members: set[bytes] = set()
    count = [0]

    def member(raw: bytes) -> None:
        count[0] += 1
        if len(members) < 200_000:
            members.add(raw)

    source, path = judge.input("-")
    listed = await _run([*source, ["tar", "-tf", *path]], clock.left(), on_line=member)
    if judge.timed_out(listed, clock.total):
        return
    judge.sanity.evidence["tar_members"] = count[0]
    if not await judge.stream_whole(listed, clock.left()):
        return
    if _last(listed).code != 0:
        judge.problem(f"the tar archive is damaged: {judge.said(_last(listed))}")
        return
    missing = [n for n in toc.data_ids if f"{n}.dat".encode() not in members]
    if missing:
        judge.problem(
            f"truncated: {len(missing)} of {toc.table_data} tables' data missing from the tar "
            f"(first: {missing[0]}.dat)"
        )
    elif b"restore.sql" not in members:
        judge.problem("truncated: the tar has no restore.sql (pg_dump writes it last)")


# -- SQL dumps: the footer ------------------------------------------------------------------------
_PG_FOOTER = re.compile(
    rb"\n-- PostgreSQL database dump complete\n--\n(?:\s*\\unrestrict [^\n]*\n)?\s*\Z"
)
_MYSQL_FOOTER = re.compile(rb"\n-- Dump completed(?: on [^\n]*)?\n\s*\Z")


async def _footer(judge: _Judge, footer: re.Pattern[bytes], words: str, seconds: float) -> None:
    """The last TAIL bytes of the plain stream end with the dump's completion footer."""
    source = judge.source()
    if source:
        outcome = await _run(source, seconds, capture=True)
        if judge.timed_out(outcome, seconds):
            return
        judge.sanity.evidence["uncompressed"] = outcome.stdout_bytes
        if not judge.stream_ok(_last(outcome)):
            return
        ending, total = outcome.stdout[-TAIL:], outcome.stdout_bytes
    else:
        ending = await lanes.BACKUPS.run(_read_tail, judge.file.path, TAIL)
        total = judge.file.size
    if footer.search(b"\n" + ending) is None:
        judge.problem(
            f"truncated: no completion footer ('{words}') at the end of {format_size(total)} of SQL"
        )
        return
    judge.sanity.evidence["footer"] = words


def _read_tail(path: str, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read(size)


# -- Redis ----------------------------------------------------------------------------------------
_RDB_INFO = re.compile(rb"^\[info\] (\d+) (keys read|expires|already expired)$")
_RDB_AUX = re.compile(rb"^\[offset \d+\] AUX FIELD redis-ver = '([^']{1,40})'$")
_RDB_TOO_NEW = re.compile(r"Can't handle RDB format version (\d+)")


class _RdbReport:
    """What redis-check-rdb printed, read line by line."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.error = ""
        self.after_error = False
        self.looks_ok = False

    def line(self, raw: bytes) -> None:
        info = _RDB_INFO.match(raw)
        if info:
            name = {b"keys read": "keys", b"expires": "expires"}.get(info.group(2), "expired")
            self.evidence[name] = int(info.group(1))
        elif (aux := _RDB_AUX.match(raw)) is not None:
            self.evidence["redis_version"] = aux.group(1).decode("ascii", "replace")
        elif raw.startswith(b"--- RDB ERROR DETECTED ---"):
            self.after_error = True
        elif self.after_error and not self.error and raw.startswith(b"[offset"):
            self.error = one_line(raw.decode("utf-8", "replace"))
        elif b"RDB looks OK" in raw:
            self.looks_ok = True


async def _redis(judge: _Judge, seconds: float) -> None:
    report = _RdbReport(judge.sanity.evidence)
    source, path = judge.input("/dev/stdin")
    outcome = await _run([*source, ["redis-check-rdb", *path]], seconds, on_line=report.line)
    if judge.timed_out(outcome, seconds):
        return
    said = _last(outcome).stderr + b"\n" + outcome.stdout
    too_new = _RDB_TOO_NEW.search(said.decode("utf-8", "replace"))
    if too_new:
        judge.warn(
            f"this redis-check-rdb cannot read RDB version {too_new.group(1)}: "
            "install the redis-tools of the server's version"
        )
        judge.sanity.checked = False
        judge.sanity.retry = True
        return
    if not await judge.stream_whole(outcome, seconds):
        return
    if _last(outcome).code != 0 or report.error or not report.looks_ok:
        reason = report.error or judge.said(_last(outcome))
        judge.problem(f"redis-check-rdb found the RDB damaged: {reason}")


# -- anything compressed --------------------------------------------------------------------------
async def _compressed(judge: _Judge, seconds: float) -> None:
    await judge.integrity(seconds)
