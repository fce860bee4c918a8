"""The Redis advisor against private, throw-away redis-servers driven into each condition:
evicting, holding big keys, missing, logging slow commands, refusing clients, failing to
save, replicating from a master that is not there."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Callable, Iterator

import pytest
import redis.asyncio as redis_async
from redis import exceptions as redis_errors
from tests.helpers.redis_server import PrivateRedis, _free_port

from watchkeeper.advisors.errors import AdvisorError
from watchkeeper.advisors.redis import RedisAdviceSettings, advise
from watchkeeper.findings import Finding, Severity

Start = Callable[..., PrivateRedis]


@pytest.fixture
def start_redis() -> Iterator[Start]:
    """``start_redis(*args)``: a private redis-server with those extra args, gone afterwards."""
    servers: list[PrivateRedis] = []

    def start(*extra: str) -> PrivateRedis:
        server = PrivateRedis(*extra)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.destroy()


def client_of(server: PrivateRedis) -> redis_async.Redis:
    return redis_async.Redis(port=server.port, socket_timeout=10)


def titled(findings: list[Finding], *words: str) -> list[Finding]:
    return [f for f in findings if all(w in f.title for w in words)]


def assert_shape(findings: list[Finding]) -> None:
    for finding in findings:
        assert finding.source == "redis"
        assert isinstance(finding.severity, Severity)
        assert finding.title and "\n" not in finding.title
        assert finding.subject
        assert finding.recommendation
        for name, value in finding.evidence.items():
            assert isinstance(name, str)
            assert value is None or isinstance(value, int | float | str), (name, value)
    ranks = [f.severity.rank for f in findings]
    assert ranks == sorted(ranks), "most important first"


async def test_a_clean_server_with_a_limit_and_lru_has_no_warnings(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    findings = await advise(server.url)
    assert_shape(findings)
    assert [f for f in findings if f.severity is not Severity.info] == []


async def test_evictions_are_reported_with_the_limit_and_policy(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    client = client_of(server)
    try:
        value = b"x" * 10_000
        pipe = client.pipeline(transaction=False)
        for index in range(500):  # 5 MB into 2 MB
            pipe.set(f"item:{index}", value)
        await pipe.execute()
    finally:
        await client.aclose()
    findings = await advise(server.url)
    assert_shape(findings)
    (evictions,) = [f for f in findings if "evicted_keys" in f.evidence and "evicted" in f.title]
    assert evictions.severity is Severity.warning
    evicted = evictions.evidence["evicted_keys"]
    assert isinstance(evicted, int) and evicted > 0
    assert evictions.evidence["maxmemory_policy"] == "allkeys-lru"
    assert evictions.evidence["maxmemory"] == 2 * 1024 * 1024
    assert "maxmemory" in evictions.recommendation
    # an LRU cache at its limit is working as designed: not a policy warning
    assert titled(findings, "noeviction") == []
    near = [f for f in findings if f.title.startswith("Redis uses")]
    assert all(f.severity is Severity.info for f in near)


async def test_big_keys_are_found_by_the_sampler_with_type_and_length(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru")
    client = client_of(server)
    try:
        await client.set("blob", b"b" * (1024 * 1024))
        await client.hset("wide", mapping={f"field:{n}": f"value:{n}" for n in range(20_000)})
        pipe = client.pipeline(transaction=False)
        for index in range(50):
            pipe.set(f"small:{index}", "tiny")
        await pipe.execute()
    finally:
        await client.aclose()

    settings = RedisAdviceSettings(big_key_bytes=256 * 1024, memory_usage_samples=0)
    findings = await advise(server.url, settings=settings)
    assert_shape(findings)
    big = {f.subject: f for f in findings if "Big Redis key" in f.title}
    assert set(big) == {"blob", "wide"}
    blob, wide = big["blob"], big["wide"]
    assert blob.evidence["type"] == "string"
    assert blob.evidence["length"] == 1024 * 1024
    size = blob.evidence["bytes"]
    assert isinstance(size, int) and size >= 1024 * 1024
    assert wide.evidence["type"] == "hash"
    assert wide.evidence["length"] == 20_000
    assert "HSCAN" in wide.recommendation
    assert blob.evidence["sampled_keys"] == 52
    assert blob.severity is Severity.warning

    # with the default thresholds (10 MiB, or 10 % of used memory and at least 1 MiB) the
    # 1 MiB string holds far more than 10 % of this small server's memory
    findings = await advise(server.url)
    assert "blob" in {f.subject for f in findings if "Big Redis key" in f.title}
    # a sample too small to reach the big keys is bounded by scan_keys
    findings = await advise(server.url, settings=RedisAdviceSettings(scan_keys=0))
    assert [f for f in findings if "Big Redis key" in f.title] == []


async def test_misses_drive_the_hit_rate_finding(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    client = client_of(server)
    try:
        await client.set("present", "1")
        pipe = client.pipeline(transaction=False)
        for index in range(20):
            pipe.get(f"absent:{index}")
        await pipe.execute()
        # too few lookups to judge
        assert titled(await advise(server.url), "hit rate") == []

        pipe = client.pipeline(transaction=False)
        for index in range(1500):
            pipe.get(f"absent:{index}")
        for _ in range(100):
            pipe.get("present")
        await pipe.execute()
    finally:
        await client.aclose()
    findings = await advise(server.url)
    assert_shape(findings)
    (rate,) = titled(findings, "hit rate")
    assert rate.severity is Severity.warning
    assert rate.evidence["keyspace_misses"] == 1520
    assert rate.evidence["keyspace_hits"] == 100
    hit_rate = rate.evidence["hit_rate_pct"]
    assert isinstance(hit_rate, float) and hit_rate == pytest.approx(100 * 100 / 1620, abs=0.01)


async def test_the_slow_log_is_grouped_by_command_without_the_advisors_own(
    start_redis: Start,
) -> None:
    server = start_redis("--slowlog-log-slower-than", "0", "--enable-debug-command", "yes")
    client = client_of(server)
    try:
        for index in range(30):
            await client.set(f"k{index}", "v")
        for index in range(10):
            await client.get(f"k{index}")
        await client.execute_command("DEBUG", "SLEEP", "0.02")
    finally:
        await client.aclose()
    settings = RedisAdviceSettings(slowlog_top=10, cache=True)
    findings = await advise(server.url, settings=settings)
    assert_shape(findings)
    slow = {f.subject: f for f in findings if f.title.startswith("Slow Redis command")}
    assert slow["SET"].evidence["count"] == 30
    assert slow["GET"].evidence["count"] == 10
    for finding in slow.values():
        maximum, total = finding.evidence["max_us"], finding.evidence["total_us"]
        assert isinstance(maximum, int) and isinstance(total, int) and 0 <= maximum <= total
    # DEBUG SLEEP 0.02 sleeps at least 20 ms, over the default 10 ms warning line
    sleep = slow["DEBUG SLEEP"]
    assert sleep.severity is Severity.warning
    assert isinstance(sleep.evidence["max_us"], int) and sleep.evidence["max_us"] >= 20_000
    # the advisor's own PING / INFO / CONFIG GET / SLOWLOG GET (its connection is named) are
    # not there: the one PING is the test helper's readiness probe
    assert not {"INFO", "CONFIG GET", "SLOWLOG GET", "SCAN"} & set(slow)
    assert slow["PING"].evidence["count"] == 1
    # and it never resets the log: a second run still sees the test's commands
    again = await advise(server.url, settings=settings)
    assert any(f.subject == "SET" and f.evidence["count"] == 30 for f in again)


async def test_memory_limit_and_policy_findings(start_redis: Start) -> None:
    unbounded = start_redis()
    findings = await advise(unbounded.url)
    (limit,) = titled(findings, "no memory limit")
    assert limit.severity is Severity.warning
    assert limit.evidence["maxmemory"] == 0
    assert "allkeys-lru" in limit.recommendation
    as_store = await advise(unbounded.url, settings=RedisAdviceSettings(cache=False))
    assert [f.severity for f in titled(as_store, "no memory limit")] == [Severity.info]

    refusing = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "noeviction")
    findings = await advise(refusing.url, settings=RedisAdviceSettings(cache=True))
    (policy,) = titled(findings, "noeviction")
    assert policy.severity is Severity.warning
    assert "writes fail" in policy.title
    assert policy.evidence["maxmemory"] == 64 * 1024 * 1024
    unknown = await advise(refusing.url)
    assert [f.severity for f in titled(unknown, "noeviction")] == [Severity.info]

    volatile = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru")
    client = client_of(volatile)
    try:
        await client.set("no-ttl", "1")
    finally:
        await client.aclose()
    (nothing,) = titled(await advise(volatile.url), "can evict nothing")
    assert nothing.severity is Severity.warning


async def test_a_full_noeviction_server_is_critical(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    client = client_of(server)
    try:
        value = b"x" * 10_000
        for index in range(1000):
            try:
                await client.set(f"item:{index}", value)
            except redis_errors.OutOfMemoryError:  # the server is full
                break
    finally:
        await client.aclose()
    findings = await advise(server.url)
    (near,) = [f for f in findings if f.title.startswith("Redis uses")]
    assert near.severity is Severity.critical
    used = near.evidence["used_pct"]
    assert isinstance(used, float) and used >= 98


async def test_rejected_connections_and_clients_near_maxclients(start_redis: Start) -> None:
    server = start_redis("--maxclients", "2")
    first = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    second = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        for sock in (first, second):
            sock.sendall(b"PING\r\n")
            assert sock.recv(16).startswith(b"+PONG")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as third:
            assert b"max number of clients" in third.recv(200)
        second.close()
        for _ in range(200):  # the server notices the close on its next event-loop turn
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(64).startswith(b"+PONG"):
                    break
            await asyncio.sleep(0.02)
        findings = await advise(server.url)
    finally:
        first.close()
        second.close()
    assert_shape(findings)
    (rejected,) = titled(findings, "refused")
    rejected_count = rejected.evidence["rejected_connections"]
    assert isinstance(rejected_count, int) and rejected_count >= 1
    assert rejected.evidence["maxclients"] == 2
    (near,) = titled(findings, "clients connected")
    assert near.evidence["connected_clients"] == 2  # the one left open and the advisor


async def test_a_failed_snapshot_is_critical(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    client = client_of(server)
    try:
        await client.set("k", "v")
        shutil.rmtree(server.directory)  # the snapshot has nowhere to go
        await client.bgsave()
        for _ in range(500):
            info = await client.info("persistence")
            if not info["rdb_bgsave_in_progress"] and info["rdb_last_bgsave_status"] == "err":
                break
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()
    findings = await advise(server.url)
    (failed,) = titled(findings, "RDB snapshot failed")
    assert failed.severity is Severity.critical
    assert failed.evidence["rdb_last_bgsave_status"] == "err"
    assert findings[0].severity is Severity.critical


async def test_a_replica_without_its_master_is_critical(start_redis: Start) -> None:
    nobody = _free_port()
    replica = start_redis("--replicaof", "127.0.0.1", str(nobody))
    findings = await advise(replica.url)
    (link,) = titled(findings, "lost its master")
    assert link.severity is Severity.critical
    assert link.evidence["master"] == f"127.0.0.1:{nobody}"
    assert link.evidence["master_link_status"] == "down"


async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    port = _free_port()
    with pytest.raises(AdvisorError) as raised:
        await advise(f"redis://:hunter2-secret@127.0.0.1:{port}/0", timeout=2)
    message = str(raised.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message
    assert "connection refused" in message
    assert "hunter2" not in message

    with pytest.raises(AdvisorError, match="not a redis://"):
        await advise("http://127.0.0.1:6379")


async def test_a_wrong_password_is_one_line_without_the_password(start_redis: Start) -> None:
    server = start_redis()
    client = client_of(server)
    try:
        await client.config_set("requirepass", "right-password")
    finally:
        await client.aclose()
    with pytest.raises(AdvisorError) as raised:
        await advise(f"redis://:wrong-password@127.0.0.1:{server.port}/0")
    message = str(raised.value)
    assert "\n" not in message and "authentication failed" in message
    assert "wrong-password" not in message and "right-password" not in message
    findings = await advise(f"redis://:right-password@127.0.0.1:{server.port}/0")
    assert_shape(findings)


async def test_a_server_that_never_answers_times_out_in_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never replies
        port = silent.getsockname()[1]
        with pytest.raises(AdvisorError) as raised:
            await advise(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    message = str(raised.value)
    assert "\n" not in message
    assert message == f"redis 127.0.0.1:{port}/0: no answer within 300ms"


async def test_refused_commands_skip_their_checks_and_say_so(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    client = client_of(server)
    try:
        await client.execute_command(
            "ACL", "SETUSER", "limited", "on", ">limited-pw", "~*", "+@all", "-config", "-slowlog"
        )
    finally:
        await client.aclose()
    findings = await advise(f"redis://limited:limited-pw@127.0.0.1:{server.port}/0")
    assert_shape(findings)
    (skipped,) = titled(findings, "skipped")
    assert skipped.severity is Severity.info
    assert set(skipped.evidence) == {"CONFIG GET", "SLOWLOG GET"}
    assert all("limited-pw" not in str(v) for v in skipped.evidence.values())
    # INFO's copies of maxmemory and the policy stand in for CONFIG GET
    assert [f for f in findings if f.severity is not Severity.info] == []
