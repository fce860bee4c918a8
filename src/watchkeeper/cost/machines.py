"""Findings about one machine (a host or node_exporter monitor): too little history, idle,
too big (with the cheapest size that fits and the saving) or too small (a risk). Pure: it
judges a Usage against the machine's price; ``report`` reads the store."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.cost import sizing
from watchkeeper.cost.catalog import Catalog, Price
from watchkeeper.cost.usage import Usage
from watchkeeper.findings import Evidence, Finding, Severity


@dataclass(frozen=True, slots=True)
class Machine:
    monitor: str
    price: Price | None
    """Its catalog size (None: the config gives only ``cost:``)."""
    monthly: float
    """What it costs a month: the config's ``cost:``, else the catalog's price."""


@dataclass(frozen=True, slots=True)
class Verdict:
    findings: list[Finding]
    saving: float
    """US dollars a month the advice saves (0: nothing to save)."""


def judge(machine: Machine, usage: Usage, catalog: Catalog, lookback_days: float) -> Verdict:
    evidence: Evidence = {
        "monthly_cost": round(machine.monthly, 2),
        "days_of_data": round(usage.days, 1),
    }
    if machine.price is not None:
        evidence["type"] = machine.price.label
    if usage.cpu_p95 is None or usage.memory_p99 is None or usage.days < sizing.MIN_DAYS:
        return Verdict([_too_little(machine, usage, evidence)], 0.0)
    growth = usage.traffic_growth_pct
    evidence |= {
        "cpu_p95_pct": round(usage.cpu_p95, 1),
        "memory_p99_pct": round(usage.memory_p99, 1),
        "traffic_growth_pct": None if growth is None else round(growth, 1),
    }
    current = machine.price
    if current is None:
        return _without_size(machine, usage, evidence)
    memory_gib = (usage.memory_total / sizing.GIB) if usage.memory_total else current.memory_gib
    noted = _mismatch(machine, current, memory_gib, evidence)
    need = sizing.machine_need(current, usage.cpu_p95, usage.memory_p99, memory_gib)
    best = sizing.cheapest(catalog, current, need)
    evidence |= {"needed_vcpu": round(need.vcpu, 2), "needed_memory_gib": round(need.memory_gib, 2)}
    if usage.cpu_p95 > sizing.HOT_CPU or usage.memory_p99 > sizing.HOT_MEMORY:
        return Verdict([_hot(machine, current, best, usage, evidence), *noted], 0.0)
    idle = usage.cpu_p95 < sizing.IDLE_CPU
    if idle and growth is not None and growth <= sizing.GROWTH:
        verdict = _idle(machine, current, best, evidence)
        return Verdict([*verdict.findings, *noted], verdict.saving)
    if best is None or best.monthly_usd >= current.monthly_usd or best == current:
        return Verdict(noted, 0.0)
    new_cost = sizing.price_of(best, current, machine.monthly)
    saving = machine.monthly - new_cost
    evidence |= {
        "suggested_type": best.label,
        "suggested_monthly_cost": round(new_cost, 2),
        "monthly_saving": round(saving, 2),
    }
    finding = Finding(
        source="cost",
        severity=Severity.warning,
        title=(
            f"{machine.monitor} is oversized: {current.type} → {best.type} saves "
            f"${saving:,.2f}/month"
        ),
        subject=machine.monitor,
        evidence=evidence,
        recommendation=(
            f"Resize {current.label} ({_size(current)}) to {best.type} ({_size(best)}): the "
            f"CPU p95 of {usage.cpu_p95:.0f} % and memory p99 of {usage.memory_p99:.0f} % over "
            f"{lookback_days:g} d need {need.vcpu:.1f} vCPU and {need.memory_gib:.1f} GiB to "
            f"stay under {sizing.CPU_TARGET:.0f} % CPU and {sizing.MEMORY_TARGET:.0f} % memory."
        ),
        impact=saving,
        rule="oversized",
    )
    return Verdict([finding, *noted], saving)


MISMATCH = 0.25
"""A machine reporting a memory this far (as a share) from its type's is described wrongly."""


def _mismatch(
    machine: Machine, current: Price, memory_gib: float, evidence: Evidence
) -> list[Finding]:
    """An info finding when the machine's own memory is not its type's."""
    if abs(memory_gib - current.memory_gib) <= MISMATCH * current.memory_gib:
        return []
    return [
        Finding(
            source="cost",
            severity=Severity.info,
            title=(
                f"{machine.monitor} reports {memory_gib:.1f} GiB of memory; "
                f"{current.label} has {current.memory_gib:g} GiB"
            ),
            subject=machine.monitor,
            evidence={
                "type": current.label,
                "memory_gib": round(memory_gib, 2),
                "type_memory_gib": current.memory_gib,
                "monthly_cost": evidence.get("monthly_cost"),
            },
            recommendation=(
                "Check its instance: in the config; the sizing goes by the memory the machine "
                "reports."
            ),
            rule="instance-mismatch",
        )
    ]


