"""Error alerts as the outbox gets them, on SQLite and PostgreSQL: queued in the batch's own
transaction, to the project's routes only, once per issue, kind and hour, a spike at most
once an hour whatever restarts in between."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.helpers.stores import fresh_sqlite
from tests.store.conftest import (  # noqa: F401 (fixtures)
    postgres_database,
    postgres_url,
    store_url,
)
from tests.store.test_store_errors import always, group, never, project

from watchkeeper.config import Config, load_config
from watchkeeper.errortrack import alerts, projects, spikes
from watchkeeper.errortrack.alerts import ErrorAlerts
from watchkeeper.store import Store
from watchkeeper.store import alerts as outbox
from watchkeeper.store.issue_batches import GroupWrite, Written

T0 = 1_700_000_040.0  # the start of a minute


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:  # noqa: F811
    fresh_sqlite(store_url)  # a migrated copy
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


def configured(tmp_path: Path) -> Config:
    path = tmp_path / "watchkeeper.yaml"
    path.write_text(
        "storage: sqlite:///unused.db\n"
        "server: {public_url: 'https://wk.example.com'}\n"
        "notify:\n"
        "  - {name: hook, webhook: 'http://127.0.0.1:9/hook'}\n"
        "  - {name: other, webhook: 'http://127.0.0.1:9/other'}\n"
        "projects:\n"
        "  - {name: shop, notify: [hook, other]}\n"
        "  - {name: quiet}\n"
    )
    return load_config(path)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tracker_alerts(store: Store, config: Config, clock: Clock) -> ErrorAlerts:
    found = projects.build(config, projects.register_config(store, config))
    return ErrorAlerts(config, found.get, clock)


def write(
    store: Store, errors: ErrorAlerts, groups: list[GroupWrite], reopen: bool = False
) -> Written:
    def then(connection: sa.Connection, written: Written) -> int:
        return errors.write(connection, written, groups)

    return store.write_errors(groups, [], {}, T0, always if reopen else never, then)


def sent(store: Store) -> list[tuple[str, str, dict[str, Any]]]:
    with store.read() as connection:
        return [
            (n.route, n.event, n.message["items"][0])
            for n in outbox.notifications(connection, limit=100)
        ]


def test_a_new_issue_goes_to_each_route_of_its_project_once(store: Store, tmp_path: Path) -> None:
    config = configured(tmp_path)
    errors = tracker_alerts(store, config, Clock(T0))
    shop, quiet = project(store, "shop"), project(store, "quiet")
    production = {("environment", "production"): 3, ("environment", "staging"): 1}

    write(store, errors, [group(shop, count=4, tags=production), group(quiet)])
    write(store, errors, [group(shop, at=T0 + 5), group(quiet, at=T0 + 5)])

    told = sent(store)
    assert [(route, event) for route, event, _ in told] == [("hook", "new"), ("other", "new")]
    item = told[0][2]
    assert (item["monitor"], item["target"], item["count"], item["users"]) == (
        "shop",
        "shop.cart in total",
        4,
        0,
    )
    assert (item["release"], item["environment"]) == ("1.0", "production")
    assert item["url"] == f"https://wk.example.com/errors/{item['issue']}"
    with store.read() as connection:
        (first, _) = outbox.notifications(connection, limit=10)
    assert first.dedup_key == f"wk-error-{item['issue']}-new-{int(T0 // 3600)}-hook"
    assert first.message["title"] == "[NEW ERROR] shop: ValueError: bad"


def test_a_regression_is_told_and_rolled_back_with_its_batch(store: Store, tmp_path: Path) -> None:
    config = configured(tmp_path)
    errors = tracker_alerts(store, config, Clock(T0))
    shop = project(store, "shop")
    (issue,) = write(store, errors, [group(shop)]).created
    store.set_issue_status(issue.id, "resolved", T0 + 1)

    def broken(connection: sa.Connection, written: Written) -> None:
        errors.write(connection, written, [])
        raise RuntimeError("the batch fails after its alerts")

    with pytest.raises(RuntimeError):
        store.write_errors([group(shop, at=T0 + 9)], [], {}, T0 + 9, always, broken)
    assert [event for _, event, _ in sent(store)] == ["new", "new"], "nothing of it kept"
    assert store.error_issue(issue.id).status == "resolved"  # type: ignore[union-attr]

    (regressed,) = write(store, errors, [group(shop, at=T0 + 10)], reopen=True).regressed
    assert regressed.id == issue.id
    assert [event for _, event, _ in sent(store)] == ["new", "new", "regression", "regression"]


def busy(shop: int, at: float, count: int) -> GroupWrite:
    found = group(shop, at=at, count=count)
    found.minutes = Counter({int(at // 60): count})
    return found


def test_a_spike_is_told_once_an_hour_even_across_a_restart(store: Store, tmp_path: Path) -> None:
    config = configured(tmp_path)
    clock = Clock(T0 - 2 * 3600)
    errors = tracker_alerts(store, config, clock)
    shop = project(store, "shop")
    write(store, errors, [busy(shop, clock.now, 2)])  # new, two hours ago
    for minute in range(60):  # a steady two a minute for the hour before
        clock.now = T0 - 3600 + minute * 60
        write(store, errors, [busy(shop, clock.now, 2)])
    assert [e for _, e, _ in sent(store)] == ["new", "new"], "a steady rate is no spike"

    clock.now = T0 + 1
    write(store, errors, [busy(shop, clock.now, 9)])
    assert len(sent(store)) == 2, "below the floor"
    write(store, errors, [busy(shop, clock.now + 1, 40)])
    told = sent(store)
    assert [e for _, e, _ in told] == ["new", "new", "spike", "spike"]
    assert told[2][2]["count"] == 49 and "49 events in the minute" in told[2][2]["reason"]

    clock.now = T0 + 1800
    write(store, errors, [busy(shop, clock.now, 100)])
    clock.now = T0 + 3000  # the next hour of the clock, 50 minutes after the spike
    assert int(clock.now // 3600) != int(T0 // 3600)
    restarted = tracker_alerts(store, config, clock)  # no memory of the first
    write(store, restarted, [busy(shop, clock.now, 100)])
    assert len(sent(store)) == 4, "at most one spike in any hour"

    clock.now = T0 + spikes.WINDOW * 60 + alerts.SPIKE_EVERY
    write(store, restarted, [busy(shop, clock.now, 500)])
    assert len(sent(store)) == 6


def test_the_text_is_the_sdks_as_sent_for_the_notifier_to_escape(
    store: Store, tmp_path: Path
) -> None:
    config = configured(tmp_path)
    errors = tracker_alerts(store, config, Clock(T0))
    shop = project(store, "shop")
    hostile = group(shop, title="Error: [click](http://evil) @everyone\nSubject: x")
    write(store, errors, [hostile])

    with store.read() as connection:
        message = outbox.notifications(connection, limit=1)[0].message
    assert "\n" not in message["title"], "a title is one line: no header can be added"
    assert "[click](http://evil) @everyone" in json.dumps(message)


def test_a_deploy_that_breaks_many_things_pages_once_past_the_hourly_cap(
    store: Store, tmp_path: Path
) -> None:
    config = configured(tmp_path)
    clock = Clock(T0)
    errors = tracker_alerts(store, config, clock)
    shop = project(store, "shop")
    many = alerts.ISSUES_PER_HOUR + 5
    broken = [group(shop, f"{n:032x}", title=f"KeyError: k{n}") for n in range(many)]

    write(store, errors, broken[:3])
    write(store, errors, broken[3:])  # past the cap: one summary, not one alert each
    write(store, errors, [group(shop, "e" * 32, title="KeyError: later")])  # quiet now

    told = Counter((route, event) for route, event, _ in sent(store))
    assert told == {
        ("hook", "new"): alerts.ISSUES_PER_HOUR,
        ("other", "new"): alerts.ISSUES_PER_HOUR,
        ("hook", "flood"): 1,
        ("other", "flood"): 1,
    }
    summary = next(item for _, event, item in sent(store) if event == "flood")
    assert summary["url"] == "https://wk.example.com/errors?project=shop"

    clock.now = T0 + 3600  # a new hour: told one by one again
    write(store, errors, [group(shop, "d" * 32, at=clock.now, title="KeyError: next hour")])
    assert Counter(event for _, event, _ in sent(store))["new"] == 2 * alerts.ISSUES_PER_HOUR + 2
