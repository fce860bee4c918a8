"""Contract: migrations build exactly the schema in code, and upgrading keeps data."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from tests.store.workload import HOUR, answers, stored, workload

from watchkeeper.errors import StoreError
from watchkeeper.model import Phases, Result, State, Transition
from watchkeeper.store import Store, codec, migrate, minutes, schema

T0 = 1_700_000_000.0


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """Opened on an empty database: migrated here, not copied from a template."""
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


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


def test_opening_a_store_at_the_head_revision_leaves_alembic_unimported(tmp_path: Path) -> None:
    """Every ``wk`` command that writes, and ``wk up``, opens its store: Alembic (a quarter of
    a second to import and run) only when there is a migration to make."""
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    probe = (
        "import sys\nfrom watchkeeper.store import Store\n"
        f"Store.open({url!r}).close()\nprint('alembic' in sys.modules)\n"
    )
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert (first.stdout, again.stdout) == ("True\n", "False\n"), first.stderr + again.stderr


def test_a_reader_does_not_migrate_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "wk.db"
    with sqlite3.connect(path) as db:  # a database without Watchkeeper's tables
        db.execute("create table other (x integer)")
    with pytest.raises(StoreError, match="no tables yet"):
        Store.open(f"sqlite:///{path}", existing=True)
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
    assert tables == {"other"}


def _as_0005_wrote_it(connection: sa.Connection, written: list[Result]) -> None:
    """Rows as the Watchkeeper of revision 0005 wrote them: phases as milliseconds, and each
    series value as a ``samples`` row beside its result."""
    ids: dict[str, int] = {}
    for result in written:
        if result.monitor not in ids:
            ids[result.monitor] = len(ids) + 1
            connection.execute(
                sa.text(
                    "INSERT INTO monitors (id, name, kind, target) VALUES (:i, :n, 'http', '')"
                ),
                {"i": ids[result.monitor], "n": result.monitor},
            )
    phases = ("total", "dns", "connect", "tls", "ttfb", "transfer")
    connection.execute(
        sa.text(
            "INSERT INTO results (monitor_id, ts, ok, status, error, failures, warnings, "
            + ", ".join(f"{p}_ms" for p in phases)
            + ") VALUES (:m, :ts, :ok, :status, :error, :failures, :warnings, "
            + ", ".join(f":{p}" for p in phases)
            + ")"
        ),
        [
            {
                "m": ids[r.monitor],
                "ts": r.started_at,
                "ok": r.ok,
                "status": r.status,
                "error": r.error,
                "failures": json.dumps(r.failures, ensure_ascii=False) if r.failures else None,
                "warnings": json.dumps(r.warnings, ensure_ascii=False) if r.warnings else None,
                **{p: None if (v := r.phases.get(p)) is None else v * 1000.0 for p in phases},
            }
            for r in written
        ],
    )
    connection.execute(
        sa.text("INSERT INTO samples (monitor_id, name, ts, value) VALUES (:m, :n, :ts, :v)"),
        [
            {"m": ids[r.monitor], "n": name, "ts": r.started_at, "v": value}
            for r in written
            for name, value in r.metrics.items()
        ],
    )


ODD_SERIES = {"tiny": 5e-324, "huge": 1e300, "third": 1 / 3, "whole": 1234.0, "inf": math.inf}


def test_a_store_of_the_previous_revision_upgrades_without_losing_anything(
    store_url: str, peek: sa.Engine, tmp_path: Path
) -> None:
    written = workload(("api", "db"), 120)
    written[5] = dataclasses.replace(
        written[5], error="délai dépassé ✗", ok=False, metrics=dict(ODD_SERIES)
    )
    changes = [
        Transition("api", HOUR + 150, State.UP, State.DOWN, "délai"),
        Transition("api", HOUR + 600, State.DOWN, State.UP, None),
    ]
    with peek.connect() as connection:
        migrate.upgrade(connection, "0005")
    with peek.begin() as connection:
        _as_0005_wrote_it(connection, written)
        connection.execute(
            sa.text(
                "INSERT INTO state_changes (monitor_id, at, from_state, to_state, reason) "
                "VALUES (1, :at, :a, :b, :why)"
            ),
            [{"at": t.at, "a": t.from_state, "b": t.to_state, "why": t.reason} for t in changes],
        )
        connection.execute(
            sa.text("INSERT INTO monitor_state VALUES (1, 'up', :at, NULL)"), {"at": HOUR + 600}
        )
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.write(written, changes)
    now = HOUR + 3600 + 120

    upgraded = Store.open(store_url)
    try:
        assert upgraded.results("api", 0, limit=10**6) == stored(
            sorted((r for r in written if r.monitor == "api"), key=lambda r: r.started_at)
        )
        newest: dict[str, float] = {}
        for result in sorted(written, key=lambda r: r.started_at):
            if result.monitor == "api":
                newest.update(result.metrics)
        assert {p.name: p.value for p in upgraded.sample_names("api", HOUR)} == newest
        assert upgraded.transitions() == changes
        assert upgraded.states()["api"].since == HOUR + 600
        for store in (upgraded, fresh):
            store.rollup(now, grace=70)
        assert answers(upgraded, ("api", "db"), now) == answers(fresh, ("api", "db"), now)
        upgraded.compact(now, grace=70)
        assert answers(upgraded, ("api", "db"), now) == answers(fresh, ("api", "db"), now)
    finally:
        upgraded.close()
        fresh.close()


def _downgrade(peek: sa.Engine, revision: str) -> None:
    with peek.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), revision)
        connection.commit()


def test_a_store_goes_back_to_the_previous_revision_until_it_packed_results(
    store_url: str, peek: sa.Engine
) -> None:
    written = workload(("api",), 40)
    store = Store.open(store_url)
    store.write(written)
    store.close()

    _downgrade(peek, "0005")

    with peek.connect() as connection:
        rows = connection.execute(sa.text("SELECT ts, total_ms FROM results ORDER BY ts, id")).all()
        samples = connection.scalar(sa.text("SELECT count(*) FROM samples"))
    assert [(ts, pytest.approx(ms, rel=1e-12)) for ts, ms in rows] == [
        (r.started_at, r.phases.total * 1000)
        for r in sorted(written, key=lambda r: r.started_at)
        if r.phases.total is not None
    ]
    assert samples == sum(len(r.metrics) for r in written)
    store = Store.open(store_url)  # and up again, then packed: no way back
    try:
        store.compact(HOUR + 7200, grace=70)
    finally:
        store.close()
    with pytest.raises(RuntimeError, match="packed in chunks"):
        _downgrade(peek, "0005")


_ROLLUP_COLUMNS = ["monitor_id", "bucket", "checks", "failures", *schema.ROLLUP_VALUE_COLUMNS]
_MINUTE_MARK = int(HOUR + 1800)  # the 0006 store had rolled up half of the hour


def _as_0006_kept_it(peek: sa.Engine, written: list[Result], minutes_of: Store) -> list[Any]:
    """A store at revision 0006 holding ``written`` as rows, and its minutes up to
    ``_MINUTE_MARK`` a row per monitor and minute (and per series): the numbers 0006's
    rollups computed, which are the minutes ``minutes_of`` (a store with the same results)
    computes from raw results with the same code. Returns the minute rows."""
    with peek.connect() as connection:
        migrate.upgrade(connection, "0006")
    with minutes_of.read() as connection:
        rows = minutes.check_rows(connection, [1, 2], 0, _MINUTE_MARK)
        series = [
            (monitor_id, name, *row)
            for monitor_id in (1, 2)
            for name in ("body.size", "ratio", "sometimes", "inf")
            for row in minutes.series_rows(connection, monitor_id, name, 0, _MINUTE_MARK)
        ]
    assert rows and series
    with peek.begin() as connection:
        for number, name in enumerate(("api", "db"), start=1):
            connection.execute(
                sa.text(
                    "INSERT INTO monitors (id, name, kind, target) VALUES (:i, :n, 'http', '')"
                ),
                {"i": number, "n": name},
            )
        if connection.dialect.name == "postgresql":  # ids given: the sequence goes on after
            connection.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('monitors', 'id'), 2)")
            )
        ids = {"api": 1, "db": 2}
        connection.execute(
            sa.text(
                f"INSERT INTO results ({', '.join(codec.RESULT_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in codec.RESULT_COLUMNS)})"
            ),
            [
                dict(zip(codec.RESULT_COLUMNS, codec.result_row(r, ids[r.monitor]), strict=True))
                for r in written
            ],
        )
        connection.execute(
            sa.text(
                f"INSERT INTO rollup_1m ({', '.join(_ROLLUP_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in _ROLLUP_COLUMNS)})"
            ),
            [dict(zip(_ROLLUP_COLUMNS, row, strict=True)) for row in rows],
        )
        connection.execute(
            sa.text(
                "INSERT INTO sample_1m (monitor_id, name, bucket, count, min, max, mean, last) "
                "VALUES (:m, :n, :b, :c, :lo, :hi, :mean, :last)"
            ),
            [
                dict(zip(["m", "n", "b", "c", "lo", "hi", "mean", "last"], row, strict=True))
                for row in series
            ],
        )
        for key in ("rollup_1m_watermark", "samples_1m_watermark"):
            connection.execute(
                sa.text("INSERT INTO meta (key, value) VALUES (:k, :v)"),
                {"k": key, "v": str(_MINUTE_MARK)},
            )
    return rows


def _minute_answers(store: Store, until: float) -> dict[str, Any]:
    return {
        name: {
            "1m": store.series(name, HOUR - 3600, until, "1m"),
            "summary": store.summary(name, until - 3 * 86400, until),
            "body.size 1m": store.samples(name, "body.size", HOUR, until, "1m"),
            "inf 1m": store.samples(name, "inf", HOUR, until, "1m"),
            "minutes": store.minute_counts(name, HOUR, until),
        }
        for name in ("api", "db")
    }


def test_a_store_of_the_previous_revision_keeps_its_minute_rollups_bit_for_bit(
    store_url: str, peek: sa.Engine, tmp_path: Path
) -> None:
    written = workload(("api", "db"), 120)
    written[5] = dataclasses.replace(written[5], metrics=dict(ODD_SERIES))
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.write(written)
    fresh.rollup(_MINUTE_MARK + 70, grace=70)
    kept = _as_0006_kept_it(peek, written, fresh)
    now = HOUR + 2 * 3600

    upgraded = Store.open(store_url)
    try:
        with upgraded.read() as connection:
            assert minutes.check_rows(connection, [1, 2], 0, HOUR + 86400) == kept
        for store in (upgraded, fresh):
            store.rollup(now, grace=70)
        assert answers(upgraded, ("api", "db"), now) == answers(fresh, ("api", "db"), now)
        before = _minute_answers(fresh, now)
        for store in (upgraded, fresh):  # the raw results go, the minutes are packed first
            store.prune(HOUR + 15 * 86400, raw=14 * 86400, minute=90 * 86400, hour=10**9)
            assert store.results("api", 0) == []
            assert _minute_answers(store, now) == before
    finally:
        upgraded.close()
        fresh.close()


def test_a_store_goes_back_to_minute_rows_until_minutes_are_packed_from_raw_results(
    store_url: str, peek: sa.Engine, tmp_path: Path
) -> None:
    written = workload(("api", "db"), 120)
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.write(written)
    fresh.rollup(_MINUTE_MARK + 70, grace=70)
    kept = _as_0006_kept_it(peek, written, fresh)
    fresh.close()
    Store.open(store_url).close()

    _downgrade(peek, "0006")

    with peek.connect() as connection:
        rows = connection.execute(
            sa.text(
                f"SELECT {', '.join(_ROLLUP_COLUMNS)} FROM rollup_1m ORDER BY monitor_id, bucket"
            )
        ).all()
        marks = dict(connection.execute(sa.text("SELECT key, value FROM meta")).all())
    assert [tuple(row) for row in rows] == kept
    first = min(r.started_at for r in written)
    assert marks["rollup_1m_watermark"] == str(int(first // 60 * 60)), "0006 rolls up the rest"
    store = Store.open(store_url)  # up again; a busy monitor's hour gets packed: no way back
    try:
        busy = workload(("busy",), 120, twin=False)
        store.write(
            [dataclasses.replace(r, started_at=r.started_at + s) for r in busy for s in (0, 15)]
        )
        store.rollup(HOUR + 7200 + 70, grace=70)
    finally:
        store.close()
    with pytest.raises(RuntimeError, match="minutes are packed"):
        _downgrade(peek, "0006")
