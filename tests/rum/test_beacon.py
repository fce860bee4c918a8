"""A beacon batch is hostile until every field of it passed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from watchkeeper.rum.beacon import MOST_BYTES, MOST_METRICS, BatchError, parse

VIEW = "0123456789abcdef"


def metric(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "v5-1700000000000-1234567890123",
        "name": "LCP",
        "value": 1234.5,
        "delta": 1234.5,
        "rating": "good",
        "navigationType": "navigate",
        "page": "/product/42",
        "device": "mobile",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not ...}


def batch(*metrics: dict[str, Any], view: str = VIEW) -> bytes:
    return json.dumps({"view": view, "metrics": list(metrics)}).encode()


def test_a_good_batch_gives_its_reports() -> None:
    found = parse(batch(metric(), metric(id="x2", name="CLS", value=0.02, delta=0.02)))
    assert found.view == VIEW
    assert [(r.metric, r.value, r.device, r.path) for r in found.reports] == [
        ("LCP", 1234.5, "mobile", "/product/42"),
        ("CLS", 0.02, "mobile", "/product/42"),
    ]
    assert found.refused == 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not JSON"),
        (b"[]", "must be an object"),
        (b'{"view": "0123456789abcdef"}', "metrics must be a list"),
        (b'{"metrics": []}', "view"),
        (b'{"view": "XYZ", "metrics": []}', "view"),
        (b"[" * 60_000, "nests too deep"),
        (b'{"view": "0123456789abcdef", "metrics": [], "x": ' + b"9" * 5000 + b"}", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b" " * (MOST_BYTES + 1), "over 64 KiB"),
    ],
)
def test_a_batch_that_is_not_one_is_refused_whole(body: bytes, why: str) -> None:
    with pytest.raises(BatchError, match=why):
        parse(body)


def test_too_many_metrics_refuse_the_batch() -> None:
    with pytest.raises(BatchError, match=f"at most {MOST_METRICS}"):
        parse(batch(*[metric(id=f"m{i}") for i in range(MOST_METRICS + 1)]))


@pytest.mark.parametrize(
    "bad",
    [
        metric(name="FID"),
        metric(name=None),
        metric(value=-1),
        metric(value=600_001),
        metric(name="CLS", value=101, delta=0),
        metric(value="12"),
        metric(value=True),
        metric(value=None),
        metric(value=...),
        metric(delta=1e9),
        metric(id=""),
        metric(id="has space"),
        metric(id="x" * 101),
        metric(page="product/42"),
        metric(page="/" + "x" * 1000),
        metric(page=7),
        metric(device="fridge"),
        metric(device=...),
        "a string",
    ],
)
def test_a_bad_metric_is_left_out_and_counted(bad: Any) -> None:
    found = parse(batch(bad, metric(id="kept")))
    assert [r.id for r in found.reports] == ["kept"]
    assert found.refused == 1
    assert found.why


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_nan_and_infinities_are_refused(constant: bytes) -> None:
    body = (
        b'{"view": "%s", "metrics": [{"id": "a", "name": "LCP", "value": %s, '
        % (
            VIEW.encode(),
            constant,
        )
        + b'"page": "/", "device": "desktop"}]}'
    )
    try:
        found = parse(body)
    except BatchError:
        return
    assert found.reports == []
    assert found.refused == 1


def test_the_query_and_fragment_of_a_path_are_cut() -> None:
    found = parse(batch(metric(page="/search?q=secret#top")))
    assert found.reports[0].path == "/search"


def test_attribution_keeps_only_its_fields_trimmed() -> None:
    given = {
        "target": "html>body>img#hero\x00" + "x" * 1000,
        "url": "https://cdn.example.com/hero.jpg?token=s3cret#frag",
        "timeToFirstByte": 80.123456,
        "resourceLoadDelay": float("1e300"),
        "lcpEntry": {"huge": "object"},
        "elementRenderDelay": "12",
    }
    found = parse(batch(metric(attribution=given)))
    kept = found.reports[0].attribution
    assert kept is not None
    assert kept["url"] == "https://cdn.example.com/hero.jpg"
    assert str(kept["target"]).startswith("html>body>img#hero")
    assert "\x00" not in str(kept["target"]) and len(str(kept["target"])) == 300
    assert kept["timeToFirstByte"] == 80.123
    assert set(kept) == {"target", "url", "timeToFirstByte"}


def test_the_clients_rating_is_not_taken() -> None:
    found = parse(batch(metric(value=9000.0, delta=9000.0, rating="good")))
    assert found.reports[0].value == 9000.0
    assert not hasattr(found.reports[0], "rating")
