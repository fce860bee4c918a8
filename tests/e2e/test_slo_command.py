"""``wk slo``: budget and burn rates read from the store, exit 1 while an SLO pages."""

from __future__ import annotations

import math
import time
from pathlib import Path

from tests.helpers.cli import wk

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store


def write_history(path: Path, failing_rate: float) -> None:
    now = time.time()
    store = Store.open(f"sqlite:///{path}")
    try:
        results = []
        for i in range(6 * 360):  # 6 hours, a check every 10 s; the last 45 minutes failing
            at = now - 6 * 3600 + i * 10
            late = at > now - 45 * 60
            bad = late and math.floor((i + 1) * failing_rate) > math.floor(i * failing_rate)
            slow = i % 25 == 0  # 4 % over 300 ms
            results.append(Result("api", "http", at, not bad, Phases(total=0.4 if slow else 0.1)))
        store.write(results)
    finally:
        store.close()


def config(folder: Path) -> Path:
    path = folder / "wk.yaml"
    path.write_text(
        """
storage: sqlite:///wk.db
monitors:
  - {name: api, http: "http://127.0.0.1:9/"}
slos:
  - {name: api-availability, monitor: api, objective: 99.9%}
  - {name: api-latency, monitor: api, objective: 90%, latency: 300ms, window: 7d}
"""
    )
    return path


async def test_wk_slo_reports_budget_and_burn_and_exits_1_while_paging(tmp_path: Path) -> None:
    write_history(tmp_path / "wk.db", 0.03)
    path = config(tmp_path)
    shown = await wk("slo", "-c", str(path), "--json")
    assert shown.code == 1, shown.stderr
    availability, latency = shown.json()
    assert availability["slo"] == "api-availability" and availability["alert"] == "page"
    assert availability["events"] == 6 * 360
    assert availability["burn"]["1h"] > 14.4  # (5 m holds too few checks: widened to show it)
    assert availability["budget_remaining_pct"] < 0, "3 % for 45 minutes of 6 hours: overspent"
    assert availability["reason"].startswith("page: burning the error budget")
    assert latency["alert"] is None, "4 % slow (plus the failures) inside a 10 % budget"
    assert 30 < latency["budget_remaining_pct"] < 70, "about 4.4 % bad of a 10 % budget"
    text = await wk("slo", "-c", str(path))
    assert text.code == 1
    assert "api-availability" in text.stdout and "page" in text.stdout
    assert "burn 1h" in text.stdout


async def test_wk_slo_exits_0_when_every_budget_holds(tmp_path: Path) -> None:
    write_history(tmp_path / "wk.db", 0.0)
    shown = await wk("slo", "-c", str(config(tmp_path)), "--json")
    assert shown.code == 0, shown.stderr
    assert [row["alert"] for row in shown.json()] == [None, None]
    assert shown.json()[0]["sli_pct"] == 100.0
