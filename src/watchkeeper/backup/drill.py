"""A restore drill: take the newest backup, restore it into a scratch target made for the
purpose, prove the data is there, and remove the target — always, also when the restore
fails, the drill times out or is cancelled.

    1. pick the newest backup (or the one given) and read its format
    2. check the free space (local targets) and make the scratch target (ledger first)
    3. restore it with its format's tools, timed: that time is the RTO
    4. verify (``verify.py``): content, tables, rows, counts against a reference, the
       user's queries, amcheck
    5. drop the target and forget the ledger entry

The record (``DrillRecord``) is the evidence an auditor asks for: which file, how old it was
when restored (the RPO), how long the restore took (the RTO), each check with its detail,
the step timings and a log. Objectives (``rto:``, ``rpo:``) that are missed are warnings:
the restore works, but not within what was promised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from watchkeeper.backup import ledger, tools
from watchkeeper.backup.formats import Detected, detect
from watchkeeper.backup.scratch import Scratch, ScratchError
from watchkeeper.backup.settings import BackupSpec, DrillSpec
from watchkeeper.printable import visible
from watchkeeper.units import format_duration, format_size

log = logging.getLogger("watchkeeper.backup")

LOG_LINES = 200

_QUOTES_DATA = re.compile(r"^(DETAIL|CONTEXT|LINE \d+|HINT|QUERY|\s*\^)[: ]")
"""Lines of psql's and pg_restore's errors that quote the data (a row of COPY, a key's
value): kept out of the record, which readers of the dashboard and API see."""
CLEANUP_TIMEOUT = 60.0


class BackupLike(Protocol):
    """What a drill reads of a backup (``files.BackupFile`` is one)."""

    @property
    def path(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime(self) -> float: ...


@dataclass(slots=True)
class DrillRecord:
    """One drill, as kept in the store (``as_json``) and shown by ``wk drill``."""

    monitor: str
    id: str
    started_at: float
    ok: bool = False
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    backup: dict[str, Any] | None = None
    target: str = ""
    rto: float | None = None
    """Seconds the restore took (decompression included), when it finished."""
    rpo: float | None = None
    """The backup's age, in seconds, when the restore began."""
    objectives: dict[str, float | None] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[str, Any] | None = None
    log: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        line = visible(line)  # file and table names, tool output: never a terminal command
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        if len(self.log) < LOG_LINES:
            self.log.append(f"{stamp} {line}")
        elif len(self.log) == LOG_LINES:
            self.log.append(f"{stamp} (log cut at {LOG_LINES} lines)")

    def fail(self, reason: str) -> None:
        reason = visible(reason)
        self.failures.append(reason)
        self.note(f"FAILED: {reason}")

    def scrub(self, secrets: list[str]) -> None:
        """Replace each of ``secrets`` wherever the record quotes it."""
        if not secrets:
            return

        def clean(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, "***")
            return text

        self.failures = [clean(t) for t in self.failures]
        self.warnings = [clean(t) for t in self.warnings]
        self.log = [clean(t) for t in self.log]
        self.target = clean(self.target)
        for check in self.checks:
            check["detail"] = clean(str(check.get("detail", "")))

    @property
    def reason(self) -> str | None:
        if self.failures:
            return self.failures[0]
        return "; ".join(self.warnings) or None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "drill",
            "monitor": self.monitor,
            "id": self.id,
            "started_at": self.started_at,
            "ok": self.ok,
            "failures": self.failures,
            "warnings": self.warnings,
            "backup": self.backup,
            "target": self.target,
            "rto_s": None if self.rto is None else round(self.rto, 3),
            "rpo_s": None if self.rpo is None else round(self.rpo, 3),
            "objectives": self.objectives,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "counts": self.counts,
            "checks": self.checks,
            "reference": self.reference,
            "log": self.log,
        }


