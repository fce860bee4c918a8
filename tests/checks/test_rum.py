"""The ``rum`` kind: a page group's p75 judged by web-vitals' thresholds — through ``wk
check`` on what the store holds, and in the engine on beacons the collector took."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.helpers.cli import wk
from tests.helpers.site import Site

from watchkeeper.config import parse_config
from watchkeeper.errors import ConfigError
from watchkeeper.rum.histogram import bucket
from watchkeeper.rum.rows import Tally
from watchkeeper.rum.vitals import Rating, rate
from watchkeeper.store import Store

RUM = """
rum:
  origins: ["*"]
  pages:
    - {name: product, pattern: "/product/*"}
    - {name: home, pattern: "/"}
"""
MONITORS = """
monitors:
  - {name: product-lcp, rum: {page: product, metric: LCP}}
  - {name: product-inp-mobile, rum: {page: product, metric: inp, device: mobile, min_samples: 3}}
  - {name: product-cls, rum: {page: product, metric: CLS, window: 30m}}
  - {name: home-lcp, rum: {page: home, metric: LCP, min_samples: 20}}
  - name: other-ttfb
    rum: {page: other, metric: TTFB, window: 1h, min_samples: 1}
    expect: ["rum.p75 < 100"]
"""


def tally(
    at: float, metric: str, values: list[float], page: str = "product", device: str = "desktop"
) -> Tally:
    counts: dict[int, int] = {}
    ratings = {Rating.GOOD: 0, Rating.NEEDS_IMPROVEMENT: 0, Rating.POOR: 0}
    for value in values:
        index = bucket(metric, value)
        counts[index] = counts.get(index, 0) + 1
        ratings[rate(metric, value)] += 1
    return Tally(
        at,
        page,
        device,
        metric,
        len(values),
        ratings[Rating.GOOD],
        ratings[Rating.NEEDS_IMPROVEMENT],
        ratings[Rating.POOR],
        counts,
    )


async def test_wk_check_judges_each_page_groups_p75_from_the_store(tmp_path: Path) -> None:
    config = tmp_path / "watchkeeper.yaml"
    config.write_text("storage: sqlite:///wk.db\n" + RUM + MONITORS)
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}")
    minute = (time.time() // 60 - 3) * 60
    store.rum_write(
        [
            tally(minute, "LCP", [1500.0] * 5 + [4500.0] * 20),  # poor
            tally(minute, "INP", [150.0] * 2 + [350.0] * 8, device="mobile"),  # NI on mobile
            tally(minute, "INP", [50.0] * 40, device="desktop"),  # desktop: not asked
            tally(minute, "CLS", [0.0] * 15 + [0.1] * 7),  # p75 exactly at 0.1: good
            tally(minute, "LCP", [900.0] * 3, page="home"),  # too few
            tally(minute - 2 * 3600, "TTFB", [3000.0] * 50, page="other"),  # out of window
            tally(minute, "TTFB", [120.0] * 4, page="other"),
        ],
        [],
    )
    store.close()
    completed = await wk("check", "-c", str(config), "--json", timeout=90)
    assert completed.code == 1, completed.stderr
    found = {r["monitor"]: r for r in completed.json()}

    lcp = found["product-lcp"]
    assert not lcp["ok"]
    assert lcp["error"].startswith("LCP p75 4.52 s on product is poor over the last 15m")
    assert lcp["metrics"]["rum.samples"] == 25
    assert lcp["metrics"]["rum.poor_pct"] == 80.0

    inp = found["product-inp-mobile"]
    assert (
        inp["ok"] and "needs improvement" in inp["warnings"][0] and "(mobile)" in inp["warnings"][0]
    )
    assert 350 <= inp["metrics"]["rum.p75"] <= 357

    cls = found["product-cls"]
    assert cls["ok"] and cls["warnings"] == [] and cls["metrics"]["rum.p75"] == 0.1

    home = found["home-lcp"]  # three samples of twenty wanted: nothing to judge, says so
    assert home["ok"] and home["warnings"] == []
    assert home["metrics"] == {"rum.samples": 3.0}

    other = found["other-ttfb"]  # the window leaves the old slow hour out; expect: judged too
    assert not other["ok"]
    assert other["metrics"]["rum.samples"] == 4
    assert "rum.p75" in other["failures"][0]


async def test_without_a_store_a_rum_monitor_is_passive(tmp_path: Path) -> None:
    config = tmp_path / "watchkeeper.yaml"
    config.write_text("storage: sqlite:///wk.db\n" + RUM + MONITORS)
    completed = await wk("check", "-c", str(config), "--json", "-m", "product-lcp", timeout=60)
    assert completed.code == 0, completed.stderr
    (result,) = completed.json()
    assert result["ok"] and "not judged" in result["warnings"][0]


async def test_the_engine_judges_the_beacons_it_holds(tmp_path: Path) -> None:
    monitors = textwrap.dedent(
        """
        monitors:
          - {name: product-lcp, interval: 1h, rum: {page: product, metric: LCP, min_samples: 3}}
        """
    )
    async with Site("storage: sqlite:///wk.db\n" + RUM + monitors, tmp_path) as site:
        metrics: list[dict[str, Any]] = [
            {
                "id": f"m{i}",
                "name": "LCP",
                "value": value,
                "delta": value,
                "page": "/product/9",
                "device": "mobile",
            }
            for i, value in enumerate([1200.0, 3100.0, 3300.0, 3500.0])
        ]
        async with (
            aiohttp.ClientSession() as client,
            client.post(
                site.url + "/rum", data=json.dumps({"view": "00000000aa", "metrics": metrics})
            ) as answer,
        ):
            assert answer.status == 202
        result = await site.engine.check_now("product-lcp", 10)
        assert result is not None
        assert result.ok and result.warnings, result
        assert "needs improvement" in result.warnings[0]
        assert result.metrics["rum.samples"] == 4
        await site.engine.rum.flush(everything=True)  # in the store now: judged the same
        again = await site.engine.check_now("product-lcp", 10)
        assert again is not None and again.metrics == result.metrics


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MONITORS, "add a rum: section"),
        (
            RUM + "monitors:\n  - {name: x, rum: {page: prodcut, metric: LCP}}\n",
            "page group 'prodcut' is not defined (did you mean 'product'?)",
        ),
        (RUM + "monitors:\n  - {name: x, rum: {page: product, metric: FID}}\n", "metric"),
        (
            RUM + "monitors:\n  - {name: x, rum: {page: product, metric: LCP, window: 5s}}\n",
            "window must be between 1m and 31d",
        ),
        ("rum: {}\n", "origins"),
        ("rum: {origins: [ftp://x]}\n", "origin 'ftp://x'"),
        ("rum: {origins: ['*'], pages: [{name: other, pattern: /x}]}\n", "'other' is the group"),
        ("rum: {origins: ['*'], pages: [{name: a, pattern: x}]}\n", "must start with /"),
        ("rum: {origins: ['*'], sample: 0}\n", "sample"),
    ],
)
def test_a_bad_rum_config_is_one_located_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "watchkeeper.yaml")
    assert message in str(caught.value)
    assert "watchkeeper.yaml:" in str(caught.value)


def test_origins_are_normalised() -> None:
    config = parse_config(
        "rum: {origins: ['HTTPS://Shop.Example.com:443/', 'http://localhost:8080']}\n", "w.yaml"
    )
    assert config.rum is not None
    assert config.rum.origins == ("https://shop.example.com", "http://localhost:8080")
