"""Contract: raw results go in and come back equal, in order, within the asked window."""

from __future__ import annotations

import gc
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import watchkeeper.store
from watchkeeper.errors import StoreError
from watchkeeper.model import Phases, Result
from watchkeeper.store import Store

ResultFactory = Callable[..., Result]

T0 = 1_700_000_000.0


def test_the_public_surface_is_store_writer_and_summary() -> None:
    assert watchkeeper.store.__all__ == ["HistorySummary", "Store", "StoreWriter"]


def test_it_reads_back_results_equal_to_those_written(store: Store) -> None:
    written = [
        Result(
            "api",
            "http",
            T0 + 0.25,
            True,
            Phases(
                dns=0.0021, connect=0.010203, tls=0.03, ttfb=0.0875, transfer=0.0004, total=0.13
            ),
            status=200,
        ),
        Result(
            "api",
            "http",
            T0 + 30.125,
            False,
            Phases(dns=0.002, connect=None, total=1.5),
            failures=["status == 200", "latency < 500ms", "ünïcode ✓"],
            status=503,
        ),
        Result("api", "http", T0 + 60.0, False, Phases(), error="connection refused"),
        Result("db", "postgres", T0 + 1.0, True, Phases(connect=0.000123456, total=0.002)),
    ]
    store.write(written)

    assert store.results("api", since=0) == written[:3]
    assert store.results("db", since=0) == written[3:]


def test_phases_are_kept_to_the_nanosecond(store: Store) -> None:
    """What a clock measures (whole nanoseconds) comes back equal, any other float within half
    a nanosecond, and what is no duration (not finite, longer than 31 years) as not applicable."""
    measured = Phases(dns=0.000123456, connect=1.000000001, ttfb=0.0, total=12.345678901)
    odd = Phases(dns=1 / 3, total=0.1 + 0.2)
    store.write(
        [
            Result("api", "http", T0, True, measured),
            Result("api", "http", T0 + 1, True, odd),
            Result("api", "http", T0 + 2, True, Phases(math.nan, -math.inf, total=2e9)),
        ]
    )

    clock, other, impossible = (result.phases for result in store.results("api", since=0))

    assert clock == measured
    assert other.dns == pytest.approx(1 / 3, abs=0.5e-9)
    assert other.total == pytest.approx(0.3, abs=0.5e-9)
    assert impossible == Phases()


def test_it_keeps_results_across_reopen(store_url: str, make_result: ResultFactory) -> None:
    first = Store.open(store_url)
    written = [make_result(at=T0 + i, total=round(0.1 + i / 1000, 9)) for i in range(5)]
    first.write(written)
    first.close()

    reopened = Store.open(store_url)
    try:
        assert reopened.results("api", since=0) == written
    finally:
        reopened.close()


def test_it_returns_results_oldest_first_from_since_up_to_limit(
    store: Store, make_result: ResultFactory
) -> None:
    times = [T0 + offset for offset in (50, 10, 40, 20, 30, 0)]
    store.write([make_result(at=t) for t in times[:3]])
    store.write([make_result(at=t) for t in times[3:]])

    assert [r.started_at for r in store.results("api", since=0)] == sorted(times)
    assert [r.started_at for r in store.results("api", since=T0 + 20, limit=2)] == [
        T0 + 20,
        T0 + 30,
    ]


def test_it_treats_until_as_exclusive(store: Store, make_result: ResultFactory) -> None:
    store.write([make_result(at=T0 + i) for i in range(10)])

    window = store.results("api", since=T0 + 2, until=T0 + 5)

    assert [r.started_at for r in window] == [T0 + 2, T0 + 3, T0 + 4]


def test_it_keeps_write_order_for_equal_times(store: Store, make_result: ResultFactory) -> None:
    same_time = [make_result(at=T0, total=0.1 * (i + 1), status=200 + i) for i in range(4)]
    store.write(same_time)

    assert [r.status for r in store.results("api", since=0)] == [200, 201, 202, 203]
    assert [r.status for r in store.last_results("api", 2)] == [202, 203]


def test_it_returns_only_failed_results_when_asked(
    store: Store, make_result: ResultFactory
) -> None:
    store.write([make_result(at=T0 + i, ok=i % 3 == 0) for i in range(9)])

    failed = store.results("api", since=0, failed_only=True)

    assert [r.started_at for r in failed] == [T0 + i for i in range(9) if i % 3]
    assert all(not r.ok for r in failed)


def test_it_returns_the_newest_results_oldest_first(
    store: Store, make_result: ResultFactory
) -> None:
    store.write([make_result(at=T0 + i) for i in range(20)])

    assert [r.started_at for r in store.last_results("api", 3)] == [T0 + 17, T0 + 18, T0 + 19]
    assert len(store.last_results("api", 100)) == 20


