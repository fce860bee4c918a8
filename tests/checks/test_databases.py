"""postgres, mysql and redis checks against the machine's servers (healthy paths), and against
private throw-away servers killed mid-test (failure paths), once through ``wk up``'s engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
import redis
from tests.helpers import faults
from tests.helpers.mariadb import PrivateMariadb
from tests.helpers.postgres import PrivatePostgres
from tests.helpers.redis_server import PrivateRedis
from tests.helpers.servers import RawServer
from tests.helpers.site import Site

from watchkeeper import lanes
from watchkeeper.model import Result, State

Check = Callable[[str], Awaitable[Result]]
MACHINE_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
MACHINE_MYSQL = "mysql://root@127.0.0.1:3306/test"
MACHINE_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis("--maxmemory", "64mb").start()
    try:
        yield server
    finally:
        server.destroy()


# -- postgres --------------------------------------------------------------------------------
async def test_postgres_reports_latency_connections_and_the_value_of_a_query(
    check: Check,
) -> None:
    with psycopg.connect(MACHINE_PG, autocommit=True) as db:
        most = int(db.execute("show max_connections").fetchone()[0])  # type: ignore[index]
        version = db.execute("show server_version").fetchone()[0]  # type: ignore[index]
    result = await check(f"""
        monitors:
          - name: db
            postgres: {{dsn: "{MACHINE_PG}", query: "select 41 + 1"}}
            expect: ["pg.value == 42", "pg.connections_used_pct < 90", "ttfb < 2s",
                     "pg.in_recovery == false"]
        """)
    assert result.ok, result.reason
    assert result.phases.connect is not None and result.phases.connect > 0
    assert result.phases.ttfb is not None and result.phases.ttfb > 0
    facts = result.metrics
    assert facts["pg.max_connections"] == most
    assert 1 <= facts["pg.connections"] <= most
    assert facts["pg.value"] == 42
    assert version  # the version is a fact too, but text: not a series
    assert "pg.version" not in facts


async def test_postgres_says_which_expectation_failed_with_the_observed_value(
    check: Check,
) -> None:
    result = await check(f"""
        monitors:
          - name: db
            postgres: {{dsn: "{MACHINE_PG}", query: "select count(*) from pg_database"}}
            expect: ["pg.value > 100000"]
        """)
    assert not result.ok
    assert result.error is None
    assert len(result.failures) == 1 and "pg.value" in result.failures[0]


async def test_postgres_probes_run_read_only(check: Check) -> None:
    with psycopg.connect(MACHINE_PG, autocommit=True) as db:
        db.execute("create table if not exists wk_probe_guard (n int)")
    try:
        result = await check(f"""
            monitors:
              - name: db
                postgres: {{dsn: "{MACHINE_PG}", query: "insert into wk_probe_guard values (1)"}}
            """)
        assert not result.ok
        assert result.error == "the query tried to write: probes run read-only"
        with psycopg.connect(MACHINE_PG, autocommit=True) as db:
            count = db.execute("select count(*) from wk_probe_guard").fetchone()
        assert count == (0,)
    finally:
        with psycopg.connect(MACHINE_PG, autocommit=True) as db:
            db.execute("drop table if exists wk_probe_guard")


async def test_postgres_errors_are_one_line_without_the_password(check: Check) -> None:
    missing = await check(f"""
        monitors:
          - {{name: db, postgres: "{MACHINE_PG}_no_such_db"}}
        """)
    assert not missing.ok and missing.error is not None
    assert missing.error.startswith("database") and "does not exist" in missing.error
    refused = await check("""
        monitors:
          - {name: db, postgres: "postgresql://app:s3cret-pw@127.0.0.1:1/app", timeout: 2s}
        """)
    assert refused.error == "connection refused"
    assert "s3cret-pw" not in str(refused.to_json())


async def test_a_killed_private_postgres_is_refused_then_back(
    check: Check, private_postgres: PrivatePostgres
) -> None:
    text = f"""
        monitors:
          - {{name: db, postgres: "{private_postgres.url}", timeout: 3s}}
        """
    assert (await check(text)).ok
    private_postgres.stop("immediate")
    down = await check(text)
    assert not down.ok and down.error == "connection refused"
    private_postgres.start()
    assert (await check(text)).ok


async def test_a_statement_over_the_timeout_is_cancelled(check: Check) -> None:
    started = time.monotonic()
    result = await check(f"""
        monitors:
          - name: db
            postgres: {{dsn: "{MACHINE_PG}", query: "select pg_sleep(30)"}}
            timeout: 2s
        """)
    assert not result.ok
    assert time.monotonic() - started < 15, "the probe waited for the whole statement"
    assert result.error is not None


# -- mysql (MariaDB) ---------------------------------------------------------------------------
async def test_mariadb_reports_latency_connections_and_the_value_of_a_query(
    check: Check,
) -> None:
    db = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with db.cursor() as cursor:
            cursor.execute("select @@max_connections")
            most = int(cursor.fetchone()[0])  # type: ignore[index]
    finally:
        db.close()
    result = await check(f"""
        monitors:
          - name: shop-db
            mysql: {{url: "{MACHINE_MYSQL}", query: "select 6 * 7"}}
            expect: ["mysql.value == 42", "mysql.connections_used_pct < 90",
                     "mysql.replica == false"]
        """)
    assert result.ok, result.reason
    assert result.phases.connect is not None and result.phases.ttfb is not None
    assert result.metrics["mysql.max_connections"] == most
    assert result.metrics["mysql.connections"] >= 1


async def test_mariadb_failures_are_one_line(check: Check) -> None:
    denied = await check("""
        monitors:
          - {name: shop-db, mysql: "mysql://nobody:wrong-pw@127.0.0.1:3306/test"}
        """)
    assert not denied.ok and denied.error is not None
    assert denied.error.startswith("authentication failed") or "denied" in denied.error
    assert "wrong-pw" not in denied.error
    refused = await check("""
        monitors:
          - {name: shop-db, mysql: "mysql://root@127.0.0.1:1/test", timeout: 2s}
        """)
    assert refused.error == "connection refused"


# -- redis ---------------------------------------------------------------------------------
async def test_redis_reports_ping_memory_and_clients(
    check: Check, private_redis: PrivateRedis
) -> None:
    result = await check(f"""
        monitors:
          - name: cache
            redis: "{private_redis.url}"
            expect: ["redis.role == 'master'", "redis.memory_used_pct < 50", "ttfb < 1s"]
        """)
    assert result.ok, result.reason
    assert result.metrics["redis.maxmemory"] == 64 * 1024 * 1024
    assert 0 < result.metrics["redis.memory_used_pct"] < 50
    assert result.metrics["redis.clients"] >= 1
    machine = await check(f"""
        monitors:
          - {{name: cache, redis: "{MACHINE_REDIS}", expect: ["redis.evicted_keys >= 0"]}}
        """)
    assert machine.ok, machine.reason


async def test_redis_evictions_are_seen(check: Check) -> None:
    server = PrivateRedis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru").start()
    try:
        client = redis.Redis(port=server.port)
        payload = b"x" * 10_000
        for key in range(600):  # 6 MB into 2 MB
            client.set(f"k{key}", payload)
        client.close()
        result = await check(f"""
            monitors:
              - {{name: cache, redis: "{server.url}", expect: ["redis.evicted_keys == 0"]}}
            """)
        assert not result.ok
        assert result.metrics["redis.evicted_keys"] > 0
        assert "redis.evicted_keys" in result.failures[0]
    finally:
        server.destroy()


async def test_a_replica_reports_its_link_and_lag(
    check: Check, private_redis: PrivateRedis
) -> None:
    replica = PrivateRedis("--replicaof", "127.0.0.1", str(private_redis.port)).start()
    try:
        text = f"""
            monitors:
              - name: cache-replica
                redis: "{replica.url}"
                expect: ["redis.role == 'slave'", "redis.link_up == true",
                         "redis.replication_lag < 30s"]
            """
        result = await check(text)
        for _ in range(50):  # the first sync takes a moment
            if result.ok:
                break
            await asyncio.sleep(0.2)
            result = await check(text)
        assert result.ok, result.reason
        private_redis.kill()
        broken = await check(text)
        for _ in range(50):
            if not broken.ok:
                break
            await asyncio.sleep(0.2)
            broken = await check(text)
        assert not broken.ok and "redis.link_up" in broken.failures[0]
    finally:
        replica.destroy()


# -- through wk up's engine ------------------------------------------------------------------
async def test_wk_up_marks_killed_servers_down_and_recovered(
    tmp_path: Path, private_postgres: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    config = f"""
