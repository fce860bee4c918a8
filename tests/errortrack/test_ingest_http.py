"""The SDKs' URLs over real HTTP (uvicorn, the whole app): bodies in every encoding, the size
limits and the gzip bomb, keys where SDKs put them, duplicates, CORS for browsers, the rate
limit headers, and no login, CSRF token or cookie involved."""

from __future__ import annotations

import base64
import gzip
import io
import json
import uuid
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest
from tests.helpers.site import Site

KEY = "0123456789abcdef0123456789abcdef"
CONFIG = f"""
storage: sqlite:///wk.db
projects:
  - {{name: shop, key: {KEY}, rate_limit: 1000/m}}
  - {{name: web, key: fedcba9876543210fedcba9876543210, origins: [https://shop.example.com]}}
  - {{name: tight, key: 0000aaaa222233334444555566667777, rate_limit: 2/1m}}
"""
AUTH = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_client=test/1, sentry_key={KEY}"}


def event(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "level": "error",
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": "bad",
                    "stacktrace": {"frames": [{"module": "shop.cart", "function": "total"}]},
                }
            ]
        },
        **fields,
    }


def envelope(*items: tuple[str, Any], header: dict[str, Any] | None = None) -> bytes:
    lines = [json.dumps(header or {}).encode()]
    for kind, payload in items:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        lines += [json.dumps({"type": kind, "length": len(body)}).encode(), body]
    return b"\n".join(lines) + b"\n"


def url(site: Site, project: int = 1, endpoint: str = "envelope") -> str:
    return f"{site.url}/api/{project}/{endpoint}/"


async def post(
    site: Site, body: bytes, headers: dict[str, str] | None = None, **where: Any
) -> tuple[int, dict[str, Any], Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url(site, **where), data=io.BytesIO(body), headers=headers or {}) as answer,
    ):
        text = await answer.text()
        return answer.status, json.loads(text) if text else {}, answer.headers


async def issues(site: Site) -> list[Any]:
    await site.engine.errors.flush()
    return site.store.error_issues(limit=100)[0]


@pytest.fixture
async def site(tmp_path: Path) -> Any:
    async with Site(CONFIG, tmp_path) as running:
        yield running


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


ENCODINGS = {
    "": lambda data: data,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate (raw)": _deflate_raw,
    "br": brotli.compress,
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
async def test_a_body_in_any_encoding_is_read(site: Site, encoding: str) -> None:
    sent = event()
    body = ENCODINGS[encoding](envelope(("event", sent)))
    headers = {**AUTH, "Content-Encoding": encoding.split(" ")[0]}

    status, answer, _ = await post(site, body, headers)

    assert (status, answer) == (200, {"id": sent["event_id"]})
    (issue,) = await issues(site)
    assert issue.title == "ValueError: bad"


async def test_a_gzip_bomb_is_refused_without_inflating_it(site: Site) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 KiB that inflate to 64 MiB
    assert len(bomb) < 100_000

    status, answer, headers = await post(site, bomb, {**AUTH, "Content-Encoding": "gzip"})

    assert status == 413
    assert answer["detail"] == "the body decompresses to more than 20 MiB"
    assert headers["X-Sentry-Error"] == answer["detail"]
    assert await issues(site) == []


async def test_size_limits_answer_413_naming_the_limit(site: Site) -> None:
    huge = event(message="x" * (1024 * 1024 + 1))
    status, answer, _ = await post(site, envelope(("event", huge)), AUTH)
    assert (status, answer["detail"]) == (413, "event item larger than 1 MiB")

    body = b"x" * (10 * 1024 * 1024 + 1)
    status, answer, _ = await post(site, body, AUTH)
    assert (status, answer["detail"]) == (413, "the body is larger than 10 MiB")

    async def chunks() -> Any:  # no Content-Length: the cap holds as it streams
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    async with (
        aiohttp.ClientSession() as session,
        session.post(url(site), data=chunks(), headers=AUTH) as streamed,
    ):
        assert streamed.status == 413

    attachment = envelope(("event", event()), ("attachment", b"a" * (10 * 1024 * 1024 + 1)))
    status, answer, _ = await post(
        site, gzip.compress(attachment), {**AUTH, "Content-Encoding": "gzip"}
    )
    assert (status, answer["detail"]) == (413, "attachment item larger than 10 MiB")
    assert await issues(site) == []


async def test_keys_are_taken_where_sdks_put_them_and_checked(site: Site) -> None:
    for headers, where in (
        (AUTH, {}),
        ({"Authorization": f"Sentry sentry_key={KEY}, sentry_version=7"}, {}),
        ({}, {"query": f"?sentry_key={KEY}"}),
    ):
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                url(site) + where.get("query", ""),
                data=envelope(("event", event())),
                headers=headers,
            ) as answer,
        ):
            assert answer.status == 200, await answer.text()
    with_dsn = envelope(("event", event()), header={"dsn": f"https://{KEY}@wk.example.com/1"})
    assert (await post(site, with_dsn))[0] == 200

    body = envelope(("event", event()))
    assert (await post(site, body))[:2] == (
        401,
        {"detail": "no sentry_key: send X-Sentry-Auth, ?sentry_key= or a dsn"},
    )
    wrong = {"X-Sentry-Auth": "Sentry sentry_key=ffffffffffffffffffffffffffffffff"}
    assert (await post(site, body, wrong))[:2] == (403, {"detail": "wrong key for this project"})
    assert (await post(site, body, AUTH, project=2))[0] == 403, "another project's key"
    assert (await post(site, body, AUTH, project=99))[:2] == (403, {"detail": "no project 99 here"})
    other_dsn = envelope(("event", event()), header={"dsn": f"https://{KEY}@wk.example.com/2"})
    assert (await post(site, other_dsn))[0] == 403

    (issue,) = await issues(site)
    assert issue.count == 4


