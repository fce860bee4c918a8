"""``mysql``: MariaDB or MySQL — connect, time ``SELECT 1``, read connections and replica lag,
optionally run a query.

    - {name: shop-db, mysql: "mysql://monitor:${DB_PASSWORD}@db:3306/shop"}
    - name: replica
      mysql: {url: "mysql://monitor@replica/shop", query: "select count(*) from orders"}
      expect: ["mysql.replication_lag < 30s", "mysql.connections_used_pct < 80"]

PyMySQL is a blocking driver: each probe runs in a worker thread (the event loop never waits
on it), with connect, read and write timeouts set from the monitor's timeout. Facts:
``mysql.version``, ``mysql.connections``, ``mysql.max_connections``,
``mysql.connections_used_pct``, ``mysql.replica`` (is one), ``mysql.replica_running`` (its
IO and SQL threads both run), ``mysql.replication_lag`` (absent while it is not replicating),
``mysql.value``, ``mysql.rows``.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pydantic import field_validator

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.lanes import CHECKS, Busy

if TYPE_CHECKING:  # PyMySQL is imported by the first probe, not by loading a config
    import pymysql


class MysqlSettings(CheckSettings):
    shorthand_field = "url"

    url: str
    query: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mysql", "mariadb") or not parts.hostname:
            raise ValueError(f"'{value}' is not a mysql://user@host/db URL")
        return value

    def _parts(self) -> tuple[str, int, str, str, str]:
        parts = urlsplit(self.url)
        return (
            parts.hostname or "localhost",
            parts.port or 3306,
            unquote(parts.username or "root"),
            unquote(parts.password or ""),
            parts.path.lstrip("/"),
        )

    def host_key(self) -> str:
        host, port, *_ = self._parts()
        return f"mysql:{host}:{port}"

    def target(self) -> str:
        host, port, user, _, database = self._parts()
        return f"mysql://{user}@{host}:{port}/{database}"


async def probe(settings: MysqlSettings, attempt: Attempt) -> None:
    # one thread per monitor at most: a server that trickles bytes past every read timeout
    # keeps its thread after the check's deadline, and must not take another each interval
    try:
        await CHECKS.run_one(("mysql", attempt.monitor), _probe, settings, attempt)
    except Busy:
        attempt.fail("the previous check's connection is still stuck (the server trickles)")


def _probe(settings: MysqlSettings, attempt: Attempt) -> None:
    import pymysql

    host, port, user, password, database = settings._parts()
    wait = max(1, int(attempt.timeout))
    facts = attempt.observation.facts
    attempt.begin("connect")
    try:
        connection = pymysql.connect(
            host=host,
            port=port,
            user=user,
            password=password,
            database=database or None,
            connect_timeout=wait,
            read_timeout=wait,
            write_timeout=wait,
            autocommit=True,
        )
    except pymysql.Error as exc:
        attempt.fail(describe(exc))
        return
    except (IndexError, ValueError, struct.error, UnicodeDecodeError):
        # the driver parses the greeting without checking it: a peer that is no MySQL server
        # (or a hostile one) makes it raise anything
        attempt.fail("not a MySQL server: its greeting does not parse")
        return
    attempt.end("connect")
    try:
        with connection.cursor() as cursor:
            attempt.begin("ttfb")
            cursor.execute("select 1")
            cursor.fetchall()
            attempt.end("ttfb")
            cursor.execute(
                "select version(), @@max_connections, "
                "(select variable_value from information_schema.global_status "
                " where variable_name = 'Threads_connected')"
            )
            version, most, used = cursor.fetchone()
            facts["mysql.version"] = str(version)
            facts["mysql.max_connections"] = int(most)
            facts["mysql.connections"] = int(used)
            facts["mysql.connections_used_pct"] = round(100.0 * int(used) / max(1, int(most)), 2)
            facts["mysql.replica"] = False
            try:
                cursor.execute("show replica status")
            except pymysql.Error:
                cursor.execute("show slave status")  # MySQL before 8.0.22
            status = cursor.fetchone()
            if status is not None and cursor.description is not None:
                row = dict(zip([d[0] for d in cursor.description], status, strict=True))
                facts["mysql.replica"] = True
                behind = row.get("Seconds_Behind_Source", row.get("Seconds_Behind_Master"))
                if behind is not None:
                    facts["mysql.replication_lag"] = float(behind)
                io = row.get("Replica_IO_Running", row.get("Slave_IO_Running"))
                sql = row.get("Replica_SQL_Running", row.get("Slave_SQL_Running"))
                facts["mysql.replica_running"] = io == "Yes" and sql == "Yes"
            if settings.query:
                started = time.perf_counter()
                cursor.execute("set session transaction read only")
                cursor.execute(settings.query)
                rows = cursor.fetchmany(1000) if cursor.description else ()
                facts["mysql.rows"] = len(rows)
                if rows:
                    facts["mysql.value"] = _plain(rows[0][0])
                facts["mysql.query_time"] = time.perf_counter() - started
    except pymysql.Error as exc:
        attempt.fail(describe(exc))
    finally:
        connection.close()


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def describe(exc: pymysql.Error) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    code = args[0] if args and isinstance(args[0], int) else None
    message = str(args[1]) if len(args) > 1 else str(exc)
    if code == 2003:
        return "connection refused" if "refused" in message.lower() else "cannot connect"
    if code == 1045:
        return "authentication failed (access denied)"
    if code == 1049:
        name = message.split("'")[1] if message.count("'") >= 2 else message
        return f"database does not exist ({name})"
    if code == 1792:
        return "the query tried to write: probes run read-only"
    return message.splitlines()[0][:300] if message else type(exc).__name__


CHECK = CheckKind(
    name="mysql",
    settings=MysqlSettings,
    subjects={
        "connect": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "mysql.version": ValueType.TEXT,
        "mysql.connections": ValueType.NUMBER,
        "mysql.max_connections": ValueType.NUMBER,
        "mysql.connections_used_pct": ValueType.NUMBER,
        "mysql.replica": ValueType.BOOL,
        "mysql.replication_lag": ValueType.DURATION,
        "mysql.replica_running": ValueType.BOOL,
        "mysql.value": ValueType.ANY,
        "mysql.rows": ValueType.NUMBER,
        "mysql.query_time": ValueType.DURATION,
    },
    probe=probe,
    runtime=("pymysql",),
)
