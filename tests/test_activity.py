"""The activity log's shaping (secrets out, sizes capped) and its failed-login aggregation,
on a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.stores import fresh_sqlite

from watchkeeper import activity
from watchkeeper.activity import (
    ADDRESSES_PER_MINUTE,
    MAX_DETAIL_BYTES,
    ActivityLog,
    make_entry,
    shape_detail,
)
from watchkeeper.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    fresh_sqlite(url)  # a migrated copy
    opened = Store.open(url)
    yield opened
    opened.close()


def test_secrets_are_masked_by_key_in_urls_and_as_config_values() -> None:
    detail = {
        "name": "shop",
        "password": "p4ss",
        "csrf": "form-token",
        "http": {
            "url": "https://user:pw123@shop.test/health?api_key=k-999&x=1",
            "headers": {"Authorization": "Bearer abc", "X-Api-Token": "t-1"},
            "body": "uses the-config-secret inside",
        },
    }

    shaped = json.dumps(shape_detail(detail, secrets={"the-config-secret"}))

    for secret in ("p4ss", "form-token", "pw123", "k-999", "Bearer abc", "t-1", "config-secret"):
        assert secret not in shaped
    assert "shop.test/health" in shaped and '"name": "shop"' in shaped


def test_a_large_detail_keeps_only_its_keys_and_text_is_cut() -> None:
    big = {f"key{n}": "x" * 150 for n in range(19)}

    shaped = shape_detail(big)
    one = shape_detail({"long": "y" * 5000})

    assert shaped["truncated"] is True and len(shaped["keys"]) == 19
    assert len(json.dumps(shaped)) <= MAX_DETAIL_BYTES
    assert len(one["long"]) == activity.MAX_TEXT


def test_a_subject_and_actor_are_capped_and_an_unknown_outcome_is_failed() -> None:
    made = make_entry("a" * 500, "x.y", "s" * 500, outcome="weird")

    assert len(made.actor) == activity.MAX_TEXT and len(made.subject or "") == activity.MAX_TEXT
    assert made.outcome == "failed"


async def test_failed_logins_are_one_row_per_address_and_minute_with_a_cap(
    store: Store,
) -> None:
    now = [1_700_000_000.0]
    log = ActivityLog(store, clock=lambda: now[0])
    addresses = [f"10.0.0.{i}" for i in range(3 * ADDRESSES_PER_MINUTE)]
    for round_ in range(5):
        for address in addresses:
            log.login_failed(address, f"user{round_ % 2}", "wrong")
    log.login_failed("10.0.0.0", "user0", "throttled")
    await log.flush()
    now[0] += 60  # the next minute: rows of its own
    log.login_failed("10.0.0.0", "user0", "wrong")
    await log.aclose()

    rows = activity.read(store, action="login.failed", oldest_first=True, limit=1000)
    first_minute = [r for r in rows if r.at < 1_700_000_060.0]
    assert len(first_minute) == ADDRESSES_PER_MINUTE + 1
    assert sum(r.count for r in first_minute) == 5 * len(addresses) + 1
    (other,) = [r for r in first_minute if r.address is None]
    assert other.count == 5 * 2 * ADDRESSES_PER_MINUTE
    (one,) = [r for r in first_minute if r.address == "10.0.0.0"]
    assert one.detail["reasons"] == {"wrong": 5, "throttled": 1}
    assert one.detail["names"] == ["user0", "user1"] and one.subject is None
    assert [(r.address, r.count) for r in rows if r.at >= 1_700_000_060.0] == [("10.0.0.0", 1)]


async def test_a_token_is_recorded_once_an_hour(store: Store) -> None:
    now = [7200.0]
    log = ActivityLog(store, clock=lambda: now[0])
    for _ in range(50):
        await log.token_used("token:ci", "10.1.1.1")
    now[0] += 3600
    await log.token_used("token:ci", "10.1.1.1")

    rows = activity.read(store, action="token.use")
    assert [(r.actor, r.subject, r.address) for r in rows] == [("token:ci", "ci", "10.1.1.1")] * 2