storage: sqlite:///{tmp_path}/wk.db
defaults: {{interval: 1s, timeout: 1s, confirm: 2, recover: 1}}
monitors:
  - {{name: db, postgres: "{private_postgres.url}"}}
  - {{name: cache, redis: "{private_redis.url}"}}
  - {{name: shop-db, mysql: "{MACHINE_MYSQL}"}}
"""

    async def states(site: Site, want: dict[str, State], within: float = 30) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            now = {name: site.engine.status[name].state for name in want}
            if now == want:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"wanted {want}, have {now}")

    async with Site(config, tmp_path) as site:
        await states(site, {"db": State.UP, "cache": State.UP, "shop-db": State.UP})
        private_postgres.stop("immediate")
        private_redis.kill()
        await states(site, {"db": State.DOWN, "cache": State.DOWN, "shop-db": State.UP})
        assert site.engine.status["db"].reason == "connection refused"
        assert site.engine.status["cache"].reason == "connection refused"
        private_postgres.start()
        await states(site, {"db": State.UP, "cache": State.DOWN})
        await site.engine.writer.flush()  # type: ignore[union-attr]
        # the numbers each check saw are series, through the API as the pages chart them
        async with site.client(site.token()) as client:
            async with client.get("/api/v1/monitors/db/metrics", params={"since": "1h"}) as got:
                names = {item["name"] for item in (await got.json())["items"]}
            assert {"pg.connections", "pg.max_connections", "pg.connections_used_pct"} <= names
            async with client.get(
                "/api/v1/monitors/shop-db/metrics/series",
                params={"metric": "mysql.max_connections", "since": "1h", "resolution": "raw"},
            ) as got:
                points = (await got.json())["points"]
            assert len(points) >= 2 and all(p["last"] > 0 for p in points)


async def test_a_postgres_replica_reports_recovery_and_its_replication_lag(
    check: Check, private_postgres: PrivatePostgres
) -> None:
    standby = private_postgres.replica()
    standby.start()
    try:
        with psycopg.connect(private_postgres.url, autocommit=True) as primary:
            primary.execute("create table beat (at timestamptz default now())")
            primary.execute("insert into beat default values")
        text = f"""
            monitors:
              - name: replica
                postgres: "{standby.url}"
                expect: ["pg.in_recovery == true", "pg.replication_lag < 1h"]
            """
        result = await check(text)
        for _ in range(50):  # the first replayed transaction sets the replay time
            if result.ok:
                break
            await asyncio.sleep(0.2)
            result = await check(text)
        assert result.ok, result.reason
        assert 0 <= result.metrics["pg.replication_lag"] < 60
        assert result.metrics["pg.in_recovery"] == 1.0
        primary_result = await check(f"""
            monitors:
              - {{name: primary, postgres: "{private_postgres.url}",
                  expect: ["pg.in_recovery == false"]}}
            """)
        assert primary_result.ok and "pg.replication_lag" not in primary_result.metrics
    finally:
        standby.destroy()


async def test_a_mariadb_replica_reports_its_lag_and_a_lost_source(check: Check) -> None:
    source = PrivateMariadb(1, binlog=True).start()
    replica = PrivateMariadb(2)
    try:
        replica.start().replicate_from(source)
        source.sql(
            "create database shop; create table shop.t (n int); insert into shop.t values (1)"
        )
        text = f"""
            monitors:
              - name: replica
                mysql: {{url: "mysql://root@127.0.0.1:{replica.port}/mysql",
                         query: "select count(*) from shop.t"}}
                expect: ["mysql.replica == true", "mysql.replica_running == true",
                         "mysql.replication_lag < 30s", "mysql.value == 1"]
            """
        result = await check(text)
        for _ in range(50):  # the replica catches up in a moment
            if result.ok:
                break
            await asyncio.sleep(0.2)
            result = await check(text)
        assert result.ok, result.reason
        assert result.metrics["mysql.replication_lag"] == 0.0
        source.kill()
        lost = await check(text)
        for _ in range(50):
            if not lost.ok:
                break
            await asyncio.sleep(0.2)
            lost = await check(text)
        assert not lost.ok and lost.error is None
        assert any("mysql.replica_running" in failure for failure in lost.failures), lost.failures
    finally:
        replica.destroy()
        source.destroy()


async def test_a_mysql_server_that_trickles_its_greeting_holds_one_thread_not_one_a_check(
    check: Check,
) -> None:
    """Each byte comes before the read timeout, so the driver waits on after the check's
    deadline; the next checks say so instead of taking thread after thread."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\xff\x00\x00\x00")  # a greeting of 255 bytes is coming...
        for _ in range(60):  # ...one at a time
            writer.write(b"\x0a")
            await writer.drain()
            await asyncio.sleep(0.3)

    async with RawServer(trickle) as server:
        url = f"mysql://root@{server.address}/x"
        text = f'monitors:\n  - {{name: trickled, mysql: "{url}", timeout: 1s}}'
        first = await check(text)
        busy = lanes.CHECKS.pending
        second = await check(text)
        third = await check(text)
        assert lanes.CHECKS.pending == busy, "no new thread for the stuck monitor"
    assert not first.ok and "timeout" in (first.error or "")
    for later in (second, third):
        assert later.error == (
            "the previous check's connection is still stuck (the server trickles)"
        )


async def test_a_peer_that_is_no_mysql_server_is_one_line_not_an_internal_error(
    check: Check,
) -> None:
    async with RawServer(faults.banner(b"\x00\x00\x00\x00garbage")) as server:
        url = f"mysql://root@{server.address}/x"
        result = await check(f'monitors:\n  - {{name: odd, mysql: "{url}", timeout: 2s}}')
    assert result.error == "not a MySQL server: its greeting does not parse"
