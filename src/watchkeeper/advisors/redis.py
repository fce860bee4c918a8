"""Redis advisor: what INFO, CONFIG GET, SLOWLOG GET and a SCAN sample say about a live Redis,
as Findings.

Checks (thresholds are :class:`RedisAdviceSettings` fields, defaults in brackets). Whether
Redis is a cache is ``RedisAdviceSettings.cache``, or guessed: an ``allkeys-*`` policy, or
half of the keys or more carrying a TTL (no keys: unknown).

- **hit rate** ``keyspace_hits / (hits + misses)`` since the server started: below
  ``hit_rate_warn_pct`` [80 %] once there were ``hit_rate_min_lookups`` [1000] lookups,
  warning on a cache, info otherwise (queues, locks, rate limiters miss on purpose);
- **evictions** ``evicted_keys > 0`` (since the server started; evidence has the uptime and
  the rate per hour): info on a cache whose policy can evict (working as designed), warning
  otherwise (a data store that evicts loses data);
- **fragmentation** ``mem_fragmentation_ratio`` above ``fragmentation_warn_ratio`` [1.5] with
  at least ``fragmentation_min_used_bytes`` [100 MiB] in use: warning (below that the ratio of a
  small Redis is dominated by its fixed overhead and means nothing). Active defragmentation is
  advised only when ``allocator_frag_ratio``/``allocator_frag_bytes`` (the part it can fix)
  pass Redis' own active-defrag thresholds; the rest is resident overhead. Below 1.0 with at
  least ``swap_min_used_bytes`` [10 MiB] in use: critical, the OS swapped part of Redis out;
- **memory limit and policy**: ``maxmemory 0`` (unbounded) is a warning on a cache, info on a
  data store; ``noeviction`` with a limit means writes fail with OOM when full (warning on a
  cache, info otherwise); a ``volatile-*`` policy with no key carrying a TTL can evict nothing
  (warning);
- **memory near maxmemory**: at ``memory_warn_pct`` [90 %] warning, ``memory_critical_pct``
  [98 %] critical when the policy cannot evict (an evicting cache sitting at its limit is
  working as designed: info);
- **slow commands**: ``SLOWLOG GET`` [128] grouped by command name, the top ``slowlog_top`` [5]
  by total time with count, total and max µs and the newest entry's time and age: warning when
  a call within the last ``slowlog_recent`` [1 h] took ``slow_command_warn_us`` [10 ms] or
  more, else info. The advisor's own commands (its connection is named ``client_name``) are
  left out. The slow log is never reset;
- **big keys**: a ``SCAN`` sample of up to ``scan_keys`` [1000] keys of the URL's database
  (at most ``scan_max_calls`` [scan_keys / scan_count × 4 + 10] calls and ``scan_seconds``
  [2 s]: a sample cut short says so), ``MEMORY USAGE`` of each (``memory_usage_samples``
  [Redis' default of 5 elements]; 0 is exact and slow on big collections); keys of
  ``big_key_bytes`` [10 MiB] or more, or holding ``big_key_share_pct`` [10 %] of used memory
  (and at least ``big_key_share_min_bytes`` [1 MiB]): warning with the type and length
  (``LLEN``/``HLEN``/``SCARD``/``ZCARD``/``XLEN``/``STRLEN``), the biggest ``big_keys_top`` [5].
  Long key names are shown cut (``sess:3f9a…``) unless ``mask_key_names`` is off;
- **clients**: ``rejected_connections > 0`` warning; connected clients at ``clients_warn_pct``
  [90 %] of ``maxclients`` warning; blocked clients info, warning from
  ``blocked_clients_warn`` [100];
- **persistence**: the last RDB save or AOF write failed: critical; the last AOF rewrite failed:
  warning;
- **replication**: a replica whose link to its master is down: critical; a master's replica
  that is not ``online``: warning.

A setting to change comes as ``CONFIG SET ...; CONFIG REWRITE`` when the server has a config
file, else with the start-up option to add.

Read-only: PING and CLIENT SETNAME (to connect), INFO, CONFIG GET, SLOWLOG GET, SCAN, MEMORY
USAGE, TYPE and the length commands. A command the server refuses (ACL, renamed away) skips
its check and is named in an info Finding; an unreachable or unreadable server raises
:class:`AdvisorError`.

Modules: ``_redis_settings`` (thresholds), ``_redis_session`` (URL and connection),
``_redis_common`` (reading replies and INFO), ``_redis_cache`` (hit rate, evictions),
``_redis_memory`` (limit, policy, fragmentation), ``_redis_health`` (clients, persistence,
replication), ``_redis_slowlog``, ``_redis_bigkeys``.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.advisors._redis_bigkeys import big_keys
from watchkeeper.advisors._redis_cache import evictions, hit_rate
from watchkeeper.advisors._redis_common import pairs
from watchkeeper.advisors._redis_health import clients, persistence, replication
from watchkeeper.advisors._redis_memory import fragmentation, limit_and_policy
from watchkeeper.advisors._redis_session import CONNECT_ACL, Refused, Session, target
from watchkeeper.advisors._redis_settings import MiB, RedisAdviceSettings
from watchkeeper.advisors._redis_slowlog import slowlog
from watchkeeper.findings import Finding, Severity, ranked

__all__ = ["MiB", "RedisAdviceSettings", "advise"]

_CONFIG = (
    "maxmemory",
    "maxmemory-policy",
    "maxclients",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "activedefrag",
    "active-defrag-ignore-bytes",
    "active-defrag-threshold-lower",
    "stop-writes-on-bgsave-error",
    "save",
)
_READ_ACL = (
    "+info +config|get +slowlog|get +scan +memory|usage +type +llen +hlen +scard +zcard "
    "+xlen +strlen"
)


async def advise(
    url: str,
    *,
    settings: RedisAdviceSettings | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - the socket timeout of each command, not a deadline
) -> list[Finding]:
    """Look at the Redis at ``url`` and return what is wrong (and a few facts) as Findings,
    most important first. Raises :class:`AdvisorError` when it cannot be reached or read."""
    settings = settings or RedisAdviceSettings()
    session = Session(target(url), settings, timeout)
    try:
        return await _advise(session, settings)
    finally:
        await session.close()


async def _advise(session: Session, settings: RedisAdviceSettings) -> list[Finding]:
    await session.connect()
    raw = await session.run("INFO")
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    config = await _config(session)
    findings: list[Finding] = []
    findings += hit_rate(info, config, settings)
    findings += evictions(info, config, settings)
    findings += limit_and_policy(info, config, settings)
    findings += fragmentation(info, config, settings)
    findings += clients(info, config, settings)
    findings += persistence(info, config)
    findings += replication(info)
    findings += await slowlog(session, info, config, settings)
    findings += await big_keys(session, info, settings)
    if session.skipped:
        findings.append(_skipped(session))
    return ranked(findings)


async def _config(session: Session) -> dict[str, str]:
    config: dict[str, str] = {}
    for name in _CONFIG:
        try:
            reply = await session.maybe("CONFIG", "GET", name)
        except Refused:
            break  # refused once, refused for all: INFO's copies stand in
        config.update(pairs(reply))
    return config


def _skipped(session: Session) -> Finding:
    database = " +select" if session.target.db else ""
    return Finding(
        source="redis",
        severity=Severity.info,
        title=f"Some Redis checks were skipped: {', '.join(sorted(session.skipped))} refused",
        subject=session.target.where,
        evidence=dict(sorted(session.skipped.items())),
        recommendation="Allow the advisor's user the read-only commands it uses (and read "
        "access to the keys for MEMORY USAGE, TYPE and the lengths: %R~*, or ~* before Redis "
        "7) to get the full picture: "
        f"ACL SETUSER {session.target.user} {CONNECT_ACL}{database} {_READ_ACL} %R~*",
    )
