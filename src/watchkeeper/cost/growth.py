"""Cost of growth: how many instances a traffic multiple needs, and what they cost a month.

From a ``wk capacity`` result (its JSON): one instance is planned at ``per_replica`` = the
sustainable rate × the utilisation ceiling (``plan.per_replica_rps_at_ceiling``, 70 %).
Instances do not add up forever: whatever they share (the database, a lock, a cache) makes
each one add less. With a trusted USL fit (R² ≥ 0.8) the result's contention α and coherency
β stand in for that sharing, and ``n`` instances hold

    C(n) = per_replica × n / (1 + α (n − 1) + β n (n − 1))

which peaks at n* = √((1 − α) / β): past n*, another instance lowers what the whole holds
(a traffic multiple that needs more than C(n*) cannot be bought with instances). ``linear``
(or no trusted fit) assumes instances share nothing: C(n) = per_replica × n. The fit comes
from one instance's concurrency sweep, so it is a stand-in, not a measurement of a cluster:
measure with more instances behind the target when the answer matters.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.findings import Finding, Severity

MULTIPLES = (1.0, 2.0, 10.0)
CEILING = 0.7
"""Used when the result has no plan (the same utilisation ceiling ``wk capacity`` plans at)."""
MOST_INSTANCES = 10_000
MAX_BYTES = 4 * 1024 * 1024


class GrowthError(ValueError):
    """A capacity result or an option that cannot be used: one line."""


@dataclass(frozen=True, slots=True)
class Scaling:
    per_replica: float
    """Requests per second one instance is planned at."""
    alpha: float = 0.0
    beta: float = 0.0
    usl: bool = False
    """Are α and β from a trusted fit (False: linear)?"""
    lower_bound: bool = False
    """Every step held up to the run's cap: one instance holds more than ``per_replica``
    says, so the counts are upper bounds."""

    def capacity(self, n: int) -> float:
        if n <= 0:
            return 0.0
        return self.per_replica * n / (1 + self.alpha * (n - 1) + self.beta * n * (n - 1))

    @property
    def peak_n(self) -> int | None:
        """The instance count past which adding one lowers the total (None: never)."""
        if self.beta <= 0:
            return None
        best = math.sqrt(max(0.0, 1 - self.alpha) / self.beta)
        low = max(1, math.floor(best))
        return low if self.capacity(low) >= self.capacity(low + 1) else low + 1

    def instances(self, demand: float) -> int | None:
        """The fewest instances that hold ``demand`` (None: no count does)."""
        if demand <= 0:
            return 1
        guess = max(1, math.ceil(demand / self.per_replica))
        if self.alpha == 0 and self.beta == 0:
            return guess if guess <= MOST_INSTANCES else None
        top = self.peak_n or MOST_INSTANCES
        if self.capacity(top) < demand:
            return None
        low, high = guess, top  # C grows up to the peak: bisect for the first that holds
        while low < high:
            middle = (low + high) // 2
            if self.capacity(middle) >= demand:
                high = middle
            else:
                low = middle + 1
        return low


@dataclass(frozen=True, slots=True)
class Row:
    multiple: float
    demand: float
    instances: int | None
    capacity: float | None
    monthly: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "multiple": self.multiple,
            "demand_rps": round(self.demand, 2),
            "instances": self.instances,
            "capacity_rps": None if self.capacity is None else round(self.capacity, 2),
            "monthly_cost": None if self.monthly is None else round(self.monthly, 2),
        }


@dataclass(slots=True)
class GrowthPlan:
    rate: float
    scaling: Scaling
    instance_cost: float | None
    instance: str | None
    rows: list[Row] = field(default_factory=list)
    returns: list[dict[str, float]] = field(default_factory=list)
    """Diminishing returns: capacity and what the last instance added, at a few counts."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def unreachable(self) -> list[Row]:
        return [r for r in self.rows if r.instances is None]

    def as_json(self) -> dict[str, Any]:
        scaling = self.scaling
        return {
            "findings": [f.as_json() for f in self.findings],
            "current_rps": self.rate,
            "per_instance_rps": round(scaling.per_replica, 2),
            "per_instance_is_lower_bound": scaling.lower_bound,
            "instance": self.instance,
            "instance_monthly_cost": self.instance_cost,
            "scaling": {
                "model": "usl" if scaling.usl else "linear",
                "alpha": scaling.alpha,
                "beta": scaling.beta,
                "peak_instances": scaling.peak_n,
                "peak_capacity_rps": None
                if scaling.peak_n is None
                else round(scaling.capacity(scaling.peak_n), 2),
            },
            "growth": [r.as_json() for r in self.rows],
            "returns": self.returns,
        }


