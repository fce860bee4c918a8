"""What the web reads from the store, on SQLite and PostgreSQL: the dashboard's ledger seeded
from rollups and raw results (each check counted once), chart series at each resolution,
and the tables for users, sessions, tokens and API definitions."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from tests.store.conftest import ResultFactory

from watchkeeper.auth import Auth, AuthError
from watchkeeper.engine.ledger import Ledger
from watchkeeper.model import Phases, Result
from watchkeeper.store import Store, definitions

NOW = 1_800_000_000.0  # a whole hour (and day): 1_800_000_000 % 3600 == 0
DAY = 86400.0


def test_the_ledger_counts_each_check_once_whatever_has_been_rolled_up(
    store: Store, make_result: ResultFactory
) -> None:
    # 10 days of a check a minute; rolled up to 2 days ago (hours) and half an hour further
    # (minutes); the rest raw, as after wk up was stopped for a while
    results = [
        make_result("api", NOW - 10 * DAY + i * 60, ok=i % 100 != 0) for i in range(10 * 1440)
    ]
    store.write(results)
    store.rollup(NOW - 2 * DAY + 1800, grace=0)
    ledger = Ledger()
    ledger.seed(store, ["api"], NOW)
    total = sum(bar.checks for bar in ledger.days("api", 90, NOW))
    failures = sum(bar.failures for bar in ledger.days("api", 90, NOW))
    assert total == len(results)
    assert failures == sum(1 for r in results if not r.ok)
    day = ledger.days("api", 90, NOW)[-2]  # yesterday, a whole day
    assert day.checks == 1440
    assert ledger.uptime("api", DAY, NOW - 1) == pytest.approx(1 - 15 / 1440, abs=0.002)
    assert ledger.uptime("nobody", DAY, NOW) is None


def test_the_ledger_counts_packed_results_once(
    store: Store, make_result: ResultFactory, peek: sa.Engine
) -> None:
    results = [make_result("api", NOW - 3 * DAY + i * 60, ok=i % 50 != 0) for i in range(3 * 1440)]
    store.write(results)
    store.compact(NOW, grace=0)  # no rollup yet: everything is raw, and packed
    assert store.rollup(NOW - DAY, grace=0) > 0
    with peek.begin() as connection:  # the rollups forgotten: the ledger reads raw results
        connection.execute(sa.text("DELETE FROM meta"))

    ledger = Ledger()
    ledger.seed(store, ["api"], NOW)

    days = ledger.days("api", 90, NOW)
    assert sum(bar.checks for bar in days) == len(results)
    assert sum(bar.failures for bar in days) == sum(1 for r in results if not r.ok)


def test_the_ledger_follows_live_results_and_keeps_recent_latencies(
    make_result: ResultFactory,
) -> None:
    ledger = Ledger()
    now = time.time()
    for i in range(120):
        ledger.record(make_result("web", now - 3600 + i * 30, ok=i != 5, total=0.1 + i / 1000))
    assert ledger.uptime("web", 2 * 3600, now) == pytest.approx(119 / 120)  # hour slots
    line = ledger.sparkline("web", now)
    assert len(line) == 30 and all(v is not None for v in line[:-1])
    assert line[-2] is not None and line[-2] > line[0]  # it got slower: the line says so
    assert ledger.days("web", 3, now)[-1].checks + ledger.days("web", 3, now)[-2].checks == 120
    ledger.forget("web")
    assert ledger.uptime("web", 3600, now) is None


def test_series_read_raw_minutes_and_hours_with_the_tail_not_yet_rolled_up(
    store: Store,
) -> None:
    store.ensure_monitors([("api", "http", "")])
    results = [
        Result(
            "api",
            "http",
            NOW - 3 * 3600 + i * 10,
            i % 60 != 0,
            Phases(dns=0.001, ttfb=0.02, total=0.03),
        )
        for i in range(3 * 360)
    ]
    store.write(results)
    store.rollup(NOW - 3600, grace=0)  # the last hour is raw only
    raw = store.series("api", NOW - 600, NOW, "raw")
    assert len(raw) == 60 and raw[0].p50 == pytest.approx(30.0)
    minutes = store.series("api", NOW - 3 * 3600, NOW, "1m")
    assert len(minutes) == 180, "rolled-up minutes and the raw tail, as minutes"
    assert sum(p.checks for p in minutes) == len(results)
    assert sum(p.failures for p in minutes) == 18
    assert minutes[-1].phases["ttfb"] == pytest.approx(20.0)
    hours = store.series("api", NOW - 3 * 3600, NOW, "1h")
    assert [p.checks for p in hours] == [360, 360, 360]


def test_users_sessions_and_tokens_keep_only_hashes(store: Store) -> None:
    auth = Auth(store)
    assert not auth.has_users()
    auth.add_user("ann", "a long password", "admin")
    with pytest.raises(AuthError, match="exists already"):
        auth.add_user("ann", "another long one", "viewer")
    with pytest.raises(AuthError, match="at least 10"):
        auth.add_user("bo", "short", "viewer")
    user = auth.check_password("ann", "a long password")
    assert user is not None and auth.check_password("ann", "wrong password!") is None
    assert auth.check_password("nobody", "a long password") is None
    session = auth.start_session(user)
    who = auth.session(session)
    assert who is not None and who.name == "ann" and who.can_write and who.csrf
    token_id, token = auth.create_token("ci", "read")
    principal = auth.token(token)
    assert principal is not None and not principal.can_write
    with store.read() as connection:
        stored = " ".join(
            str(value)
            for table in ("users", "sessions", "api_tokens")
            for row in connection.exec_driver_sql(f"SELECT * FROM {table}")
            for value in row
        )
    assert "a long password" not in stored and session not in stored and token not in stored
    auth.revoke_token(token_id)
    assert auth.token(token) is None, "revoked here: at once, cache or not"
    auth.end_session(session)
    assert auth.session(session) is None
    with pytest.raises(AuthError, match="last admin"):
        auth.remove_user("ann")


def test_api_definitions_round_trip(store: Store) -> None:
    spec = {"name": "orders", "http": "https://shop.example.com/orders", "tags": ["shop"]}
    with store.transaction() as connection:
        assert definitions.put_api_monitor(connection, "orders", spec, "ann", NOW)
        assert not definitions.put_api_monitor(
            connection, "orders", {**spec, "tags": []}, "ann", NOW + 1
        )
    with store.read() as connection:
        [found] = definitions.api_monitors(connection)
    assert found.spec == {**spec, "tags": []} and found.created_by == "ann"
    with store.transaction() as connection:
        assert definitions.delete_api_monitor(connection, "orders")
        assert not definitions.delete_api_monitor(connection, "orders")
