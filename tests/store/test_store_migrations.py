"""Contract: migrations build exactly the schema in code, and upgrading keeps data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from watchkeeper.errors import StoreError
from watchkeeper.model import Phases, Result
from watchkeeper.store import Store, migrate, schema

T0 = 1_700_000_000.0


def test_the_migrated_schema_matches_the_metadata(store: Store, peek: sa.Engine) -> None:
    with peek.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, schema.metadata)

    assert differences == []


def test_a_new_store_is_at_the_head_revision(store: Store, peek: sa.Engine) -> None:
    with peek.connect() as connection:
        assert migrate.current_revision(connection) == migrate.head_revision()


def test_the_revisions_read_without_alembic_are_alembics_own(
    store_url: str, peek: sa.Engine
) -> None:
    """``wk status`` reads the revisions from the script names and the version table; Alembic
    (too heavy to import for a read) must read the very same."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    chain = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    assert migrate.known_revisions() == chain
    assert migrate.head_revision() == script.get_current_head()

    def both(connection: sa.Connection) -> tuple[str | None, str | None]:
        ours = migrate.current_revision(connection)
        return ours, MigrationContext.configure(connection).get_current_revision()

    with peek.connect() as connection:
        assert both(connection) == (None, None)
        for revision in chain:
            migrate.upgrade(connection, revision)
            assert both(connection) == (revision, revision)


def test_data_written_at_the_first_revision_survives_upgrade_and_reopen(
    store_url: str, peek: sa.Engine
) -> None:
    with peek.connect() as connection:
        migrate.upgrade(connection, "0001")
    with peek.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO monitors (id, name, kind, target) VALUES (1, 'api', 'http', '')")
        )
        connection.execute(
            sa.text(
                "INSERT INTO results (monitor_id, ts, ok, status, total_ms, dns_ms) "
                "VALUES (1, :ts, :ok, 200, 120.5, 2.0)"
            ),
            {"ts": T0, "ok": True},
        )

    store = Store.open(store_url)
    try:
        assert store.results("api", since=0) == [
            Result("api", "http", T0, True, Phases(dns=0.002, total=0.1205), status=200)
        ]
    finally:
        store.close()
    with peek.connect() as connection:
        assert migrate.current_revision(connection) == migrate.head_revision()


def test_it_refuses_a_store_from_a_newer_watchkeeper(store_url: str, peek: sa.Engine) -> None:
    Store.open(store_url).close()
    with peek.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(StoreError, match="schema revision 9999 is newer"):
        Store.open(store_url)


def test_a_reader_never_creates_a_store(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "wk.db"
    with pytest.raises(StoreError, match=r"no store at .* yet"):
        Store.open(f"sqlite:///{path}", existing=True)
    assert not path.exists() and not path.parent.exists()


def test_a_reader_opens_a_current_store(store_url: str) -> None:
    Store.open(store_url).close()
    Store.open(store_url, existing=True).close()


def test_a_reader_does_not_migrate_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "wk.db"
    with sqlite3.connect(path) as db:  # a database without Watchkeeper's tables
        db.execute("create table other (x integer)")
    with pytest.raises(StoreError, match="no tables yet"):
        Store.open(f"sqlite:///{path}", existing=True)
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
    assert tables == {"other"}
