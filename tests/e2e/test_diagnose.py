"""``wk diagnose`` on the store of a running ``wk up`` and on a store with history: what
changed, when and by how much, which latency phase moved, in every output format."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
from aiohttp import web
from tests.helpers.alerting import eventually
from tests.helpers.cli import Completed, Running, wk
from tests.helpers.servers import WebServer

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store


class SlowToAnswer:
    """A web server whose time to first byte can be raised while it runs; connecting to it
    stays as fast as ever (the kernel accepts; only the handler waits)."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.app = web.Application()
        self.app.router.add_get("/", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(text="ok")


async def test_a_server_slow_to_answer_is_blamed_on_ttfb_not_connect(tmp_path: Path) -> None:
    target = SlowToAnswer()
    async with WebServer(target.app) as server:
        config = tmp_path / "wk.yaml"
        config.write_text(
            f"""
storage: sqlite:///wk.db
monitors:
  - {{name: api, http: "{server.url("/")}", interval: 300ms, timeout: 300ms}}
"""
        )
        running = await Running("-c", str(config), cwd=tmp_path).start()
        try:
            # the baseline (answers at once), then as many checks of the slow server: each
            # waited for in the store, whatever a loaded machine makes of the interval
            await eventually(lambda: stored(running, since=0, at_least=30), timeout=90)
            target.delay = 0.15
            slow_from = time.time()
            await eventually(lambda: stored(running, since=slow_from, at_least=20), timeout=90)

            async def diagnosed() -> Completed | None:
                """``wk diagnose`` over the slow checks only, once it finds a moved phase
                (the writer batches: the newest checks reach the file a little later)."""
                since = f"{max(1, int(time.time() - slow_from))}s"
                done = await wk(
                    "diagnose", "-c", str(config), "--monitor", "api", "--since", since,
                    "--baseline", "10m", "--format", "json",
                )  # fmt: skip
                assert done.code in (0, 1), done.stderr
                phases = [f for f in done.json()["findings"] if f["source"] == "phase"]
                return done if phases else None

            done = await eventually(diagnosed, timeout=90, every=1.0)
        finally:
            await running.stop()
    found = done.json()
    assert found["looked_at"] == ["monitor api"] and found["errors"] == []
    phase = next(f for f in found["findings"] if f["source"] == "phase")
    assert phase["severity"] == "warning" and phase["subject"] == "api"
    evidence = phase["evidence"]
    assert evidence["moved"] == "ttfb", phase
    moved = evidence["ttfb_after_ms"] - evidence["ttfb_before_ms"]
    assert moved > 100, "the server waits 150 ms more"
    # connect stays what it was: small beside the move, whatever a busy machine adds to both
    assert abs(evidence["connect_after_ms"] - evidence["connect_before_ms"]) < moved / 4
    assert phase["title"].startswith("api: TTFB +")
    assert "connect unchanged: not the network" in phase["title"]
    assert done.code == 1, "a warning exits 1"


async def stored(running: Running, *, since: float, at_least: int) -> bool:
    """Has the store (the writer batches) ``at_least`` results of ``api`` started since?"""
    answer = await running.get(f"/api/v1/monitors/api/results?since={since}&limit={at_least}")
    return len(answer["items"]) >= at_least


def keep(folder: Path, results: list[Result]) -> None:
    """Write ``results`` to the store ``wk.db`` in ``folder`` (as a run of ``wk up`` would)."""
    store = Store.open(f"sqlite:///{folder / 'wk.db'}")
    try:
        store.write(results)
    finally:
        store.close()


def one_monitor(folder: Path, line: str = '{name: api, http: "http://127.0.0.1:9/"}') -> Path:
    path = folder / "wk.yaml"
    path.write_text(f"storage: sqlite:///wk.db\nmonitors:\n  - {line}\n")
    return path


def connections(now: float, jump_at: float, seed: int) -> list[Result]:
    """Six hours of db checks every 30 s whose pg.connections go from about 12 to 48 at
    ``jump_at`` (and a steady series beside it)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(720):
        at = now - 6 * 3600 + i * 30
        checked = Result("db", "postgres", at, True, Phases(connect=0.001, total=0.002))
        checked.metrics["pg.connections"] = float(
            (12 if at < jump_at else 48) + rng.integers(-2, 3)
        )
        checked.metrics["pg.steady"] = float(5 + rng.integers(0, 2))
        out.append(checked)
    return out


def write_shifted_history(path: Path, now: float) -> float:
    """Six hours of checks every 10 s: p95 about 120 ms, then from 2 h ago about 340 ms."""
    rng = np.random.default_rng(5)
    onset = now - 2 * 3600
    results = []
    for i in range(6 * 360):
        at = now - 6 * 3600 + i * 10
        level = 0.300 if at >= onset else 0.100
        ttfb = level * float(rng.gamma(16, 1 / 16))
        phases = Phases(dns=None, connect=0.001, tls=None, ttfb=ttfb, transfer=0.0005)
        phases.total = ttfb + 0.0015
        results.append(Result("api", "http", at, True, phases))
    results.append(Result("db", "tcp", now - 60, True, Phases(connect=0.001, total=0.001)))
    keep(path.parent, results)
    return onset


def shifted_config(folder: Path) -> Path:
    path = folder / "wk.yaml"
    path.write_text(
        """
storage: sqlite:///wk.db
monitors:
  - {name: api, http: "http://127.0.0.1:9/"}
  - {name: db, tcp: "127.0.0.1:9"}
"""
    )
    return path


async def test_a_level_shift_is_told_with_its_onset_and_both_levels(tmp_path: Path) -> None:
    now = time.time()
    onset = write_shifted_history(tmp_path / "wk.db", now)
    config = shifted_config(tmp_path)
    done = await wk("diagnose", "-c", str(config), "--since", "6h", "--format", "json")
    assert done.code == 1, done.stderr
    report = done.json()
    assert report["looked_at"] == ["monitor api", "monitor db"]
    shift = next(f for f in report["findings"] if f["source"] == "drift")
    assert shift["subject"] == "api" and shift["severity"] == "warning"
    evidence = shift["evidence"]
    assert 100 < evidence["before_p95_ms"] < 160 and 300 < evidence["after_p95_ms"] < 460
    assert 150 < evidence["change_pct"] < 250
    seen = time.mktime(time.strptime(evidence["onset"][:19], "%Y-%m-%dT%H:%M:%S"))
    seen -= time.timezone if time.localtime().tm_isdst == 0 else time.altzone
    assert abs(seen - onset) <= 600, "the onset within two 5-minute buckets"
    assert "latency p95 rose from" in shift["title"] and "%" in shift["title"]
    phase = next(f for f in report["findings"] if f["source"] == "phase")
    assert phase["evidence"]["moved"] == "ttfb"
    kinds = [(f["severity"], f["source"]) for f in report["findings"]]
    assert kinds == sorted(kinds, key=lambda k: ["critical", "warning", "info"].index(k[0]))


async def test_every_format_says_the_same_thing(tmp_path: Path) -> None:
    write_shifted_history(tmp_path / "wk.db", time.time())
    config = shifted_config(tmp_path)
    text = await wk("diagnose", "-c", str(config))
    assert text.code == 1, text.stderr
    assert "warning" in text.stdout and "latency p95 rose from" in text.stdout
    assert "→ " in text.stdout, "each finding says what to do"
    md = await wk("diagnose", "-c", str(config), "--format", "md")
    assert md.stdout.startswith("# wk diagnose\n")
    assert "## WARNING · api: latency p95 rose from" in md.stdout
    assert "| before_p95_ms |" in md.stdout
    out = tmp_path / "report.html"
    html = await wk("diagnose", "-c", str(config), "--format", "html", "-o", str(out))
    assert html.code == 1, html.stderr
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "latency p95 rose from" in page
    assert "https://" not in page.split("<script>")[0], "nothing loaded from elsewhere"
    charts = json.loads(page.split("var charts = ", 1)[1].split(";\n", 1)[0])
    assert charts and charts[0]["inline"] and len(charts[0]["x"]) > 50


async def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = shifted_config(tmp_path)
    write_shifted_history(tmp_path / "wk.db", time.time())
    bad = await wk("diagnose", "-c", str(config), "--since", "soon")
    assert bad.code == 2 and bad.stderr.strip().startswith("--since:")
    assert "Traceback" not in bad.stderr
    unknown = await wk("diagnose", "-c", str(config), "--monitor", "nope")
    assert unknown.code == 2 and "no monitor named 'nope'" in unknown.stderr
    away = await wk("diagnose", "--postgres", "postgresql://nobody:secret@127.0.0.1:9/x")
    assert away.code == 2, away.stdout
    assert "secret" not in away.stdout + away.stderr
    assert "cannot look at postgres" in away.stdout


async def test_the_configs_databases_cache_and_host_are_advised_on(tmp_path: Path) -> None:
    """With a config and no targets named, the advisors look at what the config watches (the
    machine's PostgreSQL and Redis here), and the Postgres statistics are kept in the store
    for the next run's deltas."""
    write_shifted_history(tmp_path / "wk.db", time.time())
    config = tmp_path / "wk.yaml"
    config.write_text(
        """
storage: sqlite:///wk.db
monitors:
  - {name: api, http: "http://127.0.0.1:9/"}
  - {name: db, postgres: "postgresql://postgres@127.0.0.1:5432/postgres"}
  - {name: cache, redis: "redis://127.0.0.1:6379/0"}
  - {name: box, host: {}}
"""
    )
    done = await wk("diagnose", "-c", str(config), "--format", "json", timeout=120)
    assert done.code in (0, 1), done.stderr
    report = done.json()
    assert report["errors"] == []
    assert report["looked_at"] == [
        "monitor api",
        "monitor db",
        "monitor cache",
        "monitor box",
        "postgres db",
        "redis cache",
        "host box",
    ]
    for finding in report["findings"]:
        assert set(finding) == {
            "source",
            "severity",
            "title",
            "subject",
            "evidence",
            "recommendation",
        }
        assert finding["severity"] in ("critical", "warning", "info")
        if finding["source"] in ("postgres", "redis"):
            assert finding["evidence"]["target"] in ("db", "cache")
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}", existing=True)
    try:
        with store.read() as connection:
            from watchkeeper.store.ingest import get_meta
            from watchkeeper.store.schema import meta

            keys = [row[0] for row in connection.execute(meta.select())]
            assert any(key.startswith("diagnose.postgres.") for key in keys), keys
            kept = get_meta(connection, next(k for k in keys if k.startswith("diagnose.")))
    finally:
        store.close()
    assert kept is not None and json.loads(kept), "a snapshot for the next run's deltas"
    focused = await wk("diagnose", "-c", str(config), "--monitor", "api", "--format", "json")
    assert focused.json()["looked_at"] == ["monitor api"], "one monitor: no advisors"


async def test_a_series_that_jumped_is_told_as_a_clue(tmp_path: Path) -> None:
    now = time.time()
    keep(tmp_path, connections(now, now - 6 * 3600 + 500 * 30, seed=6))
    config = one_monitor(
        tmp_path, '{name: db, postgres: "postgresql://postgres@127.0.0.1:5432/postgres"}'
    )
    done = await wk("diagnose", "-c", str(config), "--monitor", "db", "--format", "json")
    assert done.code == 0, done.stderr
    clues = [f for f in done.json()["findings"] if f["subject"].startswith("db pg.")]
    assert [c["subject"] for c in clues] == ["db pg.connections"], clues
    clue = clues[0]
    assert clue["severity"] == "info" and "rose from 12 to 48" in clue["title"]
    assert 250 < clue["evidence"]["change_pct"] < 350


async def test_a_daily_evening_peak_is_a_pattern_not_a_warning(tmp_path: Path) -> None:
    """The same rise at the same time yesterday: told, as info, as the pattern it is."""
    now = time.time()
    rng = np.random.default_rng(8)
    onset = now - 2 * 3600
    results = []
    for i in range(30 * 360):  # 30 hours, every 10 s
        at = now - 30 * 3600 + i * 10
        since_onset = (at - onset) % 86400
        busy = since_onset < 4 * 3600  # from 2 h ago, and yesterday at the same time
        ttfb = (0.3 if busy else 0.1) * float(rng.gamma(16, 1 / 16))
        phases = Phases(connect=0.001, ttfb=ttfb, transfer=0.0005, total=ttfb + 0.0015)
        results.append(Result("api", "http", at, True, phases))
    keep(tmp_path, results)
    config = one_monitor(tmp_path)
    done = await wk("diagnose", "-c", str(config), "--format", "json")
    assert done.code == 0, (done.stdout, done.stderr)
    shift = next(f for f in done.json()["findings"] if f["source"] == "drift")
    assert shift["severity"] == "info"
    assert shift["title"].endswith("as it does every day at this time"), shift["title"]
    assert shift["evidence"]["recurs_every_s"] == 86400
    phase = next(f for f in done.json()["findings"] if f["source"] == "phase")
    assert phase["severity"] == "info" and phase["evidence"]["moved"] == "ttfb"


async def test_failures_more_frequent_than_before_are_told(tmp_path: Path) -> None:
    now = time.time()
    start = now - 30 * 3600
    keep(
        tmp_path,
        [  # a check every 30 s for 30 hours; in the last hour every third fails
            Result(
                "api",
                "http",
                start + i * 30,
                not (start + i * 30 >= now - 3600 and i % 3 == 0),
                Phases(connect=0.001, ttfb=0.05, total=0.052),
            )
            for i in range(3600)
        ],
    )
    config = one_monitor(tmp_path)
    done = await wk("diagnose", "-c", str(config), "--since", "1h", "--format", "json")
    assert done.code == 1, done.stderr
    failed = next(f for f in done.json()["findings"] if "failed" in f["title"])
    assert failed["severity"] == "critical", "a third of the checks"
    assert 30 < failed["evidence"]["failed_pct"] < 37
    assert failed["evidence"]["baseline_failed_pct"] < 0.1  # (a check or two at the edge)
    assert failed["title"].endswith("(before: 0.0%)")


async def test_changes_that_began_together_are_linked(tmp_path: Path) -> None:
    now = time.time()
    onset = write_shifted_history(tmp_path / "wk.db", now)  # api: slower from 2 h ago
    keep(tmp_path, connections(now, onset + 120, seed=9))
    config = shifted_config(tmp_path)
    done = await wk("diagnose", "-c", str(config), "--format", "json")
    assert done.code == 1, done.stderr
    findings = done.json()["findings"]
    latency = next(f for f in findings if f["source"] == "drift" and f["subject"] == "api")
    assert latency["evidence"]["coincides_with"].startswith("db pg.connections (+"), latency
    assert latency["recommendation"].startswith("At the same moment: db pg.connections")
    clue = next(f for f in findings if f["subject"] == "db pg.connections")
    assert clue["evidence"]["coincides_with"].startswith("api (+")


async def test_a_baseline_of_a_few_checks_neither_excuses_nor_compares(tmp_path: Path) -> None:
    now = time.time()
    earlier = [Result("api", "http", now - 7200 - i, i == 0, Phases(total=0.05)) for i in range(2)]
    recent = [
        Result("api", "http", now - 3000 + i * 30, i % 5 >= 2, Phases(total=0.05))
        for i in range(40)
    ]
    keep(tmp_path, earlier + recent)
    config = one_monitor(tmp_path)
    done = await wk("diagnose", "-c", str(config), "--since", "1h", "--format", "json")
    failed = next(f for f in done.json()["findings"] if "failed" in f["title"])
    assert failed["title"].endswith("(no baseline before)")
    assert (
        failed["evidence"]["baseline_failed_pct"] == 0
        and failed["evidence"]["baseline_checks"] == 2
    )
