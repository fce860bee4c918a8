"""The planner: grouping, folding children into parents, dropping blips, holding mutes."""

from __future__ import annotations

from watchkeeper.alerts.planner import Context, plan
from watchkeeper.notify.base import AlertItem
from watchkeeper.store.alerts import AlertEvent

NOW = 1_800_000_000.0


def event(
    id_: int,
    monitor: str,
    kind: str = "firing",
    *,
    at: float = NOW - 60,
    route: str = "ops",
    incident: int | None = None,
    cause: str | None = None,
) -> AlertEvent:
    item = AlertItem(
        monitor,
        "down" if kind != "resolved" else "up",
        "up",
        at,
        at - 10,
        cause=cause,
        event=kind,
        incident=incident or id_,
    )
    return AlertEvent(id_, incident or id_, monitor, route, kind, at, "pending", item.to_json())


def context(**overrides: object) -> Context:
    values: dict[str, object] = {"now": NOW, "group_wait": {"ops": 30.0, "pager": 30.0}}
    values.update(overrides)
    return Context(**values)  # type: ignore[arg-type]


def test_events_on_a_route_go_out_together_once_the_oldest_has_waited() -> None:
    pending = [event(1, "a", at=NOW - 31), event(2, "b", at=NOW - 5), event(3, "c", at=NOW - 1)]
    result = plan(pending, context())
    assert len(result.groups) == 1
    assert [e.id for e in result.groups[0].events] == [1, 2, 3]


def test_nothing_goes_out_before_the_group_wait() -> None:
    assert plan([event(1, "a", at=NOW - 10)], context()).groups == []


def test_each_route_gets_its_own_notification() -> None:
    pending = [event(1, "a", route="ops"), event(2, "a", route="pager", incident=1)]
    result = plan(pending, context())
    assert sorted(g.route for g in result.groups) == ["ops", "pager"]


def test_a_storm_of_fifty_is_one_notification_per_route() -> None:
    pending = [event(i, f"m{i}", at=NOW - 40 + i / 10) for i in range(50)]
    result = plan(pending, context())
    assert len(result.groups) == 1 and len(result.groups[0].items) == 50


def test_a_blip_shorter_than_the_wait_is_never_announced() -> None:
    pending = [
        event(1, "a", at=NOW - 40, incident=7),
        event(2, "a", "resolved", at=NOW - 35, incident=7),
    ]
    result = plan(pending, context())
    assert result.groups == []
    assert sorted(e.id for e, _ in result.dropped) == [1, 2]


def test_a_recovery_of_an_announced_incident_always_goes_out() -> None:
    pending = [event(2, "a", "resolved", incident=7)]
    result = plan(pending, context(announced=frozenset({(7, "ops")})))
    assert [e.id for e in result.groups[0].events] == [2]


def test_children_are_folded_into_their_parents_announcement() -> None:
    pending = [event(1, "db")] + [event(i, f"app{i}", cause="db") for i in range(2, 12)]
    result = plan(pending, context())
    (group,) = result.groups
    assert [item.monitor for item in group.items] == ["db"]
    assert group.items[0].affected == tuple(sorted(f"app{i}" for i in range(2, 12)))
    assert len(group.folded) == 10 and {cause for _, cause in group.folded} == {"db"}


def test_a_child_whose_parent_went_down_at_the_same_moment_is_folded_too() -> None:
    pending = [event(1, "db"), event(2, "app")]
    result = plan(pending, context(parent_down=lambda m: "db" if m == "app" else None))
    assert [i.monitor for i in result.groups[0].items] == ["db"]


def test_a_child_of_an_already_announced_parent_stays_quiet() -> None:
    pending = [event(2, "app", cause="db")]
    result = plan(pending, context(parents_announced=frozenset({("db", "ops")})))
    assert result.groups[0].items == [] and result.groups[0].folded[0][1] == "db"


def test_a_child_waits_while_its_parent_is_confirming() -> None:
    pending = [event(2, "app", at=NOW - 40)]
    waiting = plan(pending, context(parent_confirming=lambda m: True))
    assert waiting.groups == []
    later = plan(pending, context(parent_confirming=lambda m: True, now=NOW + 200))
    assert len(later.groups) == 1  # not for ever: max_defer


def test_muted_monitors_wait_and_their_recoveries_do_not() -> None:
    pending = [event(1, "a"), event(3, "b", "resolved", incident=9)]
    result = plan(pending, context(muted=lambda m: "silence #1", announced=frozenset({(9, "ops")})))
    assert [e.id for e, _ in result.held] == [1]
    assert [e.id for e in result.groups[0].events] == [3]


def test_reminders_of_a_recovered_incident_are_dropped() -> None:
    pending = [event(1, "a", "reminder", incident=4), event(2, "a", "resolved", incident=4)]
    result = plan(pending, context(announced=frozenset({(4, "ops")})))
    assert [e.id for e, _ in result.dropped] == [1]
    assert [e.id for e in result.groups[0].events] == [2]
