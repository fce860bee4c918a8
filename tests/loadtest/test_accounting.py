"""Load-test accounting on constructed inputs: what an answer, an error status and a failed
request add to a tally, how two workers' tallies merge, and what ``summarize`` makes of a
tally (percentiles, rates, error share, per-status and per-error counts, seconds, thresholds,
warnings).

The generator's counting methods are called directly on a generator that never opens a
socket, with its clock set by the test: the end-to-end runs against real servers are in
test_generator.py and test_connections.py. Expected figures are worked out here from the
inputs (percentiles from a sorted list, sums by hand), not read back from the code.

Latencies below 2,048 µs are held exactly by a 3-digit HDR histogram (and below 256 µs by
the 2-digit one each second keeps), so the percentiles of such values can be compared with
a sorted list's exactly."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import pytest

from watchkeeper.loadtest import generator as generator_module
from watchkeeper.loadtest.generator import Generator, Second, Settings, Tally, _Connection
from watchkeeper.loadtest.generator import histogram as new_histogram
from watchkeeper.loadtest.plan import constant, parse_slo
from watchkeeper.loadtest.results import error_rate, latency_ms, summarize
from watchkeeper.loadtest.runner import Job
from watchkeeper.loadtest.target import from_url

TARGET = from_url("http://127.0.0.1:9/")  # never connected to: nothing here opens a socket
LATENCY_KEYS = ["p50", "p90", "p95", "p99", "p999", "max", "mean"]
PERCENTILES: dict[str, Fraction | int] = {
    "p50": 50, "p90": 90, "p95": 95, "p99": 99, "p999": Fraction("99.9"),
}  # fmt: skip


def nearest_rank(values: list[int], percent: Fraction | int) -> int:
    """The smallest value with at least ``percent`` % of the values at or below it."""
    ordered = sorted(values)
    rank = math.ceil(Fraction(percent) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]


def recorded(values: Iterable[int], digits: int = 3) -> Any:
    found = new_histogram(digits)
    for value in values:
        found.record_value(value)
    return found


def open_job(rate: float = 100, seconds: float = 2) -> Job:
    return Job(TARGET, Settings(), profile=constant(rate, seconds))


def closed_job(users: int = 5, seconds: float = 2) -> Job:
    return Job(TARGET, Settings(), users=users, seconds=seconds)


# -- latency_ms and error_rate -----------------------------------------------------------------
def test_no_answers_has_no_latency_figures_rather_than_zeros() -> None:
    assert latency_ms(new_histogram()) == dict.fromkeys(LATENCY_KEYS)


def test_the_percentiles_are_the_nearest_rank_of_the_sorted_latencies_in_milliseconds() -> None:
    # 1,000 distinct latencies: every percentile asked for falls on a whole rank
    values = random.Random(7).sample(range(1, 2048), 1000)
    figures = latency_ms(recorded(values))
    assert list(figures) == LATENCY_KEYS
    for name, percent in PERCENTILES.items():
        assert figures[name] == nearest_rank(values, percent) / 1000, name
    assert figures["max"] == max(values) / 1000
    assert figures["mean"] == round(sum(values) / len(values) / 1000, 3)
    assert figures["p50"] < figures["p90"] < figures["p95"] < figures["p99"] < figures["p999"]


def test_one_answer_is_every_percentile_and_the_mean_is_rounded_to_the_microsecond() -> None:
    assert latency_ms(recorded([1234])) == dict.fromkeys(LATENCY_KEYS, 1.234)
    # 1, 2 and 4 µs: a mean of 2.333... µs is shown as 0.002 ms, not 0.0023
    three = latency_ms(recorded([1, 2, 4]))
    assert three["mean"] == 0.002 and three["max"] == 0.004
    assert three["p50"] == 0.002 and three["p999"] == 0.004


def test_large_latencies_are_within_the_histograms_three_digits() -> None:
    values = [250_000 + 1_000 * i for i in range(100)]  # 250 ms to 349 ms
    figures = latency_ms(recorded(values))
    for name, percent in PERCENTILES.items():
        exact = nearest_rank(values, percent) / 1000
        assert figures[name] == pytest.approx(exact, rel=1e-3), name
    assert figures["max"] == pytest.approx(349.0, rel=1e-3)


@pytest.mark.parametrize(
    ("errors", "sent", "share"),
    [
        (0, 0, 0.0),  # nothing sent: no error rate to speak of, not a division by zero
        (0, 250, 0.0),
        (1, 4, 0.25),
        (40, 40, 1.0),  # every request failed
        (7, 5, 1.0),  # more errors than requests counted as sent is still every request
        (3, 0, 1.0),
        (1, 3, 0.333333),  # a millionth is the resolution
        (1, 3_000_000, 0.0),  # under half a millionth rounds away
        (2, 1_000_000, 0.000002),
    ],
)
def test_the_error_rate_is_the_share_of_requests_that_failed(
    errors: int, sent: int, share: float
) -> None:
    assert error_rate(errors, sent) == share


# -- the generator's counting ------------------------------------------------------------------
class Clock:
    """The generator's clock, moved by the test (binary fractions: exact in floats)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