async def test_the_legacy_store_endpoint_takes_json_and_base64_zlib(site: Site) -> None:
    first, second = event(), event()
    status, answer, _ = await post(site, json.dumps(first).encode(), AUTH, endpoint="store")
    assert (status, answer) == (200, {"id": first["event_id"]})
    packed = base64.b64encode(zlib.compress(json.dumps(second).encode()))
    assert (await post(site, packed, AUTH, endpoint="store"))[0] == 200
    assert (await post(site, b"{not json", AUTH, endpoint="store"))[:2] == (
        400,
        {"detail": "the event is not valid JSON"},
    )

    (issue,) = await issues(site)
    assert issue.count == 2


async def test_a_duplicate_event_id_is_answered_and_dropped(site: Site) -> None:
    sent = event()
    for _ in range(3):
        assert (await post(site, envelope(("event", sent)), AUTH))[:2] == (
            200,
            {"id": sent["event_id"]},
        )

    (issue,) = await issues(site)
    assert issue.count == 1
    assert site.engine.errors.counts["duplicates"] == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json\n", "the envelope header is not valid JSON"),
        (b'{}\n{"length": 2}\n{}\n', "an item header has no type"),
        (b'{}\n{"type": "event", "length": 99}\n{}\n', "a event item is shorter than its length"),
        (envelope(("event", b"[1, 2]")), "the event is not a JSON object"),
        (envelope(("event", b'{"level": NaN}')), "the event is not valid JSON"),
    ],
)
async def test_malformed_input_is_a_400_with_one_reason(
    site: Site, body: bytes, reason: str
) -> None:
    status, answer, headers = await post(site, body, AUTH)

    assert (status, answer) == (400, {"detail": reason})
    assert headers["X-Sentry-Error"] == reason


async def test_a_rate_limit_is_answered_in_the_form_sdks_honour(site: Site) -> None:
    tight = {"X-Sentry-Auth": "Sentry sentry_key=0000aaaa222233334444555566667777"}
    for _ in range(2):
        assert (await post(site, envelope(("event", event())), tight, project=3))[0] == 200

    status, _, headers = await post(site, envelope(("event", event())), tight, project=3)
    assert status == 429
    assert headers["Retry-After"] == "30"
    assert headers["X-Sentry-Rate-Limits"] == "30:error;default;security:project"

    session = {"sid": uuid.uuid4().hex, "init": True, "status": "ok", "attrs": {"release": "1.0"}}
    mixed = envelope(("event", event()), ("session", session))
    status, _, headers = await post(site, mixed, tight, project=3)
    assert status == 200, "the session was taken: not all of it was refused"
    assert headers["X-Sentry-Rate-Limits"] == "30:error;default;security:project"


async def test_browsers_of_allowed_origins_get_cors_and_others_are_refused(site: Site) -> None:
    key = "fedcba9876543210fedcba9876543210"
    where = f"{url(site, project=2)}?sentry_key={key}"
    body = envelope(("event", event()))
    async with aiohttp.ClientSession() as session:
        allowed = {"Origin": "https://shop.example.com", "Content-Type": "text/plain;charset=UTF-8"}
        async with session.post(where, data=body, headers=allowed) as answer:
            assert answer.status == 200
            assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
            assert "x-sentry-rate-limits" in answer.headers["Access-Control-Expose-Headers"]
        async with session.post(
            where, data=body, headers={"Origin": "https://evil.example"}
        ) as answer:
            assert answer.status == 403
            assert "Access-Control-Allow-Origin" not in answer.headers
        preflight = {
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-sentry-auth",
        }
        async with session.options(where, headers=preflight) as answer:
            assert answer.status == 200
            assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
            assert answer.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
            assert answer.headers["Access-Control-Allow-Headers"] == "content-type, x-sentry-auth"
        async with session.options(
            where, headers={**preflight, "Origin": "https://evil.example"}
        ) as answer:
            assert answer.status == 403
        async with session.get(where) as answer:
            assert (answer.status, answer.headers["Allow"]) == (405, "POST, OPTIONS")


