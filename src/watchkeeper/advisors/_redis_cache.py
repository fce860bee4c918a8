"""Redis as a cache, from INFO: the hit rate and the evictions. Both count since the server
started, and both only mean trouble where this Redis is (or is not) a cache: misses are how
queues, locks and rate limiters work; evicting is how a cache at its limit makes room."""

from __future__ import annotations

from typing import Any

from watchkeeper.advisors._redis_common import (
    can_evict,
    integer,
    is_cache,
    looks_like,
    persist,
    policy,
)
from watchkeeper.advisors._redis_settings import RedisAdviceSettings
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_duration, format_size, plural


def hit_rate(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    """Warning below ``hit_rate_warn_pct`` on a cache; info on anything else."""
    hits, misses = integer(info.get("keyspace_hits")), integer(info.get("keyspace_misses"))
    lookups = hits + misses
    if lookups < max(1, settings.hit_rate_min_lookups):
        return []
    rate = 100.0 * hits / lookups
    if rate >= settings.hit_rate_warn_pct:
        return []
    cache = is_cache(info, config, settings)
    evicted = integer(info.get("evicted_keys"))
    evidence: Evidence = {
        "hit_rate_pct": round(rate, 2),
        "keyspace_hits": hits,
        "keyspace_misses": misses,
        "threshold_pct": settings.hit_rate_warn_pct,
        "evicted_keys": evicted,
        "uptime_s": integer(info.get("uptime_in_seconds")),
        "looks_like": looks_like(cache),
    }
    since = " The counts run since the server started; to count afresh from now: CONFIG RESETSTAT"
    if cache is not True:
        return [
            Finding(
                source="redis",
                severity=Severity.info,
                title=f"Redis hit rate is {rate:.1f}% ({misses:,} misses in {lookups:,} lookups)",
                subject="keyspace",
                evidence=evidence,
                recommendation=f"This Redis {_not_a_cache(settings)}, and queues, locks and "
                "rate limiters miss on purpose. If it is a cache, check that the application "
                f"writes a key back after a miss.{since}",
                impact=float(misses),
            )
        ]
    were = "was" if evicted == 1 else "were"
    hint = (
        f" {plural(evicted, 'key')} {were} evicted: a bigger maxmemory keeps more."
        if evicted
        else ""
    )
    return [
        Finding(
            source="redis",
            severity=Severity.warning,
            title=f"Redis cache hit rate is {rate:.1f}% ({misses:,} misses in {lookups:,} lookups)",
            subject="keyspace",
            evidence=evidence,
            recommendation="Each miss goes to the slower store behind the cache. Check that "
            "the application writes a key back after a miss, that TTLs are not shorter than "
            f"the data's reuse, and that keys are not looked up under a changing name.{hint}"
            f"{since}",
            impact=float(misses),
        )
    ]


def evictions(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    """Info on a cache whose policy evicts (working as designed); warning otherwise: a data
    store that evicts loses data, and a policy that cannot evict now did so before."""
    evicted = integer(info.get("evicted_keys"))
    if evicted <= 0:
        return []
    used = integer(info.get("used_memory"))
    maxmemory, policy_name = policy(info, config)
    cache = is_cache(info, config, settings)
    uptime = integer(info.get("uptime_in_seconds"))
    per_hour = evicted * 3600.0 / max(uptime, 1)
    evidence: Evidence = {
        "evicted_keys": evicted,
        "uptime_s": uptime,
        "evictions_per_hour": round(per_hour, 1),
        "used_memory_bytes": used,
        "maxmemory_bytes": maxmemory,
        "maxmemory_policy": policy_name,
        "expired_keys": integer(info.get("expired_keys")),
        "looks_like": looks_like(cache),
    }
    rate = f"{per_hour:,.0f}" if per_hour >= 10 else f"{per_hour:.2g}"
    counted = (
        f"{plural(evicted, 'key')} since it started {format_duration(uptime)} ago ({rate} an hour)"
    )
    limit = f"maxmemory {format_size(maxmemory)}, {policy_name}"
    if cache and can_evict(info, policy_name):
        return [
            Finding(
                source="redis",
                severity=Severity.info,
                title=f"Redis evicted {counted} to stay under {limit}",
                subject="memory",
                evidence=evidence,
                recommendation="A cache at its limit evicts to make room: by design. Only "
                "if the hit rate is low too does a bigger limit (above the "
                f"{format_size(used)} in use) pay: {persist(info, 'maxmemory <size>')}",
                impact=float(evicted),
            )
        ]
    if cache:
        why = (
            f"This cache's policy {policy_name} cannot evict now (no key has a TTL, or "
            "evictions happened under an earlier policy), so once it is full writes fail. "
            "Let it evict any key: " + persist(info, "maxmemory-policy allkeys-lru")
        )
    else:
        why = (
            f"This Redis {_not_a_cache(settings)}, so every evicted key is data lost. For a "
            "data store or queue refuse writes rather than lose data, and size the limit "
            f"above the {format_size(used)} in use: "
            + persist(info, "maxmemory-policy noeviction", "maxmemory <size>")
        )
    return [
        Finding(
            source="redis",
            severity=Severity.warning,
            title=f"Redis evicted {counted} to stay under {limit}",
            subject="memory",
            evidence=evidence,
            recommendation=why,
            impact=float(evicted),
        )
    ]


def _not_a_cache(settings: RedisAdviceSettings) -> str:
    if settings.cache is False:
        return "is declared a data store"
    return (
        "does not look like a cache (no allkeys-* policy, fewer than half of its keys with a TTL)"
    )
