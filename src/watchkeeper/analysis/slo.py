"""Service-level objectives: the error budget, burn rates, and the SRE Workbook's
multi-window, multi-burn-rate alerts (chapter 5, "Alerting on SLOs").

An SLO counts good and bad events (checks) of one monitor: good is a passing check, or with
a latency threshold a passing check at most that slow. Over the SLO window (30 days by
default) the objective allows a share ``1 - objective`` of bad events: the error budget. The
*burn rate* over a span is the share of bad events in it divided by that allowance: 1× spends
the budget exactly over the window, 14.4× spends 2 % of a 30-day budget in one hour.

An alert needs both a long and a short window over its factor: the long one says enough
budget went, the short one that it is still going (so the alert ends soon after the problem
does). A new SLO needs at least its short window of history before an alert can fire (a
6-hour burn rate read off one minute of checks is noise). The workbook's recommended set:

    page    1 h and 5 m over 14.4×    (2 % of the budget in an hour)
    page    6 h and 30 m over 6×      (5 % in six hours)
    ticket  3 d and 6 h over 1×       (10 % in three days)

Counts are kept per minute (``Minutes``, a ring over the window), so memory is fixed per SLO
and a window sum is one masked sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

MINUTE = 60


@dataclass(frozen=True, slots=True)
class BurnAlert:
    severity: str
    """``page`` or ``ticket``."""
    long: int
    short: int
    factor: float


ALERTS = (
    BurnAlert("page", 3600, 300, 14.4),
    BurnAlert("page", 6 * 3600, 1800, 6.0),
    BurnAlert("ticket", 3 * 86400, 6 * 3600, 1.0),
)
SPANS = (300, 1800, 3600, 6 * 3600, 3 * 86400)
"""The spans whose burn rates are reported (every alert window)."""


class Minutes:
    """Good and total events per minute over the last ``horizon`` seconds (a ring)."""

    def __init__(self, horizon: float) -> None:
        self.size = math.ceil(horizon / MINUTE) + 1
        self.slot_minute: npt.NDArray[np.int64] = np.full(self.size, -1, dtype=np.int64)
        self.good: npt.NDArray[np.int64] = np.zeros(self.size, dtype=np.int64)
        self.total: npt.NDArray[np.int64] = np.zeros(self.size, dtype=np.int64)
        self.first: float | None = None
        """The time of the first event counted (the SLI is measured from here)."""

    def add(self, at: float, good: bool, count: int = 1) -> None:
        self.add_counts(at, count if good else 0, count)

    def add_counts(self, at: float, good: int, total: int) -> None:
        minute = int(at // MINUTE)
        slot = minute % self.size
        if self.slot_minute[slot] != minute:
            if self.slot_minute[slot] > minute:
                return  # older than the ring holds
            self.slot_minute[slot] = minute
            self.good[slot] = 0
            self.total[slot] = 0
        self.good[slot] += good
        self.total[slot] += total
        if total and (self.first is None or at < self.first):
            self.first = at

    def counts(self, now: float, span: float) -> tuple[int, int]:
        """(good, total) over the ``span`` seconds up to ``now`` (whole minutes, the current
        one included)."""
        last = int(now // MINUTE)
        first = last - math.ceil(span / MINUTE) + 1
        mask = (self.slot_minute >= first) & (self.slot_minute <= last)
        return int(self.good[mask].sum()), int(self.total[mask].sum())

    def newest_first(
        self, now: float, span: float
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(good, total) per minute over ``span`` up to ``now``, the current minute first."""
        last = int(now // MINUTE)
        wanted = last - np.arange(min(self.size, math.ceil(span / MINUTE)), dtype=np.int64)
        slots = wanted % self.size
        held = self.slot_minute[slots] == wanted
        return np.where(held, self.good[slots], 0), np.where(held, self.total[slots], 0)


def burn_rate(good: int, total: int, objective: float) -> float:
    """The share of bad events over the share the objective allows (0 with no events)."""
    if total <= 0:
        return 0.0
    return ((total - good) / total) / (1.0 - objective)


@dataclass(frozen=True, slots=True)
class Assessment:
    objective: float
    window: float
    good: int
    total: int
    burn: dict[int, float]
    """Burn rate per span (seconds), for every span in ``SPANS``."""
    firing: tuple[BurnAlert, ...] = field(default=())
    short_burn: dict[BurnAlert, tuple[int, float]] = field(default_factory=dict)
    """Per alert, the short window as judged (seconds: widened when it held too few checks
    to show the factor at all) and its burn rate."""

    @property
    def sli(self) -> float | None:
        """The share of good events over the window (None with none)."""
        return self.good / self.total if self.total else None

    @property
    def budget_remaining(self) -> float | None:
        """The share of the window's error budget not spent yet (negative: overspent)."""
        if not self.total:
            return None
        allowed = (1.0 - self.objective) * self.total
        return 1.0 - (self.total - self.good) / allowed

    @property
    def severity(self) -> str | None:
        """``page``, ``ticket`` or None: the worst alert firing."""
        if any(a.severity == "page" for a in self.firing):
            return "page"
        return "ticket" if self.firing else None

    def exhausted_in(self) -> float | None:
        """Seconds until the budget is gone at the last hour's burn rate (None: not burning
        faster than it refills, or nothing left to spend)."""
        remaining = self.budget_remaining
        rate = self.burn.get(3600, 0.0)
        if remaining is None or remaining <= 0 or rate <= 1.0:
            return None
        return remaining * self.window / rate


def assess(minutes: Minutes, objective: float, window: float, now: float) -> Assessment:
    good, total = minutes.counts(now, window)
    spans = set(SPANS) | {a.long for a in ALERTS} | {a.short for a in ALERTS}
    burn = {}
    for span in sorted(spans):
        span_good, span_total = minutes.counts(now, span)
        burn[span] = burn_rate(span_good, span_total, objective)
    short_burn = {alert: _short_window(minutes, alert, objective, now) for alert in ALERTS}
    firing = tuple(
        alert
        for alert in ALERTS
        if burn[alert.long] > alert.factor
        and short_burn[alert][1] > alert.factor
        and minutes.counts(now, alert.long)[1] >= _enough(alert, objective)
        and minutes.first is not None
        and now - minutes.first >= alert.short
    )
    return Assessment(objective, window, good, total, burn, firing, short_burn)


def _enough(alert: BurnAlert, objective: float) -> int:
    """The fewest checks in which one failure is the alert's factor: fewer cannot show it
    (so a new monitor's first failed check, 1 of 10, pages nobody)."""
    return math.ceil(1.0 / (alert.factor * (1.0 - objective)))


def _short_window(
    minutes: Minutes, alert: BurnAlert, objective: float, now: float
) -> tuple[int, float]:
    """The short window's span and burn rate. A window of fewer than ``1 / (factor *
    budget)`` checks cannot show the factor (one failure in it is already at least the
    factor, none is zero): a monitor checked every 10 s has 30 checks in 5 minutes, where
    14.4× against 99.9 % needs 70. So the window is widened, minute by minute, until it
    holds that many checks (at most to the long window): it still says the budget is
    burning now, without flickering on the gaps between sparse failures."""
    good, total = minutes.newest_first(now, alert.long)
    needed = _enough(alert, objective)
    base = min(len(total), math.ceil(alert.short / MINUTE))
    cumulative = np.cumsum(total)
    span = base
    if base and cumulative[base - 1] < needed:
        enough = np.nonzero(cumulative >= needed)[0]
        span = int(enough[0]) + 1 if len(enough) else len(total)
    span_good, span_total = int(good[:span].sum()), int(total[:span].sum())
    return span * MINUTE, burn_rate(span_good, span_total, objective)


def expected_fire_after(error_rate: float, objective: float, alert: BurnAlert) -> float:
    """Seconds after a steady ``error_rate`` begins (following a clean history) until
    ``alert`` fires: the long window's burn crosses the factor once the bad share of it
    reaches ``factor * (1 - objective)``, i.e. after ``long * factor * budget / rate``."""
    burn = error_rate / (1.0 - objective)
    if burn <= alert.factor:
        return math.inf
    return max(alert.long, alert.short) * alert.factor / burn


def span_name(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def describe(assessment: Assessment) -> str | None:
    """One line for the worst alert firing (None when none is)."""
    severity = assessment.severity
    if severity is None:
        return None
    alert = next(a for a in assessment.firing if a.severity == severity)
    burn = assessment.burn
    short_span, short_rate = assessment.short_burn.get(alert, (alert.short, burn[alert.short]))
    text = (
        f"{severity}: burning the error budget at {burn[alert.long]:.1f}× over "
        f"{span_name(alert.long)} ({short_rate:.1f}× over the last {span_name(short_span)}; "
        f"alert at {alert.factor:g}×)"
    )
    remaining = assessment.budget_remaining
    if remaining is not None:
        text += f", {max(remaining, -9.99) * 100:.0f}% of the budget left"
    eta = assessment.exhausted_in()
    if eta is not None:
        hours = eta / 3600
        text += f", gone in {hours:.1f}h at this rate" if hours < 72 else ""
    return text
