"""A batch of events made ready for the store: grouped, counted, a sample of the newest
kept, users only as keyed hashes, sessions counted into release health."""

from __future__ import annotations

import json
from typing import Any

from watchkeeper.errortrack import batches
from watchkeeper.errortrack.batches import Health, KeptCounts, Received, count_session, prepare

T0 = 1_700_000_040.0  # the start of a minute


def event(
    function: str = "total", user: str | None = "ann", release: str | None = "1.0"
) -> dict[str, Any]:
    frames = [{"module": "shop.cart", "function": function, "in_app": True}]
    found: dict[str, Any] = {
        "exception": {
            "values": [{"type": "ValueError", "value": "bad", "stacktrace": {"frames": frames}}]
        },
        "release": release,
        "tags": {"shard": "eu"},
    }
    if user is not None:
        found["user"] = {"email": f"{user}@example.com", "ip_address": "203.0.113.7"}
    return found


def received(payload: dict[str, Any], n: int, at: float = T0) -> Received:
    return Received(1, f"{n:032x}", payload, at + n / 1000, client="198.51.100.1")


def test_events_group_into_issues_with_their_counts() -> None:
    batch = [received(event(), 0), received(event(user="bob"), 1), received(event("refund"), 2)]
    batch.append(received(event(user=None, release="1.1"), 3))

    prepared = prepare(batch, b"salt")

    total, refund = prepared.groups
    assert (total.count, refund.count) == (3, 1)
    assert (total.first_release, total.last_release) == ("1.0", "1.1")
    assert set(total.releases) == {"1.0", "1.1"} and len(total.users) == 2
    assert total.tags[("shard", "eu")] == 3 and total.tags[("release", "1.0")] == 2
    assert sum(total.minutes.values()) == 3
    assert (total.title, total.culprit, total.type) == (
        "ValueError: bad",
        "shop.cart in total",
        "ValueError",
    )
    assert [(r.version, r.events) for r in prepared.releases] == [("1.0", 3), ("1.1", 1)]


def test_users_are_kept_as_keyed_hashes_only() -> None:
    one = prepare([received(event(), 0)], b"one").groups[0]
    other = prepare([received(event(), 0)], b"two").groups[0]
    stored = json.dumps([one.events[0].body, sorted(one.users), one.events[0].user_hash])

    assert one.users != other.users, "the key (a secret of the store) changes the hash"
    assert "ann@example.com" not in "".join(one.users)
    assert "203.0.113.7" not in stored and "198.51.100.1" not in stored


def test_an_issue_keeps_a_sample_of_its_newest_events() -> None:
    kept = KeptCounts()
    per_batch = []
    for b in range(10):  # ten batches of 20 events in one minute
        batch = [received(event(), b * 20 + n) for n in range(20)]
        per_batch.append(len(prepare(batch, b"salt", kept).groups[0].events))

    assert per_batch == [batches.KEPT_PER_BATCH] * 6 + [0] * 4
    newest = prepare([received(event(), 500, at=T0 + 60)], b"salt", kept).groups[0].events
    assert len(newest) == 1, "a new minute, a new allowance"
    assert newest[0].event_id == f"{500:032x}"


def test_sessions_count_into_release_health() -> None:
    health: dict[tuple[int, str], Health] = {}
    attrs = {"release": "2.0"}
    assert count_session(health, 1, {"init": True, "status": "ok", "attrs": attrs}, T0, 100) == 1
    count_session(health, 1, {"status": "crashed", "attrs": attrs}, T0, 100)
    count_session(health, 1, {"status": "exited", "errors": 2, "attrs": attrs}, T0, 100)
    aggregate = {"aggregates": [{"exited": 7, "errored": 2, "abnormal": 1}] * 3, "attrs": attrs}
    assert count_session(health, 1, aggregate, T0, 2) == 20, "at most 2 aggregates read"
    assert count_session(health, 1, {"init": True, "attrs": {}}, T0, 100) == 0, "no release"

    (written,) = batches.health_writes(health)
    assert (written.sessions, written.crashed, written.errored, written.abnormal) == (21, 1, 5, 2)


async def test_a_batch_that_cannot_be_grouped_is_dropped_and_the_tracker_goes_on(
    tmp_path: Any, monkeypatch: Any, caplog: Any
) -> None:
    from tests.helpers.site import Site

    async with Site("storage: sqlite:///wk.db\nprojects: [{name: shop}]\n", tmp_path) as site:
        tracker = site.engine.errors
        project = tracker.by_name("shop")
        assert project is not None
        real = batches.prepare

        def broken(batch: list[Received], salt: bytes, kept: Any = None) -> Any:
            if any(r.payload.get("message") == "boom" for r in batch):
                raise RuntimeError("a bug")
            return real(batch, salt, kept)

        monkeypatch.setattr(batches, "prepare", broken)
        assert tracker.offer([Received(project.id, "a" * 32, {"message": "boom"}, T0)])
        await tracker.flush()
        assert tracker.offer([Received(project.id, "b" * 32, {"message": "fine"}, T0)])
        await tracker.flush()

        assert tracker.counts["dropped"] == 1
        assert [i.title for i in site.store.error_issues()[0]] == ["fine"]
        assert "grouping 1 error events failed" in caplog.text
