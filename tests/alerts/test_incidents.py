"""Incident decisions: open on trouble, announce again only when worse, close on recovery."""

from __future__ import annotations

import pytest

from watchkeeper.alerts.incidents import QUIET_FOR, announced, decide, routes_for, severity_of
from watchkeeper.config import parse_config
from watchkeeper.model import State, Transition
from watchkeeper.store.alerts import Incident

CONFIG = parse_config(
    """
notify:
  - {name: ops, webhook: "http://127.0.0.1:9/x"}
  - {name: pager, webhook: "http://127.0.0.1:9/y", severity: [critical]}
  - {name: dba, webhook: "http://127.0.0.1:9/z", tags: [db]}
monitors:
  - {name: db, tcp: "127.0.0.1:5432", notify: [ops, pager], tags: [db]}
  - {name: docs, http: "http://x/", notify: [ops, pager], severity: info}
""",
    "wk.yaml",
    env={},
)
DB, DOCS = CONFIG.monitors
ROUTES = list(CONFIG.routes)


def incident(state: str = "down", worst: str = "down") -> Incident:
    return Incident(1, "db", 100.0, None, state, worst, "x", None, None, None, 110.0, 110.0, None)


def change(old: State, new: State, reason: str | None = "refused") -> Transition:
    return Transition("db", 200.0, old, new, reason)


def test_routes_come_from_names_and_tags_filtered_by_severity() -> None:
    assert routes_for(DB, ROUTES, "critical") == ["ops", "pager", "dba"]
    assert routes_for(DB, ROUTES, "warning") == ["ops", "dba"]
    assert routes_for(DOCS, ROUTES, severity_of(DOCS, "down")) == ["ops"]


def test_a_degraded_critical_monitor_is_a_warning() -> None:
    assert severity_of(DB, "degraded") == "warning"
    assert severity_of(DB, "down") == "critical"


def test_the_first_problem_opens_an_incident_and_announces_it() -> None:
    decision = decide(None, change(State.UP, State.DOWN), DB, ROUTES)
    assert decision.open and decision.alerts == [
        ("ops", "firing"),
        ("pager", "firing"),
        ("dba", "firing"),
    ]
    assert decision.timeline[0] == ("detected", "down: refused")


def test_worse_is_announced_again_and_better_is_not() -> None:
    worse = decide(incident("degraded", "degraded"), change(State.DEGRADED, State.DOWN), DB, ROUTES)
    assert worse.alerts and worse.updates["worst"] == "down"
    better = decide(incident("down", "down"), change(State.DOWN, State.DEGRADED), DB, ROUTES)
    assert better.alerts == [] and not better.open and not better.close


@pytest.mark.parametrize("told", [["ops"], ["ops", "pager"]])
def test_recovery_closes_and_tells_exactly_the_routes_that_heard(told: list[str]) -> None:
    decision = decide(incident(), change(State.DOWN, State.UP, None), DB, ROUTES, told)
    assert decision.close and decision.updates["closed_at"] == 200.0
    assert decision.alerts == [(route, "resolved") for route in sorted(told)]


def test_a_cause_is_named_in_the_timeline() -> None:
    transition = Transition("app", 200.0, State.UP, State.DOWN, "refused", cause="db")
    decision = decide(None, transition, DB, ROUTES)
    assert "caused by db" in decision.timeline[0][1]


def test_an_incident_is_more_than_a_blip_once_told_or_as_long_as_a_route_would_wait() -> None:
    def closed(lasted: float, notified: float | None, worst: str = "down") -> Incident:
        return Incident(
            1, "db", 100.0, 100.0 + lasted, "up", worst, "x", None, None, None, notified, None, None
        )

    assert announced(closed(5, notified=101.0), DB, ROUTES), "told: published, however short"
    assert not announced(closed(3600, notified=None), DB, ROUTES), "it has routes, none told"
    quiet = parse_config("monitors:\n  - {name: db, tcp: '127.0.0.1:5432'}\n", "wk.yaml", env={})
    (alone,) = quiet.monitors  # notifies no route: told of nothing, ever
    assert not announced(closed(QUIET_FOR - 1, notified=None), alone, ())
    assert announced(closed(QUIET_FOR, notified=None), alone, ())
    assert not announced(closed(3600, notified=None), None, ()), "a monitor no longer watched"
    # docs (severity info) reaches only ops, which takes every severity: it had a route
    assert not announced(closed(3600, notified=None, worst="degraded"), DOCS, ROUTES)
