"""Reading Redis replies and INFO for the Redis advisor's checks: text and numbers out of
replies, the keyspace, the memory policy, whether this Redis is a cache, how to persist a
setting, and key names fit to show."""

from __future__ import annotations

import time
from typing import Any

from watchkeeper.advisors._redis_settings import RedisAdviceSettings

_KEY_TAIL_KEPT = 4
_KEY_TAIL_LONG = 12


def text(value: Any, limit: int = 200) -> str:
    """A reply value as text (bytes decoded), cut to ``limit`` characters."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    shown = str(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def first_line(message: Any, default: str = "refused") -> str:
    """The first line of an error reply, at most 200 characters."""
    lines = str(message).strip().splitlines()
    return text(lines[0], 200) if lines else default


def integer(value: Any, default: int = 0) -> int:
    try:
        return int(float(text(value)))
    except (TypeError, ValueError):
        return default


def number(value: Any) -> float | None:
    try:
        return float(text(value))
    except (TypeError, ValueError):
        return None


def server_now(info: dict[str, Any]) -> float:
    """The server's clock (INFO ``server_time_usec``, Redis 5+), else this machine's: the
    slow log's and the last save's timestamps are the server's."""
    usec = integer(info.get("server_time_usec"))
    return usec / 1e6 if usec > 0 else time.time()


def pairs(reply: Any) -> dict[str, str]:
    """A CONFIG GET reply (a flat list under RESP2, a map under RESP3) as a dict."""
    if isinstance(reply, dict):
        items = list(reply.items())
    elif isinstance(reply, list | tuple):
        items = list(zip(reply[::2], reply[1::2], strict=False))
    else:
        items = []
    return {text(k): text(v) for k, v in items}


def keyspace(info: dict[str, Any]) -> tuple[int, int]:
    """Keys and keys with a TTL, over every database."""
    keys = expires = 0
    for name, value in info.items():
        if name.startswith("db") and name[2:].isdigit() and isinstance(value, dict):
            keys += integer(value.get("keys"))
            expires += integer(value.get("expires"))
    return keys, expires


def db_keys(info: dict[str, Any], db: int) -> int:
    value = info.get(f"db{db}")
    return integer(value.get("keys")) if isinstance(value, dict) else 0


def policy(info: dict[str, Any], config: dict[str, str]) -> tuple[int, str]:
    """maxmemory (bytes, 0 = none) and maxmemory-policy, from CONFIG GET or else INFO."""
    maxmemory = integer(config.get("maxmemory", info.get("maxmemory", 0)))
    name = config.get("maxmemory-policy") or text(info.get("maxmemory_policy", "noeviction"))
    return maxmemory, name


def can_evict(info: dict[str, Any], policy_name: str) -> bool:
    """Can this policy make room now (a ``volatile-*`` one needs keys with a TTL)?"""
    if policy_name.startswith("allkeys-"):
        return True
    if policy_name.startswith("volatile-"):
        return keyspace(info)[1] > 0
    return False


def is_cache(
    info: dict[str, Any], config: dict[str, str], settings: RedisAdviceSettings
) -> bool | None:
    """Declared (``settings.cache``), or guessed: an ``allkeys-*`` policy throws out any key,
    which only a cache can afford; else half of the keys or more carry a TTL. None: no keys
    to judge by."""
    if settings.cache is not None:
        return settings.cache
    if policy(info, config)[1].startswith("allkeys-"):
        return True
    keys, expires = keyspace(info)
    if not keys:
        return None
    return expires * 2 >= keys


def looks_like(cache: bool | None) -> str:
    return {True: "cache", False: "data store", None: "unknown"}[cache]


def persist(info: dict[str, Any], *settings: str) -> str:
    """The commands that change ``settings`` (``"maxmemory 2gb"``...) now and for good:
    ``CONFIG SET ...; CONFIG REWRITE`` when the server has a config file, else the start-up
    options to add."""
    commands = "; ".join(f"CONFIG SET {setting}" for setting in settings)
    if text(info.get("config_file", "")).strip():
        return f"{commands}; CONFIG REWRITE"
    options = " ".join(f"--{setting}" for setting in settings)
    return (
        f"{commands} (this server runs without a config file, so CONFIG REWRITE cannot keep "
        f"it: add {options} to its start-up options too)"
    )


def shown_key(key: Any, settings: RedisAdviceSettings) -> str:
    """A key name fit for titles and evidence: the part after the last ':' cut to its first
    characters when long (``sess:3f9a…``): such tails are often session tokens or ids."""
    name = text(key, 120)
    if not settings.mask_key_names:
        return name
    head, colon, tail = name.rpartition(":")
    if len(tail) <= _KEY_TAIL_LONG:
        return name
    return f"{head}{colon}{tail[:_KEY_TAIL_KEPT]}…"
