"""``/rum.js`` and ``POST /rum`` on the real app over real HTTP: public and cookie-free,
hostile input refused (oversize, bad JSON, NaN and out-of-range values, too many metrics,
a foreign origin, duplicates, floods), sampling, and no client address kept anywhere."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from tests.helpers.site import Site

from watchkeeper.rum.beacon import MOST_BYTES, MOST_METRICS
from watchkeeper.store import schema
from watchkeeper.web import rum as rum_web

SHOP = "http://shop.test:8080"
CONFIG = f"""
storage: sqlite:///wk.db
rum:
  origins: ["{SHOP}"]
  pages:
    - {{name: product, pattern: "/product/*"}}
    - {{name: home, pattern: "/"}}
  burst: 1000
  rate: 1000
"""
VIEW = "0123456789abcdef"


def metric(metric_id: str = "v5-1-1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": metric_id,
        "name": "LCP",
        "value": 1800.0,
        "delta": 1800.0,
        "rating": "good",
        "navigationType": "navigate",
        "page": "/product/7?utm=x",
        "device": "desktop",
        "attribution": {"target": "img.hero", "url": "https://cdn.test/hero.jpg?sig=1"},
    }
    return base | fields


def body(*metrics: dict[str, Any], view: str = VIEW) -> bytes:
    return json.dumps({"view": view, "metrics": list(metrics)}).encode()


async def post(
    site: Site,
    data: bytes,
    *,
    origin: str | None = SHOP,
    kind: str = "text/plain;charset=UTF-8",
    session: aiohttp.ClientSession | None = None,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = {"Content-Type": kind}
    if origin is not None:
        headers["Origin"] = origin
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.post(site.url + "/rum", data=data, headers=headers) as answer:
            text = await answer.text()
            return answer.status, json.loads(text) if text else None, answer.headers
    finally:
        if own:
            await client.close()


async def summary(site: Site, **query: str) -> list[dict[str, Any]]:
    async with (
        site.client(site.token()) as client,
        client.get("/api/v1/rum/summary", params={"window": "1h", **query}) as answer,
    ):
        assert answer.status == 200, await answer.text()
        return list((await answer.json())["items"])


@pytest.fixture
async def site(tmp_path: Path) -> Any:
    async with Site(CONFIG, tmp_path) as running:
        yield running


async def test_rum_js_is_web_vitals_and_the_loader_cacheable_and_cookie_free(site: Site) -> None:
    vendor = rum_web.VENDOR.read_bytes()
    sums = dict(
        reversed(line.split("  ", 1))
        for line in (rum_web.VENDOR.parent / "SHA256SUMS").read_text().splitlines()
    )
    assert hashlib.sha256(vendor).hexdigest() == sums[rum_web.VENDOR.name]
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(site.url + "/rum.js", headers={"Cookie": "wk_session=x"}) as got:
            assert got.status == 200
            assert got.headers["Content-Type"] == "text/javascript; charset=utf-8"
            assert "max-age=" in got.headers["Cache-Control"]
            assert got.headers["X-Content-Type-Options"] == "nosniff"
            assert "Set-Cookie" not in got.headers
            assert got.headers["Content-Encoding"] == "gzip"  # aiohttp asks for it
            script = await got.read()
            etag = got.headers["ETag"]
        first_line = vendor.decode().splitlines()[0]
        assert first_line.encode() in script
        assert b"sourceMappingURL" not in script
        assert b"webVitals.onINP(report, every)" in script
        async with anonymous.get(site.url + "/rum.js", headers={"If-None-Match": etag}) as again:
            assert again.status == 304


async def test_rum_is_off_without_a_rum_section(tmp_path: Path) -> None:
    async with Site("storage: sqlite:///wk.db\n", tmp_path) as off:
        async with aiohttp.ClientSession() as anonymous, anonymous.get(off.url + "/rum.js") as got:
            assert got.status == 404
        assert (await post(off, body(metric())))[0] == 404


async def test_a_beacon_needs_no_login_and_counts_at_once(site: Site) -> None:
    status, answer, headers = await post(
        site, body(metric(), metric("v5-1-2", name="CLS", value=0.3, delta=0.3))
    )
    assert status == 202
    assert answer == {"accepted": 2, "duplicates": 0, "refused": 0, "sampled_out": 0}
    assert headers["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Set-Cookie" not in headers
    found = {(i["page"], i["device"], i["metric"]): i for i in await summary(site)}
    lcp = found[("product", "desktop", "LCP")]
    assert (lcp["samples"], lcp["rating"], lcp["p75"]) == (1, "good", pytest.approx(1800, rel=0.02))
    assert found[("product", "all", "CLS")]["rating"] == "poor"


async def test_application_json_is_taken_and_other_types_are_refused(site: Site) -> None:
    assert (await post(site, body(metric()), kind="application/json"))[0] == 202
    status, _answer, _ = await post(
        site, body(metric("v5-2")), kind="application/x-www-form-urlencoded"
    )
    assert status == 415


async def test_a_foreign_origin_is_refused_and_not_counted(site: Site) -> None:
    status, _answer, headers = await post(site, body(metric()), origin="https://evil.test")
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers
    assert await summary(site) == []


async def test_the_preflight_of_a_configured_origin_is_answered(site: Site) -> None:
    async with aiohttp.ClientSession() as client:
        ask = {
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        async with client.options(site.url + "/rum", headers=ask) as answer:
            assert answer.status == 204
            assert answer.headers["Access-Control-Allow-Origin"] == SHOP
            assert answer.headers["Access-Control-Allow-Methods"] == "POST"
            assert "content-type" in answer.headers["Access-Control-Allow-Headers"]
        async with client.options(
            site.url + "/rum", headers={**ask, "Origin": "http://x.test"}
        ) as no:
            assert no.status == 403


async def test_an_oversized_batch_is_refused_unread(site: Site) -> None:
    big = body(metric(attribution={"target": "x" * (MOST_BYTES + 10)}))
    assert (await post(site, big))[0] == 413

    async def trickle() -> Any:  # chunked: no Content-Length to go by
        for _ in range(100):
            yield b" " * 4096

    async with (
        aiohttp.ClientSession() as client,
        client.post(
            site.url + "/rum",
            data=trickle(),
            headers={"Content-Type": "text/plain", "Origin": SHOP},
        ) as answer,
    ):
        assert answer.status == 413
    assert await summary(site) == []


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"\xff\xfe",
        b"[" * 50_000,
        b'{"view": "0123456789abcdef", "metrics": "many"}',
        b'{"metrics": []}',
        b"",
    ],
)
async def test_bad_json_is_refused(site: Site, data: bytes) -> None:
    status, answer, _ = await post(site, data)
    assert status == 400
    assert answer["detail"]


async def test_too_many_metrics_are_refused_whole(site: Site) -> None:
    many = [metric(f"id{i}") for i in range(MOST_METRICS + 1)]
    status, answer, _ = await post(site, body(*many))
    assert status == 400
    assert str(MOST_METRICS) in answer["detail"]
    assert await summary(site) == []


async def test_nan_negative_and_huge_values_are_refused_and_the_rest_kept(site: Site) -> None:
    batch = (
        b'{"view": "0123456789abcdef", "metrics": ['
        b'{"id": "a", "name": "LCP", "value": NaN, "page": "/", "device": "mobile"}]}'
    )
    assert (await post(site, batch))[0] == 400
    assert (await post(site, batch.replace(b"NaN", b"-Infinity")))[0] == 400
    status, answer, _ = await post(
        site,
        body(
            metric("neg", value=-5.0),
            metric("huge", value=1e12),
            metric("cls", name="CLS", value=101.0),
            metric("bool", value=True),
            metric("kind", name="FID"),
            metric("good", value=900.0),
        ),
    )
    assert status == 202
    assert (answer["accepted"], answer["refused"]) == (1, 5)
    items = await summary(site)
    assert [(i["device"], i["samples"]) for i in items] == [("all", 1), ("desktop", 1)]


async def test_a_metric_id_counts_once(site: Site) -> None:
    assert (await post(site, body(metric("same"))))[1]["accepted"] == 1
    _, again, _ = await post(site, body(metric("same")))
    assert again == {"accepted": 0, "duplicates": 1, "refused": 0, "sampled_out": 0}
    items = await summary(site, device="desktop")
    assert items[0]["samples"] == 1


async def test_a_flood_from_one_address_is_limited(tmp_path: Path) -> None:
    limited = CONFIG.replace("burst: 1000", "burst: 3").replace("rate: 1000", "rate: 0.01")
    async with Site(limited, tmp_path) as site:
        answers = [await post(site, body(metric(f"m{i}"))) for i in range(5)]
        assert [a[0] for a in answers] == [202, 202, 202, 429, 429]
        assert int(answers[3][2]["Retry-After"]) >= 1
        # another address has its own bucket
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector) as elsewhere:
            assert (await post(site, body(metric("other")), session=elsewhere))[0] == 202
        assert site.engine.rum.limited == 2


async def test_sampling_keeps_page_views_under_the_share(tmp_path: Path) -> None:
    async with Site(CONFIG.replace("burst: 1000", "sample: 0.5\n  burst: 1000"), tmp_path) as site:
        kept = await post(site, body(metric("k"), view="7fffffff00000000"))
        left = await post(site, body(metric("l"), view="8000000000000000"))
        assert kept[1]["accepted"] == 1
        assert (left[1]["accepted"], left[1]["sampled_out"]) == (0, 1)


async def test_no_client_address_or_query_is_stored(site: Site) -> None:
    for index in range(3):
        await post(site, body(metric(f"v{index}", value=5000.0 + index)))
    await site.engine.rum.flush(everything=True)
    engine = sa.create_engine(site.config.storage)
    try:
        with engine.connect() as connection:
            dumped = [
                repr(row)
                for table in (schema.rum_minutes, schema.rum_hours, schema.rum_samples)
                for row in connection.execute(sa.select(table))
            ]
    finally:
        engine.dispose()
    text = "\n".join(dumped)
    assert "img.hero" in text and "/product/7" in text  # what is kept is there
    assert "127.0.0.1" not in text
    assert "utm=" not in text and "sig=1" not in text


async def test_a_reload_takes_new_origins_and_page_groups_and_keeps_what_was_counted(
    site: Site,
) -> None:
    assert (await post(site, body(metric("before"))))[0] == 202
    assert (await post(site, body(metric("x")), origin="https://new.test"))[0] == 403
    changed = CONFIG.replace(f'origins: ["{SHOP}"]', 'origins: ["https://new.test"]').replace(
        '{name: product, pattern: "/product/*"}', '{name: item, pattern: "/product/*"}'
    )
    (site.folder / "watchkeeper.yaml").write_text(changed)
    outcome = await site.reloader.reload("test")
    assert any("rum" in line for line in outcome.lines()), outcome.lines()
    assert (await post(site, body(metric("after")), origin="https://new.test"))[0] == 202
    assert (await post(site, body(metric("old")), origin=SHOP))[0] == 403
    groups = {(i["page"], i["samples"]) for i in await summary(site, device="desktop")}
    assert groups == {("product", 1), ("item", 1)}


async def test_metrics_count_beacons_by_outcome(site: Site) -> None:
    await post(site, body(metric("a"), metric("b", value=-1.0)))
    await post(site, body(metric("a")))
    async with site.client(site.token()) as client, client.get("/metrics") as answer:
        text = await answer.text()
    assert 'watchkeeper_rum_beacons_total{outcome="accepted"} 1.0' in text
    assert 'watchkeeper_rum_beacons_total{outcome="duplicate"} 1.0' in text
    assert 'watchkeeper_rum_beacons_total{outcome="refused"} 1.0' in text
    assert "watchkeeper_rum_limited_total 0.0" in text
