"""Engines for SQLite and PostgreSQL, and how their errors read to a user.

SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout; SQLAlchemy issues the
``BEGIN`` itself (the driver's legacy transaction control is off) so that reads are real
transactions and writes take the write lock up front (``BEGIN IMMEDIATE``) instead of failing
with ``SQLITE_BUSY`` when a read transaction has to upgrade. Connections from
:func:`writing` carry that mark. PostgreSQL uses psycopg 3 with a connect timeout and
pre-ping, so a restarted server costs one failed batch, not a dead pool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

from watchkeeper.errors import StoreError

BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 120_000
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
_WRITE_OPTION = "watchkeeper_write"


class TransientStoreError(StoreError):
    """A write failed for a reason that passes (locked, connection lost): try again later."""


class StoreValueError(StoreError):
    """The store refused a value as written (PostgreSQL: text holding a NUL character): the
    caller's input, not the store, is at fault."""


class StoreMissingError(StoreError):
    """A reader found no store where the config points (no file, or no tables): ``wk up``
    has not run there yet, so there is nothing to read."""


class StoreClosedError(StoreError):
    """The Store was used after ``close()``: a shutdown-order bug, never worth a retry."""


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(f"cannot open store: '{_without_secrets(url)}' is not a URL") from exc


def display_url(url: URL) -> str:
    """The URL without driver and password: ``postgresql://app@db/app``, safe to print."""
    shown = url.set(drivername=url.get_backend_name())._replace(password=None)
    return shown.render_as_string(hide_password=False)


def create_engine(url: URL) -> sa.Engine:
    """An engine for a supported URL; SQLite parent directories are created."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        return _postgres_engine(url)
    raise StoreError(
        f"cannot open store {display_url(url)}: unsupported database "
        "(use sqlite:///path/to/file.db or postgresql://user@host/db)"
    )


def writing(engine: sa.Engine) -> sa.Engine:
    """The same engine and pool, marked so SQLite transactions begin IMMEDIATE."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def reading(engine: sa.Engine) -> sa.Engine:
    """The same engine and pool for reads that see one snapshot however many statements they
    take (raw results move between tiers while others read): SQLite's read transactions do
    already, PostgreSQL's at REPEATABLE READ (read-only, so they never fail to serialize)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ")
    return engine


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, None when it lives in memory."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser()


def size_bytes(engine: sa.Engine, url: URL) -> int | None:
    if engine.dialect.name == "sqlite":
        path = sqlite_path(url)
        if path is None:
            return None
        return sum(
            candidate.stat().st_size
            for candidate in (path, Path(f"{path}-wal"))
            if candidate.exists()
        )
    with engine.connect() as connection:
        size = connection.scalar(sa.text("SELECT pg_database_size(current_database())"))
    return int(size) if size is not None else None


def describe(exc: BaseException, url: URL | None = None) -> str:
    """One lower-case line saying what went wrong, without passwords."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    if " failed: " in line:  # psycopg: 'connection to server at "h", port 5432 failed: ...'
        line = line.rsplit(" failed: ", 1)[1]
    line = line.removeprefix("FATAL:").strip()
    if url is not None and url.password:
        line = line.replace(str(url.password), "***")
    return line[:1].lower() + line[1:]


def is_transient(exc: BaseException, engine: sa.Engine) -> bool:
    """Locked, busy, connection lost: errors a later retry can get past."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    dbapi = engine.dialect.loaded_dbapi
    return isinstance(exc, dbapi.OperationalError | dbapi.InterfaceError)


def _sqlite_engine(url: URL) -> sa.Engine:
    path = sqlite_path(url)
    arguments: dict[str, Any] = {"check_same_thread": False}
    if path is None:  # one connection holds the database: threads take turns with it
        engine = sa.create_engine(
            url, poolclass=QueuePool, pool_size=1, max_overflow=0, connect_args=arguments
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=os.fspath(path))
        engine = sa.create_engine(url, connect_args=arguments, pool_size=8)
    in_memory = path is None

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: URL) -> sa.Engine:
    if url.drivername != "postgresql+psycopg":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=8,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "watchkeeper",
            # a hung or partitioned server must not hold the writer or upkeep forever
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )


def _without_secrets(text: str) -> str:
    scheme, separator, rest = text.partition("://")
    if not separator or "@" not in rest:
        return text
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}"
