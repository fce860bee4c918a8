"""Cost of growth from a ``wk capacity`` result: the result is the real ``Capacity.to_json``
of a sweep with a real USL fit (a load test to make one takes a minute; its JSON is what
matters here), and the instance counts are checked against a brute-force count written
apart from the code: the fewest n whose n·r/(1 + α(n−1) + βn(n−1)) holds the demand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tests.helpers.cli import wk

from watchkeeper.cost import growth
from watchkeeper.loadtest import usl
from watchkeeper.loadtest.capacity import Capacity, Options, Point, make_plan

SUSTAINABLE = 190.0


def capacity_result(alpha: float, beta: float) -> dict[str, object]:
    loads = [1, 2, 4, 8, 16, 32, 64]
    throughputs = [100 * n / (1 + alpha * (n - 1) + beta * n * (n - 1)) for n in loads]
    fit = usl.fit(loads, throughputs)
    sweep = [Point(n, x) for n, x in zip(loads, throughputs, strict=True)]
    result = Capacity(
        steps=[],
        sustainable=SUSTAINABLE,
        first_failing=200.0,
        sweep=sweep,
        fit=fit,
        fit_error=None,
        knee=None,
        saturated=None,
        notes=[],
        plan=make_plan(SUSTAINABLE, Options(thresholds=()), fit, sweep),
    )
    return json.loads(json.dumps(result.to_json()))


def brute_force(per_instance: float, alpha: float, beta: float, demand: float) -> int | None:
    for n in range(1, 5000):
        if per_instance * n / (1 + alpha * (n - 1) + beta * n * (n - 1)) >= demand:
            return n
    return None


async def test_growth_counts_instances_as_the_usl_allows_and_prices_them(tmp_path: Path) -> None:
    result = capacity_result(alpha=0.05, beta=0.0005)
    source = tmp_path / "capacity.json"
    source.write_text(json.dumps(result))
    fit = result["usl"]
    assert isinstance(fit, dict) and fit["trusted"] is True
    alpha, beta = fit["alpha"], fit["beta"]
    per_instance = SUSTAINABLE * 0.7

    done = await wk(
        "cost", "growth", "--capacity", str(source), "--rate", "100/s",
        "--instance", "aws/m6i.large", "--growth", "3", "--format", "json",
        "-c", str(tmp_path / "none.yaml"),
    )  # fmt: skip

    assert done.code == 0, done.stderr
    found = done.json()
    assert found["per_instance_rps"] == pytest.approx(per_instance)
    assert found["scaling"]["model"] == "usl"
    rows = {row["multiple"]: row for row in found["growth"]}
    assert sorted(rows) == [1.0, 2.0, 3.0, 10.0]
    for multiple, row in rows.items():
        wanted = brute_force(per_instance, alpha, beta, 100 * multiple)
        assert row["instances"] == wanted
        assert row["monthly_cost"] == pytest.approx(70.08 * wanted)
    # the USL makes 10x dearer than a straight line would: ceil(1000 / 133) = 8 instances
    assert rows[10.0]["instances"] > math.ceil(1000 / per_instance) == 8
    peak = found["scaling"]["peak_instances"]
    assert abs(peak - math.sqrt((1 - alpha) / beta)) <= 1
    peak_row = next(r for r in found["returns"] if r["instances"] == peak)
    after = next(r for r in found["returns"] if r["instances"] > peak)
    assert after["capacity_rps"] < peak_row["capacity_rps"]  # past N*, more holds less


async def test_growth_past_the_usl_peak_cannot_be_bought_and_exits_1(tmp_path: Path) -> None:
    source = tmp_path / "capacity.json"
    source.write_text(json.dumps(capacity_result(alpha=0.05, beta=0.0005)))

    done = await wk(
        "cost", "growth", "--capacity", str(source), "--rate", "100/s", "--cost", "84/month",
        "--growth", "60", "-c", str(tmp_path / "none.yaml"),
    )  # fmt: skip

    assert done.code == 1, done.stderr
    assert "60× traffic (6,000 req/s) cannot be bought with instances" in done.stdout
    assert "← peak: more instances hold less" in done.stdout


async def test_linear_growth_is_the_rate_over_what_one_instance_holds(tmp_path: Path) -> None:
    source = tmp_path / "capacity.json"
    source.write_text(json.dumps(capacity_result(alpha=0.05, beta=0.0005)))

    done = await wk(
        "cost", "growth", "--capacity", str(source), "--rate", "100/s", "--cost", "84",
        "--growth", "60", "--linear", "--format", "json", "-c", str(tmp_path / "none.yaml"),
    )  # fmt: skip

    assert done.code == 0, done.stderr
    for row in done.json()["growth"]:
        assert row["instances"] == math.ceil(100 * row["multiple"] / (SUSTAINABLE * 0.7))
        assert row["monthly_cost"] == pytest.approx(84 * row["instances"])


async def test_a_capacity_result_that_is_not_one_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "capacity.json"
    source.write_text('{"steps": []}')

    done = await wk("cost", "growth", "--capacity", str(source), "--rate", "100/s")

    assert done.code == 2
    assert done.stderr.strip() == f"{source}: not a wk capacity result (no sustainable_rps)"


def test_without_a_trusted_fit_instances_add_up_in_a_line() -> None:
    result = capacity_result(alpha=0.05, beta=0.0005)
    usl_part = result["usl"]
    assert isinstance(usl_part, dict)
    usl_part["trusted"] = False

    scaling = growth.scaling_of(result)
    found = growth.plan(scaling, 50.0, multiples=(1, 2, 10, 100), instance_cost=10.0)

    assert not scaling.usl and scaling.peak_n is None
    assert [r.instances for r in found.rows] == [1, 1, 4, 38]  # ceil(50 m / 133)
    assert [r.monthly for r in found.rows] == [10.0, 10.0, 40.0, 380.0]


def test_a_run_whose_every_step_held_gives_upper_bounds() -> None:
    result = capacity_result(alpha=0.05, beta=0.0005)
    result["first_failing_rps"] = None  # every step held up to the run's --max-rate

    found = growth.plan(growth.scaling_of(result), 100.0, instance_cost=84.0)

    assert found.as_json()["per_instance_is_lower_bound"] is True
    assert growth.scaling_of(capacity_result(0.05, 0.0005)).lower_bound is False
