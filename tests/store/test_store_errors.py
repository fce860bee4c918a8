"""Contract: error-tracking projects, issues and their batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping

import pytest

from watchkeeper.store import Store, issue_batches, issue_counts, issues
from watchkeeper.store.issue_batches import GroupWrite, ReleaseWrite, ResolvedIssue, StoredEvent
from watchkeeper.store.projects import ProjectTaken

T0 = 1_700_000_000.0
KEYS = iter(f"{n:032x}" for n in range(1, 10_000))


def new_key() -> str:
    return next(KEYS)


def never(
    resolved: ResolvedIssue, releases: Mapping[str | None, float], seen: Mapping[str, float]
) -> bool:
    return False


def always(
    resolved: ResolvedIssue, releases: Mapping[str | None, float], seen: Mapping[str, float]
) -> bool:
    return True


def stored(event_id: str, at: float, release: str | None = "1.0") -> StoredEvent:
    body = json.dumps({"event_id": event_id, "received_at": at})
    return StoredEvent(event_id, at, at, "error", release, "prod", None, body)


def group(
    project_id: int,
    fingerprint: str = "f" * 32,
    *,
    at: float = T0,
    count: int = 1,
    users: set[str] | None = None,
    tags: dict[tuple[str, str], int] | None = None,
    events: list[StoredEvent] | None = None,
    title: str = "ValueError: bad",
    release: str | None = "1.0",
) -> GroupWrite:
    return GroupWrite(
        project_id=project_id,
        fingerprint=fingerprint,
        title=title,
        culprit="shop.cart in total",
        type="ValueError",
        level="error",
        platform="python",
        first_seen=at,
        last_seen=at,
        count=count,
        first_release=release,
        last_release=release,
        releases={release: at},
        users=users or set(),
        tags=Counter(tags or {}),
        minutes=Counter({int(at // 60): count}),
        events=events if events is not None else [stored(f"{int(at * 1000):032x}", at, release)],
    )


def project(store: Store, name: str = "shop") -> int:
    return store.ensure_error_projects({name: False}, T0, new_key)[name].id


def test_config_projects_keep_their_id_and_key(store: Store) -> None:
    first = store.ensure_error_projects({"shop": False, "api": True}, T0, new_key)
    again = store.ensure_error_projects({"shop": False, "api": True}, T0 + 5, new_key)

    assert {n: p.id for n, p in first.items()} == {n: p.id for n, p in again.items()}
    assert again["shop"].public_key == first["shop"].public_key is not None
    assert again["api"].public_key is None, "a key the config gives is not stored"
    later = store.ensure_error_projects({"api": False}, T0 + 9, new_key)
    assert later["api"].public_key is not None and later["api"].id == first["api"].id


def test_a_project_made_at_run_time_keeps_its_settings_and_name(store: Store) -> None:
    made = store.add_error_project("web", "a" * 32, {"rate_limit": "5/s"}, T0, by="ann")

    assert (made.source, made.settings, made.created_by) == ("api", {"rate_limit": "5/s"}, "ann")
    with pytest.raises(ProjectTaken):
        store.add_error_project("web", "b" * 32, {}, T0)
    taken_over = store.ensure_error_projects({"web": False}, T0, new_key)["web"]
    assert (taken_over.id, taken_over.source, taken_over.settings) == (made.id, "config", {})


def test_a_batch_makes_an_issue_and_the_next_adds_to_it(store: Store) -> None:
    shop = project(store)
    first = store.write_errors(
        [group(shop, users={"u1"}, tags={("release", "1.0"): 1})], [], {}, T0, never
    )
    second = store.write_errors(
        [
            group(
                shop,
                at=T0 + 30,
                count=3,
                users={"u1", "u2"},
                tags={("release", "1.1"): 2, ("release", "1.0"): 1},
                release="1.1",
                title="ValueError: worse",
            )
        ],
        [],
        {},
        T0 + 30,
        never,
    )

    (issue,) = first.created
    assert second.created == [] and second.regressed == []
    found = store.error_issue(issue.id)
    assert found is not None
    assert (found.count, found.users, found.first_seen, found.last_seen) == (4, 2, T0, T0 + 30)
    assert (found.first_release, found.last_release, found.title) == (
        "1.0",
        "1.1",
        "ValueError: worse",
    )
    assert found.project == "shop"
    assert [(m.minute, m.count) for m in second.minutes] == [(int(T0 // 60) * 60, 4)]
    with store.read() as connection:
        assert issues.tag_values(connection, issue.id) == {"release": [("1.0", 2), ("1.1", 2)]}
        assert len(issues.events(connection, issue.id)) == 2


def test_an_issue_keeps_its_newest_events_only(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issue_batches, "KEEP_EVENTS", 10)
    monkeypatch.setattr(issue_batches, "TRIM_EVERY", 5)
    shop = project(store)
    for batch in range(8):
        at = T0 + batch
        events = [stored(f"{batch:08x}{n:024x}", at + n / 100) for n in range(4)]
        store.write_errors([group(shop, at=at, count=4, events=events)], [], {}, at, never)

    (issue,), _ = store.error_issues()
    with store.read() as connection:
        kept = issues.events(connection, issue.id, 100)
    assert issue.count == 32
    assert 10 <= len(kept) <= 10 + 5 + 4
    assert kept[0]["event_id"] == f"{7:08x}{3:024x}", "the newest first"
    assert store.known_event_ids(shop, [kept[0]["event_id"], "0" * 32]) == {kept[0]["event_id"]}


def test_a_stored_event_id_is_not_stored_twice(store: Store) -> None:
    shop = project(store)
    same = stored("e" * 32, T0)
    store.write_errors([group(shop, events=[same])], [], {}, T0, never)
    store.write_errors([group(shop, events=[same])], [], {}, T0, never)

    (issue,), _ = store.error_issues()
    with store.read() as connection:
        assert len(issues.events(connection, issue.id)) == 1


def test_a_resolved_issue_reopens_when_the_rule_says_so(store: Store) -> None:
    shop = project(store)
    (issue,) = store.write_errors([group(shop)], [], {}, T0, never).created
    resolved = store.set_issue_status(issue.id, "resolved", T0 + 1, by="ann")
    assert resolved is not None
    assert (resolved.status, resolved.resolution, resolved.resolution_release) == (
        "resolved",
        "now",
        "1.0",
    )
    asked: list[ResolvedIssue] = []

    def record(
        r: ResolvedIssue, releases: Mapping[str | None, float], seen: Mapping[str, float]
    ) -> bool:
        asked.append(r)
        return False

    store.write_errors([group(shop, at=T0 + 2)], [], {}, T0 + 2, record)
    assert asked == [ResolvedIssue("now", "1.0", T0 + 1)]
    assert store.error_issue(issue.id).status == "resolved"  # type: ignore[union-attr]

    written = store.write_errors([group(shop, at=T0 + 3)], [], {}, T0 + 3, always)
    (back,) = written.regressed
    assert (back.id, back.status, back.times_regressed, back.regressed_at) == (
        issue.id,
        "unresolved",
        1,
        T0 + 3,
    )
    in_release = store.set_issue_status(issue.id, "resolved", T0 + 4, in_release="2.0")
    assert in_release is not None and in_release.to_json()["resolved_in_release"] == "2.0"
    ignored = store.set_issue_status(issue.id, "ignored", T0 + 5)
    assert ignored is not None and ignored.resolved_at is None
    store.write_errors([group(shop, at=T0 + 6)], [], {}, T0 + 6, always)
    assert store.error_issue(issue.id).status == "ignored"  # type: ignore[union-attr]
    assert store.set_issue_status(10**9, "resolved", T0) is None


def test_users_and_tag_values_are_capped(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(issues, "MAX_USERS", 5)
    monkeypatch.setattr(issue_counts, "MAX_USERS", 5)
    monkeypatch.setattr(issue_counts, "MAX_TAG_VALUES", 3)
    shop = project(store)
    for n in range(4):
        users = {f"u{n}-{i}" for i in range(3)}
        tags = {("url", f"/page/{n}-{i}"): 1 for i in range(2)} | {("level", "error"): 2}
        store.write_errors([group(shop, at=T0 + n, users=users, tags=tags)], [], {}, T0 + n, never)

    (issue,), _ = store.error_issues()
    with store.read() as connection:
        values = issues.tag_values(connection, issue.id, per_key=100)
    assert issue.users == 5 and issue.to_json()["users_capped"] is True
    assert len(values["url"]) == 4, "a tag at its cap counts the values it has (one batch over)"
    assert values["level"] == [("error", 8)]


def test_issues_are_found_by_project_status_and_text(store: Store) -> None:
    shop, api = project(store, "shop"), project(store, "api")
    store.write_errors(
        [
            group(shop, "a" * 32, title="ValueError: 100% bad_input", at=T0),
            group(shop, "b" * 32, title="KeyError: 'sku'", at=T0 + 1, count=5),
            group(api, "c" * 32, title="TimeoutError", at=T0 + 2),
        ],
        [],
        {},
        T0 + 2,
        never,
    )
    found, total = store.error_issues()
    assert [i.title for i in found] == [
        "TimeoutError",
        "KeyError: 'sku'",
        "ValueError: 100% bad_input",
    ]
    assert total == 3
    assert [i.title for i in store.error_issues(project_id=shop)[0]] == [
        "KeyError: 'sku'",
        "ValueError: 100% bad_input",
    ]
    assert [i.title for i in store.error_issues(query="0% b")[0]] == ["ValueError: 100% bad_input"]
    assert store.error_issues(query="%")[1] == 1, "a % is a percent sign, not a wildcard"
    assert store.error_issues(query="D_I")[1] == 1, "any case"
    assert [i.count for i in store.error_issues(sort="count", limit=1)[0]] == [5]
    assert store.error_issues(status="resolved") == ([], 0)
    assert len(store.error_issues(limit=2, offset=2)[0]) == 1


def test_releases_and_outcomes_add_up(store: Store) -> None:
    shop = project(store)
    hour = int(T0 // 3600)
    store.write_errors(
        [],
        [ReleaseWrite(shop, "2.0", T0, T0, events=2, sessions=10, crashed=1)],
        {(shop, hour, "error", "accepted"): 2},
        T0,
        never,
    )
    store.write_errors(
        [],
        [ReleaseWrite(shop, "2.0", T0 - 5, T0 + 5, sessions=10, crashed=3, errored=2)],
        {(shop, hour, "error", "accepted"): 1, (shop, hour, "error", "rate_limited"): 4},
        T0 + 5,
        never,
    )

    with store.read() as connection:
        (release,) = issues.releases(connection, shop)
        counted = issues.outcomes(connection, shop, T0 - 3600)
    assert (release.first_seen, release.last_seen, release.events) == (T0 - 5, T0 + 5, 2)
    assert (release.sessions, release.crashed, release.errored) == (20, 4, 2)
    assert release.crash_free == pytest.approx(0.8)
    assert counted == {("error", "accepted"): 3, ("error", "rate_limited"): 4}


def test_retention_deletes_old_events_minutes_and_forgotten_issues(store: Store) -> None:
    shop = project(store)
    day = 86400.0
    store.write_errors(
        [group(shop, "a" * 32, at=T0)],
        [],
        {(shop, int(T0 // 3600), "error", "accepted"): 1},
        T0,
        never,
    )
    store.write_errors([group(shop, "b" * 32, at=T0 + 20 * day)], [], {}, T0 + 20 * day, never)

    deleted = store.prune_errors(
        T0 + 30 * day, events=14 * day, minutes=14 * day, issues=15 * day, outcomes=25 * day
    )

    found, _ = store.error_issues()
    assert [i.fingerprint for i in found] == ["b" * 32]
    with store.read() as connection:
        assert len(issues.events(connection, found[0].id)) == 1
        assert issues.minute_counts(connection, None, 0, T0 + 40 * day)[0].issue_id == found[0].id
        assert issues.outcomes(connection, shop, 0) == {}
    assert deleted >= 4


def test_two_writers_of_one_new_issue_lose_nothing(store: Store, store_url: str) -> None:
    shop = project(store)
    other = Store.open(store_url)
    failures: list[BaseException] = []

    def write(into: Store, offset: int) -> None:
        try:
            for n in range(15):
                at = T0 + n
                events = [stored(f"{offset:04x}{n:028x}", at)]
                into.write_errors([group(shop, at=at, count=2, events=events)], [], {}, at, never)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(s, i)) for i, s in enumerate((store, other))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.close()

    assert failures == []
    (issue,), total = store.error_issues()
    assert (total, issue.count) == (1, 60)
