"""Is the restored data the data that was backed up? Each check is a line of evidence:

    tables      the tables the config names are there (a dump of the wrong database is not)
    rows        at least the rows the config names (a manifest written in the config)
    compare     row counts within ``tolerance`` of a reference: the last successful drill,
                the live source database, or ``<backup>.manifest.json`` beside the file
    verify      the user's queries: the first value must be true or a non-zero number
    amcheck     every B-tree index passes ``bt_index_check`` (PostgreSQL)

An empty restore (no tables, no keys) fails on its own: a backup that holds nothing restores
"successfully" and proves nothing.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from watchkeeper.backup.scratch import Inventory, Scratch, ScratchError
from watchkeeper.backup.settings import DrillSpec

MANIFEST_BYTES = 1024 * 1024


@dataclass(slots=True)
class Check:
    check: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class Verification:
    checks: list[Check] = field(default_factory=list)
    reference: dict[str, Any] | None = None
    """What the counts were held against: ``{"kind", "counts"}``."""

    @property
    def failures(self) -> list[str]:
        return [f"{c.check}: {c.detail}" for c in self.checks if not c.ok]

    def add(self, check: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(check, ok, detail))


def _name(table: str) -> str:
    return table[len("public.") :] if table.startswith("public.") else table


async def verify(
    scratch: Scratch,
    inventory: Inventory,
    spec: DrillSpec,
    *,
    deadline: float,
    previous: dict[str, int] | None,
    backup_path: str,
    indexes: Awaitable[tuple[int, list[str], str | None]] | None = None,
) -> Verification:
    """``indexes``: amcheck already under way (else it runs here, at the end)."""
    result = Verification()
    counts = {_name(k): v for k, v in inventory.counts.items()}
    noun = "keys" if scratch.engine == "redis" else "tables"
    if not counts or (scratch.engine == "redis" and sum(counts.values()) == 0):
        result.add("content", False, f"the restore holds no {noun}: the backup is empty")
    else:
        total = sum(counts.values())
        shown = f"{len(counts)} {'databases' if scratch.engine == 'redis' else 'tables'}"
        result.add("content", True, f"{shown}, {total:,} {'keys' if noun == 'keys' else 'rows'}")
    for table in spec.tables:
        wanted = _name(table)
        if wanted in counts:
            result.add("tables", True, f"{wanted} is there ({counts[wanted]:,} rows)")
        else:
            found = ", ".join(sorted(counts)[:8]) or "none"
            result.add("tables", False, f"table {wanted} is missing (found: {found})")
    for table, minimum in spec.rows.items():
        have = counts.get(_name(table))
        if have is None:
            result.add("rows", False, f"{table}: missing, at least {minimum:,} rows expected")
        elif have < minimum:
            result.add("rows", False, f"{table} has {have:,} rows, at least {minimum:,} expected")
        else:
            result.add("rows", True, f"{table} has {have:,} rows (at least {minimum:,})")
    reference = await _reference(scratch, spec, counts, deadline, previous, backup_path, result)
    if reference is not None:
        kind, expected = reference
        result.reference = {"kind": kind, "counts": expected}
        _compare(result, counts, expected, spec.tolerance, kind)
    for text in spec.verify:
        try:
            value = await scratch.query(text, deadline)
        except ScratchError as exc:
            result.add("verify", False, f"{text!r} failed: {exc}")
            continue
        result.add("verify", _truthy(value), f"{text!r} returned {_show(value)}")
    if indexes is None and spec.amcheck and scratch.engine == "postgres":
        indexes = scratch.amcheck(deadline)
    if indexes is not None:
        checked, problems, unavailable = await indexes
        if unavailable:
            result.add("amcheck", True, f"skipped: {unavailable}")
        elif problems:
            for problem in problems[:20]:
                result.add("amcheck", False, problem)
        else:
            result.add("amcheck", True, f"{checked} B-tree indexes checked, none corrupt")
    return result


async def _reference(
    scratch: Scratch,
    spec: DrillSpec,
    counts: dict[str, int],
    deadline: float,
    previous: dict[str, int] | None,
    backup_path: str,
    result: Verification,
) -> tuple[str, dict[str, int]] | None:
    if spec.compare == "none":
        return None
    if spec.compare == "previous":
        if not previous:
            result.add("compare", True, "first drill: its counts are the reference for the next")
            return None
        return "previous drill", {_name(k): int(v) for k, v in previous.items()}
    if spec.compare == "manifest":
        manifest = await read_manifest(backup_path)
        if isinstance(manifest, str):
            result.add("compare", False, manifest)
            return None
        return "manifest", manifest
    assert spec.source is not None
    try:
        live = await count_source(spec.source, sorted(counts), scratch.engine, deadline)
    except ScratchError as exc:
        result.add("compare", False, f"cannot read the source database: {exc}")
        return None
    return "source", live


def _compare(
    result: Verification,
    counts: dict[str, int],
    expected: dict[str, int],
    tolerance: float,
    kind: str,
) -> None:
    short = 0
    for table, reference in sorted(expected.items()):
        have = counts.get(table)
        if have is None:
            result.add("compare", False, f"{table} is missing; the {kind} has {reference:,} rows")
            short += 1
        elif have < reference * (1 - tolerance):
            fall = 1 - have / reference if reference else 1.0
            result.add(
                "compare",
                False,
                f"{table} has {have:,} rows, the {kind} {reference:,} "
                f"({fall:.0%} fewer; tolerance {tolerance:.0%})",
            )
            short += 1
    if not short:
        result.add(
            "compare",
            True,
            f"{len(expected)} tables within {tolerance:.0%} of the {kind}'s row counts",
        )


async def read_manifest(backup_path: str) -> dict[str, int] | str:
    """``<backup>.manifest.json``: ``{"tables": {"orders": 1234, ...}}``; a string says why
    it cannot be used. Read on the backups lane (a file on a hung mount hangs a thread, not
    the loop)."""
    from watchkeeper import lanes

    return await lanes.BACKUPS.run(_read_manifest, backup_path)


def _read_manifest(backup_path: str) -> dict[str, int] | str:
    """The manifest is as hostile as the backup beside it: only a regular file is read (a
    FIFO would block, a link to ``/dev/zero`` never end), at most ``MANIFEST_BYTES``."""
    path = f"{backup_path.rstrip('/')}.manifest.json"
    name = os.path.basename(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return f"no manifest: {name} is not beside the backup"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{name} is a symbolic link: the manifest must be a file of its own"
        return f"{name} cannot be read: {exc.strerror}"
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return f"{name} is not a regular file"
        raw = bytearray()
        while len(raw) <= MANIFEST_BYTES:
            chunk = os.read(descriptor, MANIFEST_BYTES + 1 - len(raw))
            if not chunk:
                break
            raw += chunk
    except OSError as exc:
        return f"{name} cannot be read: {exc.strerror}"
    finally:
        os.close(descriptor)
    if len(raw) > MANIFEST_BYTES:
        return f"{name} is larger than {MANIFEST_BYTES // 1024 // 1024} MiB"
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        return f"{name} cannot be read: its JSON is nested too deeply"
    except ValueError as exc:  # not UTF-8, not JSON
        return f"{name} cannot be read: {str(exc).splitlines()[0] if str(exc) else exc!r}"
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in tables.values()
    ):
        return f'{name} must hold {{"tables": {{"name": rows, ...}}}}'
    return {_name(str(k)): int(v) for k, v in tables.items()}


async def count_source(url: str, tables: list[str], engine: str, deadline: float) -> dict[str, int]:
    """Rows of ``tables`` in the live database at ``url``: exact counts, in a read-only
    transaction with a statement timeout (the source is only read)."""
    if engine == "postgres":
        return await _count_postgres(url, tables, deadline)
    if engine == "mariadb":
        from watchkeeper import lanes

        return await lanes.BACKUPS.run(_count_mariadb, url, tables, deadline)
    raise ScratchError("compare: source is for PostgreSQL and MariaDB backups")


async def _count_postgres(url: str, tables: list[str], deadline: float) -> dict[str, int]:
    import psycopg
    from psycopg import sql

    counts: dict[str, int] = {}
    try:
        connection = await psycopg.AsyncConnection.connect(
            url, connect_timeout=10, autocommit=True, application_name="watchkeeper-drill"
        )
    except psycopg.Error as exc:
        raise ScratchError(str(exc).strip().splitlines()[0]) from None
    async with connection:
        for table in tables:
            schema, _, name = table.rpartition(".")
            left = max(1, int((deadline - time.monotonic()) * 1000))
            try:
                async with connection.transaction():
                    await connection.execute("set transaction read only")
                    await connection.execute(f"set local statement_timeout = {left}")
                    cursor = await connection.execute(
                        sql.SQL("select count(*) from {}.{}").format(
                            sql.Identifier(schema or "public"), sql.Identifier(name)
                        )
                    )
                    row = await cursor.fetchone()
            except psycopg.errors.UndefinedTable:
                continue
            except psycopg.Error as exc:
                raise ScratchError(f"{table}: {str(exc).strip().splitlines()[0]}") from None
            counts[table] = int(row[0]) if row else 0
    return counts


def _count_mariadb(url: str, tables: list[str], deadline: float) -> dict[str, int]:
    from urllib.parse import unquote, urlsplit

    import pymysql

    parts = urlsplit(url)
    try:
        connection = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/") or None,
            connect_timeout=10,
            read_timeout=max(1, int(deadline - time.monotonic())),
        )
    except pymysql.MySQLError as exc:
        raise ScratchError(str(exc.args[-1]) if exc.args else str(exc)) from None
    counts: dict[str, int] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("set session transaction read only")
            for table in tables:
                try:
                    cursor.execute(f"select count(*) from `{table.replace('`', '``')}`")
                except pymysql.err.ProgrammingError:
                    continue
                row = cursor.fetchone()
                counts[table] = int(row[0]) if row else 0
    except pymysql.MySQLError as exc:
        raise ScratchError(str(exc.args[-1]) if exc.args else str(exc)) from None
    finally:
        connection.close()
    return counts


def _truthy(value: Any) -> bool:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "f", "false", "no", "off", "nil")
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, list | tuple | dict | set):
        return len(value) > 0
    return bool(value)


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