def _size(price: Price) -> str:
    return f"{price.vcpu:g} vCPU, {price.memory_gib:g} GiB, ${price.monthly_usd:,.2f}/month"


def _too_little(machine: Machine, usage: Usage, evidence: Evidence) -> Finding:
    return Finding(
        source="cost",
        severity=Severity.info,
        title=(
            f"{machine.monitor}: {usage.days:.1f} d of CPU and memory history, "
            f"{sizing.MIN_DAYS:g} d needed to size it"
        ),
        subject=machine.monitor,
        evidence=evidence,
        recommendation=(
            "Keep wk up watching it; sizing from less than "
            f"{sizing.MIN_DAYS:g} days would miss the weekly and daily peaks."
        ),
        rule="too-little-history",
    )


def _idle(machine: Machine, current: Price, best: Price | None, evidence: Evidence) -> Verdict:
    evidence = evidence | {"monthly_saving": round(machine.monthly, 2)}
    also = ""
    if best is not None and best.monthly_usd < current.monthly_usd:
        cost = sizing.price_of(best, current, machine.monthly)
        evidence |= {"suggested_type": best.label, "suggested_monthly_cost": round(cost, 2)}
        also = f" If it must stay, {best.type} fits its load (${cost:,.2f}/month)."
    return Verdict(
        [
            Finding(
                source="cost",
                severity=Severity.warning,
                title=(
                    f"{machine.monitor} is idle: CPU p95 {evidence['cpu_p95_pct']} %, "
                    f"traffic not growing (${machine.monthly:,.2f}/month)"
                ),
                subject=machine.monitor,
                evidence=evidence,
                recommendation=(
                    f"Check what still needs {current.label}: switch it off or fold its work "
                    f"into another machine (saves ${machine.monthly:,.2f}/month).{also}"
                ),
                impact=machine.monthly,
                rule="idle",
            )
        ],
        machine.monthly,
    )


def _hot(
    machine: Machine, current: Price, best: Price | None, usage: Usage, evidence: Evidence
) -> Finding:
    assert usage.cpu_p95 is not None and usage.memory_p99 is not None
    what = f"CPU p95 {usage.cpu_p95:.0f} %" if usage.cpu_p95 > sizing.HOT_CPU else ""
    if usage.memory_p99 > sizing.HOT_MEMORY:
        what = (what + " and " if what else "") + f"memory p99 {usage.memory_p99:.0f} %"
    if best is not None:
        cost = sizing.price_of(best, current, machine.monthly)
        evidence = evidence | {
            "suggested_type": best.label,
            "suggested_monthly_cost": round(cost, 2),
            "monthly_increase": round(cost - machine.monthly, 2),
        }
        advice = (
            f"Move to {best.type} ({_size(best)}; +${cost - machine.monthly:,.2f}/month) before "
            "the peaks become outages, or find what uses it (wk diagnose --host)."
        )
    else:
        advice = f"No {current.provider} size in the catalog fits: spread the load out."
    return Finding(
        source="cost",
        severity=Severity.warning,
        title=f"{machine.monitor} runs hot: {what} on {current.type}",
        subject=machine.monitor,
        evidence=evidence,
        recommendation=advice,
        impact=usage.cpu_p95,
        rule="undersized",
    )


def _without_size(machine: Machine, usage: Usage, evidence: Evidence) -> Verdict:
    assert usage.cpu_p95 is not None
    growth = usage.traffic_growth_pct
    if usage.cpu_p95 < sizing.IDLE_CPU and growth is not None and growth <= sizing.GROWTH:
        evidence = evidence | {"monthly_saving": round(machine.monthly, 2)}
        finding = Finding(
            source="cost",
            severity=Severity.warning,
            title=(
                f"{machine.monitor} is idle: CPU p95 {usage.cpu_p95:.1f} %, traffic not growing "
                f"(${machine.monthly:,.2f}/month)"
            ),
            subject=machine.monitor,
            evidence=evidence,
            recommendation=(
                "Switch it off or fold its work into another machine; give it instance: "
                "{provider, type} for a smaller size that fits."
            ),
            impact=machine.monthly,
            rule="idle",
        )
        return Verdict([finding], machine.monthly)
    finding = Finding(
        source="cost",
        severity=Severity.info,
        title=f"{machine.monitor}: no instance type, so no size to compare",
        subject=machine.monitor,
        evidence=evidence,
        recommendation=(
            "Add instance: {provider, type} to its monitor (the catalog's names) to get "
            "the cheapest size that fits its load."
        ),
        rule="no-instance",
    )
    return Verdict([finding], 0.0)
