"""Redis memory, from INFO and CONFIG GET: the limit and policy, use near the limit,
fragmentation and swapping."""

from __future__ import annotations

from typing import Any

from watchkeeper.advisors._redis_common import (
    can_evict,
    integer,
    is_cache,
    keyspace,
    looks_like,
    number,
    persist,
    policy,
    text,
)
from watchkeeper.advisors._redis_settings import MiB, RedisAdviceSettings
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_size

_DEFRAG_IGNORE_BYTES = 100 * MiB
"""Redis' default active-defrag-ignore-bytes: less allocator fragmentation is left alone."""
_DEFRAG_THRESHOLD_PCT = 10.0
"""Redis' default active-defrag-threshold-lower."""


def limit_and_policy(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    """No limit, a limit that refuses writes, or a volatile-* policy with nothing to evict;
    and memory near the limit."""
    used = integer(info.get("used_memory"))
    maxmemory, policy_name = policy(info, config)
    cache = is_cache(info, config, settings)
    keys, expires = keyspace(info)
    base: Evidence = {
        "used_memory_bytes": used,
        "maxmemory_bytes": maxmemory,
        "maxmemory_policy": policy_name,
        "keys": keys,
        "keys_with_ttl": expires,
        "looks_like": looks_like(cache),
    }
    findings: list[Finding] = []
    if maxmemory == 0:
        findings.append(_unbounded(info, base, cache is False, used))
    elif policy_name == "noeviction":
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning if cache else Severity.info,
                title="Redis policy noeviction: writes fail with OOM errors once "
                f"{format_size(maxmemory)} is used",
                subject="maxmemory-policy",
                evidence=base,
                recommendation="For a data store or queue noeviction is right: keep used "
                "memory well below maxmemory. For a cache use an evicting policy (allkeys-lru "
                "or allkeys-lfu): " + persist(info, "maxmemory-policy allkeys-lru"),
                impact=float(used),
            )
        )
    elif policy_name.startswith("volatile-") and keys and not expires:
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis policy {policy_name} can evict nothing: no key has a TTL",
                subject="maxmemory-policy",
                evidence=base,
                recommendation="volatile-* policies only evict keys with an expiry, so once "
                f"{format_size(maxmemory)} is used writes fail as with noeviction. Give keys "
                "a TTL when writing them (SET key value EX seconds), or let any key go: "
                + persist(info, "maxmemory-policy allkeys-lru"),
                impact=float(used),
            )
        )
    if maxmemory > 0:
        findings += _near_limit(info, base, policy_name, used, maxmemory, settings)
    return findings


def _unbounded(info: dict[str, Any], base: Evidence, store: bool, used: int) -> Finding:
    system = integer(info.get("total_system_memory"))
    ram = f" (this machine has {format_size(system)})" if system else ""
    if store:
        advice = (
            "As a data store it is sized by hand: watch used memory against the RAM"
            f"{ram}, and have it refuse writes before the OOM killer strikes: "
            + persist(info, "maxmemory <size>", "maxmemory-policy noeviction")
        )
    else:
        advice = (
            "For a cache set a limit of about 3/4 of the RAM left for Redis"
            f"{ram} and an evicting policy: "
            + persist(info, "maxmemory <size>", "maxmemory-policy allkeys-lru")
        )
    return Finding(
        source="redis",
        severity=Severity.info if store else Severity.warning,
        title="Redis has no memory limit (maxmemory 0): it grows until the OS runs out",
        subject="maxmemory",
        evidence={**base, "total_system_memory_bytes": system},
        recommendation=advice,
        impact=float(used),
    )


def _near_limit(
    info: dict[str, Any],
    base: Evidence,
    policy_name: str,
    used: int,
    maxmemory: int,
    settings: RedisAdviceSettings,
) -> list[Finding]:
    pct = 100.0 * used / maxmemory
    if pct < settings.memory_warn_pct:
        return []
    evicting = can_evict(info, policy_name)
    if evicting:
        severity = Severity.info
        advice = (
            f"With {policy_name} Redis evicts keys to stay under the limit, as a cache "
            "should; the evictions finding (if any) says whether it evicts too much."
        )
    else:
        severity = Severity.critical if pct >= settings.memory_critical_pct else Severity.warning
        advice = (
            f"With {policy_name} nothing can be evicted: writes start failing with OOM at "
            "100%. Delete or expire data, move some of it elsewhere, or raise the limit: "
            + persist(info, "maxmemory <size>")
        )
    return [
        Finding(
            source="redis",
            severity=severity,
            title=f"Redis uses {pct:.0f}% of maxmemory ({format_size(used)} of "
            f"{format_size(maxmemory)})",
            subject="memory",
            evidence={**base, "used_pct": round(pct, 2)},
            recommendation=advice,
            impact=pct,
        )
    ]


