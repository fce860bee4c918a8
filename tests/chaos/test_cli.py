"""``wk chaos proxy`` run as a user would: proxies from a Toxiproxy-style config file, a Redis
PING through one, a toxic added with curl's equivalent, and a clean exit on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from tests.helpers.cli import wk
from tests.helpers.ports import free_port


async def _pings(connection: aioredis.Redis) -> float:
    """The fastest of five PINGs' round trips, in seconds: what the path adds, without the
    stalls a loaded machine adds to some round trips (those only ever add)."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        assert await connection.ping()
        rounds.append(time.perf_counter() - started)
    return min(rounds)


async def test_the_proxy_starts_from_a_config_file_and_passes_a_redis_ping(
    tmp_path: Path,
) -> None:
    api, listen = free_port(), free_port()
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps(
            [{"name": "redis", "listen": f"127.0.0.1:{listen}", "upstream": "127.0.0.1:6379"}]
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watchkeeper", "chaos", "proxy",
        "--listen", f"127.0.0.1:{api}", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert f"http://127.0.0.1:{api}" in first, first
        second = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert f"proxy redis: 127.0.0.1:{listen} -> 127.0.0.1:6379" in second

        connection = aioredis.Redis(port=listen, socket_timeout=10)
        try:
            baseline = await _pings(connection)
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://127.0.0.1:{api}/proxies/redis/toxics",
                    json={"type": "latency", "attributes": {"latency": 200}},
                ) as response,
            ):
                assert response.status == 200
            slowed = await _pings(connection)
        finally:
            await connection.aclose()
        assert 0.180 <= slowed - baseline <= 0.220, (baseline, slowed)

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_bad_config_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "x", "upstream": "nowhere"}]))

    result = await wk("chaos", "proxy", "--listen", f"127.0.0.1:{free_port()}", "-c", str(config))

    assert result.code == 2
    assert "not host:port" in result.stderr


async def test_the_api_stays_on_loopback_unless_told_otherwise() -> None:
    result = await wk("chaos", "proxy", "--listen", f"0.0.0.0:{free_port()}")

    assert result.code == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr and "--remote" in result.stderr
