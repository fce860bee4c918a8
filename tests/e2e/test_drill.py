"""Restore drills as a user runs them: ``wk drill`` on the command line (recorded, then shown
by ``wk drill history`` and ``wk drill report``), and in ``wk up``, where a failing drill
notifies through the monitor's route and a ``kill -9`` mid-drill leaves nothing behind
once it is started again."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.helpers.cli import Running, wk
from tests.helpers.drills import pg_sessions
from tests.helpers.receivers import HookReceiver

PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A custom-format dump of a small shop database (orders: 300 rows)."""
    name = f"wk_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f"create database {name}")
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as c:
        c.execute(
            "create table orders (id int primary key, total numeric);"
            "insert into orders select g, g * 1.5 from generate_series(1, 300) g"
        )
    target = tmp_path_factory.mktemp("dump") / "shop.dump"
    subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f", str(target), name],
        check=True,
    )
    yield target
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f"drop database if exists {name} with (force)")


@pytest.fixture
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="wk-drille2e-"))
    folder.chmod(0o755)  # the private cluster runs as postgres when the tests run as root
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _config(folder: Path, backups: Path, workdir: Path, extra: str = "", notify: str = "") -> Path:
    path = folder / "watchkeeper.yaml"
    path.write_text(
        f"""storage: sqlite:///wk.db
engine: {{startup_spread: 1s}}
{extra}
monitors:
  - name: shop{notify}
    backup:
      path: {backups}
      max_age: 1d
      drill: {{into: cluster, workdir: {workdir}, tables: [orders], rto: 10m}}
"""
    )
    return path


