"""Each toxic, added and removed with the real ``toxiproxy-python`` client, does to real traffic
(an echo server the test runs, the machine's Redis) what it says, measured against the same
traffic without it in the same test. Each runs on asyncio's own loop and on uvloop (what
``wk chaos proxy`` runs on)."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from tests.chaos.conftest import READ_TIMEOUT, EchoServer, Peer, peer, port_of
from toxiproxy.proxy import Proxy as ClientProxy
from toxiproxy.server import Toxiproxy

call = asyncio.to_thread


async def _proxy(client: Toxiproxy, upstream: int, name: str = "echo") -> ClientProxy:
    proxy: ClientProxy = await call(client.create, upstream=f"127.0.0.1:{upstream}", name=name)
    return proxy


async def _add(
    proxy: ClientProxy, kind: str, stream: str = "downstream", **attributes: Any
) -> None:
    await call(proxy.add_toxic, type=kind, stream=stream, attributes=attributes)


async def _bulk(port: int, size: int) -> float:
    """Seconds to send ``size`` bytes through the echo server and have them all back."""
    async with peer(port) as connection:
        started = time.perf_counter()
        connection.writer.write(b"b" * size)
        await asyncio.wait_for(connection.reader.readexactly(size), READ_TIMEOUT)
        return time.perf_counter() - started


async def _until_closed(connection: Peer) -> tuple[bytes, float]:
    """What arrives until the far side closes, and when that was."""
    data = await asyncio.wait_for(connection.reader.read(), READ_TIMEOUT)
    return data, time.perf_counter()


async def test_latency_adds_its_delay_to_each_answer_and_leaves_when_removed(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    async with peer(port_of(proxy.listen)) as connection:
        baseline = await connection.pings()
        await _add(proxy, "latency", latency=100)
        toxic = await connection.pings()
        await call(proxy.destroy_toxic, "latency_downstream")
        after = await connection.pings()

    assert 0.090 <= toxic - baseline <= 0.110, (baseline, toxic)
    assert after < baseline + 0.050, (baseline, after)  # the same connection, clean again


async def test_latency_jitter_spreads_the_delay_around_it(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    await _add(proxy, "latency", latency=60, jitter=30)
    async with peer(port_of(proxy.listen)) as connection:
        rounds = [await connection.ping() for _ in range(8)]

    assert min(rounds) >= 0.030, rounds
    assert max(rounds) - min(rounds) > 0.002, rounds


async def test_bandwidth_holds_a_stream_to_its_rate(client: Toxiproxy, echo: EchoServer) -> None:
    proxy = await _proxy(client, echo.port)
    port = port_of(proxy.listen)
    size = 500_000
    baseline = await _bulk(port, size)
    await _add(proxy, "bandwidth", rate=500)  # KB/s: 500 kB take 1 s
    limited = await _bulk(port, size)

    assert 0.9 <= limited - baseline <= 1.1, (baseline, limited)


async def test_slow_close_holds_the_end_of_the_stream(client: Toxiproxy, echo: EchoServer) -> None:
    proxy = await _proxy(client, echo.port)
    port = port_of(proxy.listen)

    async def close_time() -> float:
        async with peer(port) as connection:
            await connection.ping()
            started = time.perf_counter()
            connection.writer.write_eof()  # the echo server closes in turn
            data, ended = await _until_closed(connection)
            assert data == b""
            return ended - started

    baseline = await close_time()
    await _add(proxy, "slow_close", delay=300)
    slowed = await close_time()

    assert 0.270 <= slowed - baseline <= 0.330, (baseline, slowed)


async def test_timeout_zero_holds_the_data_until_the_toxic_is_removed(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    async with peer(port_of(proxy.listen)) as connection:
        await connection.ping()
        await _add(proxy, "timeout", stream="upstream", timeout=0)
        connection.writer.write(b"held")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(connection.reader.readexactly(4), 0.3)
        await call(proxy.destroy_toxic, "timeout_upstream")
        released = await asyncio.wait_for(connection.reader.readexactly(4), READ_TIMEOUT)
        assert released == b"held"
        await connection.ping()


async def test_timeout_closes_the_connection_after_its_time_with_nothing_through(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    await _add(proxy, "timeout", stream="upstream", timeout=400)
    started = time.perf_counter()
    async with peer(port_of(proxy.listen)) as connection:
        connection.writer.write(b"lost")
        data, ended = await _until_closed(connection)

    assert data == b""
    assert 0.400 <= ended - started <= 0.500, ended - started


async def test_reset_peer_resets_the_connection(client: Toxiproxy, echo: EchoServer) -> None:
    proxy = await _proxy(client, echo.port)
    port = port_of(proxy.listen)
    async with peer(port) as connection:
        await connection.ping()  # the baseline: an answer
    await _add(proxy, "reset_peer", timeout=0)

    async with peer(port) as connection:
        connection.writer.write(b"hello")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(connection.reader.read(100), READ_TIMEOUT)


async def test_reset_peer_waits_its_timeout_after_the_first_data(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    await _add(proxy, "reset_peer", stream="upstream", timeout=200)
    async with peer(port_of(proxy.listen)) as connection:
        started = time.perf_counter()
        connection.writer.write(b"hello")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(connection.reader.read(100), READ_TIMEOUT)
        elapsed = time.perf_counter() - started

    assert 0.200 <= elapsed <= 0.250, elapsed


async def test_slicer_splits_a_write_into_small_delayed_pieces(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    port = port_of(proxy.listen)

    async def reads() -> list[int]:
        sizes: list[int] = []
        async with peer(port) as connection:
            connection.writer.write(b"s" * 1000)
            while sum(sizes) < 1000:
                data = await asyncio.wait_for(connection.reader.read(65536), READ_TIMEOUT)
                assert data
                sizes.append(len(data))
        return sizes

    baseline = await reads()
    await _add(proxy, "slicer", average_size=100, size_variation=0, delay=3000)
    started = time.perf_counter()
    sliced = await reads()
    elapsed = time.perf_counter() - started

    assert baseline == [1000]
    assert len(sliced) > 1 and max(sliced) < 1000, sliced
    assert elapsed >= 9 * 0.003, elapsed  # ten slices, nine pauses between them


async def test_limit_data_closes_after_its_bytes(client: Toxiproxy, echo: EchoServer) -> None:
    proxy = await _proxy(client, echo.port)
    port = port_of(proxy.listen)
    assert await _bulk(port, 5000) > 0  # all 5000 bytes come back without the toxic
    await _add(proxy, "limit_data", bytes=1000)

    async with peer(port) as connection:
        connection.writer.write(b"d" * 5000)
        received = b""
        while chunk := await asyncio.wait_for(connection.reader.read(65536), READ_TIMEOUT):
            received += chunk

    assert len(received) == 1000


async def test_toxicity_is_the_share_of_connections_a_toxic_affects(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    port = port_of(proxy.listen)
    await call(proxy.add_toxic, type="latency", toxicity=0.0, attributes={"latency": 1000})
    async with peer(port) as connection:
        assert await connection.ping() < 1.0
    await call(proxy.destroy_toxic, "latency_downstream")

    await call(proxy.add_toxic, type="latency", toxicity=0.5, attributes={"latency": 200})
    slow = 0
    for _ in range(20):
        async with peer(port) as connection:
            slow += await connection.ping() >= 0.2

    assert 0 < slow < 20, slow  # all alike has a chance of 2 in a million


async def test_removing_a_toxic_releases_data_already_waiting_in_it(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    await _add(proxy, "latency", latency=5000)
    async with peer(port_of(proxy.listen)) as connection:
        started = time.perf_counter()
        connection.writer.write(b"ping")
        await asyncio.sleep(0.1)
        await call(proxy.destroy_toxic, "latency_downstream")
        assert await asyncio.wait_for(connection.reader.readexactly(4), READ_TIMEOUT) == b"ping"
        assert time.perf_counter() - started < 5.0  # the toxic's 5 s were cut short


async def test_deleting_a_proxy_closes_its_connections_and_its_port(
    client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await _proxy(client, echo.port)
    port = port_of(proxy.listen)
    async with peer(port) as connection:
        await connection.ping()
        await call(proxy.destroy)
        data, _ = await _until_closed(connection)
        assert data == b""
    with pytest.raises(ConnectionRefusedError):
        await Peer.open(port)


async def _redis_pings(connection: aioredis.Redis) -> float:
    """The median of three PINGs' round trips, in seconds."""
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        assert await connection.ping()
        rounds.append(time.perf_counter() - started)
    return statistics.median(rounds)


async def test_a_redis_ping_goes_through_and_takes_the_latency_added(client: Toxiproxy) -> None:
    proxy = await _proxy(client, 6379, name="redis")
    connection = aioredis.Redis(port=port_of(proxy.listen), socket_timeout=READ_TIMEOUT)
    try:
        assert await connection.ping()
        baseline = await _redis_pings(connection)
        await _add(proxy, "latency", latency=100)
        slowed = await _redis_pings(connection)
    finally:
        await connection.aclose()

    assert 0.090 <= slowed - baseline <= 0.110, (baseline, slowed)
