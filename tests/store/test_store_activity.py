"""Contract: the activity log's rows on SQLite and PostgreSQL, and migration 0013 both ways."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from watchkeeper import activity
from watchkeeper.store import Store, migrate
from watchkeeper.store import activity as rows
from watchkeeper.store.activity import Entry

T0 = 1_700_000_000.0


def _some(store: Store) -> None:
    activity.write(
        store,
        [
            Entry(at=T0, actor="ada", action="login", subject="ada", address="10.0.0.1"),
            Entry(at=T0 + 10, actor="ada", action="monitor.update", subject="api"),
            Entry(at=T0 + 20, actor="anonymous", action="login.failed", outcome="failed"),
            Entry(at=T0 + 30, actor="token:ci", action="token.use", detail={"n": 1}),
            Entry(at=T0 + 40, actor="cli:root", action="login_x", subject="odd"),
        ],
    )


def test_entries_come_back_newest_first_with_their_fields(store: Store) -> None:
    _some(store)

    found = activity.read(store)

    assert [e.action for e in found] == [
        "login_x",
        "token.use",
        "login.failed",
        "monitor.update",
        "login",
    ]
    assert found[1].detail == {"n": 1} and found[1].actor == "token:ci"
    assert found[-1].address == "10.0.0.1" and found[-1].outcome == "ok"
    assert found[2].count == 1 and found[2].outcome == "failed"


def test_the_filters_narrow_by_time_actor_and_verb_prefix(store: Store) -> None:
    _some(store)

    assert [e.action for e in activity.read(store, action="login")] == ["login.failed", "login"]
    assert [e.action for e in activity.read(store, actor="ada")] == ["monitor.update", "login"]
    window = activity.read(store, since=T0 + 10, until=T0 + 30, oldest_first=True)
    assert [e.at for e in window] == [T0 + 10, T0 + 20]
    newest_two = activity.read(store, limit=2)
    older = activity.read(store, before_id=newest_two[-1].id, limit=10)
    assert [e.action for e in older] == ["login.failed", "monitor.update", "login"]


def test_prune_deletes_only_what_is_older(store: Store) -> None:
    _some(store)

    assert activity.prune(store, T0 + 20) == 2
    assert [e.at for e in activity.read(store, oldest_first=True)] == [T0 + 20, T0 + 30, T0 + 40]


def test_an_aggregate_row_is_rewritten_in_place(store: Store) -> None:
    with store.transaction() as connection:
        row_id = rows.append(connection, Entry(at=T0, actor="anonymous", action="login.failed"))
        rows.replace(
            connection,
            row_id,
            Entry(at=T0, actor="anonymous", action="login.failed", count=7, detail={"a": 7}),
        )
        assert rows.count(connection) == 1
    (only,) = activity.read(store)
    assert (only.id, only.count, only.detail) == (row_id, 7, {"a": 7})


def test_migration_0013_goes_down_and_up_again(store_url: str, peek: sa.Engine) -> None:
    store = Store.open(store_url)
    _some(store)
    store.close()

    with peek.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "0012")
        connection.commit()
    with peek.connect() as connection:
        assert "activity" not in sa.inspect(connection).get_table_names()
        assert migrate.current_revision(connection) == "0012"

    store = Store.open(store_url)  # upgrades again: an empty log
    try:
        assert activity.read(store) == []
        with peek.connect() as connection:
            assert migrate.current_revision(connection) == "0013"
    finally:
        store.close()
