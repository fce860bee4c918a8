"""Store upkeep in the running engine: results older than the grace end up packed, and read
back as they were written (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from tests.helpers.alerting import eventually
from tests.helpers.stores import fresh_sqlite
from tests.store.conftest import (  # noqa: F401 (fixtures)
    postgres_database,
    postgres_url,
    store_url,
)

from watchkeeper.config import parse_config
from watchkeeper.engine.service import Engine
from watchkeeper.model import Phases, Result
from watchkeeper.store import Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:  # noqa: F811
    fresh_sqlite(store_url)  # a migrated copy
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


def _rows(store: Store) -> int:
    with store.read() as connection:
        return int(connection.scalar(sa.text("SELECT count(*) FROM results")) or 0)


async def test_the_engine_packs_results_past_the_grace_into_chunks(store: Store) -> None:
    start = time.time() - 3 * 3600
    written = [
        Result("old", "http", start + i * 30, i % 9 != 0, Phases(total=round(0.1 + i / 1e6, 9)))
        for i in range(200)
    ]
    store.write(written)
    engine = Engine(parse_config("monitors: []\n", "wk.yaml", env={}), store, rollup_every=0.05)
    await engine.start()
    try:
        await eventually(lambda: _rows(store) == 0, timeout=60, every=0.05)
    finally:
        await engine.stop()

    assert store.results("old", 0, limit=1000) == written


async def test_the_engine_prunes_the_activity_log_past_its_retention(store: Store) -> None:
    from watchkeeper import activity
    from watchkeeper.store.activity import Entry

    now = time.time()
    activity.write(
        store,
        [
            Entry(at=now - 3 * 86400, actor="ann", action="monitor.update"),
            Entry(at=now - 3600, actor="ann", action="login"),
        ],
    )
    config = parse_config("retention: {activity: 2d}\nmonitors: []\n", "wk.yaml", env={})
    engine = Engine(config, store, rollup_every=0.05, prune_every=0.0)
    await engine.start()
    try:
        await eventually(lambda: len(activity.read(store)) == 1, timeout=60, every=0.05)
    finally:
        await engine.stop()

    assert [e.action for e in activity.read(store)] == ["login"]