async def drill(
    monitor: str,
    spec: BackupSpec,
    *,
    file: BackupLike | None = None,
    previous: dict[str, int] | None = None,
    limit: float | None = None,
) -> DrillRecord:
    """Run one drill of ``monitor``'s backup; never raises for anything a backup, a tool or
    a server can do (the record says what went wrong). ``limit``: seconds, instead of the
    drill's ``timeout``."""
    plan = spec.drill or DrillSpec()
    try:
        entry = await ledger.open_entry_async(monitor)
    except OSError as exc:  # nothing made yet: nothing to clean
        record = DrillRecord(monitor=monitor, id="", started_at=time.time())
        record.fail(f"cannot write the drill ledger in {ledger.folder()}: {exc.strerror}")
        return record
    record = DrillRecord(monitor=monitor, id=entry.id, started_at=time.time())
    record.objectives = {"rto_s": plan.rto, "rpo_s": plan.rpo}
    limit = limit if limit is not None else plan.timeout
    began = time.monotonic()
    deadline = began + limit
    scratch: Scratch | None = None
    try:
        async with asyncio.timeout(limit):
            scratch = await _run(record, spec, plan, entry, file, previous, deadline)
    except TimeoutError:
        record.fail(f"the drill took longer than its timeout ({format_duration(limit)})")
    except tools.ToolMissing as exc:
        record.fail(str(exc))
    except ScratchError as exc:
        record.fail(str(exc))
    except (OSError, ValueError) as exc:  # a file that vanished, a folder not writable...
        record.fail(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug: the drill fails with it, the scratch still goes
        log.exception("drill %s of %s", record.id, monitor)
        record.fail(f"internal error ({type(exc).__name__}: {exc}); see the log")
    finally:
        cleanup_started = time.monotonic()
        holder = _Holder(scratch)
        await asyncio.shield(_clean(record, entry, holder))
        record.timings["cleanup"] = time.monotonic() - cleanup_started
        record.timings["total"] = time.monotonic() - began
    _objectives(record, plan)
    record.ok = not record.failures
    record.note("drill passed" if record.ok else "drill failed")
    record.scrub(_secrets(plan, scratch or _CURRENT.get(entry.id)))
    return record


def _secrets(plan: DrillSpec, scratch: Scratch | None) -> list[str]:
    """Passwords a record must never show: of ``into`` and ``source``, and the drill's own
    user's (a tool or server may quote a connection string in an error)."""
    found: list[str] = []
    for url in (plan.into, plan.source):
        if url and "://" in url:
            from urllib.parse import unquote, urlsplit

            with contextlib.suppress(ValueError):
                password = urlsplit(url).password
                if password:
                    found += [password, unquote(password)]
    own = getattr(scratch, "role_password", None)
    if isinstance(own, str):
        found.append(own)
    return [s for s in found if s]


@dataclass(slots=True)
class _Holder:
    scratch: Scratch | None


_CURRENT: dict[str, Scratch] = {}
"""The scratch target each running drill made (by drill id), for clean-up after a
cancellation that came before ``_run`` could return it."""


async def _run(
    record: DrillRecord,
    spec: BackupSpec,
    plan: DrillSpec,
    entry: ledger.Entry,
    file: BackupLike | None,
    previous: dict[str, int] | None,
    deadline: float,
) -> Scratch | None:
    step = time.monotonic()
    if file is None:
        file = await newest(spec)
        if file is None:
            record.fail(f"no backup found in {spec.target()}")
            return None
    detected = await detect(file.path, spec.format)
    age = max(0.0, time.time() - file.mtime)
    record.backup = {
        "name": file.name,
        "path": file.path,
        "size": file.size,
        "mtime": file.mtime,
        "format": detected.format,
        "compression": detected.compression,
    }
    record.note(
        f"backup {file.name}: {detected.describe()}, {format_size(file.size)}, "
        f"{format_duration(age)} old"
    )
    record.timings["pick"] = time.monotonic() - step
    if detected.format in CHECKED_FIRST:
        step = time.monotonic()
        verdict = await _format_check(file, detected, deadline)
        record.timings["format"] = time.monotonic() - step
        if verdict is not None:
            record.fail(f"format: {verdict}")
            return None
        record.note(f"format checked in {format_duration(record.timings['format'])}")
    workdir = plan.workdir or tempfile.gettempdir()
    scratch = make_scratch(entry, plan, detected, workdir)
    _CURRENT[entry.id] = scratch
    record.target = scratch.label
    if scratch.local and plan.space > 0:
        from watchkeeper import lanes

        free = (await lanes.BACKUPS.run(shutil.disk_usage, workdir)).free
        needed = int(file.size * plan.space)
        if free < needed:
            record.fail(
                f"not enough space in {workdir}: {format_size(free)} free, the restore "
                f"needs about {format_size(needed)} ({plan.space:g} x the backup)"
            )
            return scratch
    step = time.monotonic()
    await scratch.create(deadline)
    record.timings["create"] = time.monotonic() - step
    record.note(f"created {scratch.label} in {record.timings['create']:.1f}s")
    record.rpo = max(0.0, time.time() - file.mtime)
    step = time.monotonic()
    restored = await scratch.restore(
        file.path, detected, jobs=plan.jobs, limit=max(1.0, deadline - step)
    )
    record.timings["restore"] = time.monotonic() - step
    for line in restored.notes:
        record.note(line)
    failure = restored.run.failure()
    if failure is not None:
        for outcome in restored.run.outcomes:
            for line in outcome.last_lines(10):
                if not _QUOTES_DATA.match(line):
                    record.note(f"{outcome.name}: {line}")
        record.fail(f"restore failed: {failure}")
        return scratch
    record.rto = record.timings["restore"]
    record.note(f"restored in {record.rto:.1f}s")
    step = time.monotonic()
    # amcheck reads the indexes while the counts read the tables: one pass of each, side by
    # side, on their own connections (the verification is most of a drill's own cost)
    indexes = (
        asyncio.ensure_future(scratch.amcheck(deadline))
        if plan.amcheck and scratch.engine == "postgres"
        else None
    )
    try:
        inventory = await scratch.inventory(deadline)
    except BaseException:
        if indexes is not None:
            indexes.cancel()
            await asyncio.gather(indexes, return_exceptions=True)
        raise
    record.counts = dict(inventory.counts)
    if inventory.uncounted:
        record.note(f"{inventory.uncounted} tables past the first 2000 were not counted")
    from watchkeeper.backup.verify import verify

    try:
        verification = await verify(
            scratch,
            inventory,
            plan,
            deadline=deadline,
            previous=previous,
            backup_path=file.path,
            indexes=indexes,
        )
    finally:
        if indexes is not None and not indexes.done():
            indexes.cancel()
            await asyncio.gather(indexes, return_exceptions=True)
    record.timings["verify"] = time.monotonic() - step
    record.checks = [check.as_json() for check in verification.checks]
    record.reference = verification.reference
    for check in verification.checks:
        record.note(f"{'ok' if check.ok else 'FAILED'} {check.check}: {check.detail}")
    record.failures.extend(verification.failures)
    return scratch


CHECKED_FIRST = frozenset({"pg_plain", "mysql", "pg_tar"})
"""Formats whose restore can end well on a file cut short (psql and mariadb stop at the
end of the input, pg_restore reads a tar cut mid-table as a shorter table): their format
check (the completion footer, tar's own listing) runs first. A custom or directory dump
needs none: pg_restore --exit-on-error fails on every damaged block it reads."""


async def _format_check(file: BackupLike, detected: Detected, deadline: float) -> str | None:
    """Why the format check fails ``file``, or None."""
    from watchkeeper.backup.files import BackupFile
    from watchkeeper.backup.sanity import check

    backup = BackupFile(path=file.path, name=file.name, size=file.size, mtime=file.mtime)
    sanity = await check(backup, detected, timeout=max(1.0, deadline - time.monotonic()))
    return sanity.problems[0] if sanity.problems else None


async def _clean(record: DrillRecord, entry: ledger.Entry, holder: _Holder) -> None:
    """Remove what the drill made, each step on its own (one that fails does not keep the
    others from running): the scratch target, then any process the ledger lists still
    running, then its folders. Anything left keeps the ledger entry for the next sweep."""
    scratch = holder.scratch or _CURRENT.get(entry.id)
    _CURRENT.pop(entry.id, None)
    problems: list[str] = []
    started = time.monotonic()
    if scratch is not None:
        try:
            async with asyncio.timeout(CLEANUP_TIMEOUT):
                await scratch.drop()
            record.note(f"removed {scratch.label}")
        except Exception as exc:
            problems.append(str(exc) or type(exc).__name__)
    for pid, began in entry.processes:
        if tools.alive(pid, began):
            tools.kill_session(pid)
    for path in entry.folders:
        try:
            left = max(1.0, CLEANUP_TIMEOUT - (time.monotonic() - started))
            async with asyncio.timeout(left):
                await ledger.remove_tree(path)
        except Exception as exc:
            problems.append(f"{path}: {str(exc) or type(exc).__name__}")
    if not problems:
        entry.close()
        return
    said = "; ".join(problems)
    log.warning("drill %s of %s: clean-up incomplete: %s", entry.id, entry.monitor, said)
    record.warnings.append(f"clean-up incomplete ({said}); the next start removes it")
    record.note(f"clean-up incomplete: {said}")


def _objectives(record: DrillRecord, plan: DrillSpec) -> None:
    if record.failures:
        return
    if plan.rto is not None and record.rto is not None and record.rto > plan.rto:
        record.warnings.append(
            f"restore took {format_duration(record.rto)}, above the RTO of "
            f"{format_duration(plan.rto)}"
        )
    if plan.rpo is not None and record.rpo is not None and record.rpo > plan.rpo:
        record.warnings.append(
            f"the restored backup was {format_duration(record.rpo)} old, above the RPO of "
            f"{format_duration(plan.rpo)}"
        )


def make_scratch(entry: ledger.Entry, plan: DrillSpec, detected: Detected, workdir: str) -> Scratch:
    """The scratch target ``plan.into`` asks for, fit for the ``detected`` format."""
    into = plan.into
    fmt = detected.format
    if fmt in ("unknown", "file"):
        raise ScratchError(
            "the backup's format is not recognised: set format: (pg_custom, pg_plain, "
            "mysql, redis...) on the monitor"
        )
    if into == "auto":
        if detected.postgres:
            into = "cluster"
        elif fmt == "redis":
            into = "redis"
        else:
            raise ScratchError(
                "a MariaDB dump is restored into a server: set drill: {into: mysql://root@host}"
            )
    if into == "cluster" or into.startswith(("postgresql://", "postgres://")):
        if not detected.postgres:
            raise ScratchError(f"a {detected.describe()} cannot be restored into PostgreSQL")
        from watchkeeper.backup.scratch_postgres import PostgresCluster, PostgresDatabase

        if into == "cluster":
            return PostgresCluster(entry, workdir, isolate=plan.isolate)
        return PostgresDatabase(entry, workdir, into, isolate=plan.isolate)
    if into.startswith(("mysql://", "mariadb://")):
        if fmt != "mysql":
            raise ScratchError(f"a {detected.describe()} cannot be restored into MariaDB")
        from watchkeeper.backup.scratch_mariadb import MariadbDatabase

        return MariadbDatabase(entry, workdir, into, isolate=plan.isolate)
    if fmt != "redis":
        raise ScratchError(f"a {detected.describe()} cannot be loaded by redis-server")
    from watchkeeper.backup.scratch_redis import RedisServer

    return RedisServer(entry, workdir)


async def newest(spec: BackupSpec) -> BackupLike | None:
    """The newest backup the monitor sees (local files only: drills read the file)."""
    if spec.s3 is not None:
        raise ScratchError("drills restore local files: copy S3 backups to a folder first")
    from watchkeeper.backup.files import list_backups

    found = await list_backups(spec)
    return found[0] if found else None


async def sweep(servers: dict[str, str]) -> list[str]:
    """Remove what drills killed mid-way left behind (see ``ledger``). ``servers`` maps a
    scratch server's ``host:port`` to its URL (from the config's drills), so a scratch
    database there can be dropped; one elsewhere is kept for a later sweep."""

    async def drop(entry: ledger.Entry) -> bool:
        database = entry.database or {}
        server = database.get("server", "")
        name = database.get("name", "")
        if database.get("engine") == "postgres-cluster":
            return True  # inside the cluster's folder, removed with it
        url = servers.get(server)
        if url is None or not name:
            return False
        if database.get("engine") == "postgres":
            from watchkeeper.backup.scratch_postgres import PostgresDatabase, drop_marked

            return await drop_marked(PostgresDatabase(entry, "", url), name, entry)
        from watchkeeper import lanes
        from watchkeeper.backup.scratch_mariadb import MariadbDatabase
        from watchkeeper.backup.scratch_mariadb import drop_marked as drop_mariadb

        target = MariadbDatabase(entry, "", url)
        return await lanes.BACKUPS.run(drop_mariadb, target, name, entry.id)

    return await ledger.sweep(drop)


def scratch_servers(specs: list[DrillSpec]) -> dict[str, str]:
    """``host:port`` → URL of every scratch server the drills in ``specs`` name."""
    servers: dict[str, str] = {}
    for plan in specs:
        into = plan.into
        if into.startswith(("postgresql://", "postgres://")):
            from psycopg import conninfo

            parts = conninfo.conninfo_to_dict(into)
            servers[f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"] = into
        elif into.startswith(("mysql://", "mariadb://")):
            from urllib.parse import urlsplit

            split = urlsplit(into)
            servers[f"{split.hostname or '127.0.0.1'}:{split.port or 3306}"] = into
    return servers
