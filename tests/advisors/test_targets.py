"""Targets are shown as host:port/db, and every spelling of their password is a secret."""

from __future__ import annotations

import pytest

from watchkeeper.advisors.targets import postgres, redis


@pytest.mark.parametrize(
    ("dsn", "label", "password"),
    [
        ("postgresql://app:s3cret@db:6543/shop", "db:6543/shop", "s3cret"),
        ("postgresql://app@db/app?password=s3cret", "db:5432/app", "s3cret"),
        ("host=db password='a b c' dbname=x", "db:5432/x", "a b c"),
        ("postgresql://u:p%40ss@h/d", "h:5432/d", "p@ss"),
    ],
)
def test_postgres_targets(dsn: str, label: str, password: str) -> None:
    shown = postgres(dsn)
    assert shown.label == label
    assert password in shown.secrets
    assert all(len(secret) >= len(password) for secret in shown.secrets), "no fragments"


@pytest.mark.parametrize(
    ("url", "label", "password"),
    [
        ("redis://:pw-1@cache:6380/2", "cache:6380/2", "pw-1"),
        ("redis://cache/0?password=s3cret", "cache:6379/0", "s3cret"),
        ("rediss://user:x%2Fy@cache", "cache:6379/0", "x/y"),
    ],
)
def test_redis_targets(url: str, label: str, password: str) -> None:
    shown = redis(url)
    assert shown.label == label and password in shown.secrets


def test_an_unreadable_address_still_hides_its_password() -> None:
    shown = postgres("postgresql://app:hunter2@[bad")
    assert "hunter2" not in shown.label and "hunter2" in shown.secrets


@pytest.mark.parametrize("address", ["postgresql://app:p@ss@db/x", "redis://:p@ss@cache:6379/0"])
def test_an_unencoded_at_in_the_password_is_refused_not_half_shown(address: str) -> None:
    shown = postgres(address) if address.startswith("postgresql") else redis(address)
    assert "ss@" not in shown.label and "p@ss" in shown.secrets
    assert shown.problem is not None and "%40" in shown.problem
    assert all(len(secret) > 1 for secret in shown.secrets), "no one-letter fragment"


async def test_the_advisors_say_why_instead_of_connecting() -> None:
    from watchkeeper.advisors import postgres as pg_advisor
    from watchkeeper.advisors import redis as redis_advisor
    from watchkeeper.advisors.errors import AdvisorError

    with pytest.raises(AdvisorError, match="%40") as raised:
        await pg_advisor.advise("postgresql://app:p@ss@127.0.0.1:9/x")
    assert "ss@" not in str(raised.value)
    with pytest.raises(AdvisorError, match="%40"):
        await redis_advisor.advise("redis://:p@ss@127.0.0.1:9/0")
