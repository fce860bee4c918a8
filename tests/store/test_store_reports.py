"""Contract: a check's structured report (``Result.detail``) is kept beside its result."""

from __future__ import annotations

import json
from collections.abc import Callable

from watchkeeper.model import Result
from watchkeeper.store import Store
from watchkeeper.store.reports import MAX_BYTES

ResultFactory = Callable[..., Result]
T0 = 1_700_000_000.0


def _detail(grade: str, findings: int = 1) -> dict[str, object]:
    return {
        "target": "https://shop.example.test/",
        "grade": grade,
        "score": 50,
        "findings": [{"title": f"finding {i}", "rule": f"r{i}"} for i in range(findings)],
        "errors": [],
    }


def test_the_newest_report_of_each_monitor_comes_back(
    store: Store, make_result: ResultFactory
) -> None:
    for i, grade in enumerate(["C", "B", "A"]):
        shop = make_result("shop", at=T0 + i * 86400, kind="audit")
        shop.detail = _detail(grade)
        store.write([shop, make_result("plain", at=T0 + i)])  # most results carry none
    blog = make_result("blog", at=T0, kind="audit")
    blog.detail = _detail("F", findings=3)
    store.write([blog])

    latest = store.latest_reports(["shop", "blog", "plain", "nobody"])
    assert sorted(latest) == ["blog", "shop"]
    assert latest["shop"].body["grade"] == "A"
    assert latest["shop"].at == T0 + 2 * 86400
    assert len(latest["blog"].body["findings"]) == 3
    assert [r.body["grade"] for r in store.reports("shop", limit=2)] == ["A", "B"]
    assert store.reports("plain") == []


def test_a_huge_report_is_cut_to_its_summary(store: Store, make_result: ResultFactory) -> None:
    shop = make_result("shop", at=T0, kind="audit")
    shop.detail = _detail("F", findings=1)
    shop.detail["findings"] = [  # what a hostile target could make an audit quote
        {"title": "x" * 10_000, "rule": f"r{i}"} for i in range(200)
    ]
    store.write([shop])
    kept = store.latest_reports(["shop"])["shop"].body
    assert kept["truncated"] is True
    assert kept["grade"] == "F"
    assert 0 < len(kept["findings"]) < 200
    assert len(json.dumps(kept)) <= MAX_BYTES


def test_reports_go_at_the_long_horizon(store: Store, make_result: ResultFactory) -> None:
    old = make_result("shop", at=T0, kind="audit")
    old.detail = _detail("C")
    new = make_result("shop", at=T0 + 10 * 86400, kind="audit")
    new.detail = _detail("A")
    store.write([old, new])
    store.prune(T0 + 12 * 86400, raw=3600, minute=86400, hour=5 * 86400)
    assert [r.body["grade"] for r in store.reports("shop")] == ["A"]
