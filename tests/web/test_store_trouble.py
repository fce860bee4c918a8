"""The API when the store cannot help: a value PostgreSQL refuses is the caller's 422, a store
that went away is a 503 with Retry-After; never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.helpers.postgres import PrivatePostgres
from tests.helpers.site import Site
from tests.store.conftest import postgres_database, postgres_url  # noqa: F401 (fixtures)
from tests.web.test_api import call


def config(storage: str) -> str:
    return f"""
storage: {storage}
monitors:
  - {{name: api, tcp: "127.0.0.1:9", interval: 1h, timeout: 1s}}
"""


@pytest.mark.postgres
async def test_a_nul_in_a_name_or_any_text_is_refused_with_422_on_postgresql(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    site = Site(config(postgres_url), tmp_path)
    async with site, site.client(site.token("write")) as api:
        status, body = await call(
            api, "POST", "/api/v1/monitors", json={"name": "a\x00b", "tcp": "127.0.0.1:9"}
        )
        assert status == 422, body
        assert body["detail"] == ["name: text cannot hold a NUL character (U+0000)"]
        status, body = await call(
            api, "POST", "/api/v1/maintenance", json={"name": "up\x00", "cron": "0 3 * * *"}
        )
        assert status == 422 and "text cannot hold a NUL character" in body["detail"][0], body
        # a text field no validation looks at: the store's refusal is the caller's 422
        status, body = await call(
            api, "POST", "/api/v1/silences", json={"monitor": "api", "reason": "a\x00b"}
        )
        assert status == 422, body
        assert body["detail"] == (
            "cannot keep that: postgreSQL text fields cannot contain NUL (0x00) bytes"
        )
        _, listed = await call(api, "GET", "/api/v1/monitors?source=api")
        assert listed["total"] == 0
        _, silences = await call(api, "GET", "/api/v1/silences")
        assert silences["items"] == []


async def test_api_reads_answer_503_with_retry_after_while_the_store_is_away(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    async with Site(config(private_postgres.url), tmp_path) as site:
        token = site.token("read")
        async with site.client(token) as api:
            status, _ = await call(api, "GET", "/api/v1/monitors/api/results")
            assert status == 200  # (and the token is known now: it works on without the store)
            await asyncio.to_thread(private_postgres.stop, "immediate")
            for path in (
                "/api/v1/monitors/api/results",
                "/api/v1/monitors/api/series",
                "/api/v1/incidents",
                "/api/v1/silences",
            ):
                async with api.get(path) as answer:
                    assert answer.status == 503, (path, await answer.text())
                    assert answer.headers["Retry-After"] == "5"
                    body = await answer.json()
                assert body["detail"].startswith("the store is not answering ("), body
            status, body = await call(api, "GET", "/api/v1/monitors")
            assert status == 200, "live state comes from memory"