START = 64.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock(START)
    monkeypatch.setattr(generator_module, "_clock", found)
    return found


def started(steady_after: float = 0.0) -> Generator:
    """A generator as ``run_open`` leaves it once started at ``START``."""
    generator = Generator(TARGET, Settings(steady_after=steady_after))
    generator._start = START
    return generator


def in_flight(
    generator: Generator, *, intended: float, sent_at: float | None = None, size: int = 0
) -> _Connection:
    """A connection with a request on it (sent at ``sent_at``, due at ``intended``). It is
    marked closed, so once counted it is not handed another request."""
    connection = _Connection(generator)
    connection.closed = True
    connection.busy = True
    connection.intended = intended
    connection.sent_at = connection.began = intended if sent_at is None else sent_at
    connection.size = size
    return connection


def answer(
    generator: Generator, clock: Clock, status: int, *, took: float = 0.125, size: int = 0
) -> _Connection:
    """A request sent now that is answered ``took`` seconds later with ``status``."""
    connection = in_flight(generator, intended=clock.now, size=size)
    connection.status = status
    clock.now += took
    generator._done(connection)
    return connection


def seconds_of(generator: Generator) -> dict[int, Second]:
    generator._flush_second()
    found: dict[int, Second] = generator.tally.seconds
    return found


def exactly(histogram: Any, value: int) -> bool:
    """The histogram holds ``value`` (to its precision) and nothing else."""
    return bool(
        histogram.get_total_count()
        and histogram.values_are_equivalent(histogram.get_min_value(), value)
        and histogram.values_are_equivalent(histogram.get_max_value(), value)
    )


async def test_an_answer_counts_its_latency_from_the_intended_time_and_its_service_time(
    clock: Clock,
) -> None:
    generator = started()
    tally = generator.tally
    # due at 64.5 s, sent 125 ms late at 64.625 s, answered at 64.75 s
    connection = in_flight(generator, intended=64.5, sent_at=64.625, size=120)
    connection.status = 200
    clock.now = 64.75
    generator._done(connection)
    assert not connection.busy, "the connection is free again"
    assert tally.completed == 1 and tally.statuses == {200: 1} and not tally.errors
    assert exactly(tally.latency, 250_000), "from when it was due, the wait included"
    assert exactly(tally.service, 125_000), "from when it went out"
    assert exactly(tally.steady, 250_000) and tally.steady_completed == 1
    assert tally.bytes_in == 120
    second = seconds_of(generator)[0]
    assert (second.completed, second.errors) == (1, 0)
    assert second.quantiles is not None and second.quantiles["max"] == pytest.approx(250, 1e-2)


