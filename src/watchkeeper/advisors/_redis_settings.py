"""The Redis advisor's thresholds and limits (what each gates: ``advisors/redis.py``)."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RedisAdviceSettings:
    """Thresholds of the Redis advisor; ``advisors/redis.py`` says what each one gates."""

    hit_rate_warn_pct: float = 80.0
    hit_rate_min_lookups: int = 1000
    fragmentation_warn_ratio: float = 1.5
    fragmentation_min_used_bytes: int = 100 * MiB
    swap_min_used_bytes: int = 10 * MiB
    memory_warn_pct: float = 90.0
    memory_critical_pct: float = 98.0
    cache: bool | None = None
    """Is this Redis a cache (True) or a data store/queue (False)? None: guess (an
    ``allkeys-*`` policy, or half of the keys carrying a TTL, make a cache)."""
    slowlog_entries: int = 128
    slowlog_top: int = 5
    slow_command_warn_us: int = 10_000
    slowlog_recent: float = 3600.0
    """Seconds: only slow-log entries this recent can warn; older ones are info."""
    scan_keys: int = 1000
    scan_count: int = 100
    scan_max_calls: int | None = None
    """SCAN calls at most (a sparse keyspace answers with empty batches); None:
    ``scan_keys // scan_count * 4 + 10``."""
    scan_seconds: float = 2.0
    """Time budget of the big-key sample (SCAN and MEMORY USAGE together)."""
    memory_usage_samples: int | None = None
    big_key_bytes: int = 10 * MiB
    big_key_share_pct: float = 10.0
    big_key_share_min_bytes: int = 1 * MiB
    big_keys_top: int = 5
    mask_key_names: bool = True
    """Shorten long key names (session tokens) in findings: ``sess:3f9a…``."""
    clients_warn_pct: float = 90.0
    blocked_clients_warn: int = 100
    client_name: str = "watchkeeper-advisor"

    @property
    def scan_call_cap(self) -> int:
        if self.scan_max_calls is not None:
            return max(1, self.scan_max_calls)
        return max(0, self.scan_keys) // max(1, self.scan_count) * 4 + 10
