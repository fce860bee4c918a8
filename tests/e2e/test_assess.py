"""``wk assess`` end to end: a real nginx site, the machine's PostgreSQL and Redis, a target
that is down; ``wk up`` gathers history, ``wk assess`` ranks what to do, keeps a baseline,
and after a fix says what improved."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from tests.helpers.cli import Running, wk
from tests.helpers.nginx import Nginx
from tests.helpers.ports import free_port

SITE = """
server {{
    listen {address}:{http_port};
    root {root};
}}
"""


def _config(web: str, gone: str) -> str:
    return textwrap.dedent(
        f"""
        storage: sqlite:///wk.db
        engine: {{startup_spread: 0s}}
        defaults: {{interval: 1s, timeout: 1s}}
        monitors:
          - {{name: web, http: "{web}"}}
          - {{name: gone, http: "{gone}", confirm: 1}}
          - {{name: db, postgres: "postgresql://postgres@127.0.0.1:5432/postgres"}}
          - {{name: cache, redis: "redis://127.0.0.1:6379"}}
          - {{name: box, host: local, interval: 5s, cost: 84/month}}
          - name: site
            interval: 1h
            audit: {{url: "{web}", tls: false, exposure: false, delivery: false}}
        """
    )


async def _watch_until(folder: Path, wanted: dict[str, str]) -> None:
    """Run wk up until each monitor of ``wanted`` is in that state (and the audit ran)."""
    running = await Running("-c", "watchkeeper.yaml", cwd=folder).start()
    try:
        for _ in range(300):
            listed = await running.get("/api/v1/monitors")
            monitors = {m["name"]: m for m in listed["items"]}
            states = {name: monitors[name]["state"] for name in wanted}
            if states == wanted:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"states never became {wanted}: {states}")
    finally:
        await running.stop()


async def test_assess_ranks_what_to_do_keeps_a_baseline_and_sees_the_fix(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/"
    with Nginx(tmp_path, SITE) as site:
        (site.root / "index.html").write_text("<!doctype html><title>shop</title><h1>shop</h1>")
        web = site.url("/")
        (tmp_path / "watchkeeper.yaml").write_text(_config(web, closed))
        await _watch_until(tmp_path, {"web": "up", "gone": "down", "site": "up", "db": "up"})

        nothing = await wk("assess", "--compare", cwd=tmp_path)
        assert nothing.code == 2
        assert nothing.stderr.strip().splitlines() == [
            "--compare: no baseline saved yet (run wk assess --save-baseline first)"
        ]

        done = await wk(
            "assess",
            "--target",
            web,
            "--max-rate",
            "20/s",
            "--save-baseline",
            "--format",
            "json",
            cwd=tmp_path,
            timeout=120,
        )
        assert done.code == 1, done.stderr
        report = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
        items: list[dict[str, Any]] = report["items"]
        scores = [i["score"] for i in items]
        assert scores == sorted(scores, reverse=True)
        for entry in items:  # each score is its parts
            effort = {"low": 1, "medium": 2, "high": 3}[entry["effort"]]
            assert entry["score"] == round(entry["risk"] * entry["impact"] / effort, 2)
        by_title = {i["finding"]["title"]: i for i in items}
        down = next(i for t, i in by_title.items() if t.startswith("gone is down"))
        assert down["finding"]["severity"] == "critical"
        assert down["area"] == "availability" and down["link"] == "/monitors/gone"
        unbacked = {
            i["finding"]["subject"]
            for i in items
            if i["finding"].get("rule") == "no-backup-watched"
        }
        assert unbacked == {"db", "cache"}
        # the nginx site sends no security headers: the audit monitor's findings, graded
        security = [i for i in items if i["area"] == "security"]
        assert any("Content Security Policy" in i["finding"]["title"] for i in security)
        facts = report["facts"]
        grades = facts["audit"]["grades"]
        assert grades["site"]["grade"] in ("D", "D-", "F")
        assert grades[web]["grade"] == grades["site"]["grade"]
        monitors = facts["status"]["monitors"]
        assert monitors["web"]["state"] == "up" and monitors["web"]["uptime_pct"] == 100.0
        assert monitors["gone"]["state"] == "down" and monitors["gone"]["uptime_pct"] == 0.0
        assert monitors["web"]["latency_p95_ms"] > 0
        looked = facts["diagnose"]["looked_at"]
        assert "postgres db" in looked and "redis cache" in looked
        capacity = facts["capacity"]
        assert capacity["max_rate_rps"] == 20
        assert capacity["sustainable_rps"] is not None
        assert 0 < capacity["sustainable_rps"] <= 20
        steps = capacity["result"]["steps"]
        assert steps and max(s["rate"] for s in steps) <= 20  # never faster than --max-rate
        assert "saved as the baseline" in done.stderr + done.stdout
        # the bill: one machine priced, too little history to size it (and said so)
        assert facts["cost"]["monthly_cost"] == 84.0
        assert any(
            i["finding"].get("rule") == "too-little-history" and i["area"] == "cost" for i in items
        )

        # the fix: gone now points at a site that answers
        (tmp_path / "watchkeeper.yaml").write_text(_config(web, web))
        await _watch_until(tmp_path, {"gone": "up"})
        page = tmp_path / "report.html"
        again = await wk(
            "assess",
            "--compare",
            "--no-advisors",
            "--format",
            "html",
            "-o",
            str(page),
            cwd=tmp_path,
        )
    assert again.code == 1, again.stderr  # the headers are still missing
    body = page.read_text()
    assert body.startswith("<!doctype html>") and "What to do first" in body
    assert "▲ improved: gone: critical: gone is down" in body
    assert "gone is down" not in body.split("Since the baseline")[0]
    assert "Content Security Policy" in body  # the audit monitor's findings stay
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", body)  # nothing fetched


async def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "watchkeeper.yaml").write_text("monitors: []\n")
    cases = {
        ("--max-rate", "10"): "--max-rate: give the --target to probe",
        ("--lookback", "soon"): "--lookback:",
        ("--lookback", "5m"): "--lookback: at least 1h",
        ("--target", "ftp://x"): "--target: 'ftp://x' is not an http(s):// URL",
    }
    for args, message in cases.items():
        done = await wk("assess", *args, cwd=tmp_path)
        assert done.code == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), (args, lines)
