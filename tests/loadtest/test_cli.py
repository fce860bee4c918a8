"""``wk loadtest`` and ``wk capacity`` as a user runs them, against servers in this test."""

from __future__ import annotations

import asyncio
import bisect
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from tests.helpers.cli import wk
from tests.helpers.threaded import ThreadedServer


class Shop(ThreadedServer):
    """Answers in 5 ms, 8 at a time (about 1,600 req/s); counts the paths it is asked for."""

    def __init__(self) -> None:
        self.paths: Counter[str] = Counter()
        super().__init__(self._app)

    def _app(self) -> web.Application:
        slots = asyncio.Semaphore(8)

        async def answer(request: web.Request) -> web.Response:
            self.paths[request.path_qs] += 1
            async with slots:
                await asyncio.sleep(0.005)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        return app


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    async with Shop() as server:
        yield server


class Missing(ThreadedServer):
    """Answers 404 to every ``missing``-th request and 200 to the rest (every one: 1)."""

    def __init__(self, missing: int) -> None:
        self.missing = missing
        self.seen = 0
        super().__init__(self._app)

    def _app(self) -> web.Application:
        async def answer(request: web.Request) -> web.Response:
            self.seen += 1
            if self.seen % self.missing == 0:
                return web.Response(status=404, text="no such page")
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        return app


def error_shares(stdout: str, summary: dict[str, Any], page: str) -> tuple[str, str, str]:
    """The error rate as the table, the JSON and the HTML report each show it."""
    table = re.search(r"\s(\d[\d,]*) \((\d+\.\d\d)%\)", stdout)
    tile = re.search(r'<div class="label">Errors</div><div class="value[^"]*">([^<]*)%', page)
    assert table and tile, (stdout, page[:200])
    return table.group(2), f"{summary['error_rate'] * 100:.2f}", tile.group(1)


async def test_every_answer_a_404_is_a_100_percent_error_rate_everywhere(tmp_path: Path) -> None:
    out, page = tmp_path / "out.json", tmp_path / "out.html"
    async with Missing(1) as server:
        done = await wk(
            "loadtest", server.url("/gone"), "--rate", "150/s", "--duration", "1s",
            "--slo", "errors<60%", "--json", str(out), "--html", str(page),
        )  # fmt: skip
    summary = json.loads(out.read_text())
    assert summary["errors"] == 150 and summary["errors_by_kind"] == {"HTTP 404": 150}
    assert summary["error_rate"] == 1.0, summary["error_rate"]
    assert summary["requests"] == 150 and summary["sent"] == 150, summary
    assert error_shares(done.stdout, summary, page.read_text()) == ("100.00",) * 3
    assert "150 (100.00%)" in done.stdout
    assert done.code == 1, "every request failed: errors<60% does not hold"
    assert "✗ errors<60%: 100.00%" in done.stdout


async def test_half_the_answers_404_is_a_50_percent_error_rate_everywhere(tmp_path: Path) -> None:
    out, page = tmp_path / "out.json", tmp_path / "out.html"
    async with Missing(2) as server:
        done = await wk(
            "loadtest", server.url("/"), "--rate", "150/s", "--duration", "2s",
            "--slo", "errors<60%,errors>40%", "--json", str(out), "--html", str(page),
        )  # fmt: skip
    summary = json.loads(out.read_text())
    assert summary["errors"] == 150 and summary["error_rate"] == 0.5, summary["error_rate"]
    assert summary["sent"] == 300, summary
    assert sum(s["errors"] for s in summary["seconds"]) <= 150
    assert error_shares(done.stdout, summary, page.read_text()) == ("50.00",) * 3
    assert done.code == 0, done.stdout + done.stderr


async def test_a_load_test_writes_its_summary_and_report_and_passes_its_slo(
    shop: Shop, tmp_path: Path
) -> None:
    out, page = tmp_path / "out.json", tmp_path / "out.html"
    done = await wk(
        "loadtest", shop.url("/"), "--rate", "200/s", "--duration", "2s",
        "--slo", "p99<1s,errors<1%", "--json", str(out), "--html", str(page),
    )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())
    assert summary["model"] == "open" and summary["workers"] == 1
    assert summary["requests"] == 400 and summary["completed"] == 400 and summary["errors"] == 0
    assert summary["offered_rps"] == pytest.approx(200, rel=0.01)
    assert summary["achieved_rps"] == pytest.approx(200, rel=0.05)
    assert set(summary["latency_ms"]) >= {"p50", "p90", "p95", "p99", "p999", "max"}
    assert summary["latency_ms"]["p50"] >= 5.0, "the server takes 5 ms"
    assert summary["passed"] is True
    html = page.read_text()
    assert "uPlot" in html and "<script src=" not in html, "self-contained: nothing to fetch"
    assert "Latency over time" in html and "All thresholds held" in html
    assert "✓ p99<1s" in done.stdout


