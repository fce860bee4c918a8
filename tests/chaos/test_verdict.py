"""The experiment's verdict from a known record: every time in it is worked out by hand."""

from __future__ import annotations

from watchkeeper.chaos.experiment import Broken, Change, Record, Seen, StepRun, Told
from watchkeeper.chaos.plan import Experiment
from watchkeeper.chaos.verdict import summary

T0 = 1_000_000.0  # the run starts; the fault goes in at T0 + 10 and out at T0 + 30


def _experiment() -> Experiment:
    return Experiment.model_validate(
        {
            "name": "slow-db",
            "steady_state": {"monitors": ["api"], "expect": {"api": ["latency < 300ms"]}},
            "method": [
                {"toxic": {"proxy": "db", "type": "latency", "attributes": {"latency": 900}},
                 "duration": "20s"}
            ],
            "fail_fast": [{"monitor": "api", "latency": "300ms", "recover_within": "5s"}],
        }
    )  # fmt: skip


def _record(*, told: bool) -> Record:
    record = Record(_experiment(), T0, steady_before=True, ended=T0 + 40)
    record.steps.append(StepRun(_experiment().method[0], T0 + 10, T0 + 30, applied=True))
    record.intervals["api"], record.confirm["api"] = 2.0, 2
    record.routes["api"] = {"ops": 30.0}
    # checks every 2 s: fine before, slow and failing from +12 to +28, back at +30
    for offset in range(0, 40, 2):
        started = T0 + offset
        bad = 12 <= offset <= 28
        record.seen.append(
            Seen("api", started, started + (0.9 if bad else 0.05), not bad,
                 0.9 if bad else 0.05, "timeout" if bad else None)
        )  # fmt: skip
    record.changes += [
        Change("api", T0 + 0.05, "unknown", "up", None),
        Change("api", T0 + 14.9, "up", "down", "timeout"),  # the 2nd failed check's end
        Change("api", T0 + 32.05, "down", "up", None),
    ]
    record.broken.append(
        Broken("api", T0 + 11, "latency 310ms, expected < 300ms", "latency < 300ms")
    )
    if told:
        record.told.append(Told("ops", "firing", "[DOWN] api", ["api"], T0 + 44.9, True))
    return record


def test_times_are_from_the_fault_and_the_hypothesis_is_judged() -> None:
    found = summary(_record(told=False))
    api = found["monitors"]["api"]
    assert found["held"] is False
    assert api["phases"]["before"] == {
        "checks": 5, "failed": 0, "latency_p50_ms": 50.0, "latency_max_ms": 50.0
    }  # fmt: skip
    assert api["phases"]["during"]["checks"] == 11 and api["phases"]["during"]["failed"] == 9
    assert api["first_failure_after"] == 2.9  # the check started at +12 ended at +12.9
    assert api["detected_after"] == 4.9
    assert api["recovered_after"] == 2.05
    assert api["not_up_for"] == 17.15
    assert found["deviations"] == [
        "api went down at +4.9 s: timeout",
        "api: latency < 300ms failed on 1 check (first: latency 310ms, expected < 300ms)",
    ]
    breaker = found["fail_fast"][0]
    assert breaker["fails_fast"] is False and breaker["latency_max_ms"] == 900.0
    assert breaker["recovered_after"] == 2.05 and breaker["recovers"] is True
    # 17 s down, under the route's 30 s grouping wait: nobody told, and the report says why
    assert found["quiet"] == [
        "api was not up for 17.1 s, and recovered before the grouping wait of its routes "
        "(ops: 30 s) ended"
    ]
    rules = [f["rule"] for f in found["findings"]]
    assert rules[:3] == ["steady-state-broken", "breaker-not-fast", "outage-not-announced"]


def test_a_notification_after_the_run_is_reported_as_such() -> None:
    found = summary(_record(told=True))
    assert found["notifications"] == [
        {"route": "ops", "event": "firing", "title": "[DOWN] api", "monitors": ["api"],
         "at": None, "after_run": True, "dry_run": True}
    ]  # fmt: skip
    assert found["quiet"] == []
    assert "outage-not-announced" not in [f["rule"] for f in found["findings"]]


def test_what_a_target_said_is_escaped_in_every_format() -> None:
    from watchkeeper.report import chaos as shown

    record = _record(told=False)
    record.changes[1] = Change("api", T0 + 14.9, "up", "down", "<script>alert(1)</script>|x")
    found = summary(record)
    page = shown.html_report(found)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    text = shown.markdown(found)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;\\|x" in text
    assert "<script>alert(1)</script>|x" in "\n".join(shown.lines(found))  # a terminal's text
