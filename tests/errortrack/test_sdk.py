"""The real ``sentry-sdk`` in a web application that raises, sending to Watchkeeper's error
tracker served by uvicorn: events arrive and group into the issues a person would expect; a
resolved issue reopens in a newer release; the SDK honours the rate limit it is answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.sentry_app import SentryApp
from tests.helpers.site import Site

from watchkeeper.errortrack.projects import Project
from watchkeeper.store.issues import Issue, MinuteCount

CONFIG = """
storage: sqlite:///wk.db
projects:
  - {name: shop, rate_limit: RATE}
"""


def _config(rate: str = "1000/m") -> str:
    return CONFIG.replace("RATE", rate)


def _dsn(site: Site) -> str:
    project = site.engine.errors.by_name("shop")
    assert project is not None
    return project.dsn(site.url)


async def _issues(site: Site) -> list[Issue]:
    await site.engine.errors.flush()
    found, _ = site.store.error_issues(limit=100)
    return sorted(found, key=lambda issue: issue.first_seen)


class Heard:
    """A listener that remembers what the tracker told it."""

    def __init__(self) -> None:
        self.created: list[int] = []
        self.regressed: list[int] = []
        self.minutes: list[MinuteCount] = []

    def issue_created(self, issue: Issue, project: Project) -> None:
        self.created.append(issue.id)

    def issue_regressed(self, issue: Issue, project: Project) -> None:
        self.regressed.append(issue.id)

    def events_stored(self, counts: list[MinuteCount]) -> None:
        self.minutes += counts


async def test_the_same_bug_twice_is_one_issue_and_another_bug_another(tmp_path: Path) -> None:
    async with Site(_config(), tmp_path) as site:
        heard = Heard()
        site.engine.errors.listeners.append(heard)
        async with SentryApp(_dsn(site), release="shop@1.0") as app:
            assert await app.get("/divide") == 500
            assert await app.get("/divide") == 500
            assert await app.get("/missing") == 500
            await app.flush()
        divide, missing = await _issues(site)

    assert (divide.title, divide.count, divide.type) == (
        "ZeroDivisionError: division by zero",
        2,
        "ZeroDivisionError",
    )
    assert divide.culprit == "__main__ in divide"
    assert (missing.title, missing.count, missing.culprit) == (
        "KeyError: 'b'",
        1,
        "__main__ in lookup",
    )
    assert divide.last_release == "shop@1.0" and divide.status == "unresolved"
    assert sorted(heard.created) == sorted([divide.id, missing.id])
    assert sum(m.count for m in heard.minutes if m.issue_id == divide.id) >= 2


async def test_chained_exceptions_group_by_their_causes(tmp_path: Path) -> None:
    async with Site(_config(), tmp_path) as site:
        async with SentryApp(_dsn(site)) as app:
            for cause in ("value", "value", "key"):
                assert await app.get(f"/chained?cause={cause}") == 500
            await app.flush()
        from_value, from_key = await _issues(site)
        with site.store.read() as connection:
            from watchkeeper.store import issues

            event = issues.events(connection, from_value.id, 1)[0]

    assert from_value.title == from_key.title == "RuntimeError: could not read the order"
    assert (from_value.count, from_key.count) == (2, 1)
    assert [e["type"] for e in event["exception"]] == ["ValueError", "RuntimeError"]
    frames = event["exception"][-1]["frames"]
    assert frames[-1]["function"] == "chained" and frames[-1]["context_line"]
    assert all(frame["in_app"] for frame in frames if frame["module"] == "__main__")


async def test_messages_group_by_their_text_with_the_numbers_and_addresses_taken_out(
    tmp_path: Path,
) -> None:
    async with Site(_config(), tmp_path) as site:
        async with SentryApp(_dsn(site)) as app:
            for n in (7, 4242, 13):
                await app.get(f"/message?n={n}")
            await app.flush()
        (issue,) = await _issues(site)

    assert issue.count == 3
    assert issue.title == "payment 13 failed for buyer-13@example.com"
    assert issue.level == "info" and issue.type is None


async def test_a_custom_fingerprint_splits_one_bug_by_its_values(tmp_path: Path) -> None:
    async with Site(_config(), tmp_path) as site:
        async with SentryApp(_dsn(site)) as app:
            for name in ("acme", "acme", "globex"):
                await app.get(f"/tenant?name={name}")
            await app.flush()
        found = await _issues(site)

    assert [(issue.title, issue.count) for issue in found] == [
        ("ValueError: bad input from acme", 2),
        ("ValueError: bad input from globex", 1),
    ]


async def test_a_resolved_issue_reopens_when_a_newer_release_raises_it(tmp_path: Path) -> None:
    async with Site(_config(), tmp_path) as site:
        heard = Heard()
        site.engine.errors.listeners.append(heard)
        async with SentryApp(_dsn(site), release="2.4.0") as old:
            await old.get("/divide")
            await old.flush()
            (issue,) = await _issues(site)
            async with (
                site.client(site.token("write")) as client,
                client.post(f"/api/v1/errors/issues/{issue.id}/resolve") as answer,
            ):
                assert answer.status == 200, await answer.text()
                assert (await answer.json())["status"] == "resolved"
            await old.get("/divide")  # a server still on the old release: still resolved
            await old.flush()
            (still,) = await _issues(site)
        async with SentryApp(_dsn(site), release="2.5.0") as new:
            await new.get("/divide")
            await new.flush()
            (back,) = await _issues(site)

    assert (still.status, still.count) == ("resolved", 2)
    assert (back.status, back.count, back.times_regressed) == ("unresolved", 3, 1)
    assert back.regressed_at is not None and back.last_release == "2.5.0"
    assert heard.regressed == [issue.id]


async def test_the_sdk_stops_sending_for_as_long_as_it_is_told(tmp_path: Path) -> None:
    async with Site(_config("3/1m"), tmp_path) as site:
        async with SentryApp(_dsn(site)) as app:
            await app.get("/burst?n=20")
            await app.flush()
        tracker = site.engine.errors
        await tracker.flush()
        await tracker.stop()  # writes the outcomes counted
        with site.store.read() as connection:
            from watchkeeper.store import issues

            outcomes = issues.outcomes(connection, tracker.projects[1].id, 0)
        (issue,) = await _issues(site)

    assert issue.count == 3
    assert outcomes[("error", "accepted")] == 3
    assert outcomes[("error", "rate_limited")] == 1, "one refusal, then the SDK held back"
    assert outcomes[("error", "client_discarded")] == 16, "and it said what it dropped"


@pytest.mark.parametrize("compression", ["gzip", "br", "none"])
async def test_every_compression_the_sdk_sends_is_read(tmp_path: Path, compression: str) -> None:
    async with Site(_config(), tmp_path) as site:
        async with SentryApp(_dsn(site), compression=compression) as app:
            await app.get("/missing")
            await app.flush()
        (issue,) = await _issues(site)

    assert issue.title == "KeyError: 'b'"
