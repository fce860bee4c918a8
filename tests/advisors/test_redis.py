"""The Redis advisor against private, throw-away redis-servers driven into each condition:
evicting, holding big keys, missing, logging slow commands, fragmented, refusing clients,
failing to save, replicating from a master that is not there, refusing the advisor's own
commands."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Callable, Iterator

import pytest
import redis.asyncio as redis_async
from redis import exceptions as redis_errors
from tests.helpers.redis_server import PrivateRedis, _free_port

from watchkeeper.advisors._redis_common import persist, shown_key
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


async def overfill(server: PrivateRedis, ttl: int | None = None) -> None:
    """5 MB of 10 kB values into a server with a 2 MB limit."""
    client = client_of(server)
    try:
        value = b"x" * 10_000
        pipe = client.pipeline(transaction=False)
        for index in range(500):
            pipe.set(f"item:{index}", value, ex=ttl)
        await pipe.execute()
    finally:
        await client.aclose()


def evictions_of(findings: list[Finding]) -> Finding:
    (evictions,) = [f for f in findings if "evicted_keys" in f.evidence and "evicted" in f.title]
    return evictions


async def test_evictions_of_a_cache_are_info_with_the_rate(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    await overfill(server)
    findings = await advise(server.url)
    assert_shape(findings)
    # an allkeys-* policy throws out any key, which only a cache can afford: by design
    evictions = evictions_of(findings)
    assert evictions.severity is Severity.info
    evicted = evictions.evidence["evicted_keys"]
    assert isinstance(evicted, int) and evicted > 0
    uptime, per_hour = evictions.evidence["uptime_s"], evictions.evidence["evictions_per_hour"]
    assert isinstance(uptime, int) and uptime >= 0
    assert per_hour == round(evicted * 3600 / max(uptime, 1), 1)
    assert evictions.evidence["maxmemory_policy"] == "allkeys-lru"
    assert evictions.evidence["maxmemory_bytes"] == 2 * 1024 * 1024
    assert evictions.evidence["looks_like"] == "cache"
    used = evictions.evidence["used_memory_bytes"]
    assert isinstance(used, int) and used > 0
    assert "since it started" in evictions.title
    assert "CONFIG SET maxmemory" in evictions.recommendation
    # an LRU cache at its limit is working as designed: not a policy warning
    assert titled(findings, "noeviction") == []
    near = [f for f in findings if f.title.startswith("Redis uses")]
    assert all(f.severity is Severity.info for f in near)

    # the same evictions from a Redis declared a data store lose data
    store = evictions_of(await advise(server.url, settings=RedisAdviceSettings(cache=False)))
    assert store.severity is Severity.warning
    assert store.evidence["looks_like"] == "data store"
    assert "CONFIG SET maxmemory-policy noeviction" in store.recommendation


async def test_evictions_of_a_volatile_cache_with_ttls_are_info(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru")
    await overfill(server, ttl=3600)
    evictions = evictions_of(await advise(server.url))
    assert evictions.severity is Severity.info
    assert evictions.evidence["looks_like"] == "cache"  # every key has a TTL


async def test_evictions_under_a_policy_that_cannot_evict_now_warn(start_redis: Start) -> None:
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    await overfill(server)
    client = client_of(server)
    try:
        await client.config_set("maxmemory-policy", "noeviction")
    finally:
        await client.aclose()
    evictions = evictions_of(await advise(server.url, settings=RedisAdviceSettings(cache=True)))
    assert evictions.severity is Severity.warning
    assert evictions.evidence["maxmemory_policy"] == "noeviction"
    assert "cannot evict now" in evictions.recommendation
    # PrivateRedis runs without a config file: CONFIG REWRITE would fail, so it says so
    assert "--maxmemory-policy allkeys-lru" in evictions.recommendation


def test_a_setting_is_persisted_with_config_rewrite_only_where_there_is_a_file() -> None:
    with_file = {"config_file": "/etc/redis/redis.conf"}
    assert persist(with_file, "maxmemory 2gb") == "CONFIG SET maxmemory 2gb; CONFIG REWRITE"
    assert (
        persist(with_file, "maxmemory 2gb", "maxmemory-policy allkeys-lru")
        == "CONFIG SET maxmemory 2gb; CONFIG SET maxmemory-policy allkeys-lru; CONFIG REWRITE"
    )
    without = persist({"config_file": ""}, "maxmemory 2gb")
    assert without.startswith("CONFIG SET maxmemory 2gb (")
    assert "CONFIG REWRITE cannot" in without and "--maxmemory 2gb" in without


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
    size = blob.evidence["size_bytes"]
    assert isinstance(size, int) and size >= 1024 * 1024
    assert wide.evidence["type"] == "hash"
    assert wide.evidence["length"] == 20_000
    assert "HSCAN" in wide.recommendation
    assert blob.evidence["sampled_keys"] == 52
    assert blob.evidence["sample_partial"] is None
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
    assert rate.evidence["looks_like"] == "cache"  # allkeys-lru
    assert rate.recommendation.endswith("CONFIG RESETSTAT")

    # the same misses on a Redis declared a data store (a queue, locks): info only
    store = titled(await advise(server.url, settings=RedisAdviceSettings(cache=False)), "hit rate")
    assert [(f.severity, f.evidence["looks_like"]) for f in store] == [
        (Severity.info, "data store")
    ]


async def test_misses_on_a_redis_that_does_not_look_like_a_cache_are_info(
    start_redis: Start,
) -> None:
    server = start_redis()  # noeviction, keys without a TTL: a store, a queue, locks
    client = client_of(server)
    try:
        await client.set("lock:present", "1")
        pipe = client.pipeline(transaction=False)
        for index in range(1500):
            pipe.get(f"lock:{index}")
        await pipe.execute()
    finally:
        await client.aclose()
    (rate,) = titled(await advise(server.url), "hit rate")
    assert rate.severity is Severity.info
    assert rate.evidence["keyspace_misses"] == 1500
    (declared,) = titled(await advise(server.url, settings=RedisAdviceSettings(cache=True)), "hit")
    assert declared.severity is Severity.warning


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
    # each group says when its newest entry was logged, by the server's clock
    assert isinstance(sleep.evidence["newest_at"], str) and "T" in sleep.evidence["newest_at"]
    age = sleep.evidence["age_s"]
    assert isinstance(age, int) and age >= 0
    assert sleep.evidence["recent_count"] == 1
    assert sleep.recommendation.endswith("SLOWLOG GET 128")
    # and it never resets the log: a second run still sees the test's commands
    again = await advise(server.url, settings=settings)
    assert any(f.subject == "SET" and f.evidence["count"] == 30 for f in again)
    # what the advisor sent before naming its connection (HELLO) is left out too: the
    # second run's own HELLO does not count (the test client's does)
    hellos = {f.evidence["count"] for f in [*slow.values(), *again] if f.subject == "HELLO"}
    assert len(hellos) <= 1
    # entries older than slowlog_recent (here: every one) are at most info
    old = await advise(server.url, settings=RedisAdviceSettings(slowlog_top=10, slowlog_recent=0))
    (sleep,) = [f for f in old if f.subject == "DEBUG SLEEP"]
    assert sleep.severity is Severity.info
    assert sleep.evidence["recent_count"] == 0
    assert sleep.evidence["recent_max_us"] is None
    assert [
        f for f in old if f.title.startswith("Slow Redis") and f.severity is not Severity.info
    ] == []


async def test_memory_limit_and_policy_findings(start_redis: Start) -> None:
    unbounded = start_redis()
    findings = await advise(unbounded.url)
    (limit,) = titled(findings, "no memory limit")
    assert limit.severity is Severity.warning
    assert limit.evidence["maxmemory_bytes"] == 0
    system = limit.evidence["total_system_memory_bytes"]
    assert isinstance(system, int) and system > 0
    assert "CONFIG SET maxmemory <size>; CONFIG SET maxmemory-policy allkeys-lru" in (
        limit.recommendation
    )
    as_store = await advise(unbounded.url, settings=RedisAdviceSettings(cache=False))
    assert [f.severity for f in titled(as_store, "no memory limit")] == [Severity.info]

    refusing = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "noeviction")
    findings = await advise(refusing.url, settings=RedisAdviceSettings(cache=True))
    (policy,) = titled(findings, "noeviction")
    assert policy.severity is Severity.warning
    assert "writes fail" in policy.title
    assert policy.evidence["maxmemory_bytes"] == 64 * 1024 * 1024
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


async def test_a_password_in_the_query_never_shows_and_the_url_is_checked() -> None:
    port = _free_port()
    with pytest.raises(AdvisorError) as raised:
        await advise(f"redis://127.0.0.1:{port}/0?password=query-secret", timeout=2)
    message = str(raised.value)
    assert message.startswith(f"redis 127.0.0.1:{port}/0: ")
    assert "query-secret" not in message
    with pytest.raises(AdvisorError) as raised:
        await advise("redis://:hunter2@127.0.0.1:6379/zero")
    assert "is not a number" in str(raised.value) and "hunter2" not in str(raised.value)
    with pytest.raises(AdvisorError) as raised:
        await advise("redis://:hunter2@127.0.0.1:6379?db=one")
    assert "'one' is not a number" in str(raised.value)
    with pytest.raises(AdvisorError, match="bad URL") as raised:
        await advise("redis://:hunter2@127.0.0.1:port/0")
    assert "hunter2" not in str(raised.value)


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

    # the hint names what it takes to connect (the client names itself) and to read
    hint = skipped.recommendation
    assert "ACL SETUSER limited " in hint
    assert "+ping" in hint and "+client|setname" in hint and "+slowlog|get" in hint
    # and it is enough: a user with exactly those rules gets every check
    rules = hint[hint.index("ACL SETUSER") :].split()[3:]
    client = client_of(server)
    try:
        await client.execute_command("ACL", "SETUSER", "hinted", "on", ">hinted-pw", *rules)
        await client.set("k", "v")
    finally:
        await client.aclose()
    complete = await advise(f"redis://hinted:hinted-pw@127.0.0.1:{server.port}/0")
    assert titled(complete, "skipped") == []


async def test_a_user_that_may_not_name_its_connection_is_told_what_to_allow(
    start_redis: Start,
) -> None:
    server = start_redis()
    client = client_of(server)
    try:
        await client.execute_command("ACL", "SETUSER", "bare", "on", ">bare-pw", "+info")
    finally:
        await client.aclose()
    with pytest.raises(AdvisorError) as raised:
        await advise(f"redis://bare:bare-pw@127.0.0.1:{server.port}/0")
    message = str(raised.value)
    assert "client|setname" in message and "+ping +client|setname" in message
    assert "bare-pw" not in message


async def test_fragmentation_advice_follows_the_allocators_own_fragmentation(
    start_redis: Start,
) -> None:
    # a fresh Redis: megabytes resident for under one of data, nearly all of it fixed
    # overhead, with the allocator itself barely fragmented (far under 100 MiB)
    loose = RedisAdviceSettings(fragmentation_warn_ratio=1.0, fragmentation_min_used_bytes=0)
    server = start_redis()
    (fragmented,) = titled(await advise(server.url, settings=loose), "fragmented")
    assert fragmented.severity is Severity.warning
    ratio = fragmented.evidence["allocator_frag_ratio"]
    assert isinstance(ratio, float) and ratio >= 1.0
    assert isinstance(fragmented.evidence["allocator_frag_bytes"], int)
    assert isinstance(fragmented.evidence["used_memory_rss_bytes"], int)
    assert "activedefrag" not in fragmented.recommendation
    assert "cannot fix" in fragmented.recommendation

    # where Redis' own active-defrag thresholds are passed, active defragmentation is advised
    eager = start_redis("--active-defrag-ignore-bytes", "1", "--active-defrag-threshold-lower", "0")
    (fragmented,) = titled(await advise(eager.url, settings=loose), "fragmented")
    assert "CONFIG SET activedefrag yes" in fragmented.recommendation
    # with the default thresholds a small Redis' ratio means nothing
    assert titled(await advise(eager.url), "fragmented") == []


async def test_a_sparse_or_slow_scan_is_cut_short_and_says_so(start_redis: Start) -> None:
    server = start_redis()
    client = client_of(server)
    try:
        pipe = client.pipeline(transaction=False)
        for index in range(200):
            pipe.set(f"small:{index}", "tiny")
        await pipe.execute()
    finally:
        await client.aclose()
    capped = RedisAdviceSettings(scan_count=5, scan_max_calls=2)
    (partial,) = titled(await advise(server.url, settings=capped), "sample was partial")
    assert partial.severity is Severity.info
    assert partial.evidence["scan_calls"] == 2
    assert "cap" in str(partial.evidence["sample_partial"])
    sampled = partial.evidence["sampled_keys"]
    assert isinstance(sampled, int) and sampled < 200
    assert partial.evidence["db_keys"] == 200

    # the time budget: with none left after the first call, one SCAN call is all
    hurried = RedisAdviceSettings(scan_count=5, scan_seconds=0)
    (partial,) = titled(await advise(server.url, settings=hurried), "sample was partial")
    assert partial.evidence["scan_calls"] == 1
    assert "time budget" in str(partial.evidence["sample_partial"])

    # the default cap (1000 / 5 * 4 + 10 calls) lets a dense keyspace finish
    whole = await advise(server.url, settings=RedisAdviceSettings(scan_count=5, big_key_bytes=1))
    big = [f for f in whole if "Big Redis key" in f.title]
    assert big and all(f.evidence["sample_partial"] is None for f in big)
    assert {f.evidence["sampled_keys"] for f in big} == {200}
    assert titled(whole, "sample was partial") == []


async def test_long_key_names_are_masked_in_findings(start_redis: Start) -> None:
    server = start_redis()
    token = "3f9a8c2e71d04b6a9e5f"
    client = client_of(server)
    try:
        await client.set(f"sess:{token}", b"s" * 300_000)
    finally:
        await client.aclose()
    settings = RedisAdviceSettings(big_key_bytes=100_000)
    (big,) = [f for f in await advise(server.url, settings=settings) if "Big Redis" in f.title]
    assert big.subject == "sess:3f9a…"
    assert big.evidence["key"] == "sess:3f9a…"
    assert all(token not in text for text in (big.title, big.subject, big.recommendation))
    assert all(token not in str(value) for value in big.evidence.values())
    shown = RedisAdviceSettings(big_key_bytes=100_000, mask_key_names=False)
    (big,) = [f for f in await advise(server.url, settings=shown) if "Big Redis" in f.title]
    assert big.subject == f"sess:{token}"


def test_key_names_keep_their_prefix_and_short_tails() -> None:
    settings = RedisAdviceSettings()
    assert shown_key(b"blob", settings) == "blob"
    assert shown_key(b"user:42:profile", settings) == "user:42:profile"
    assert shown_key(b"cache:page:/products/shoes-red", settings) == "cache:page:/pro…"
    assert shown_key(b"0123456789abcdef", settings) == "0123…"