async def test_a_failed_threshold_exits_1(shop: Shop) -> None:
    done = await wk(
        "loadtest", shop.url("/"), "--rate", "100/s", "--duration", "1s", "--slo", "p99<1ms"
    )
    assert done.code == 1
    assert "✗ p99<1ms" in done.stdout


async def test_a_closed_model_run_is_labelled_and_warns(shop: Shop, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = await wk(
        "loadtest", shop.url("/"), "--users", "4", "--duration", "2s", "--json", str(out)
    )
    assert done.code == 0, done.stderr
    summary = json.loads(out.read_text())
    assert summary["model"] == "closed" and summary["users"] == 4
    assert any("coordinated omission" in w for w in summary["warnings"])
    assert "closed model" in done.stdout


async def test_a_closed_model_run_keeps_to_max_rate_too(shop: Shop, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = await wk(
        "loadtest", shop.url("/"), "--users", "8", "--duration", "2s", "--max-rate", "50/s",
        "--json", str(out),
    )  # fmt: skip
    assert done.code == 0, done.stderr
    summary = json.loads(out.read_text())
    assert summary["requests"] <= 2 * 50 * 1.05, "8 users would send about 1,600 req/s unheld"
    assert sum(shop.paths.values()) <= 2 * 50 * 1.05


async def test_dash_c_is_config_everywhere_so_the_pool_cap_is_spelled_out(shop: Shop) -> None:
    for command in ("loadtest", "capacity"):
        done = await wk(command, shop.url("/"), "-c", "10")
        assert done.code == 2, (command, done.stdout, done.stderr)
        said = done.stdout + done.stderr
        assert "-c means --config" in said and "--connections" in said, said
        assert "Traceback" not in said and not shop.paths, "nothing was sent"
    done = await wk("loadtest", shop.url("/"), "--connections", "2", "--rate", "50/s",
                    "--duration", "1s")  # fmt: skip
    assert done.code == 0 and "up to 2 connections" in done.stdout, done.stdout + done.stderr


async def test_two_workers_merge_their_counts_and_histograms(shop: Shop, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = await wk(
        "loadtest", shop.url("/"), "--rate", "400/s", "--duration", "2s", "--workers", "2",
        "--json", str(out),
    )  # fmt: skip
    assert done.code == 0, done.stderr
    summary = json.loads(out.read_text())
    assert summary["workers"] == 2
    assert summary["requests"] == 800 and summary["completed"] == 800
    assert sum(shop.paths.values()) == 800
    per_second = sum(s["achieved"] for s in summary["seconds"])  # the drain is left out
    # both workers' seconds are in it (one alone sent 400); a loaded machine leaves more of
    # the last second's answers to the drain, never half of them
    assert 400 < per_second <= 800


async def test_a_scenario_sends_weighted_requests_filled_from_its_data(
    shop: Shop, tmp_path: Path
) -> None:
    (tmp_path / "terms.csv").write_text("term,user\nshoes,ann\nhats,bob\n")
    scenario = tmp_path / "shop.yaml"
    scenario.write_text(
        f"""base: "{shop.url("/")}"
data: terms.csv
requests:
  - {{path: /, weight: 3}}
  - {{path: "/search?q={{term}}&u={{user}}", weight: 1}}
"""
    )
    done = await wk("loadtest", str(scenario), "--rate", "400/s", "--duration", "2s")
    assert done.code == 0, done.stdout + done.stderr
    searches = {path: n for path, n in shop.paths.items() if path.startswith("/search")}
    assert set(searches) == {"/search?q=shoes&u=ann", "/search?q=hats&u=bob"}
    share = sum(searches.values()) / sum(shop.paths.values())
    assert share == pytest.approx(0.25, abs=0.05)


async def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("base: http://127.0.0.1:9/\nrequests:\n  - {path: /, methd: GET}\n")
    cases = [
        (("loadtest", str(scenario)), f"{scenario}:3: unknown key 'methd' (did you mean 'method'"),
        (("loadtest", "http://127.0.0.1:9/", "--rate", "fast"), "bad rate 'fast'"),
        (("loadtest", "http://127.0.0.1:9/", "--slo", "p98<1s"), "bad threshold 'p98<1s'"),
        (("loadtest", "http://127.0.0.1:9/", "--duration", "2h"), "lift it with --max-duration"),
        (("loadtest", "http://127.0.0.1:9/", "--rate", "1000000/s"), "lift it with --max-rate"),
        (("loadtest", "http://8.8.8.8/"), "refusing to load-test 8.8.8.8"),
        (("loadtest", "nowhere.yaml"), "neither an http(s):// URL nor a scenario file"),
        (("capacity", "http://127.0.0.1:9/", "--loads", "1,2,3"), "at least 6 concurrencies"),
    ]
    for args, expected in cases:
        done = await wk(*args)
        assert done.code == 2, (args, done.stdout, done.stderr)
        said = (done.stdout + done.stderr).strip()
        assert expected in said, (args, said)
        assert "Traceback" not in said


@pytest.mark.timeout(300)
async def test_capacity_finds_the_limit_and_makes_a_plan(tmp_path: Path) -> None:
    class Limited(ThreadedServer):
        """10 ms per request, 2 at a time: about 200 req/s."""

        def __init__(self) -> None:
            super().__init__(self._app)

        def _app(self) -> web.Application:
            slots = asyncio.Semaphore(2)

            async def answer(request: web.Request) -> web.Response:
                async with slots:
                    await asyncio.sleep(0.010)
                return web.Response(text="ok")

            app = web.Application()
            app.router.add_get("/", answer)
            return app

    out, page = tmp_path / "plan.json", tmp_path / "plan.html"
    async with Limited() as server:
        started = time.monotonic()
        done = await wk(
            "capacity", server.url("/"), "--slo", "p99<100ms,errors<1%", "--step", "2s",
            "--sweep", "1s", "--start-rate", "40/s", "--loads", "1,2,3,4,6,8", "--expect", "10x",
            "--current-rps", "30/s", "--json", str(out), "--html", str(page),
            timeout=240,
        )  # fmt: skip
        took = time.monotonic() - started
    assert done.code == 0, done.stdout + done.stderr
    plan = json.loads(out.read_text())
    # never above the server's 200 req/s; how close below it depends on the machine's load
    assert 40 <= plan["sustainable_rps"] <= 205, (plan["sustainable_rps"], took)
    assert plan["first_failing_rps"] is not None
    assert plan["first_failing_rps"] / plan["sustainable_rps"] <= 1.3
    assert [p["concurrency"] for p in plan["sweep"]] == [1, 2, 3, 4, 6, 8]
    assert plan["usl"] is not None and plan["usl"]["gamma"] > 0
    assert plan["plan"]["peak_rps"] == 300.0
    assert plan["plan"]["replicas"] >= 2, plan["plan"]
    assert "instances at 70% utilisation" in plan["plan"]["verdict"]
    assert "Throughput by concurrency" in page.read_text()
    assert "capacity of" in done.stdout and "→" in done.stdout


@pytest.mark.timeout(300)
async def test_capacity_never_sends_faster_than_max_rate(tmp_path: Path) -> None:
    class Unhurried(ThreadedServer):
        """10 ms per request, as many at once as come: 100 req/s per user, no limit."""

        def __init__(self) -> None:
            self.arrivals: list[float] = []
            super().__init__(self._app)

        def _app(self) -> web.Application:
            async def answer(request: web.Request) -> web.Response:
                self.arrivals.append(time.monotonic())
                await asyncio.sleep(0.010)
                return web.Response(text="ok")

            app = web.Application()
            app.router.add_get("/", answer)
            return app

    out = tmp_path / "plan.json"
    async with Unhurried() as server:
        done = await wk(
            "capacity", server.url("/"), "--slo", "p99<500ms,errors<1%", "--step", "2s",
            "--sweep", "2s", "--start-rate", "40/s", "--max-rate", "100/s",
            "--loads", "1,2,4,8,16,32", "--json", str(out),
            timeout=240,
        )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    times = sorted(server.arrivals)
    busiest = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    # no second of steps or sweep over the cap (a busy generator catching up on late
    # arrivals may send a few early in the next second)
    assert busiest <= 100 * 1.1 + 5, busiest
    plan = json.loads(out.read_text())
    assert [s["rate"] for s in plan["steps"]] == [40, 80, 100], "the last step is the cap"
    # a user gets about 100 req/s: one or two reach the cap (more on a loaded machine), and
    # the sweep stops at the first that does
    sweep = plan["sweep"]
    assert sweep[-1]["capped"] and not any(p["capped"] for p in sweep[:-1]), sweep
    assert all(p["throughput_rps"] <= 100 for p in sweep), sweep
    assert plan["usl"] is None and "raise --max-rate" in plan["usl_error"]
    assert "every step held up to the --max-rate cap" in done.stdout
