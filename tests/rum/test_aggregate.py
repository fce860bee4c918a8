"""Beacons summed per minute in memory; duplicates counted once; the worst kept."""

from __future__ import annotations

from watchkeeper.rum.aggregate import Aggregator, Outcome
from watchkeeper.rum.beacon import Report
from watchkeeper.rum.histogram import bucket

MINUTE = 1_700_000_040.0  # a minute starts
T0 = MINUTE + 40


def report(metric_id: str, value: float, metric: str = "LCP", device: str = "mobile") -> Report:
    return Report(metric_id, metric, value, value, "navigate", "/p/1", device, {"target": "#x"})


def test_reports_of_one_minute_and_key_make_one_tally() -> None:
    aggregator = Aggregator()
    for index, value in enumerate((1000.0, 3000.0, 5000.0)):
        assert aggregator.add(report(f"id{index}", value), "product", T0) is Outcome.ADDED
    aggregator.add(report("other", 100.0, device="desktop"), "product", T0)
    tallies, _ = aggregator.take(T0 + 60)
    mobile = next(t for t in tallies if t.device == "mobile")
    assert (mobile.samples, mobile.good, mobile.needs_improvement, mobile.poor) == (3, 1, 1, 1)
    assert mobile.at == MINUTE
    assert sum(mobile.counts.values()) == 3
    assert len(tallies) == 2


def test_an_open_minute_is_not_taken_but_its_worst_samples_are() -> None:
    aggregator = Aggregator()
    aggregator.add(report("a", 1000.0), "product", T0)
    tallies, samples = aggregator.take(T0 + 10)
    assert tallies == []
    assert [s.id for s in samples] == ["a"]
    assert len(aggregator.open_tallies(0, T0 + 1)) == 1


def test_the_same_id_twice_counts_once() -> None:
    aggregator = Aggregator()
    assert aggregator.add(report("a", 1000.0), "product", T0) is Outcome.ADDED
    assert aggregator.add(report("a", 1000.0), "product", T0 + 1) is Outcome.DUPLICATE
    tallies, _ = aggregator.take(T0 + 60)
    assert tallies[0].samples == 1


def test_a_grown_value_replaces_the_first_while_its_minute_is_open() -> None:
    aggregator = Aggregator()
    aggregator.add(report("cls", 0.05, metric="CLS"), "product", T0)
    assert aggregator.add(report("cls", 0.4, metric="CLS"), "product", T0 + 5) is Outcome.REPLACED
    tallies, samples = aggregator.take(T0 + 60)
    assert (tallies[0].samples, tallies[0].good, tallies[0].poor) == (1, 0, 1)
    assert tallies[0].counts == {bucket("CLS", 0.4): 1}
    assert [s.value for s in samples] == [0.4]


def test_a_report_for_a_written_minute_is_a_duplicate() -> None:
    aggregator = Aggregator()
    aggregator.add(report("a", 1000.0), "product", T0)
    aggregator.take(T0 + 60)
    assert aggregator.add(report("a", 2000.0), "product", T0 + 61) is Outcome.DUPLICATE
    assert aggregator.take(T0 + 200)[0] == []


def test_the_same_id_under_another_metric_is_a_duplicate() -> None:
    aggregator = Aggregator()
    aggregator.add(report("a", 1000.0), "product", T0)
    assert aggregator.add(report("a", 0.5, metric="CLS"), "product", T0) is Outcome.DUPLICATE


def test_remembered_ids_are_bounded() -> None:
    aggregator = Aggregator(most_ids=10)
    for index in range(50):
        aggregator.add(report(f"id{index}", 100.0), "product", T0)
    assert len(aggregator._seen) == 10
    assert aggregator.add(report("id0", 100.0), "product", T0) is Outcome.ADDED


def test_only_the_worst_samples_of_an_hour_are_kept() -> None:
    aggregator = Aggregator(worst_kept=3)
    for index in range(20):
        aggregator.add(report(f"id{index}", 1000.0 + index), "product", T0)
    _, samples = aggregator.take(T0 + 60)
    assert sorted(s.value for s in samples) == [1017.0, 1018.0, 1019.0]
    assert samples[0].attribution == {"target": "#x"}
    aggregator.add(report("small", 5.0), "product", T0 + 70)
    aggregator.add(report("big", 5000.0), "product", T0 + 70)
    assert [s.id for s in aggregator.take(T0 + 200)[1]] == ["big"]