def _cut(source: Path, target: Path) -> None:
    """``source``'s first half at ``target``: a dump cut short."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])


def _scratch_folders(workdir: Path) -> list[Path]:
    return list(workdir.glob("wk-drill-*"))


def _env(tmp_path: Path) -> dict[str, str]:
    return {"WATCHKEEPER_STATE": str(tmp_path / "state")}


async def test_wk_drill_records_its_drills_for_history_and_the_report(
    tmp_path: Path, dump: Path, workdir: Path
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    shutil.copy(dump, backups / "shop-1.dump")
    config = str(_config(tmp_path, backups, workdir))
    env = _env(tmp_path)

    ran = await wk("drill", "shop", "-c", config, env=env, timeout=120)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert "shop: passed" in ran.stdout
    assert "✓ tables: orders is there (300 rows)" in ran.stdout

    cut = backups / "shop-2.dump"  # a newer backup, cut short
    _cut(dump, cut)
    failed = await wk("drill", "shop", "-c", config, "--format", "json", env=env, timeout=120)
    assert failed.code == 1
    record = failed.json()
    assert record["ok"] is False and record["backup"]["name"] == "shop-2.dump"
    assert record["failures"][0].startswith("restore failed: pg_restore exited with 1")

    status = await wk("status", "-c", config, "--json", env=env)
    states = {m["monitor"]: m["state"] for m in status.json()}
    assert states["shop drill"] == "down"  # wk up starts from the state the drill left

    history = await wk("drill", "history", "shop", "-c", config, "--format", "json", env=env)
    assert history.code == 0, history.stderr
    drills = history.json()["drills"]
    assert [d["ok"] for d in drills] == [False, True]  # newest first
    assert drills[1]["counts"] == {"orders": 300}

    report = await wk("drill", "report", "-c", config, "--format", "md", env=env)
    assert report.code == 1  # the last drill failed: something to act on
    row = next(line for line in report.stdout.splitlines() if line.startswith("| shop |"))
    assert "| failing |" in row and "shop\\-1\\.dump" in row and "| 1/2 |" in row

    cut.unlink()
    again = await wk("drill", "shop", "-c", config, env=env, timeout=120)
    assert again.code == 0, again.stdout + again.stderr
    report = await wk("drill", "report", "-c", config, "--format", "json", env=env)
    assert report.code == 0
    (backup,) = report.json()["backups"]
    assert backup["status"] == "ok" and backup["passed"] == 2 and backup["drills"] == 3
    assert backup["rto_s"] > 0 and backup["objectives"]["rto_s"] == 600


async def test_wk_drill_names_what_is_wrong_in_one_line(
    tmp_path: Path, dump: Path, workdir: Path
) -> None:
    config = str(_config(tmp_path, dump.parent, workdir))
    unknown = await wk("drill", "shoop", "-c", config, env=_env(tmp_path))
    assert unknown.code == 2
    assert unknown.stderr.strip().endswith("no monitor named 'shoop' (backup monitors: shop)")
    assert "Traceback" not in unknown.stderr
    usage = await wk("drill", "history", "-c", config, env=_env(tmp_path))
    assert usage.code == 2 and "wk drill NAME" in usage.stderr


async def test_a_failing_drill_in_wk_up_notifies_its_route(
    tmp_path: Path, dump: Path, workdir: Path
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    _cut(dump, backups / "shop.dump")
    async with HookReceiver() as hook:
        extra = f'notify:\n  - {{name: hook, webhook: "{hook.url()}", group_wait: 1s}}\n'
        config = _config(tmp_path, backups, workdir, extra=extra, notify="\n    notify: [hook]")
        running = Running("-c", str(config), cwd=tmp_path, env=_env(tmp_path))
        await running.start()
        try:
            requests = await hook.wait(
                lambda found: any(
                    a.get("monitor") == "shop drill" and a.get("state") == "down"
                    for r in found
                    for a in r.json().get("alerts", [])
                ),
                timeout=60,
            )
            alert = next(
                a
                for r in requests
                for a in r.json().get("alerts", [])
                if a.get("monitor") == "shop drill"
            )
            assert alert["reason"].startswith("restore failed: pg_restore exited with 1")
            page = await running.request("GET", "/monitors/shop%20drill")
            assert page[0] == 200 and "Restore drills" in page[1]
            for _ in range(100):  # the notification may go out before the writer's batch
                listed = await running.get("/api/v1/drills")
                if listed["backups"][0]["status"] != "never drilled":
                    break
                await asyncio.sleep(0.1)
            assert [(b["backup"], b["status"]) for b in listed["backups"]] == [("shop", "failing")]
            mine = await running.get("/api/v1/drills/shop")
            assert mine["drill"] == "shop drill" and not mine["drills"][0]["ok"]
            missing = await running.request("GET", "/api/v1/drills/nope")
            assert missing[0] == 404
        finally:
            await running.stop()
    assert _scratch_folders(workdir) == []


KILLED = "select pg_sleep(120) as {token};\n--\n-- PostgreSQL database dump complete\n--\n"


def _scratch(drill_id: str) -> list[str]:
    with psycopg.connect(PG, autocommit=True) as c:
        rows = c.execute(
            "select datname from pg_database where datname like %s", (f"%{drill_id}",)
        ).fetchall()
    return [r[0] for r in rows]


async def test_kill_9_mid_drill_leaves_nothing_once_wk_up_starts_again(
    tmp_path: Path, workdir: Path
) -> None:
    token = f"slow_{secrets.token_hex(4)}"
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "slow.sql").write_text(KILLED.format(token=token))
    config = tmp_path / "watchkeeper.yaml"
    config.write_text(
        f"""storage: sqlite:///wk.db
engine: {{startup_spread: 1s}}
monitors:
  - name: shop
    backup:
      path: {backups}
      format: pg_plain
      drill: {{into: "{PG}", workdir: {workdir}}}
"""
    )
    env = _env(tmp_path)
    first = Running("-c", str(config), cwd=tmp_path, env=env)
    await first.start()
    try:
        for _ in range(600):
            if pg_sessions(token):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the drill never reached its restore")
    finally:
        await first.kill()
    ledger = tmp_path / "state" / "drills"
    (entry_file,) = list(ledger.iterdir())
    entry = json.loads(entry_file.read_text())
    assert _scratch(entry["id"]) and pg_sessions(token)  # left behind by the kill

    (backups / "slow.sql").unlink()  # the next drill finds no backup: quick, nothing made
    second = Running("-c", str(config), cwd=tmp_path, env=env)
    await second.start()
    try:
        for _ in range(300):
            if not _scratch(entry["id"]) and not entry_file.exists():
                break
            await asyncio.sleep(0.1)
        assert not _scratch(entry["id"])
        assert not entry_file.exists()
        assert not pg_sessions(token)
        for pid, _ in entry["processes"]:
            assert not _alive(pid)
    finally:
        await second.stop()
    said = " ".join((second.stdout + second.stderr).split())
    assert "drill left over from a previous run removed: shop: killed" in said


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")
