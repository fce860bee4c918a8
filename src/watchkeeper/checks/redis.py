"""``redis``: PING latency and what INFO says about memory, evictions, clients and
replication.

    - {name: cache, redis: "redis://127.0.0.1:6379/0"}
    - name: cache-replica
      redis: {url: "redis://:${REDIS_PASSWORD}@replica:6379"}
      expect: ["redis.role == 'slave'", "redis.link_up == true", "redis.memory_used_pct < 90"]

Phases: ``connect``, ``ttfb`` (PING). Facts: ``redis.version``, ``redis.role``
(master/slave), ``redis.used_memory`` (bytes), ``redis.maxmemory``, ``redis.memory_used_pct``
(when maxmemory is set), ``redis.evicted_keys``, ``redis.clients``, ``redis.link_up`` and
``redis.replication_lag`` (a replica: seconds since the master last spoke) and
``redis.replication_offset_lag`` (bytes behind).
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from pydantic import field_validator

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType


class RedisSettings(CheckSettings):
    shorthand_field = "url"

    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError(f"'{value}' is not a redis://host:port URL")
        return value

    def host_key(self) -> str:
        parts = urlsplit(self.url)
        return f"redis:{parts.hostname}:{parts.port or 6379}"

    def target(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


async def probe(settings: RedisSettings, attempt: Attempt) -> None:
    # redis-py is imported by the first probe, not by loading a config
    import redis.asyncio as redis_async
    from redis import exceptions as redis_errors

    client = redis_async.from_url(
        settings.url,
        socket_connect_timeout=attempt.timeout,
        socket_timeout=attempt.timeout,
        retry_on_timeout=False,
        single_connection_client=True,
    )
    facts = attempt.observation.facts
    try:
        attempt.begin("connect")
        _ = await client.initialize()
        connection = client.connection
        if connection is not None:
            await connection.connect()  # type: ignore[no-untyped-call]
        attempt.end("connect")
        attempt.begin("ttfb")
        await client.ping()
        attempt.end("ttfb")
        info: dict[str, Any] = await client.info()
        facts["redis.version"] = str(info.get("redis_version", ""))
        facts["redis.role"] = str(info.get("role", ""))
        used = int(info.get("used_memory", 0))
        most = int(info.get("maxmemory", 0))
        facts["redis.used_memory"] = used
        facts["redis.maxmemory"] = most
        if most:
            facts["redis.memory_used_pct"] = round(100.0 * used / most, 2)
        facts["redis.evicted_keys"] = int(info.get("evicted_keys", 0))
        facts["redis.clients"] = int(info.get("connected_clients", 0))
        if info.get("role") == "slave":
            facts["redis.link_up"] = info.get("master_link_status") == "up"
            last = info.get("master_last_io_seconds_ago")
            if last is not None and int(last) >= 0:
                facts["redis.replication_lag"] = float(last)
            replica, master = info.get("slave_repl_offset"), info.get("master_repl_offset")
            if replica is not None and master is not None:
                facts["redis.replication_offset_lag"] = max(0, int(master) - int(replica))
    except (redis_errors.RedisError, OSError) as exc:
        attempt.fail(describe(exc))
    finally:
        with contextlib.suppress(redis_errors.RedisError, OSError):
            await client.aclose()


def describe(exc: BaseException) -> str:
    from redis import exceptions as redis_errors

    text = str(exc).strip()
    lowered = text.lower()
    if "connection refused" in lowered or ("111" in lowered and "connect" in lowered):
        return "connection refused"
    if isinstance(exc, redis_errors.AuthenticationError) or "noauth" in lowered:
        return "authentication failed"
    if isinstance(exc, redis_errors.TimeoutError):
        return "timeout"
    if "connection closed" in lowered or "connection reset" in lowered:
        return "connection closed by the server"
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


CHECK = CheckKind(
    name="redis",
    settings=RedisSettings,
    subjects={
        "connect": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "redis.version": ValueType.TEXT,
        "redis.role": ValueType.TEXT,
        "redis.used_memory": ValueType.SIZE,
        "redis.maxmemory": ValueType.SIZE,
        "redis.memory_used_pct": ValueType.NUMBER,
        "redis.evicted_keys": ValueType.NUMBER,
        "redis.clients": ValueType.NUMBER,
        "redis.link_up": ValueType.BOOL,
        "redis.replication_lag": ValueType.DURATION,
        "redis.replication_offset_lag": ValueType.NUMBER,
    },
    probe=probe,
    runtime=("redis.asyncio", "redis.exceptions"),
)
