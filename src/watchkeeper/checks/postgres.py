"""``postgres``: connect, time ``SELECT 1``, read what a DBA watches, optionally run a query.

    - {name: db, postgres: "postgresql://app@db/app"}
    - name: db-replica
      postgres: {dsn: "postgresql://monitor@replica/app", query: "select count(*) from jobs"}
      expect: ["pg.replication_lag < 30s", "pg.connections_used_pct < 80", "pg.value < 1000"]

Phases: ``connect`` (TCP, TLS and authentication), ``ttfb`` (``SELECT 1``). Facts: ``pg.version``,
``pg.connections``, ``pg.max_connections``, ``pg.connections_used_pct``, ``pg.in_recovery``,
``pg.replication_lag`` (on a replica: since the last replayed transaction), ``pg.database_size``
(bytes: what ``wk cost`` weighs the machine's memory against), ``pg.value`` (the
first column of the first row of ``query``) and ``pg.rows``. The query runs in a read-only
transaction with a statement timeout, so a probe can never change or lock anything.
Connection errors are one line (refused, authentication failed, database does not exist).
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType

if TYPE_CHECKING:  # psycopg is imported when used, not by loading a config
    import psycopg


class PostgresSettings(CheckSettings):
    shorthand_field = "dsn"

    dsn: str
    query: str | None = None

    def _parts(self) -> dict[str, Any]:
        import psycopg
        from psycopg import conninfo

        try:
            return dict(conninfo.conninfo_to_dict(self.dsn))
        except psycopg.ProgrammingError:
            return {}

    def host_key(self) -> str:
        parts = self._parts()
        return f"postgres:{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"

    def target(self) -> str:
        parts = self._parts()
        user = f"{parts['user']}@" if parts.get("user") else ""
        return (
            f"postgresql://{user}{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"
            f"/{parts.get('dbname', '')}"
        )


_FACTS = """
select current_setting('server_version'),
       (select count(*) from pg_stat_activity),
       current_setting('max_connections')::int,
       pg_is_in_recovery(),
       case when pg_is_in_recovery()
            then extract(epoch from now() - pg_last_xact_replay_timestamp()) end,
       pg_database_size(current_database())
"""


async def probe(settings: PostgresSettings, attempt: Attempt) -> None:
    import psycopg

    facts = attempt.observation.facts
    attempt.begin("connect")
    try:
        connection = await psycopg.AsyncConnection.connect(
            settings.dsn,
            connect_timeout=max(1, int(attempt.timeout)),
            autocommit=True,
            application_name="watchkeeper",
        )
    except psycopg.Error as exc:
        attempt.fail(describe(exc))
        return
    attempt.end("connect")
    try:
        attempt.begin("ttfb")
        await connection.execute("select 1")
        attempt.end("ttfb")
        row = await (await connection.execute(_FACTS)).fetchone()
        assert row is not None
        version, used, most, recovering, lag, size = row
        facts["pg.version"] = str(version)
        facts["pg.connections"] = int(used)
        facts["pg.max_connections"] = int(most)
        facts["pg.connections_used_pct"] = round(100.0 * int(used) / max(1, int(most)), 2)
        facts["pg.in_recovery"] = bool(recovering)
        facts["pg.database_size"] = int(size)
        if lag is not None:
            facts["pg.replication_lag"] = max(0.0, float(lag))
        if settings.query:
            await _query(connection, settings.query, attempt)
    except psycopg.Error as exc:
        attempt.fail(describe(exc))
    finally:
        with contextlib.suppress(psycopg.Error):
            await connection.close()


async def _query(connection: psycopg.AsyncConnection[Any], query: str, attempt: Attempt) -> None:
    milliseconds = max(100, int(attempt.timeout * 1000 * 0.8))
    started = time.perf_counter()
    async with connection.transaction():
        await connection.execute("set transaction read only")
        await connection.execute(f"set local statement_timeout = {milliseconds}")
        cursor = await connection.execute(query)
        rows = await cursor.fetchmany(1000) if cursor.description else []
    facts = attempt.observation.facts
    facts["pg.rows"] = len(rows)
    if rows:
        facts["pg.value"] = _plain(rows[0][0])
    facts["pg.query_time"] = time.perf_counter() - started


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    try:
        return float(value)  # Decimal and friends
    except (TypeError, ValueError):
        return str(value)


def describe(exc: psycopg.Error) -> str:
    """One line for the usual failures, without the DSN (it may hold a password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "password authentication failed" in lowered or "no pg_hba.conf entry" in lowered:
        return "authentication failed: " + text.split("FATAL:")[-1].strip()
    if "does not exist" in lowered and "database" in lowered:
        return "database " + text.split("database", 1)[1].strip()
    if "timeout expired" in lowered:
        return "timeout while connecting"
    if "statement timeout" in lowered or "canceling statement" in lowered:
        return "query cancelled: over the statement timeout"
    if "read-only transaction" in lowered:
        return "the query tried to write: probes run read-only"
    for marker in ("FATAL:", "ERROR:"):
        if marker in text:
            text = text.split(marker, 1)[1].strip()
    return text[:300]


CHECK = CheckKind(
    name="postgres",
    settings=PostgresSettings,
    subjects={
        "connect": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "pg.version": ValueType.TEXT,
        "pg.connections": ValueType.NUMBER,
        "pg.max_connections": ValueType.NUMBER,
        "pg.connections_used_pct": ValueType.NUMBER,
        "pg.in_recovery": ValueType.BOOL,
        "pg.database_size": ValueType.SIZE,
        "pg.replication_lag": ValueType.DURATION,
        "pg.value": ValueType.ANY,
        "pg.rows": ValueType.NUMBER,
        "pg.query_time": ValueType.DURATION,
    },
    probe=probe,
    runtime=("psycopg", "psycopg.conninfo"),
)