async def test_no_login_csrf_token_or_cookie_is_involved(site: Site) -> None:
    browser, _csrf = await site.login()  # a signed-in browser posting without a CSRF token
    async with (
        browser,
        browser.post(url(site), data=envelope(("event", event())), headers=AUTH) as answer,
    ):
        assert answer.status == 200
        assert "Set-Cookie" not in answer.headers
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.post(
            url(site),
            data=envelope(("event", event())),
            headers={**AUTH, "Host": "errors.example.com"},
        ) as answer,
    ):
        assert answer.status == 200
        assert "Set-Cookie" not in answer.headers

    (issue,) = await issues(site)
    assert issue.count == 2


async def test_sessions_count_into_their_release_health(site: Site) -> None:
    release = {"release": "shop@2.0", "environment": "production"}
    started = {"sid": uuid.uuid4().hex, "init": True, "status": "ok", "attrs": release}
    crashed = {**started, "init": False, "status": "crashed"}
    aggregate = {
        "aggregates": [{"started": "2026-01-01T00:00:00Z", "exited": 5, "crashed": 1}],
        "attrs": release,
    }
    body = envelope(("session", started), ("session", crashed), ("sessions", aggregate))

    assert (await post(site, body, AUTH))[:2] == (200, {})
    tracker = site.engine.errors
    await tracker.stop()  # writes what was counted
    with site.store.read() as connection:
        from watchkeeper.store import issues as rows

        (health,) = rows.releases(connection, 1)

    assert (health.version, health.sessions, health.crashed) == ("shop@2.0", 7, 2)
    assert health.crash_free == pytest.approx(1 - 2 / 7)


async def test_hostile_text_is_stored_clean(site: Site) -> None:
    nasty = event(
        message="nul \x00 and a lone surrogate \ud800",
        tags={"k\x00": "v\ud800", "user": "someone@example.com"},
        user={"ip_address": "203.0.113.9"},
        request={
            "url": "https://shop.example.com/cart?token=s3cret",
            "cookies": "sid=s3cret",
            "headers": {"Cookie": "sid=s3cret", "User-Agent": "curl/8"},
        },
    )
    body = json.dumps(nasty, ensure_ascii=True).encode()
    assert (await post(site, envelope(("event", body)), AUTH))[0] == 200

    (issue,) = await issues(site)
    with site.store.read() as connection:
        from watchkeeper.store import issues as rows

        (stored,) = rows.events(connection, issue.id)
    text = json.dumps(stored)
    assert "s3cret" not in text and "203.0.113.9" not in text
    assert stored["request"] == {
        "method": None,
        "url": "https://shop.example.com/cart",
        "headers": {"User-Agent": "curl/8"},
    }
    assert issue.users == 1, "the address counts as a user, hashed"


async def test_before_anybody_exists_an_sdk_on_another_host_is_still_heard(tmp_path: Path) -> None:
    async with Site(CONFIG, tmp_path, users=False) as fresh:
        headers = {**AUTH, "Host": "errors.example.com"}
        status, answer, _ = await post(fresh, envelope(("event", event())), headers)
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{fresh.url}/api/v1/projects", headers={"Host": "errors.example.com"}
            ) as other,
        ):
            assert other.status == 403, "everything else still wants this machine's name"

    assert status == 200, answer


def test_the_gate_lets_the_ingest_urls_pass_and_nothing_like_them() -> None:
    from watchkeeper.web.security import is_public

    assert is_public("/api/1/envelope/") and is_public("/api/42/store")
    for path in ("/api/v1/envelope/", "/api/1/envelope/x", "/api/1/events/", "/api//store/"):
        assert not is_public(path), path


async def test_a_full_queue_is_answered_503_and_nothing_is_lost_of_what_was_taken(
    site: Site,
) -> None:
    tracker = site.engine.errors
    tracker._max_queue = 2  # the store is behind: the writer lingers, the queue fills
    tracker._flush_interval = 60.0
    tracker._batch_size = 1000

    answers = [(await post(site, envelope(("event", event())), AUTH))[0] for _ in range(3)]
    status, answer, headers = await post(site, envelope(("event", event())), AUTH)

    assert answers == [200, 200, 503] and status == 503
    assert (answer["detail"], headers["Retry-After"]) == (
        "the error tracker is behind: try again shortly",
        "10",
    )
    (issue,) = await issues(site)
    assert issue.count == 2