async def test_an_answer_in_the_same_microsecond_counts_as_one(clock: Clock) -> None:
    generator = started()
    answer(generator, clock, 200, took=0.0)
    for found in (generator.tally.latency, generator.tally.service, generator.tally.steady):
        assert found.get_total_count() == 1 and found.get_max_value() == 1


async def test_answers_add_up_by_status_and_bytes(clock: Clock) -> None:
    generator = started()
    for status, size in ((200, 100), (200, 50), (204, 0), (301, 30), (399, 5)):
        answer(generator, clock, status, took=2**-10, size=size)
    tally = generator.tally
    assert tally.completed == 5 and tally.bytes_in == 185
    assert tally.statuses == {200: 2, 204: 1, 301: 1, 399: 1}
    assert not tally.errors and tally.steady_errors == 0, "below 400 is no error"
    assert tally.latency.get_total_count() == tally.service.get_total_count() == 5


async def test_an_error_status_is_one_answer_and_one_error_named_by_its_status(
    clock: Clock,
) -> None:
    generator = started()
    for status in (400, 404, 404, 500, 503, 200):
        answer(generator, clock, status, took=2**-6)
    tally = generator.tally
    assert tally.completed == 6 and sum(tally.statuses.values()) == 6
    assert tally.statuses == {400: 1, 404: 2, 500: 1, 503: 1, 200: 1}
    assert tally.errors == {"HTTP 400": 1, "HTTP 404": 2, "HTTP 500": 1, "HTTP 503": 1}
    assert tally.steady_errors == 5 and tally.steady_completed == 6
    second = seconds_of(generator)[0]
    assert (second.completed, second.errors) == (6, 5)


async def test_what_is_sent_before_the_steady_window_counts_only_in_the_totals(
    clock: Clock,
) -> None:
    generator = started(steady_after=2.0)
    tally = generator.tally
    # sent 1.5 s in (warm-up) and answered 0.75 s later, inside the window: a warm-up request
    early = in_flight(generator, intended=START + 1.5)
    early.status = 503
    clock.now = START + 2.25
    generator._done(early)
    # sent exactly 2 s in: the first request of the window
    first = in_flight(generator, intended=START + 2.0)
    first.status = 500
    clock.now = START + 2.5
    generator._done(first)
    assert tally.completed == 2 and sum(tally.errors.values()) == 2
    assert tally.steady_completed == 1 and tally.steady_errors == 1
    assert exactly(tally.steady, 500_000), "only the window's answer, 0.5 s"
    generator._count_error("timeout", START + 2.0 - 2**-10)
    generator._count_error("timeout", START + 2.0)
    assert tally.errors["timeout"] == 2 and tally.steady_errors == 2


async def test_a_request_that_dies_is_one_error_however_often_it_is_reported(
    clock: Clock,
) -> None:
    generator = started(steady_after=1.0)
    connection = in_flight(generator, intended=START + 1.0)
    clock.now = START + 1.5
    generator._failed(connection, "connection reset")
    generator._failed(connection, "timeout")  # the sweeper finds it too: already counted
    tally = generator.tally
    assert not connection.busy
    assert tally.errors == {"connection reset": 1} and tally.steady_errors == 1
    assert tally.completed == 0 and tally.latency.get_total_count() == 0
    idle = in_flight(generator, intended=START + 1.0)
    idle.busy = False
    generator._failed(idle, "connection closed")  # an idle connection closing is no error
    assert tally.errors == {"connection reset": 1}
    assert seconds_of(generator)[1].errors == 1


async def test_errors_are_counted_per_reason_and_per_second(clock: Clock) -> None:
    generator = started()
    for at, reason in ((0.25, "timeout"), (0.5, "timeout"), (1.25, "connect: refused")):
        clock.now = START + at
        generator._count_error(reason, clock.now)
    clock.now = START + 2.0
    seconds = seconds_of(generator)
    assert generator.tally.errors == {"timeout": 2, "connect: refused": 1}
    assert {at: s.errors for at, s in seconds.items()} == {0: 2, 1: 1}
    assert generator.tally.steady_errors == 3