def test_it_returns_nothing_for_an_unknown_monitor(store: Store) -> None:
    assert store.results("nope", since=0) == []
    assert store.last_results("nope", 5) == []


def test_it_registers_unknown_monitors_with_the_kind_of_their_result(
    store: Store, peek: sa.Engine, make_result: ResultFactory
) -> None:
    store.write([make_result("cert", kind="tls", at=T0)])

    with peek.connect() as connection:
        rows = connection.execute(sa.text("SELECT name, kind, target FROM monitors")).all()
    assert [tuple(row) for row in rows] == [("cert", "tls", "")]


def test_it_upserts_monitors_and_returns_their_ids(store: Store, peek: sa.Engine) -> None:
    ids = store.ensure_monitors([("api", "http", "https://a"), ("db", "postgres", "pg://db")])
    again = store.ensure_monitors([("api", "http", "https://b")])

    assert set(ids) == {"api", "db"}
    assert ids["api"] != ids["db"]
    assert again == {"api": ids["api"]}
    with peek.connect() as connection:
        target = connection.scalar(sa.text("SELECT target FROM monitors WHERE name = 'api'"))
    assert target == "https://b"


def test_it_stores_results_under_the_ids_it_returned(
    store: Store, peek: sa.Engine, make_result: ResultFactory
) -> None:
    ids = store.ensure_monitors([("api", "http", "https://a")])
    store.write([make_result("api", at=T0)])

    with peek.connect() as connection:
        stored = connection.scalar(sa.text("SELECT monitor_id FROM results"))
    assert stored == ids["api"]


def test_it_writes_nothing_of_a_batch_that_fails(store: Store, make_result: ResultFactory) -> None:
    good = make_result(at=T0)
    bad = make_result(at=T0 + 1, error="bad \udcff surrogate")

    with pytest.raises((StoreError, UnicodeError)):
        store.write([good, bad])

    assert store.results("api", since=0) == []


def test_it_reports_its_size(store: Store, make_result: ResultFactory) -> None:
    store.write([make_result(at=T0 + i) for i in range(100)])

    size = store.size_bytes()

    assert size is not None
    assert size > 0


def test_it_names_the_store_without_password_when_it_cannot_open() -> None:
    url = "postgresql+psycopg://app:s3cret-pw@127.0.0.1:1/app"

    with pytest.raises(StoreError) as caught:
        Store.open(url)

    message = str(caught.value)
    assert message == "cannot open store postgresql://app@127.0.0.1:1/app: connection refused"
    assert "s3cret" not in message


def test_it_refuses_an_unsupported_database() -> None:
    with pytest.raises(StoreError, match="unsupported database"):
        Store.open("mysql://user:pw@host/db")


def test_it_creates_the_directory_of_a_sqlite_store(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "wk.db"
    store = Store.open(f"sqlite:///{target}")
    try:
        assert target.exists()
        assert store.dialect == "sqlite"
        assert store.url == f"sqlite:///{target}"
    finally:
        store.close()


def test_it_refuses_to_work_once_closed(store_url: str) -> None:
    store = Store.open(store_url)
    store.close()
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.results("api", since=0)


def test_a_connection_in_use_when_the_store_closes_is_closed_on_return(
    store_url: str,
) -> None:
    # wk up stopping while a worker thread still reads: the pool is disposed under it
    store = Store.open(store_url)
    in_use = store._engine.connect()  # what a worker thread holds
    in_use.execute(sa.text("SELECT 1"))
    raw = in_use.connection.dbapi_connection
    store.close()
    in_use.close()  # the worker finishes after the close
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del store, in_use
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    assert raw is not None
    if hasattr(raw, "closed"):  # psycopg: the server connection itself is gone
        assert raw.closed


def test_the_newest_results_can_come_first(store: Store, make_result: ResultFactory) -> None:
    store.write([make_result(at=T0 + i, ok=i % 2 == 0) for i in range(30)])
    newest = store.results("api", since=0, limit=3, failed_only=True, newest_first=True)
    assert [r.started_at for r in newest] == [T0 + 29, T0 + 27, T0 + 25]


def test_the_latest_result_of_every_monitor_comes_in_one_query(
    store: Store, make_result: ResultFactory
) -> None:
    store.write([make_result(name, at=T0 + i) for i in range(5) for name in ("a", "b")])
    store.write([make_result("c", at=T0 - 10)])
    store.ensure_monitors([("quiet", "tcp", "x:1")])
    latest = store.latest_results()
    assert {name: r.started_at for name, r in latest.items()} == {
        "a": T0 + 4,
        "b": T0 + 4,
        "c": T0 - 10,
    }
