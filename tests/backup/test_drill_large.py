"""A drill of a dump of a 1 GB database finishes within its limit and reports its RTO
(slow: it builds the database first; ``pytest -m slow`` runs it, ``bench/drill_overhead.py``
measures the same drill against pg_restore alone)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from watchkeeper.backup.drill import drill
from watchkeeper.backup.files import BackupFile
from watchkeeper.backup.settings import BackupSpec, DrillSpec

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ROWS = 6_700_000  # about 1.2 GB with its indexes


@pytest.fixture(scope="module")
def big_dump() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="wk-drill-large-"))
    folder.chmod(0o755)
    name = f"wk_big_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f"create database {name}")
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as c:
            c.execute(
                "create table events (id bigint primary key, at timestamptz not null, "
                "user_id int not null, payload text not null);"
                "insert into events select g, now() - g * interval '1 second', g % 100000, "
                f"md5(g::text) || md5((g * 7)::text) from generate_series(1, {ROWS}) g;"
                "create index events_user on events (user_id, at);"
            )
            size = c.execute(f"select pg_database_size('{name}')").fetchone()
            assert size is not None and size[0] > 1e9
        dump = folder / "events.dump"
        subprocess.run(
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f", str(dump), name],
            check=True,
        )
        yield dump
    finally:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f"drop database if exists {name} with (force)")
        shutil.rmtree(folder, ignore_errors=True)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith("wk-drill-")]


def _file(path: Path) -> BackupFile:
    stat = path.stat()
    return BackupFile(str(path), path.name, stat.st_size, stat.st_mtime)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_drill_of_a_1_gb_database_reports_its_rto(
    big_dump: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WATCHKEEPER_STATE", str(tmp_path / "state"))
    spec = BackupSpec(
        path=str(big_dump),
        drill=DrillSpec(
            workdir=str(big_dump.parent),
            tables=["events"],
            rows={"events": ROWS},
            rto="30m",
            timeout="30m",
        ),
    )
    backup = _file(big_dump)
    record = await drill("events backup", spec, file=backup)
    assert record.ok, record.failures
    assert record.counts == {"events": ROWS}
    assert record.rto is not None and 0 < record.rto < record.timings["total"]
    assert record.warnings == []
    assert _leftovers(big_dump.parent) == []
