"""``/api/v1/projects`` and ``/api/v1/errors/issues`` with real tokens: keys and DSNs only
for writers (a ``${VAR}`` key never), projects made at run time take events at once, issues
are listed, read and resolved."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from tests.helpers.site import Site

CONFIG = """
storage: sqlite:///wk.db
notify:
  - {name: ops, webhook: "http://127.0.0.1:9/hook"}
projects:
  - {name: shop, key: "${HOOK_SECRET}-and-more", notify: [ops]}
  - {name: api}
"""


def envelope(kind: str, value: str, release: str = "1.0") -> bytes:
    event = {
        "event_id": uuid.uuid4().hex,
        "release": release,
        "tags": {"shard": "eu-1"},
        "exception": {
            "values": [
                {
                    "type": kind,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {"module": "api.views", "function": "get", "context_line": "x = y[0]"}
                        ]
                    },
                }
            ]
        },
    }
    body = json.dumps(event).encode()
    return b"{}\n" + json.dumps({"type": "event", "length": len(body)}).encode() + b"\n" + body


async def send(site: Site, dsn: str, body: bytes) -> int:
    key, rest = dsn.split("://", 1)[1].split("@", 1)
    project = rest.rsplit("/", 1)[1]
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{site.url}/api/{project}/envelope/?sentry_key={key}", data=body) as answer,
    ):
        return answer.status


async def call(
    session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with session.request(method, path, **kwargs) as answer:
        text = await answer.text()
        return answer.status, json.loads(text)


async def test_projects_show_keys_to_writers_only_and_a_config_secret_to_nobody(
    tmp_path: Path,
) -> None:
    async with (
        Site(CONFIG, tmp_path) as site,
        site.client(site.token("read")) as reader,
        site.client(site.token("write")) as writer,
    ):
        status, read = await call(reader, "GET", "/api/v1/projects")
        assert status == 200
        status, written = await call(writer, "GET", "/api/v1/projects")
        raw = json.dumps(written)

    assert [(p["name"], p["source"], p["dsn"], p["public_key"]) for p in read["items"]] == [
        ("shop", "config", None, None),
        ("api", "config", None, None),
    ]
    shop, api = written["items"]
    assert shop["dsn"] == f"{site.url.replace('://', '://${HOOK_SECRET}-and-more@')}/{shop['id']}"
    assert shop["public_key"] is None and shop["notify"] == ["ops"]
    assert "hunter2" not in raw, "a key from ${VAR} is never shown"
    assert api["dsn"] == f"http://{api['public_key']}@{site.url.split('://')[1]}/{api['id']}"
    assert api["rate_limit"] == "1000/m" and api["origins"] == []


async def test_a_project_made_through_the_api_takes_events_at_once(tmp_path: Path) -> None:
    async with Site(CONFIG, tmp_path) as site:
        async with (
            site.client(site.token("write")) as writer,
            site.client(site.token("read")) as reader,
        ):
            status, made = await call(
                writer,
                "POST",
                "/api/v1/projects",
                json={"name": "web", "rate_limit": "50/s", "origins": ["https://shop.example.com"]},
            )
            assert status == 201, made
            assert await send(site, made["dsn"], envelope("TypeError", "x")) == 200
            assert (await call(writer, "POST", "/api/v1/projects", json={"name": "web"}))[0] == 409
            assert (await call(writer, "POST", "/api/v1/projects", json={"name": "shop"}))[0] == 409
            status, refused = await call(writer, "POST", "/api/v1/projects", json={"name": "a/b"})
            assert status == 422 and "cannot be in a name" in refused["detail"]
            status, refused = await call(
                writer, "POST", "/api/v1/projects", json={"name": "x", "notify": ["pager"]}
            )
            assert (status, refused["detail"]) == (422, "notify route 'pager' is not defined")
            assert (await call(reader, "POST", "/api/v1/projects", json={"name": "y"}))[0] == 403
        await site.engine.errors.flush()
        (issue,), _ = site.store.error_issues()

    assert (made["name"], made["source"], made["rate_limit"]) == ("web", "api", "50/s")
    assert made["origins"] == ["https://shop.example.com"] and made["public_key"] in made["dsn"]
    assert (issue.project, issue.title) == ("web", "TypeError: x")


async def test_issues_are_listed_read_and_resolved(tmp_path: Path) -> None:
    async with (
        Site(CONFIG, tmp_path) as site,
        site.client(site.token("write")) as writer,
        site.client(site.token("read")) as reader,
    ):
        _, projects = await call(writer, "GET", "/api/v1/projects")
        api = projects["items"][1]["dsn"]
        for body in (
            envelope("KeyError", "'a'"),
            envelope("KeyError", "'b'"),
            envelope("OSError", "disk"),
        ):
            assert await send(site, api, body) == 200
        await site.engine.errors.flush()

        status, listed = await call(
            reader, "GET", "/api/v1/errors/issues", params={"project": "api"}
        )
        assert status == 200
        assert [(i["title"], i["count"]) for i in listed["items"]] == [
            ("OSError: disk", 1),
            ("KeyError: 'b'", 2),
        ]
        assert listed["total"] == 2
        status, found = await call(reader, "GET", "/api/v1/errors/issues", params={"q": "disk"})
        assert [i["title"] for i in found["items"]] == ["OSError: disk"]
        assert (await call(reader, "GET", "/api/v1/errors/issues", params={"project": "nope"}))[
            0
        ] == 404
        key_error = listed["items"][1]["id"]

        status, one = await call(reader, "GET", f"/api/v1/errors/issues/{key_error}")
        assert status == 200
        assert len(one["events"]) == 2 and one["events"][0]["exception"][0]["value"] == "'b'"
        assert one["events"][0]["exception"][0]["frames"][0]["context_line"] == "x = y[0]"
        assert one["tags"]["shard"] == [{"value": "eu-1", "count": 2}]
        assert one["culprit"] == "api.views in get"

        assert (await call(reader, "POST", f"/api/v1/errors/issues/{key_error}/resolve"))[0] == 403
        status, resolved = await call(
            writer,
            "POST",
            f"/api/v1/errors/issues/{key_error}/resolve",
            json={"in_release": "1.1"},
        )
        assert (status, resolved["status"], resolved["resolved_in_release"]) == (
            200,
            "resolved",
            "1.1",
        )
        assert resolved["status_by"] == "token:test-write"
        assert await send(site, api, envelope("KeyError", "'c'", release="1.0")) == 200
        await site.engine.errors.flush()
        assert (await call(reader, "GET", f"/api/v1/errors/issues/{key_error}"))[1][
            "status"
        ] == "resolved"
        assert await send(site, api, envelope("KeyError", "'d'", release="1.1")) == 200
        await site.engine.errors.flush()
        status, back = await call(
            reader, "GET", f"/api/v1/errors/issues/{key_error}", params={"events": 0}
        )
        assert (back["status"], back["times_regressed"], back["events"]) == (
            "unresolved",
            1,
            [],
        )

        status, ignored = await call(writer, "POST", f"/api/v1/errors/issues/{key_error}/ignore")
        assert (status, ignored["status"]) == (200, "ignored")
        status, again = await call(writer, "POST", f"/api/v1/errors/issues/{key_error}/unresolve")
        assert (status, again["status"]) == (200, "unresolved")
        assert (await call(writer, "POST", "/api/v1/errors/issues/999999/ignore"))[0] == 404
        status, filtered = await call(
            reader, "GET", "/api/v1/errors/issues", params={"status": "ignored"}
        )
        assert filtered["total"] == 0