def read_capacity(path: str | os.PathLike[str]) -> dict[str, Any]:
    shown = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise GrowthError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise GrowthError(f"{shown}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        found = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GrowthError(f"{shown}: not JSON ({exc})".splitlines()[0]) from None
    if not isinstance(found, dict) or "sustainable_rps" not in found:
        raise GrowthError(f"{shown}: not a wk capacity result (no sustainable_rps)")
    return found


def scaling_of(result: dict[str, Any], *, linear: bool = False, shown: str = "") -> Scaling:
    """How instances add up, from a ``wk capacity`` result."""
    where = f"{shown}: " if shown else ""
    sustainable = _number(result.get("sustainable_rps"))
    if sustainable is None:
        raise GrowthError(f"{where}the capacity run found no rate that held the SLO")
    plan = result.get("plan") if isinstance(result.get("plan"), dict) else {}
    assert isinstance(plan, dict)
    per_replica = _number(plan.get("per_replica_rps_at_ceiling")) or sustainable * CEILING
    capped = result.get("first_failing_rps") is None  # no step failed: the cap, not the limit
    fit = result.get("usl")
    if linear or not isinstance(fit, dict) or fit.get("trusted") is not True:
        return Scaling(per_replica, lower_bound=capped)
    alpha, beta = _number(fit.get("alpha"), zero=True), _number(fit.get("beta"), zero=True)
    if alpha is None or beta is None or alpha > 1:
        raise GrowthError(f"{where}the USL fit has no usable alpha and beta")
    return Scaling(per_replica, alpha, beta, usl=True, lower_bound=capped)


def _number(value: object, *, zero: bool = False) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if value > 0 or (zero and value == 0) else None


def plan(
    scaling: Scaling,
    rate: float,
    *,
    multiples: tuple[float, ...] = MULTIPLES,
    instance_cost: float | None = None,
    instance: str | None = None,
) -> GrowthPlan:
    """Instances and monthly cost at each multiple of today's ``rate`` (requests/s)."""
    if not rate > 0 or not math.isfinite(rate):
        raise GrowthError(f"the current rate must be above zero, not {rate:g}")
    out = GrowthPlan(rate=rate, scaling=scaling, instance_cost=instance_cost, instance=instance)
    for multiple in sorted(set(multiples)):
        demand = rate * multiple
        count = scaling.instances(demand)
        out.rows.append(
            Row(
                multiple=multiple,
                demand=demand,
                instances=count,
                capacity=None if count is None else scaling.capacity(count),
                monthly=None if count is None or instance_cost is None else count * instance_cost,
            )
        )
    out.returns = _returns(scaling, max((r.instances or 0) for r in out.rows))
    out.findings = _findings(out)
    return out


def _returns(scaling: Scaling, needed: int) -> list[dict[str, float]]:
    """Capacity at 1, 2, 4, ... instances up to past the peak (or what is needed)."""
    top = max(needed, 1) * 2
    if scaling.peak_n is not None:
        top = max(top, scaling.peak_n * 2)
    counts: list[int] = []
    n = 1
    while n <= min(top, MOST_INSTANCES):
        counts.append(n)
        n *= 2
    if scaling.peak_n is not None and scaling.peak_n not in counts:
        counts = sorted({*counts, scaling.peak_n})
    rows = []
    for n in counts:
        total = scaling.capacity(n)
        rows.append(
            {
                "instances": n,
                "capacity_rps": round(total, 2),
                "per_instance_rps": round(total / n, 2),
                "last_instance_adds_rps": round(total - scaling.capacity(n - 1), 2),
            }
        )
    return rows


def _findings(found: GrowthPlan) -> list[Finding]:
    scaling = found.scaling
    out = []
    for row in found.unreachable:
        peak = scaling.peak_n
        assert peak is not None  # only a peaking model leaves a demand unreachable
        out.append(
            Finding(
                source="cost",
                severity=Severity.warning,
                title=(
                    f"{row.multiple:g}× traffic ({row.demand:,.0f} req/s) cannot be bought with "
                    f"instances: they top out at {scaling.capacity(peak):,.0f} req/s with {peak}"
                ),
                subject="growth",
                evidence={
                    "multiple": row.multiple,
                    "demand_rps": round(row.demand, 2),
                    "peak_instances": peak,
                    "peak_capacity_rps": round(scaling.capacity(peak), 2),
                    "alpha": scaling.alpha,
                    "beta": scaling.beta,
                },
                recommendation=(
                    "Past the peak each instance adds contention on what they share: shrink "
                    "that (cache reads, move work off the database, shard) before scaling out."
                ),
                impact=row.multiple,
                rule="growth-unreachable",
            )
        )
    return out
