"""Big Redis keys from a bounded ``SCAN`` sample of the URL's database: ``MEMORY USAGE`` of
each key, then type and length of the biggest. The sample stops at ``scan_keys`` keys, the
end of the keyspace, ``scan_call_cap`` SCAN calls (a sparse keyspace answers with empty
batches for a long time) or ``scan_seconds``, whichever comes first; the last two make it
partial, which the evidence says."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from redis import exceptions as redis_errors

from watchkeeper.advisors._redis_common import db_keys, first_line, integer, shown_key, text
from watchkeeper.advisors._redis_session import Refused, Session
from watchkeeper.advisors._redis_settings import RedisAdviceSettings
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_duration, format_size, plural

_LENGTH_COMMAND = {
    "list": "LLEN",
    "hash": "HLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
    "string": "STRLEN",
}
_SPLIT_ADVICE = {
    "string": "Store it compressed, or split it into several keys read as needed.",
    "hash": "Split it into buckets (key:<n> by a hash of the field) so each stays small; "
    "read it with HSCAN or HMGET, never HGETALL.",
    "list": "Trim it (LTRIM) to what is read, or use a stream with MAXLEN.",
    "set": "Split it into several sets; read with SSCAN, not SMEMBERS.",
    "zset": "Split it or trim it (ZREMRANGEBYRANK); read ranges, not the whole set.",
    "stream": "Cap it: XADD ... MAXLEN ~ N, or XTRIM.",
}


@dataclass(slots=True)
class _Sample:
    sizes: list[tuple[int, bytes]] = field(default_factory=list)
    keys: int = 0
    calls: int = 0
    partial: str | None = None
    """Why the sample stopped early, or None."""


async def big_keys(
    session: Session, info: dict[str, Any], settings: RedisAdviceSettings
) -> list[Finding]:
    """Keys of ``big_key_bytes`` or more, or holding ``big_key_share_pct`` of used memory
    (and ``big_key_share_min_bytes``): warning; the biggest ``big_keys_top``."""
    if settings.scan_keys <= 0:
        return []
    sample = await _sample(session, settings)
    if sample is None:
        return []
    used = max(integer(info.get("used_memory")), 1)
    big = sorted(
        (
            (size, key)
            for size, key in sample.sizes
            if size >= settings.big_key_bytes
            or (
                size >= settings.big_key_share_min_bytes
                and 100.0 * size / used >= settings.big_key_share_pct
            )
        ),
        key=lambda item: (-item[0], item[1]),
    )[: max(0, settings.big_keys_top)]
    context: Evidence = {
        "db": session.target.db,
        "sampled_keys": sample.keys,
        "db_keys": db_keys(info, session.target.db),
        "scan_calls": sample.calls,
        "sample_partial": sample.partial,
    }
    if not big:
        return [_partial_sample(sample, context)] if sample.partial else []
    types = await session.pipeline([("TYPE", key) for _, key in big])
    kinds = [text(t) if not isinstance(t, Exception) else "?" for t in types]
    lengths = await session.pipeline(
        [(_LENGTH_COMMAND.get(kind, "STRLEN"), key) for kind, (_, key) in zip(kinds, big,
                                                                              strict=True)]
    )  # fmt: skip
    findings: list[Finding] = []
    for (size, key), kind, length in zip(big, kinds, lengths, strict=True):
        name = shown_key(key, settings)
        share = 100.0 * size / used
        count = length if isinstance(length, int) else None
        title = f"Big Redis key '{name}': {format_size(size)} ({share:.0f}% of used memory)"
        if count is not None:
            title += f", {kind} of {count} {'bytes' if kind == 'string' else 'elements'}"
        findings.append(
            Finding(
                source="redis",
                severity=Severity.warning,
                title=title,
                subject=name,
                evidence={
                    "key": name,
                    "type": kind,
                    "size_bytes": size,
                    "share_of_used_pct": round(share, 2),
                    "length": count,
                    **context,
                },
                recommendation=f"{_SPLIT_ADVICE.get(kind, 'Split it into smaller keys.')} A "
                "big key blocks Redis while it is read whole, copied to replicas or deleted "
                "(delete it with UNLINK, not DEL).",
                impact=float(size),
            )
        )
    return findings


async def _sample(session: Session, settings: RedisAdviceSettings) -> _Sample | None:
    """SCAN and MEMORY USAGE within the bounds; None when the server refuses either."""
    usage_tail: tuple[Any, ...] = ()
    if settings.memory_usage_samples is not None:
        usage_tail = ("SAMPLES", max(0, settings.memory_usage_samples))
    cap = settings.scan_call_cap
    deadline = time.monotonic() + max(0.0, settings.scan_seconds)
    sample = _Sample()
    cursor: Any = 0
    while sample.keys < settings.scan_keys:
        if sample.calls >= cap:
            sample.partial = f"stopped after {sample.calls} SCAN calls (the cap)"
            break
        if sample.calls and time.monotonic() >= deadline:
            sample.partial = (
                f"stopped at the {format_duration(settings.scan_seconds)} time budget, "
                f"after {sample.calls} SCAN calls"
            )
            break
        try:
            reply = await session.maybe("SCAN", cursor, "COUNT", max(1, settings.scan_count))
        except Refused:
            return None
        sample.calls += 1
        cursor, batch = reply[0], list(reply[1])[: settings.scan_keys - sample.keys]
        sample.keys += len(batch)
        if batch:
            usages = await session.pipeline(
                [("MEMORY", "USAGE", key, *usage_tail) for key in batch]
            )
            for key, usage in zip(batch, usages, strict=True):
                if isinstance(usage, redis_errors.ResponseError):
                    session.note_refused("MEMORY USAGE", first_line(usage))
                    return None
                if isinstance(usage, int):
                    sample.sizes.append(
                        (usage, key if isinstance(key, bytes) else str(key).encode())
                    )
        if integer(cursor) == 0:
            break
    return sample


def _partial_sample(sample: _Sample, context: Evidence) -> Finding:
    return Finding(
        source="redis",
        severity=Severity.info,
        title=f"Redis big-key sample was partial: {plural(sample.keys, 'key')} looked at, none big",
        subject="keyspace",
        evidence=context,
        recommendation="The sample " + (sample.partial or "stopped early") + ", so big keys "
        "may have been missed: a sparse keyspace (few keys in a big table) answers SCAN with "
        "empty batches. Redis' own sampler walks it all, at the cost of a longer scan: "
        f"redis-cli -n {context['db']} --memkeys",
    )
