"""``wk diagnose`` on a store with history: an issue whose errors jumped at the moment the
latency shifted is told beside it; one that jumped an hour away is only its project's rise."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_diagnose import shifted_config, write_shifted_history
from tests.store.test_store_errors import group, never, project

from watchkeeper.store import Store


def write_errors(database: Path, now: float, jump_at: float) -> None:
    """Six hours of one issue: two errors a minute, forty from ``jump_at`` on."""
    store = Store.open(f"sqlite:///{database}")
    try:
        shop = project(store, "shop")
        first = int((now - 6 * 3600) // 60)
        minutes = Counter(
            {m: 40 if m * 60 >= jump_at else 2 for m in range(first, int(now // 60) + 1)}
        )
        found = group(shop, at=now - 6 * 3600, count=sum(minutes.values()))
        found.minutes = minutes
        found.title = "OperationalError: too many connections"
        found.culprit = "shop.db in connect"
        store.write_errors([found], [], {}, now, never)
    finally:
        store.close()


async def diagnose(folder: Path) -> dict[str, Any]:
    from tests.helpers.cli import wk

    config = shifted_config(folder)
    done = await wk("diagnose", "-c", str(config), "--since", "6h", "--format", "json")
    assert done.code == 1, done.stderr
    report: dict[str, Any] = done.json()
    return report


@pytest.mark.parametrize("offset", [-60, 60])
async def test_errors_that_jumped_with_the_latency_are_told_beside_it(
    tmp_path: Path, offset: float
) -> None:
    now = time.time()
    onset = write_shifted_history(tmp_path / "wk.db", now)
    write_errors(tmp_path / "wk.db", now, onset + offset)

    report = await diagnose(tmp_path)

    together = [f for f in report["findings"] if f["source"] == "errors" and f["subject"] == "api"]
    assert len(together) == 1, report["findings"]
    (lead,) = together
    evidence = lead["evidence"]
    assert (evidence["monitor"], evidence["project"]) == ("api", "shop")
    assert evidence["culprit"] == "shop.db in connect"
    assert (evidence["before_per_min"], evidence["after_per_min"]) == (2, 40)
    assert evidence["link"] == f"/errors/{evidence['issue']}"
    assert evidence["latency_onset"] and evidence["errors_onset"]
    assert "latency shifted as shop began failing: OperationalError" in lead["title"]
    assert "from 2 to 40 a minute" in lead["title"]
    assert lead["severity"] == "warning"
    (rise,) = [f for f in report["findings"] if f["source"] == "errors" and f["subject"] == "shop"]
    assert rise["evidence"]["issues_rising"] == 1


async def test_errors_that_jumped_an_hour_away_are_not_tied_to_the_latency(
    tmp_path: Path,
) -> None:
    now = time.time()
    onset = write_shifted_history(tmp_path / "wk.db", now)
    write_errors(tmp_path / "wk.db", now, onset - 3600)

    report = await diagnose(tmp_path)

    told = [(f["subject"], f["source"]) for f in report["findings"] if f["source"] == "errors"]
    assert told == [("shop", "errors")], "the project's rise, on its own"
    drift = next(f for f in report["findings"] if f["source"] == "drift")
    assert drift["subject"] == "api"
