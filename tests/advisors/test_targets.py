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