def fragmentation(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> list[Finding]:
    """``mem_fragmentation_ratio`` (resident / data) too high: warning, with active
    defragmentation advised only where the allocator's own fragmentation is what it can fix;
    below 1: critical, part of Redis is swapped out."""
    ratio = number(info.get("mem_fragmentation_ratio"))
    used = integer(info.get("used_memory"))
    rss = integer(info.get("used_memory_rss"))
    if ratio is None or ratio <= 0:
        return []
    allocator_ratio = number(info.get("allocator_frag_ratio"))
    allocator_bytes = (
        integer(info.get("allocator_frag_bytes")) if "allocator_frag_bytes" in info else None
    )
    evidence: Evidence = {
        "mem_fragmentation_ratio": ratio,
        "used_memory_bytes": used,
        "used_memory_rss_bytes": rss,
        "mem_fragmentation_bytes": integer(info.get("mem_fragmentation_bytes"), rss - used),
        "allocator_frag_ratio": allocator_ratio,
        "allocator_frag_bytes": allocator_bytes,
        "rss_overhead_bytes": (
            integer(info.get("rss_overhead_bytes")) if "rss_overhead_bytes" in info else None
        ),
        "mem_allocator": text(info.get("mem_allocator", "")),
    }
    if ratio > settings.fragmentation_warn_ratio and used >= settings.fragmentation_min_used_bytes:
        defrag = config.get("activedefrag", "")
        return [
            Finding(
                source="redis",
                severity=Severity.warning,
                title=f"Redis memory is fragmented: {ratio:.2f}× ({format_size(rss)} resident "
                f"for {format_size(used)} of data)",
                subject="memory",
                evidence={**evidence, "activedefrag": defrag or None},
                recommendation=_defrag_advice(info, config, allocator_ratio, allocator_bytes),
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
                "and keep the kernel from swapping it out: sysctl vm.swappiness=1",
                impact=float(used - rss),
            )
        ]
    return []


def _defrag_advice(
    info: dict[str, Any],
    config: dict[str, str],
    allocator_ratio: float | None,
    allocator_bytes: int | None,
) -> str:
    """Active defragmentation only moves the allocator's fragmented pages
    (``allocator_frag_*``, Redis 4+): the rest of the resident memory (RSS overhead, pages
    the allocator keeps) it cannot give back."""
    jemalloc = text(info.get("mem_allocator", "")).startswith("jemalloc")
    defrag = config.get("activedefrag", "")
    restart = "Restart the instance (or fail over to a replica) at a quiet time to give the "
    restart += "memory back"
    if allocator_ratio is not None and allocator_bytes is not None:
        configured = number(config.get("active-defrag-threshold-lower"))
        threshold = _DEFRAG_THRESHOLD_PCT if configured is None else configured
        ignore = integer(config.get("active-defrag-ignore-bytes"), _DEFRAG_IGNORE_BYTES)
        fixable = allocator_ratio >= 1 + threshold / 100 and allocator_bytes >= ignore
        if not fixable:
            return (
                f"The allocator itself is only {allocator_ratio:.2f}× fragmented "
                f"({format_size(max(allocator_bytes, 0))}): the excess is resident overhead "
                "(freed pages the allocator keeps, copy-on-write after a fork), which active "
                f"defragmentation cannot fix. {restart}; or ask jemalloc to release what it "
                "keeps: MEMORY PURGE"
                if jemalloc
                else f"The allocator itself is only {allocator_ratio:.2f}× fragmented: the "
                "excess is resident overhead active defragmentation cannot fix. "
                f"{restart}."
            )
        if jemalloc and defrag != "yes":
            return (
                f"The allocator holds {format_size(allocator_bytes)} in fragmented pages "
                f"({allocator_ratio:.2f}×), which active defragmentation moves back "
                "together in the background (it needs Redis' bundled jemalloc: where CONFIG "
                "SET refuses, restart at a quiet time instead): "
                + persist(info, "activedefrag yes")
            )
    elif jemalloc and defrag != "yes":
        return (
            "Turn on active defragmentation; it works in the background (it needs Redis' "
            "bundled jemalloc: where CONFIG SET refuses, restart at a quiet time instead): "
            + persist(info, "activedefrag yes")
        )
    return restart + ("; active defragmentation is already on." if defrag == "yes" else ".")