# -- merging workers' tallies ------------------------------------------------------------------
def filled(seed: int, seconds: dict[int, list[int]]) -> tuple[Tally, list[int]]:
    """A tally with every counter set to a different number, and the latencies it holds."""
    rng = random.Random(seed)
    values = [rng.randrange(1, 2048) for _ in range(300 + seed)]
    tally = Tally(
        latency=recorded(values),
        service=recorded(v // 2 + 1 for v in values),
        steady=recorded(values[: len(values) // 2]),
        offered=1000 + seed,
        sent=990 + seed,
        completed=980 + seed,
        retried=3 + seed,
        late=20 + seed,
        max_late=0.5 * seed,
        dropped=7 + seed,
        errors=Counter({"timeout": 4 + seed, f"HTTP 50{seed}": seed}),
        statuses=Counter({200: 900 + seed, 500 + seed: seed}),
        bytes_in=10_000 * seed,
        connections=11 + seed,
        cpu_seconds=1.5 * seed,
        wall_seconds=2.0 + seed,
        steady_sent=400 + seed,
        steady_completed=390 + seed,
        steady_errors=5 + seed,
    )
    for at, latencies in seconds.items():
        second = tally.second(at)
        second.offered, second.sent = 10 * (at + 1) + seed, 9 * (at + 1) + seed
        second.completed, second.errors = 8 * (at + 1) + seed, at + seed
        for value in latencies:
            assert second.latency is not None
            second.latency.record_value(value)
    return tally, values


def test_merged_tallies_add_their_counts_and_their_latencies_exactly() -> None:
    ours, our_values = filled(1, {0: [10, 20], 1: [30]})
    theirs, their_values = filled(2, {1: [40, 50], 2: [60]})
    ours.merge(theirs)
    counts = {
        name: getattr(ours, name)
        for name in (
            "offered", "sent", "completed", "retried", "late", "dropped", "bytes_in",
            "connections", "steady_sent", "steady_completed", "steady_errors",
        )
    }  # fmt: skip
    assert counts == {
        "offered": 2003, "sent": 1983, "completed": 1963, "retried": 9, "late": 43,
        "dropped": 17, "bytes_in": 30_000, "connections": 25, "steady_sent": 803,
        "steady_completed": 783, "steady_errors": 13,
    }  # fmt: skip
    assert ours.max_late == 1.0, "the worst lateness of either"
    assert ours.wall_seconds == 4.0, "workers run side by side: the longest, not the sum"
    assert ours.cpu_seconds == 4.5, "each worker's core time adds up"
    assert ours.errors == {"timeout": 11, "HTTP 501": 1, "HTTP 502": 2}
    assert ours.statuses == {200: 1803, 501: 1, 502: 2}
    # the merged histogram is the histogram of every latency, not a blend of percentiles
    both = our_values + their_values
    assert ours.latency.get_total_count() == len(both)
    for percent in (50, 90, 99, 100):
        assert ours.latency.get_value_at_percentile(percent) == nearest_rank(both, percent)
    assert ours.service.get_total_count() == len(both)
    assert ours.service.get_max_value() == max(v // 2 + 1 for v in both)
    steady = our_values[: len(our_values) // 2] + their_values[: len(their_values) // 2]
    assert ours.steady.get_total_count() == len(steady)
    assert ours.steady.get_max_value() == max(steady)


def test_merged_seconds_add_up_where_both_had_one_and_are_kept_where_one_did() -> None:
    ours, _ = filled(1, {0: [10, 20], 1: [30]})
    theirs, _ = filled(2, {1: [40, 50], 2: [60]})
    ours.merge(theirs)
    seconds = {
        at: (s.offered, s.sent, s.completed, s.errors) for at, s in sorted(ours.seconds.items())
    }
    assert seconds == {0: (11, 10, 9, 1), 1: (43, 39, 35, 5), 2: (32, 29, 26, 4)}
    latencies = {at: s.latency for at, s in ours.seconds.items() if s.latency is not None}
    assert {at: found.get_total_count() for at, found in latencies.items()} == {0: 2, 1: 3, 2: 1}
    assert latencies[1].get_max_value() == 50


def test_a_closed_second_takes_counts_but_no_latency_in_a_merge() -> None:
    ours, _ = filled(1, {0: [10]})
    theirs, _ = filled(2, {0: [20, 30]})
    ours.seconds[0].close()  # its percentiles are final: the counts still add up
    ours.merge(theirs)
    assert ours.seconds[0].completed == 9 + 10 and ours.seconds[0].latency is None
    other, _ = filled(1, {0: [10]})
    closed, _ = filled(2, {0: [20, 30]})
    closed.seconds[0].close()
    other.merge(closed)
    merged = other.seconds[0].latency
    assert merged is not None and merged.get_total_count() == 1


def test_merging_into_an_empty_tally_gives_the_same_tally() -> None:
    theirs, values = filled(3, {0: [5]})
    total = Tally()
    total.merge(theirs)
    for name in ("offered", "sent", "completed", "dropped", "bytes_in", "steady_errors"):
        assert getattr(total, name) == getattr(theirs, name), name
    assert (total.max_late, total.cpu_seconds, total.wall_seconds) == (1.5, 4.5, 5.0)
    assert total.errors == theirs.errors and total.statuses == theirs.statuses
    assert total.latency.get_total_count() == len(values)


# -- summarize ---------------------------------------------------------------------------------
def counted(
    *,
    offered: int = 0,
    sent: int = 0,
    latencies: Iterable[int] = (),
    service: Iterable[int] = (),
    errors: dict[str, int] | None = None,
    statuses: dict[int, int] | None = None,
    **fields: Any,
) -> Tally:
    latency = recorded(latencies)
    return Tally(
        latency=latency,
        service=recorded(service),
        offered=offered,
        sent=sent,
        completed=latency.get_total_count(),
        errors=Counter(errors or {}),
        statuses=Counter(statuses or {}),
        **fields,
    )


def test_a_run_with_no_requests_is_summarised_without_dividing_by_zero() -> None:
    summary = summarize(Tally(), open_job(), 1)
    assert summary["target"] == "", "no target named"
    assert summary["requests"] == summary["sent"] == summary["completed"] == 0
    assert summary["errors"] == 0 and summary["error_rate"] == 0.0
    assert summary["offered_rps"] == summary["achieved_rps"] == 0.0
    assert summary["latency_ms"] == summary["service_ms"] == dict.fromkeys(LATENCY_KEYS)
    assert summary["errors_by_kind"] == {} and summary["statuses"] == {}
    assert summary["seconds"] == [] and summary["generator_cpu"] == 0.0
    assert summary["thresholds"] == [] and summary["passed"] is True
    assert summary["warnings"] == []


def test_a_zero_length_run_reports_zero_seconds_not_a_division_error() -> None:
    summary = summarize(counted(offered=0), closed_job(seconds=0), 0)
    assert summary["duration_s"] == 0.0 and summary["offered_rps"] == 0.0
    assert summary["generator_cpu"] == 0.0


def test_the_summary_of_an_open_run_reports_what_was_counted() -> None:
    values = random.Random(11).sample(range(1, 2048), 1000)
    tally = counted(
        offered=1002,
        sent=1000,
        latencies=values,
        service=[v // 4 + 1 for v in values],
        errors={"timeout": 2, "HTTP 503": 5, "connect: refused": 1},
        statuses={503: 5, 200: 994, 404: 1},
        retried=4,
        late=12,
        max_late=0.0123456,
        dropped=2,
        connections=9,
        cpu_seconds=1.0,
        wall_seconds=3.0,
    )
    summary = summarize(tally, open_job(rate=500, seconds=3), 2, target="127.0.0.1:9")
    assert summary["model"] == "open" and "users" not in summary
    assert (summary["target"], summary["workers"], summary["duration_s"]) == ("127.0.0.1:9", 2, 3)
    assert (summary["requests"], summary["sent"], summary["completed"]) == (1002, 1000, 1000)
    assert summary["offered_rps"] == 334.0 and summary["achieved_rps"] == 333.33
    assert summary["errors"] == 8 and summary["error_rate"] == 0.008
    assert list(summary["errors_by_kind"].items()) == [
        ("HTTP 503", 5),
        ("timeout", 2),
        ("connect: refused", 1),
    ], "the commonest first"
    assert list(summary["statuses"].items()) == [("200", 994), ("404", 1), ("503", 5)]
    assert (summary["retried"], summary["late"], summary["dropped"]) == (4, 12, 2)
    assert summary["max_late_ms"] == 12.346 and summary["connections_opened"] == 9
    assert summary["generator_cpu"] == 0.167, "1 s of CPU in 3 s on 2 workers"
    for name, percent in PERCENTILES.items():
        assert summary["latency_ms"][name] == nearest_rank(values, percent) / 1000
        assert summary["service_ms"][name] == (nearest_rank(values, percent) // 4 + 1) / 1000
    assert summary["latency_ms"]["max"] == max(values) / 1000


def test_a_closed_run_reports_its_users() -> None:
    summary = summarize(counted(offered=10, sent=10, latencies=[5] * 10), closed_job(7, 2), 1)
    assert summary["model"] == "closed" and summary["users"] == 7
    assert summary["duration_s"] == 2 and summary["achieved_rps"] == 5.0


def test_durations_and_rates_are_rounded_for_reading() -> None:
    summary = summarize(counted(offered=1000, sent=1000), closed_job(1, 1.23456), 1)
    assert summary["duration_s"] == 1.235
    assert summary["offered_rps"] == 810.01, "1,000 in 1.23456 s is 810.0052/s: two decimals"


def test_every_answer_an_error_is_an_error_rate_of_one() -> None:
    tally = counted(offered=50, sent=50, latencies=[100] * 50, errors={"HTTP 500": 50})
    tally.statuses[500] = 50
    summary = summarize(tally, open_job(25, 2), 1)
    assert summary["errors"] == summary["completed"] == 50 and summary["error_rate"] == 1.0
    assert summary["statuses"] == {"500": 50} and summary["errors_by_kind"] == {"HTTP 500": 50}


def test_the_generator_cpu_is_per_worker_and_a_zero_worker_count_counts_as_one() -> None:
    tally = counted(cpu_seconds=3.0, wall_seconds=2.0)
    assert summarize(tally, open_job(), 2)["generator_cpu"] == 0.75
    assert summarize(tally, open_job(), 1)["generator_cpu"] == 1.5
    assert summarize(tally, open_job(), 0)["generator_cpu"] == 1.5
    short = counted(cpu_seconds=0.25, wall_seconds=0.5)  # a run under a second
    assert summarize(short, open_job(), 1)["generator_cpu"] == 0.5


def second_with(at: int, latencies: Iterable[int], *, closed: bool = False) -> Second:
    second = Second(at, offered=10 + at, sent=10 + at, completed=9 + at, errors=at)
    assert second.latency is not None
    for value in latencies:
        second.latency.record_value(value)
    if closed:
        second.close()
    return second


def test_each_second_of_load_is_listed_in_order_without_the_drain_after_it() -> None:
    # a 2.5 s run covers seconds 0, 1 and 2; second 3 is only answers coming in late
    tally = counted(offered=25, sent=25)
    values = list(range(1, 101))  # 1..100 µs: exact in a second's 2-digit histogram
    for second in (
        second_with(3, [7]),
        second_with(1, values, closed=True),
        second_with(0, values),  # not closed yet: summarize closes it
        second_with(2, []),
    ):
        tally.seconds[second.at] = second
    rows = summarize(tally, open_job(10, 2.5), 1)["seconds"]
    assert [row["t"] for row in rows] == [0, 1, 2]
    quantiles = {f"p{q}": nearest_rank(values, q) / 1000 for q in (50, 90, 99)}
    assert rows[0] == {"t": 0, "offered": 10, "achieved": 9, "errors": 0, **quantiles, "max": 0.1}
    assert rows[1] == {"t": 1, "offered": 11, "achieved": 10, "errors": 1, **quantiles, "max": 0.1}
    assert rows[2] == {
        "t": 2, "offered": 12, "achieved": 11, "errors": 2,
        "p50": None, "p90": None, "p99": None, "max": None,
    }, "a second with no answers has no percentiles"  # fmt: skip
    assert tally.seconds[0].latency is None, "closed on the way"


def test_a_whole_number_of_seconds_keeps_its_last_second() -> None:
    tally = counted()
    for at in (0, 1, 2):
        tally.seconds[at] = second_with(at, [50])
    assert [row["t"] for row in summarize(tally, open_job(10, 2), 1)["seconds"]] == [0, 1]
    rows = summarize(tally, open_job(10, 2.001), 1)["seconds"]
    assert [row["t"] for row in rows] == [0, 1, 2]


# -- thresholds --------------------------------------------------------------------------------
def judged(summary: dict[str, Any]) -> dict[str, tuple[Any, str, bool]]:
    return {t["threshold"]: (t["observed"], t["shown"], t["passed"]) for t in summary["thresholds"]}


def test_thresholds_are_judged_on_the_summary_figures() -> None:
    values = [1000] * 90 + [3000] * 10  # p50 1 ms, p99 ~3 ms
    tally = counted(offered=200, sent=200, latencies=values, errors={"timeout": 3})
    thresholds = parse_slo("p50<=1ms,p99<2ms,errors<1%,errors<2%,rps>=50,rps>50,max<1s")
    summary = summarize(tally, open_job(100, 2), 1, thresholds)
    p99 = summary["latency_ms"]["p99"]
    assert p99 == pytest.approx(3.0, rel=1e-3)
    assert judged(summary) == {
        "p50<=1ms": (1.0, "1.0ms", True),
        "p99<2ms": (p99, "3.0ms", False),
        "errors<1%": (0.015, "1.50%", False),
        "errors<2%": (0.015, "1.50%", True),
        "rps>=50": (50.0, "50/s", True),
        "rps>50": (50.0, "50/s", False),
        "max<1s": (pytest.approx(3.0, rel=1e-3), "3.0ms", True),
    }
    assert summary["passed"] is False


def test_all_thresholds_holding_passes() -> None:
    tally = counted(offered=200, sent=200, latencies=[1000] * 100)
    summary = summarize(tally, open_job(100, 2), 1, parse_slo("p99<2ms,errors<1%"))
    assert [t["passed"] for t in summary["thresholds"]] == [True, True]
    assert summary["passed"] is True


def test_a_latency_threshold_with_no_answers_fails_and_says_so() -> None:
    tally = counted(offered=20, sent=20, errors={"timeout": 20})
    summary = summarize(tally, open_job(10, 2), 1, parse_slo("p99<300ms,p50>0ms,errors<=100%"))
    assert judged(summary) == {
        "p99<300ms": (None, "no answers", False),
        "p50>0ms": (None, "no answers", True),  # no answers is above any latency
        "errors<=100%": (1.0, "100.00%", True),
    }
    assert summary["passed"] is False


# -- warnings ----------------------------------------------------------------------------------
BUSY = (
    "the generator used {}% of its cores: it may be the bottleneck, not the target "
    "(add --workers, or lower the rate)"
)
CLOSED = (
    "closed model: each user waits for its answer before sending again, so a stall lowers "
    "the request rate instead of showing in the latency (coordinated omission); use the "
    "open model (--rate) for latency you can trust"
)


def healthy(**fields: Any) -> Tally:
    """200 requests in 2 s, all answered: no warning in the open model."""
    values = {"offered": 200, "sent": 200, "latencies": [500] * 200, **fields}
    return counted(**values)


def test_a_healthy_open_run_has_no_warnings() -> None:
    assert summarize(healthy(), open_job(100, 2), 1)["warnings"] == []


def test_a_generator_busier_than_nine_tenths_of_its_cores_is_named_the_bottleneck() -> None:
    busy = summarize(healthy(cpu_seconds=1.9, wall_seconds=2.0), open_job(100, 2), 1)
    assert busy["warnings"] == [BUSY.format(95)]
    at_the_line = healthy(cpu_seconds=1.8, wall_seconds=2.0)  # 0.9 exactly: not over
    assert summarize(at_the_line, open_job(100, 2), 1)["warnings"] == []
    two = summarize(healthy(cpu_seconds=3.8, wall_seconds=2.0), open_job(100, 2), 2)
    assert two["warnings"] == [BUSY.format(95)]


def test_late_sends_are_warned_of_with_the_worst_delay() -> None:
    for late, words in ((1, "1 request"), (1234, "1,234 requests")):
        summary = summarize(healthy(late=late, max_late=0.0421), open_job(100, 2), 1)
        assert summary["warnings"] == [
            f"{words} went out over 10 ms after their time (up to 42 ms): the connection "
            "pool was full or the generator was busy; their wait is counted in the latency"
        ]


def test_dropped_arrivals_are_warned_of() -> None:
    summary = summarize(healthy(dropped=17), open_job(100, 2), 1)
    assert summary["warnings"] == ["17 arrivals were dropped: the line for a connection was full"]


def test_answering_under_95_percent_of_the_offered_rate_is_warned_of() -> None:
    # 2,000 offered in 2 s (1,000/s); 95 % of that answered is enough, one fewer is not
    enough = counted(offered=2000, sent=2000, latencies=[500] * 1900)
    assert summarize(enough, open_job(1000, 2), 1)["warnings"] == []
    short = counted(offered=2000, sent=2000, latencies=[500] * 1898)
    assert summarize(short, open_job(1000, 2), 1)["warnings"] == [
        "only 949 of 1,000 req/s were answered: the target (or the connection cap) could "
        "not keep up"
    ]


def test_every_open_model_warning_at_once_in_order() -> None:
    tally = counted(
        offered=2000, sent=2000, latencies=[500] * 1000, late=3, max_late=0.5, dropped=4,
        cpu_seconds=2.0, wall_seconds=2.0,
    )  # fmt: skip
    found = summarize(tally, open_job(1000, 2), 1)["warnings"]
    assert len(found) == 4
    assert found[0] == BUSY.format(100)
    assert found[1].startswith("3 requests went out over 10 ms after their time (up to 500 ms)")
    assert found[2].startswith("4 arrivals were dropped")
    assert found[3].startswith("only 500 of 1,000 req/s were answered")


def test_a_closed_run_warns_of_coordinated_omission_and_of_nothing_open() -> None:
    # late, dropped and unanswered mean nothing in the closed model: users wait for answers
    tally = counted(offered=2000, sent=2000, latencies=[500] * 10, late=5, dropped=5)
    assert summarize(tally, closed_job(10, 2), 1)["warnings"] == [CLOSED]
    busy = counted(offered=10, sent=10, cpu_seconds=2.0, wall_seconds=2.0)
    assert summarize(busy, closed_job(10, 2), 1)["warnings"] == [BUSY.format(100), CLOSED]
