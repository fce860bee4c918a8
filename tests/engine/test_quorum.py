"""k-of-n quorum over locations (engine/quorum.py), and the config that asks for it."""

from __future__ import annotations

import pytest

from watchkeeper.cluster.agents import SILENT_AFTER, agent_json
from watchkeeper.config import AgentsConfig, parse_config
from watchkeeper.engine.quorum import SLACK, Quorum, window
from watchkeeper.errors import ConfigError
from watchkeeper.model import Phases, Result, State
from watchkeeper.store.agents import Agent
from watchkeeper.units import format_duration


def _monitor(locations: str = "[local, eu-west, us-east]", quorum: str = ""):  # type: ignore[no-untyped-def]
    text = (
        "monitors:\n"
        f"  - {{name: api, http: 'http://127.0.0.1:9/', interval: 60s, timeout: 5s, "
        f"locations: {locations}{', quorum: ' + quorum if quorum else ''}}}\n"
    )
    return parse_config(text, "wk.yaml", env={}).monitors[0]


def _result(location: str | None, ok: bool, at: float, error: str = "refused") -> Result:
    return Result(
        monitor="api",
        kind="http",
        started_at=at,
        ok=ok,
        phases=Phases(total=0.01),
        error=None if ok else error,
        location=location,
    )


def test_default_quorum_is_a_majority_and_one_location_needs_none() -> None:
    assert _monitor().quorum == 2
    assert _monitor("[local, a, b, c]").quorum == 3
    assert _monitor("[local]").quorum == 1
    assert _monitor("[local, eu-west]", "1").quorum == 1


@pytest.mark.parametrize(
    ("locations", "quorum", "said"),
    [
        ("[local, Bad_Name]", "", "not valid"),
        ("[local, local]", "", "listed twice"),
        ("[local, eu-west]", "3", "more than its 2 location"),
        ("[]", "", "at least one location"),
    ],
)
def test_bad_locations_are_one_line_each(locations: str, quorum: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _monitor(locations, quorum)
    lines = caught.value.lines()
    assert any(said in line and "wk.yaml:2" in line for line in lines), lines


def test_a_kind_that_looks_at_the_node_stays_local() -> None:
    text = "monitors:\n  - {name: beat, heartbeat: {period: 1h}, locations: [local, eu-west]}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "wk.yaml", env={})
    assert any("can only be [local]" in line for line in caught.value.lines())


def test_one_failing_location_of_three_is_degraded_two_are_down() -> None:
    monitor = _monitor()
    quorum = Quorum()
    now = 1_000_000.0
    assert quorum.offer(monitor, _result(None, True, now), now).health is State.UP  # type: ignore[union-attr]
    assert quorum.offer(monitor, _result("eu-west", True, now), now).health is State.UP  # type: ignore[union-attr]
    one = quorum.offer(monitor, _result("us-east", False, now + 1), now + 1)
    assert one is not None and one.health is State.DEGRADED
    assert one.reason == "failing from us-east only: refused"
    two = quorum.offer(monitor, _result("eu-west", False, now + 2, "timeout"), now + 2)
    assert two is not None and two.health is State.DOWN
    assert two.reason == "failing from eu-west, us-east: timeout"
    back = quorum.offer(monitor, _result("eu-west", True, now + 3), now + 3)
    assert back is not None and back.health is State.DEGRADED


def test_a_silent_location_counts_neither_way_and_the_quorum_shrinks() -> None:
    monitor = _monitor()
    quorum = Quorum()
    now = 1_000_000.0
    quorum.offer(monitor, _result("eu-west", True, now), now)
    quorum.offer(monitor, _result("us-east", True, now), now)
    later = now + window(monitor) + 1  # both agents silent since
    alone = quorum.offer(monitor, _result(None, False, later), later)
    assert alone is not None and alone.health is State.DOWN  # the one place left decides
    seen = {s.location: s.available for s in quorum.seen(monitor, later)}
    assert seen == {"local": True, "eu-west": False, "us-east": False}


def test_a_late_result_is_kept_out_of_the_verdict() -> None:
    monitor = _monitor()
    quorum = Quorum()
    now = 1_000_000.0
    stale = now - window(monitor) - 1  # from an agent's buffer, after an outage
    assert quorum.offer(monitor, _result("eu-west", False, stale), now) is None
    quorum.offer(monitor, _result("eu-west", True, now), now)
    older = quorum.offer(monitor, _result("eu-west", False, now - 5), now)
    assert older is None  # never replaces a newer one of its location


def test_the_agents_settings_default_to_the_documented_times_and_move_the_window() -> None:
    agents = parse_config("monitors: []\n", "wk.yaml", env={}).agents
    assert agents == AgentsConfig() and (agents.silent_after, agents.slack) == (SILENT_AFTER, SLACK)
    assert (SILENT_AFTER, SLACK) == (30.0, 15.0)  # what the README says
    text = "agents: {silent_after: 5s, slack: 2s}\nmonitors: []\n"
    config = parse_config(text, "wk.yaml", env={})
    assert (config.agents.silent_after, config.agents.slack) == (5.0, 2.0)
    monitor = _monitor()  # 60 s interval, 5 s timeout
    assert window(monitor) == 125 + SLACK and window(monitor, 2.0) == 127.0
    quorum, default = Quorum(2.0), Quorum()
    now = 1_000_000.0
    for board in (quorum, default):
        board.offer(monitor, _result("eu-west", True, now), now)
    later = now + 127.5  # past the short window, well inside the default one
    assert {s.location: s.available for s in quorum.seen(monitor, later)} == {"eu-west": False}
    assert {s.location: s.available for s in default.seen(monitor, later)} == {"eu-west": True}
    for bad, said in (("slack: -1s", "slack"), ("silent_after: soon", "silent_after")):
        with pytest.raises(ConfigError) as caught:
            parse_config(f"agents: {{{bad}}}\n", "wk.yaml", env={})
        lines = caught.value.lines()
        assert len(lines) == 1 and said in lines[0] and "wk.yaml:1" in lines[0], lines


def test_an_agent_is_silent_past_its_setting() -> None:
    now = 1_000_000.0
    agent = Agent("eu-west", "probe-1", None, None, None, None, now - 60, now - 8, None, None,
                  0, 0, 0, 0, 0)  # fmt: skip
    assert agent_json(agent, now)["state"] == "up"  # 8 s: within the default 30 s
    quick = agent_json(agent, now, silent_after=5.0)
    assert quick["state"] == "silent" and quick["silent_for"] == format_duration(8.0)
