"""Redis advisor: what INFO, CONFIG GET, SLOWLOG GET and a SCAN sample say about a live Redis,
as Findings.

Checks (thresholds are :class:`RedisAdviceSettings` fields, defaults in brackets):

- **hit rate** ``keyspace_hits / (hits + misses)`` since the server started: warning below
  ``hit_rate_warn_pct`` [80 %] once there were ``hit_rate_min_lookups`` [1000] lookups;
- **evictions** ``evicted_keys > 0``: warning with maxmemory, used memory and the policy;
- **fragmentation** ``mem_fragmentation_ratio`` above ``fragmentation_warn_ratio`` [1.5] with
  at least ``fragmentation_min_used_bytes`` [100 MiB] in use: warning (below that the ratio of a
  small Redis is dominated by its fixed overhead and means nothing); below 1.0 with at least
  ``swap_min_used_bytes`` [10 MiB] in use: critical, the OS swapped part of Redis out;
- **memory limit and policy**: ``maxmemory 0`` (unbounded) is a warning on a cache, info on a
  data store; ``noeviction`` with a limit means writes fail with OOM when full (warning on a
  cache, info on a store); a ``volatile-*`` policy with no key carrying a TTL can evict nothing
  (warning). Whether Redis is a cache is ``RedisAdviceSettings.cache``, or guessed: half of the
  keys or more carry a TTL;
- **memory near maxmemory**: at ``memory_warn_pct`` [90 %] warning, ``memory_critical_pct``
  [98 %] critical when the policy cannot evict (an evicting cache sitting at its limit is
  working as designed: info);
- **slow commands**: ``SLOWLOG GET`` [128] grouped by command name, the top ``slowlog_top`` [5]
  by total time with count, total and max µs: warning when the slowest took
  ``slow_command_warn_us`` [10 ms] or more, else info. The advisor's own commands (its
  connection is named ``client_name``) are left out. The slow log is never reset;
- **big keys**: a ``SCAN`` sample of up to ``scan_keys`` [1000] keys of the URL's database,
  ``MEMORY USAGE`` of each (``memory_usage_samples`` [Redis' default of 5 elements]; 0 is
  exact and slow on big collections); keys of ``big_key_bytes`` [10 MiB] or more, or holding
  ``big_key_share_pct`` [10 %] of used memory (and at least ``big_key_share_min_bytes``
  [1 MiB]): warning with the type and length (``LLEN``/``HLEN``/``SCARD``/``ZCARD``/``XLEN``/
  ``STRLEN``), the biggest ``big_keys_top`` [5];
- **clients**: ``rejected_connections > 0`` warning; connected clients at ``clients_warn_pct``
  [90 %] of ``maxclients`` warning; blocked clients info, warning from
  ``blocked_clients_warn`` [100];
- **persistence**: the last RDB save or AOF write failed: critical; the last AOF rewrite failed:
  warning;
- **replication**: a replica whose link to its master is down: critical; a master's replica
  that is not ``online``: warning.

Read-only: INFO, CONFIG GET, SLOWLOG GET, SCAN, MEMORY USAGE, TYPE and the length commands.
A command the server refuses (ACL, renamed away) skips its check and is named in an info
Finding; an unreachable or unreadable server raises :class:`AdvisorError`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as redis_async
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from watchkeeper.advisors.errors import AdvisorError
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.redact import redact
from watchkeeper.units import format_duration, format_size

MiB = 1024 * 1024

_LENGTH_COMMAND = {
    "list": "LLEN",
    "hash": "HLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
    "string": "STRLEN",
}
_CONTAINER_COMMANDS = frozenset(
    {
        "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION", "LATENCY",
        "MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
    }
)  # fmt: skip
_SLOW_ADVICE = {
    "KEYS": "KEYS walks the whole keyspace and blocks Redis meanwhile: use SCAN with a MATCH.",
    "SMEMBERS": "Read big sets in pages with SSCAN, or keep them smaller.",
    "HGETALL": "Read big hashes in pages with HSCAN, or fetch only the fields needed (HMGET).",
    "LRANGE": "Read lists in pages (LRANGE with small ranges) and trim them (LTRIM).",
    "ZRANGE": "Read sorted sets in pages (ZRANGE ... LIMIT) instead of whole.",
    "SORT": "SORT is O(N+M log M): precompute into a sorted set, or sort in the application.",
    "DEL": "Deleting a big key blocks: use UNLINK, which frees the memory in the background.",
    "FLUSHALL": "Use FLUSHALL ASYNC so the flush does not block.",
    "FLUSHDB": "Use FLUSHDB ASYNC so the flush does not block.",
    "EVAL": "A script blocks Redis for its whole run: make it do less per call.",
    "EVALSHA": "A script blocks Redis for its whole run: make it do less per call.",
    "FCALL": "A function blocks Redis for its whole run: make it do less per call.",
}


@dataclass(frozen=True, slots=True)
class RedisAdviceSettings:
    """Thresholds of the Redis advisor; the module docstring says what each one gates."""

    hit_rate_warn_pct: float = 80.0
    hit_rate_min_lookups: int = 1000
    fragmentation_warn_ratio: float = 1.5
    fragmentation_min_used_bytes: int = 100 * MiB
    swap_min_used_bytes: int = 10 * MiB
    memory_warn_pct: float = 90.0
    memory_critical_pct: float = 98.0
    cache: bool | None = None
    """Is this Redis a cache (True) or a data store/queue (False)? None: guess from TTLs."""
    slowlog_entries: int = 128
    slowlog_top: int = 5
    slow_command_warn_us: int = 10_000
    scan_keys: int = 1000
    scan_count: int = 100
    memory_usage_samples: int | None = None
    big_key_bytes: int = 10 * MiB
    big_key_share_pct: float = 10.0
    big_key_share_min_bytes: int = 1 * MiB
    big_keys_top: int = 5
    clients_warn_pct: float = 90.0
    blocked_clients_warn: int = 100
    client_name: str = "watchkeeper-advisor"


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    where: str
    """host:port/db, for messages: no user, no password."""
    secrets: tuple[str, ...]
    db: int


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AdvisorError(f"redis: bad URL ({exc})") from None
    secrets = tuple(s for s in (parts.password, unquote(parts.password or "")) if s)
    if parts.scheme not in ("redis", "rediss", "unix"):
        shown = redact(url, secrets)
        raise AdvisorError(f"redis: '{shown}' is not a redis://host:port/db URL")
    db = 0
    path = parts.path.strip("/")
    if parts.scheme != "unix" and path:
        if not path.isdigit():
            raise AdvisorError(f"redis: database '{redact(path, secrets)}' is not a number")
        db = int(path)
    if parts.scheme == "unix":
        where = f"unix:{parts.path}"
    else:
        where = f"{parts.hostname or '127.0.0.1'}:{port or 6379}/{db}"
    return _Target(url, where, secrets, db)


class _Refused(Exception):
    """The server answered a command with an error (ACL, unknown command)."""


class _Session:
    """One connection; every command has the socket timeout; refusals are noted, not fatal."""

    def __init__(self, target: _Target, settings: RedisAdviceSettings, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.skipped: dict[str, str] = {}
        self.client: redis_async.Redis = redis_async.from_url(
            target.url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry_on_timeout=False,
            retry=Retry(NoBackoff(), 0),
            single_connection_client=True,
            client_name=settings.client_name,
        )

    def fail(self, exc: BaseException, doing: str) -> AdvisorError:
        text = _describe(exc, self.timeout)
        if doing:
            text = f"{doing}: {text}"
        return AdvisorError(redact(f"redis {self.target.where}: {text}", self.secrets))

    async def connect(self) -> None:
        """Connect (and authenticate, name the connection) with one PING."""
        try:
            await self.client.ping()
        except (redis_errors.RedisError, OSError, TimeoutError) as exc:
            raise self.fail(exc, "") from None

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.target.secrets

    async def run(self, *args: Any) -> Any:
        """A command that must work (the server is unusable without it)."""
        try:
            return await self._call(*args)
        except (redis_errors.RedisError, OSError, TimeoutError) as exc:
            raise self.fail(exc, str(args[0])) from None

    async def _call(self, *args: Any) -> Any:
        return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    async def maybe(self, *args: Any) -> Any:
        """A command some servers refuse: raise _Refused (and note it) instead of failing."""
        try:
            return await self._call(*args)
        except redis_errors.ResponseError as exc:
            name = (
                " ".join(str(a) for a in args[:2])
                if str(args[0]) in _CONTAINER_COMMANDS
                else args[0]
            )
            reason = redact(
                str(exc).strip().splitlines()[0] if str(exc).strip() else "refused", self.secrets
            )
            self.skipped[str(name)] = reason[:200]
            raise _Refused(reason) from None
        except (redis_errors.RedisError, OSError, TimeoutError) as exc:
            raise self.fail(exc, str(args[0])) from None

    async def pipeline(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Several commands in one round trip; an error reply comes back as the exception."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))
        except (redis_errors.RedisError, OSError, TimeoutError) as exc:
            raise self.fail(exc, str(commands[0][0]) if commands else "pipeline") from None

    async def close(self) -> None:
        with contextlib.suppress(redis_errors.RedisError, OSError, TimeoutError):
            await self.client.aclose()


def _describe(exc: BaseException, timeout: float) -> str:
    text = " ".join(str(exc).split())
    lowered = text.lower()
    if isinstance(exc, redis_errors.TimeoutError | TimeoutError) or "timed out" in lowered:
        return f"no answer within {format_duration(timeout)}"
    if "connection refused" in lowered or "111 connecting" in lowered or "errno 111" in lowered:
        return "connection refused"
    if isinstance(exc, redis_errors.AuthenticationError) or "noauth" in lowered:
        return "authentication failed (check the password in the URL)"
    if "wrongpass" in lowered or "invalid password" in lowered:
        return "authentication failed (check the password in the URL)"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "host name not found"
    if "connection closed" in lowered or "connection reset" in lowered:
        return "connection closed by the server"
    return (text or type(exc).__name__)[:300]


async def advise(
    url: str,
    *,
    settings: RedisAdviceSettings | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - the socket timeout of each command, not a deadline
) -> list[Finding]:
    """Look at the Redis at ``url`` and return what is wrong (and a few facts) as Findings,
    most important first. Raises :class:`AdvisorError` when it cannot be reached or read."""
    settings = settings or RedisAdviceSettings()
    target = _target(url)
    session = _Session(target, settings, timeout)
    try:
        return await _advise(session, settings)
    finally:
        await session.close()


async def _advise(session: _Session, settings: RedisAdviceSettings) -> list[Finding]:
    await session.connect()
    raw = await session.run("INFO")
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    config = await _config(session)
    findings: list[Finding] = []
    findings += _hit_rate(info, settings)
    findings += _memory(info, config, settings)
    findings += _fragmentation(info, config, settings)
    findings += _clients(info, config, settings)
    findings += _persistence(info, config)
    findings += _replication(info)
    findings += await _slowlog(session, config, settings)
    findings += await _big_keys(session, info, settings)
    if session.skipped:
        findings.append(
            Finding(
                source="redis",
                severity=Severity.info,
                title=f"Some Redis checks were skipped: {', '.join(sorted(session.skipped))} "
                "refused",
                subject=session.target.where,
                evidence=dict(sorted(session.skipped.items())),
                recommendation="Allow the advisor's user these read-only commands (ACL "
                "+info +config|get +slowlog|get +scan +memory|usage +type +llen +hlen +scard "
                "+zcard +xlen +strlen) to get the full picture.",
            )
        )
    return sorted(findings, key=lambda f: (f.severity.rank, -f.impact, f.subject))


async def _config(session: _Session) -> dict[str, str]:
    wanted = (
        "maxmemory",
        "maxmemory-policy",
        "maxclients",
        "slowlog-log-slower-than",
        "slowlog-max-len",
        "activedefrag",
        "stop-writes-on-bgsave-error",
        "save",
    )
    config: dict[str, str] = {}
    for name in wanted:
        try:
            reply = await session.maybe("CONFIG", "GET", name)
        except _Refused:
            break  # refused once, refused for all: INFO's copies stand in
        config.update(_pairs(reply))
    return config


def _pairs(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        items = list(reply.items())
    elif isinstance(reply, list | tuple):
        items = list(zip(reply[::2], reply[1::2], strict=False))
    else:
        items = []
    return {_text(k): _text(v) for k, v in items}


def _text(value: Any, limit: int = 200) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(_text(value)))
    except (TypeError, ValueError):
        return default


def _float(value: Any) -> float | None:
    try:
        return float(_text(value))
    except (TypeError, ValueError):
        return None


def _keyspace(info: dict[str, Any]) -> tuple[int, int]:
    """Keys and keys with a TTL, over every database."""
    keys = expires = 0
    for name, value in info.items():
        if name.startswith("db") and name[2:].isdigit() and isinstance(value, dict):
            keys += _int(value.get("keys"))
            expires += _int(value.get("expires"))
    return keys, expires


def _is_cache(info: dict[str, Any], settings: RedisAdviceSettings) -> bool | None:
    if settings.cache is not None:
        return settings.cache
    keys, expires = _keyspace(info)
    if not keys:
        return None
    return expires * 2 >= keys


def _policy(info: dict[str, Any], config: dict[str, str]) -> tuple[int, str]:
    maxmemory = _int(config.get("maxmemory", info.get("maxmemory", 0)))
    policy = config.get("maxmemory-policy") or _text(info.get("maxmemory_policy", "noeviction"))
    return maxmemory, policy


def _can_evict(info: dict[str, Any], policy: str) -> bool:
    if policy.startswith("allkeys-"):
        return True
    if policy.startswith("volatile-"):
        return _keyspace(info)[1] > 0
    return False


def _hit_rate(info: dict[str, Any], settings: RedisAdviceSettings) -> list[Finding]:
    hits, misses = _int(info.get("keyspace_hits")), _int(info.get("keyspace_misses"))
    lookups = hits + misses
    if lookups < max(1, settings.hit_rate_min_lookups):
        return []
    rate = 100.0 * hits / lookups
    if rate >= settings.hit_rate_warn_pct:
        return []
    evicted = _int(info.get("evicted_keys"))
    hint = (
        f" {evicted} keys were evicted: a bigger maxmemory keeps more of them." if evicted else ""
    )
    return [
        Finding(
            source="redis",
            severity=Severity.warning,
            title=f"Redis cache hit rate is {rate:.1f}% ({misses} misses in {lookups} lookups)",
            subject="keyspace",
            evidence={
                "hit_rate_pct": round(rate, 2),
                "keyspace_hits": hits,
                "keyspace_misses": misses,
                "threshold_pct": settings.hit_rate_warn_pct,
                "evicted_keys": evicted,
                "uptime_s": _int(info.get("uptime_in_seconds")),
            },
            recommendation="Each miss goes to the slower store behind the cache. Check that "
            "the application writes a key back after a miss, that TTLs are not shorter than "
            "the data's reuse, and that keys are not looked up under a changing name."
            f"{hint} The counts run since the server started (CONFIG RESETSTAT restarts "
            "them).",
            impact=float(misses),
        )
    ]


def _memory(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    findings: list[Finding] = []
    used = _int(info.get("used_memory"))
    maxmemory, policy = _policy(info, config)
    cache = _is_cache(info, settings)
    keys, expires = _keyspace(info)
    evicted = _int(info.get("evicted_keys"))
    base: Evidence = {
        "used_memory": used,
        "maxmemory": maxmemory,
        "maxmemory_policy": policy,
    }
    kind = {True: "cache", False: "data store", None: "unknown"}[cache]
    if evicted > 0:
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis evicted {evicted} keys to stay under maxmemory "
                f"({format_size(maxmemory)}, {policy})",
                subject="memory",
                evidence={
                    "evicted_keys": evicted,
                    **base,
                    "expired_keys": _int(info.get("expired_keys")),
                    "uptime_s": _int(info.get("uptime_in_seconds")),
                },
                recommendation="Keys are being thrown out before they expire. Raise maxmemory "
                f"(CONFIG SET maxmemory, then in redis.conf) above the {format_size(used)} in "
                "use, or store less: shorter TTLs on what is rarely read, smaller values. If "
                "this Redis is not a cache, evictions lose data: use noeviction and size it.",
                impact=float(evicted),
            )
        )
    if maxmemory == 0:
        system = _int(info.get("total_system_memory"))
        store = cache is False
        findings.append(
            Finding(
                source="redis",
                severity=Severity.info if store else Severity.warning,
                title="Redis has no memory limit (maxmemory 0): it grows until the OS runs out",
                subject="maxmemory",
                evidence={**base, "total_system_memory": system, "keys": keys,
                          "keys_with_ttl": expires, "looks_like": kind},
                recommendation=(
                    "As a data store it is sized by hand: watch used_memory against the RAM, "
                    "and set maxmemory (with noeviction) so it refuses writes before the OOM "
                    "killer strikes."
                    if store
                    else "For a cache set a limit and an evicting policy, e.g. CONFIG SET "
                    "maxmemory <about 3/4 of the RAM left for Redis> and CONFIG SET "
                    "maxmemory-policy allkeys-lru (and in redis.conf)."
                ),
                impact=float(used),
            )
        )  # fmt: skip
    elif policy == "noeviction":
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning if cache else Severity.info,
                title="Redis policy noeviction: writes fail with OOM errors once "
                f"{format_size(maxmemory)} is used",
                subject="maxmemory-policy",
                evidence={**base, "keys": keys, "keys_with_ttl": expires, "looks_like": kind},
                recommendation=(
                    "For a cache use an evicting policy: CONFIG SET maxmemory-policy "
                    "allkeys-lru (or allkeys-lfu). For a data store or queue noeviction is "
                    "right: keep used memory well below maxmemory."
                ),
                impact=float(used),
            )
        )
    elif policy.startswith("volatile-") and keys and not expires:
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis policy {policy} can evict nothing: no key has a TTL",
                subject="maxmemory-policy",
                evidence={**base, "keys": keys, "keys_with_ttl": expires},
                recommendation="volatile-* policies only evict keys with an expiry, so once "
                f"{format_size(maxmemory)} is used writes fail as with noeviction. Give keys a "
                "TTL (SET ... EX) or use allkeys-lru.",
                impact=float(used),
            )
        )
    if maxmemory > 0:
        pct = 100.0 * used / maxmemory
        if pct >= settings.memory_warn_pct:
            evicting = _can_evict(info, policy)
            if evicting:
                severity = Severity.info
            elif pct >= settings.memory_critical_pct:
                severity = Severity.critical
            else:
                severity = Severity.warning
            findings.append(
                Finding(
                    source="redis",
                    severity=severity,
                    title=f"Redis uses {pct:.0f}% of maxmemory ({format_size(used)} of "
                    f"{format_size(maxmemory)})",
                    subject="memory",
                    evidence={**base, "used_pct": round(pct, 2)},
                    recommendation=(
                        f"With {policy} Redis evicts keys to stay under the limit, as a cache "
                        "should; the evictions finding (if any) says whether it evicts too "
                        "much."
                        if evicting
                        else f"With {policy} nothing can be evicted: writes start failing "
                        "with OOM at 100%. Raise maxmemory, delete or expire data, or move "
                        "some of it elsewhere."
                    ),
                    impact=pct,
                )
            )
    return findings


def _fragmentation(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    ratio = _float(info.get("mem_fragmentation_ratio"))
    used = _int(info.get("used_memory"))
    rss = _int(info.get("used_memory_rss"))
    if ratio is None or ratio <= 0:
        return []
    evidence: Evidence = {
        "mem_fragmentation_ratio": ratio,
        "used_memory": used,
        "used_memory_rss": rss,
        "mem_fragmentation_bytes": _int(info.get("mem_fragmentation_bytes"), rss - used),
        "mem_allocator": _text(info.get("mem_allocator", "")),
    }
    if ratio > settings.fragmentation_warn_ratio and used >= settings.fragmentation_min_used_bytes:
        allocator = _text(info.get("mem_allocator", ""))
        defrag = config.get("activedefrag", "")
        if allocator.startswith("jemalloc") and defrag != "yes":
            fix = "Turn on active defragmentation: CONFIG SET activedefrag yes (and in "
            fix += "redis.conf); it works in the background."
        else:
            fix = "Restart the instance (or fail over to a replica) at a quiet time to give "
            fix += "the memory back"
            fix += "; active defragmentation is already on." if defrag == "yes" else "."
        return [
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis memory is fragmented: {ratio:.2f}× ({format_size(rss)} resident "
                f"for {format_size(used)} of data)",
                subject="memory",
                evidence={**evidence, "activedefrag": defrag or None},
                recommendation=fix,
                impact=float(rss - used),
            )
        ]
    if ratio < 1.0 and used >= settings.swap_min_used_bytes:
        return [
            Finding(
                source="redis",
                severity=Severity.critical,
                title=f"Redis is partly swapped out: resident {format_size(rss)} < "
                f"{format_size(used)} of data (ratio {ratio:.2f})",
                subject="memory",
                evidence=evidence,
                recommendation="A swapped Redis answers in milliseconds instead of "
                "microseconds. Give the machine more RAM or lower maxmemory so Redis fits, "
                "and keep other processes from crowding it out (vm.swappiness=1).",
                impact=float(used - rss),
            )
        ]
    return []


def _clients(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    findings: list[Finding] = []
    connected = _int(info.get("connected_clients"))
    maxclients = _int(config.get("maxclients", info.get("maxclients", 0)))
    rejected = _int(info.get("rejected_connections"))
    blocked = _int(info.get("blocked_clients"))
    base: Evidence = {"connected_clients": connected, "maxclients": maxclients}
    if rejected > 0:
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis refused {rejected} connections (maxclients {maxclients} reached)",
                subject="clients",
                evidence={"rejected_connections": rejected, **base},
                recommendation="Clients got 'max number of clients reached'. Find who holds "
                "the connections (CLIENT LIST: by addr and name), use a connection pool with "
                "a bound in each application, and raise maxclients (and the file-descriptor "
                "limit, ulimit -n) if the load is real.",
                impact=float(rejected),
            )
        )
    if maxclients > 0:
        pct = 100.0 * connected / maxclients
        if pct >= settings.clients_warn_pct:
            findings.append(
                Finding(
                    source="redis",
                    severity=Severity.warning,
                    title=f"Redis has {connected} of {maxclients} clients connected ({pct:.0f}%)",
                    subject="clients",
                    evidence={**base, "used_pct": round(pct, 2)},
                    recommendation="New connections are refused at maxclients. Look for "
                    "connection leaks (CLIENT LIST, idle= column), bound the pools, or raise "
                    "maxclients.",
                    impact=pct,
                )
            )
    if blocked > 0:
        many = blocked >= settings.blocked_clients_warn
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning if many else Severity.info,
                title=f"{blocked} Redis clients are blocked waiting (BLPOP, XREAD BLOCK, WAIT...)",
                subject="clients",
                evidence={"blocked_clients": blocked, **base},
                recommendation="Normal for queue consumers waiting for work. If none are "
                "expected, CLIENT LIST shows which commands block (cmd= column); each "
                "blocked client holds a connection.",
                impact=float(blocked),
            )
        )
    return findings


def _persistence(info: dict[str, Any], config: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    stop_writes = config.get("stop-writes-on-bgsave-error", "")
    if _text(info.get("rdb_last_bgsave_status", "ok")) == "err":
        last = _int(info.get("rdb_last_save_time"))
        age = max(0, int(time.time()) - last) if last else None
        effect = (
            " Redis refuses writes until a save succeeds (stop-writes-on-bgsave-error yes)."
            if stop_writes == "yes" and config.get("save", "").strip()
            else ""
        )
        findings.append(
            Finding(
                source="redis",
                severity=Severity.critical,
                title="Redis' last RDB snapshot failed",
                subject="persistence",
                evidence={
                    "rdb_last_bgsave_status": "err",
                    "rdb_changes_since_last_save": _int(info.get("rdb_changes_since_last_save")),
                    "seconds_since_last_good_save": age,
                    "stop_writes_on_bgsave_error": stop_writes or None,
                },
                recommendation="Data since the last good snapshot is at risk. Redis' log says "
                "why (no space left, permission denied on dir, fork failed: "
                "vm.overcommit_memory=1); fix that and the next save succeeds." + effect,
                impact=float(_int(info.get("rdb_changes_since_last_save"))),
            )
        )
    if _int(info.get("aof_enabled")):
        if _text(info.get("aof_last_write_status", "ok")) == "err":
            findings.append(
                Finding(
                    source="redis",
                    severity=Severity.critical,
                    title="Redis cannot write its append-only file",
                    subject="persistence",
                    evidence={"aof_last_write_status": "err",
                              "aof_last_bgrewrite_status": _text(
                                  info.get("aof_last_bgrewrite_status", ""))},
                    recommendation="Redis refuses writes while the AOF cannot be written. "
                    "Check free space and permissions where the AOF lives (CONFIG GET dir) "
                    "and Redis' log.",
                    impact=1.0,
                )
            )  # fmt: skip
        elif _text(info.get("aof_last_bgrewrite_status", "ok")) == "err":
            findings.append(
                Finding(
                    source="redis",
                    severity=Severity.warning,
                    title="Redis' last append-only file rewrite failed",
                    subject="persistence",
                    evidence={"aof_last_bgrewrite_status": "err"},
                    recommendation="The AOF keeps growing until a rewrite succeeds. Redis' log "
                    "says why (disk space, fork failure).",
                )
            )
    return findings


def _replication(info: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    role = _text(info.get("role", ""))
    if role == "slave" and _text(info.get("master_link_status", "")) != "up":
        down = _int(info.get("master_link_down_since_seconds"), -1)
        master = f"{_text(info.get('master_host', '?'))}:{_text(info.get('master_port', '?'))}"
        findings.append(
            Finding(
                source="redis",
                severity=Severity.critical,
                title=f"Redis replica has lost its master {master}"
                + (f" for {format_duration(down)}" if down >= 0 else " (never synced)"),
                subject="replication",
                evidence={
                    "role": role,
                    "master": master,
                    "master_link_status": _text(info.get("master_link_status", "")),
                    "master_link_down_since_seconds": down if down >= 0 else None,
                    "master_sync_in_progress": _int(info.get("master_sync_in_progress")),
                },
                recommendation="Reads from this replica grow stale. Check the master is up and "
                "reachable from here (network, masterauth, the master's protected-mode/bind), "
                "and the replica's log for the sync error.",
                impact=float(max(down, 0)),
            )
        )
    if role == "master":
        for index in range(_int(info.get("connected_slaves"))):
            replica = info.get(f"slave{index}")
            if not isinstance(replica, dict):
                continue
            state = _text(replica.get("state", ""))
            if state and state != "online":
                where = f"{_text(replica.get('ip', '?'))}:{_text(replica.get('port', '?'))}"
                findings.append(
                    Finding(
                        source="redis",
                        severity=Severity.warning,
                        title=f"Redis replica {where} is {state}, not online",
                        subject="replication",
                        evidence={"replica": where, "state": state,
                                  "lag_s": _int(replica.get("lag"), -1)},
                        recommendation="A replica stuck in sync keeps asking for full copies: "
                        "check client-output-buffer-limit replica and repl-backlog-size, and "
                        "the replica's log.",
                    )
                )  # fmt: skip
    return findings


def _command_name(args: Any) -> str:
    if isinstance(args, bytes | str):
        words = _text(args).split()
    elif isinstance(args, list | tuple):
        words = [_text(a, 60) for a in args[:2]]
    else:
        return "?"
    if not words:
        return "?"
    name = words[0].upper()
    if name in _CONTAINER_COMMANDS and len(words) > 1:
        name = f"{name} {words[1].upper()}"
    return name


async def _slowlog(
    session: _Session, config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    try:
        entries = await session.maybe("SLOWLOG", "GET", max(1, settings.slowlog_entries))
    except _Refused:
        return []
    groups: dict[str, list[int]] = {}
    own = settings.client_name
    considered = 0
    for entry in entries or ():
        if not isinstance(entry, list | tuple) or len(entry) < 4:
            continue
        if len(entry) >= 6 and _text(entry[5]) == own:
            continue
        considered += 1
        groups.setdefault(_command_name(entry[3]), []).append(_int(entry[2]))
    threshold = _int(config.get("slowlog-log-slower-than", "10000"), 10000)
    top = sorted(groups.items(), key=lambda item: (-sum(item[1]), item[0]))
    findings: list[Finding] = []
    for name, durations in top[: max(0, settings.slowlog_top)]:
        total, most = sum(durations), max(durations)
        slow = most >= settings.slow_command_warn_us
        advice = _SLOW_ADVICE.get(name.split()[0], "")
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning if slow else Severity.info,
                title=f"Slow Redis command {name}: {len(durations)} in the slow log, "
                f"{format_duration(total / 1e6)} in all, slowest {format_duration(most / 1e6)}",
                subject=name,
                evidence={
                    "command": name,
                    "count": len(durations),
                    "total_us": total,
                    "max_us": most,
                    "avg_us": round(total / len(durations), 1),
                    "slowlog_entries_read": considered,
                    "slowlog_log_slower_than_us": threshold,
                },
                recommendation=(
                    advice
                    or "Redis runs one command at a time: a slow one delays every client. Look "
                    "for O(N) calls on big keys (see the big-key findings) and page them."
                )
                + " SLOWLOG GET shows the arguments.",
                impact=float(total),
            )
        )
    return findings


async def _big_keys(
    session: _Session, info: dict[str, Any], settings: RedisAdviceSettings
) -> list[Finding]:
    if settings.scan_keys <= 0:
        return []
    used = max(_int(info.get("used_memory")), 1)
    usage_tail: tuple[Any, ...] = ()
    if settings.memory_usage_samples is not None:
        usage_tail = ("SAMPLES", max(0, settings.memory_usage_samples))
    sizes: list[tuple[int, bytes]] = []
    sampled = 0
    cursor: Any = 0
    while sampled < settings.scan_keys:
        try:
            reply = await session.maybe("SCAN", cursor, "COUNT", max(1, settings.scan_count))
        except _Refused:
            return []
        cursor, batch = reply[0], list(reply[1])[: settings.scan_keys - sampled]
        sampled += len(batch)
        if batch:
            usages = await session.pipeline(
                [("MEMORY", "USAGE", key, *usage_tail) for key in batch]
            )
            for key, usage in zip(batch, usages, strict=True):
                if isinstance(usage, redis_errors.ResponseError):
                    session.skipped["MEMORY USAGE"] = _text(str(usage).splitlines()[0])
                    return []
                if isinstance(usage, int):
                    sizes.append((usage, key if isinstance(key, bytes) else str(key).encode()))
        if _int(cursor) == 0:
            break
    big = [
        (size, key)
        for size, key in sizes
        if size >= settings.big_key_bytes
        or (
            size >= settings.big_key_share_min_bytes
            and 100.0 * size / used >= settings.big_key_share_pct
        )
    ]
    big.sort(key=lambda item: (-item[0], item[1]))
    big = big[: max(0, settings.big_keys_top)]
    if not big:
        return []
    dbsize = _keyspace_db(info, session.target.db)
    types = await session.pipeline([("TYPE", key) for _, key in big])
    kinds = [_text(t) if not isinstance(t, Exception) else "?" for t in types]
    lengths = await session.pipeline(
        [(_LENGTH_COMMAND.get(kind, "STRLEN"), key) for kind, (_, key) in zip(kinds, big,
                                                                              strict=True)]
    )  # fmt: skip
    findings: list[Finding] = []
    for (size, key), kind, length in zip(big, kinds, lengths, strict=True):
        name = _text(key, 120)
        share = 100.0 * size / used
        count = length if isinstance(length, int) else None
        unit = "bytes" if kind == "string" else "elements"
        title = f"Big Redis key '{name}': {format_size(size)} ({share:.0f}% of used memory)"
        if count is not None:
            title += f", {kind} of {count} {unit}"
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=title,
                subject=name,
                evidence={
                    "key": name,
                    "type": kind,
                    "bytes": size,
                    "share_of_used_pct": round(share, 2),
                    "length": count,
                    "db": session.target.db,
                    "sampled_keys": sampled,
                    "db_keys": dbsize,
                },
                recommendation=_big_key_advice(kind),
                impact=float(size),
            )
        )
    return findings


def _keyspace_db(info: dict[str, Any], db: int) -> int:
    value = info.get(f"db{db}")
    return _int(value.get("keys")) if isinstance(value, dict) else 0


def _big_key_advice(kind: str) -> str:
    split = {
        "string": "Store it compressed, or split it into several keys read as needed.",
        "hash": "Split it into buckets (key:<n> by a hash of the field) so each stays small; "
        "read it with HSCAN or HMGET, never HGETALL.",
        "list": "Trim it (LTRIM) to what is read, or use a stream with MAXLEN.",
        "set": "Split it into several sets; read with SSCAN, not SMEMBERS.",
        "zset": "Split it or trim it (ZREMRANGEBYRANK); read ranges, not the whole set.",
        "stream": "Cap it: XADD ... MAXLEN ~ N, or XTRIM.",
    }.get(kind, "Split it into smaller keys.")
    return (
        f"{split} A big key blocks Redis while it is read whole, copied to replicas or "
        "deleted (delete it with UNLINK, not DEL)."
    )
