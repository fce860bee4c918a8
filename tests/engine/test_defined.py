"""Monitors defined through the API, on the real store (SQLite and PostgreSQL): a definition
is kept with its monitors row and ping UUID in one transaction or not at all, and ping UUIDs
left behind by monitors no longer watched never stop a start."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from tests.helpers.stores import fresh_sqlite
from tests.store.conftest import (  # noqa: F401 (fixtures)
    postgres_database,
    postgres_url,
    store_url,
)

from watchkeeper.checks import Resources
from watchkeeper.config import Config, load_api_monitor, parse_config
from watchkeeper.engine import defined
from watchkeeper.engine.heartbeats import Heartbeats
from watchkeeper.store import Store, schema
from watchkeeper.store.pings import UuidTaken

NIGHTLY = "6f9b8a52-3c1e-4d7e-9a55-1d2b3c4d5e6f"
FRESH = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:  # noqa: F811
    fresh_sqlite(store_url)  # a migrated copy
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


def config(text: str = "") -> Config:
    return parse_config(
        f'monitors:\n  - {{name: nightly, heartbeat: {{period: 1d, uuid: "{NIGHTLY}"}}}}\n{text}',
        "wk.yaml",
        env={},
    )


def tables(store: Store) -> tuple[set[str], set[str], dict[str, int]]:
    with store.read() as connection:
        return (
            set(connection.scalars(sa.select(schema.api_monitors.c.name))),
            set(connection.scalars(sa.select(schema.monitors.c.name))),
            {
                str(uuid): int(monitor_id)
                for uuid, monitor_id in connection.execute(
                    sa.select(schema.heartbeats.c.uuid, schema.heartbeats.c.monitor_id)
                )
            },
        )


def test_a_definition_is_kept_with_its_monitor_row_and_uuid_or_not_at_all(store: Store) -> None:
    loaded = config()
    heartbeats = Heartbeats(store, Resources())
    store.ensure_monitors([("nightly", "heartbeat", "")])
    assert heartbeats.load(loaded.monitors) == {}
    before = tables(store)

    spec = {"name": "copy", "heartbeat": {"period": "1h", "uuid": NIGHTLY}}
    copy = load_api_monitor(spec, loaded, loaded.monitors)
    with pytest.raises(UuidTaken, match="is already used by monitor 'nightly'"):
        defined.keep(store, heartbeats, copy, spec, "ann", time.time())
    assert tables(store) == before, "no definition, no monitors row, no uuid"
    assert heartbeats.registry.by_uuid == {NIGHTLY: "nightly"}

    spec = {"name": "copy", "heartbeat": {"period": "1h", "uuid": FRESH}}
    copy = load_api_monitor(spec, loaded, loaded.monitors)
    defined.watch(heartbeats, copy, defined.keep(store, heartbeats, copy, spec, "ann", time.time()))
    definitions, monitors, uuids = tables(store)
    assert "copy" in definitions and "copy" in monitors and FRESH in uuids
    assert heartbeats.registry.by_uuid[FRESH] == "copy"


def test_a_uuid_held_by_a_monitor_no_longer_watched_goes_to_the_one_that_asks(
    store: Store,
) -> None:
    ids = store.ensure_monitors([("old-name", "heartbeat", ""), ("nightly", "heartbeat", "")])
    with store.transaction() as connection:  # 'nightly' was called 'old-name' before
        connection.execute(
            schema.heartbeats.insert().values(
                monitor_id=ids["old-name"], uuid=NIGHTLY, created_at=1.0
            )
        )
    heartbeats = Heartbeats(store, Resources())
    assert heartbeats.load(config().monitors) == {}
    assert heartbeats.registry.by_uuid == {NIGHTLY: "nightly"}
    assert tables(store)[2] == {NIGHTLY: ids["nightly"]}


def test_two_watched_monitors_asking_for_one_uuid_leave_one_out_instead_of_failing(
    store: Store,
) -> None:
    """The one clash validation cannot see: a config heartbeat given the UUID another one
    was once given at its first start."""
    loaded = config("  - {name: weekly, heartbeat: {period: 7d}}\n")
    heartbeats = Heartbeats(store, Resources())
    store.ensure_monitors([("nightly", "heartbeat", ""), ("weekly", "heartbeat", "")])
    with store.transaction() as connection:
        connection.execute(
            schema.heartbeats.insert().values(
                monitor_id=store.monitor_id("weekly"), uuid=NIGHTLY, created_at=1.0
            )
        )
    refused = heartbeats.load(loaded.monitors)
    assert refused == {"nightly": f"heartbeat uuid {NIGHTLY} is already used by monitor 'weekly'"}
    assert heartbeats.registry.by_uuid == {NIGHTLY: "weekly"}
