"""p75, ratings and shares per page group, device and metric; series over time."""

from __future__ import annotations

from watchkeeper.rum.analysis import pick_step, series, summarize, summary_of, worst_first
from watchkeeper.rum.histogram import bucket
from watchkeeper.rum.rows import Sample, Tally
from watchkeeper.rum.vitals import Rating, rate


def tally(
    values: list[float],
    *,
    at: float = 0.0,
    page: str = "product",
    device: str = "mobile",
    metric: str = "LCP",
) -> Tally:
    counts: dict[int, int] = {}
    ratings = [0, 0, 0]
    order = {Rating.GOOD: 0, Rating.NEEDS_IMPROVEMENT: 1, Rating.POOR: 2}
    for value in values:
        index = bucket(metric, value)
        counts[index] = counts.get(index, 0) + 1
        ratings[order[rate(metric, value)]] += 1
    return Tally(at, page, device, metric, len(values), *ratings, counts)


def test_a_group_whose_p75_is_at_the_threshold_is_good() -> None:
    found = summary_of("product", None, "LCP", [tally([1000.0, 2000.0, 2500.0, 9000.0])])
    assert found.p75 == 2500.0
    assert found.rating is Rating.GOOD
    assert (found.good, found.needs_improvement, found.poor) == (0.75, 0.0, 0.25)


def test_a_p75_just_past_a_threshold_needs_improvement() -> None:
    found = summary_of("product", None, "INP", [tally([100, 150, 201, 900], metric="INP")])
    assert found.rating is Rating.NEEDS_IMPROVEMENT
    assert found.p75 is not None and 201 <= found.p75 <= 201 * 1.02


def test_a_poor_p75() -> None:
    found = summary_of("product", None, "CLS", [tally([0.3, 0.4, 0.5, 0.0], metric="CLS")])
    assert found.rating is Rating.POOR


def test_no_samples_no_rating() -> None:
    found = summary_of("product", "mobile", "LCP", [tally([1.0], device="desktop")])
    assert (found.samples, found.p75, found.rating) == (0, None, None)


def test_tallies_of_one_key_add_up_across_minutes_and_devices() -> None:
    tallies = [
        tally([1000.0] * 3, at=0.0),
        tally([5000.0] * 3, at=60.0),
        tally([5000.0] * 4, at=60.0, device="desktop"),
        tally([100.0], metric="TTFB"),
    ]
    found = {(s.device, s.metric): s for s in summarize(tallies)}
    assert found[("mobile", "LCP")].samples == 6
    assert found[("mobile", "LCP")].rating is Rating.POOR
    assert found[("all", "LCP")].samples == 10
    assert found[("all", "TTFB")].rating is Rating.GOOD
    assert [s.device for s in summarize(tallies)][:1] == ["all"]


def test_a_series_has_a_point_per_step_with_samples() -> None:
    tallies = [tally([1000.0], at=0.0), tally([5000.0], at=60.0), tally([5000.0], at=600.0)]
    points = series("LCP", tallies, 300.0)
    assert [(p.at, p.samples) for p in points] == [(0.0, 2), (600.0, 1)]
    assert points[1].rating is Rating.POOR
    assert points[0].good == 0.5


def test_the_step_keeps_a_series_short() -> None:
    assert pick_step(3600) == 60.0
    assert pick_step(86400) == 300.0
    assert pick_step(30 * 86400) == 6 * 3600.0
    assert pick_step(3650 * 86400) == 86400.0


def test_the_worst_come_first_once_per_id() -> None:
    def sample(sample_id: str, value: float) -> Sample:
        return Sample(sample_id, 0.0, "p", "mobile", "LCP", value, "poor", "/", "navigate")

    found = worst_first([sample("a", 1), sample("b", 5), sample("a", 9), sample("c", 3)], 2)
    assert [(s.id, s.value) for s in found] == [("a", 9), ("b", 5)]
