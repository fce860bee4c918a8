"""Log buckets whose edges include the thresholds: a quantile is at most 2 % high and never
changes rating."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.rum.histogram import EDGES, bucket, decode, encode, merge, quantile, upper_edge
from watchkeeper.rum.vitals import MAXIMUM, METRICS, THRESHOLDS, rate


@pytest.mark.parametrize("metric", METRICS)
def test_every_threshold_is_a_bucket_edge(metric: str) -> None:
    for threshold in THRESHOLDS[metric]:
        assert upper_edge(metric, bucket(metric, threshold)) == threshold
    assert EDGES[metric][0] == 0.0
    assert EDGES[metric][-1] == MAXIMUM[metric]
    assert list(EDGES[metric]) == sorted(set(EDGES[metric]))


@given(
    metric=st.sampled_from(METRICS),
    fraction=st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
)
def test_a_value_lands_in_a_bucket_at_most_two_percent_above_it_and_of_its_rating(
    metric: str, fraction: float
) -> None:
    value = fraction * MAXIMUM[metric]
    edge = upper_edge(metric, bucket(metric, value))
    assert value <= edge
    floor = 1.0 if metric != "CLS" else 0.0001
    assert edge <= max(value * 1.02 + 1e-9, floor)
    assert rate(metric, edge) is rate(metric, value)


def test_the_p75_is_the_upper_edge_of_the_bucket_holding_the_75th_percent() -> None:
    counts: dict[int, int] = {}
    for value in (100.0, 200.0, 300.0, 2500.0):
        index = bucket("LCP", value)
        counts[index] = counts.get(index, 0) + 1
    assert quantile("LCP", counts, 0.75) == upper_edge("LCP", bucket("LCP", 300.0))
    assert quantile("LCP", counts, 1.0) == 2500.0
    assert quantile("LCP", {}, 0.75) is None


def test_a_p75_of_exactly_a_threshold_keeps_the_better_rating() -> None:
    counts = {bucket("INP", 200.0): 3, bucket("INP", 900.0): 1}
    assert quantile("INP", counts, 0.75) == 200.0


def test_the_p75_of_many_values_is_within_two_percent_of_the_exact_one() -> None:
    rng = random.Random(4)
    values = sorted(rng.lognormvariate(7.5, 0.6) for _ in range(5000))
    counts: dict[int, int] = {}
    for value in values:
        merge(counts, {bucket("LCP", value): 1})
    exact = values[int(0.75 * len(values)) - 1]
    found = quantile("LCP", counts, 0.75)
    assert found is not None
    assert exact <= found <= exact * 1.0201


def test_histograms_round_trip_through_their_text() -> None:
    counts = {0: 2, 17: 5, 400: 1}
    assert decode(encode(counts)) == counts
    assert encode({3: 0, 1: 2}) == "[1,2]"


@pytest.mark.parametrize("text", ["", "{", '{"a":1}', "[1]", '[1,"x",-2,3]', "[1.5,2]"])
def test_a_malformed_stored_histogram_decodes_to_what_makes_sense(text: str) -> None:
    assert decode(text) == {}
