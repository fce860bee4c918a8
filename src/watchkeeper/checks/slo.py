"""``slo``: a passive check that judges another monitor's service-level objective.

    slos:
      - {name: api-availability, monitor: api, objective: 99.9%, window: 30d}
      - {name: api-latency, monitor: api, objective: 99%, latency: 300ms, notify: [ops]}

(``slos:`` entries become monitors of this kind; ``monitors:`` may hold them too, as
``{name: ..., slo: {monitor: api, objective: 99.9%}}``.) Every check of the watched monitor
is an event: good when it passed (and, with ``latency``, took at most that long). The check
reads the per-minute counts the engine keeps in memory and applies the SRE Workbook's
multi-window, multi-burn-rate alerts (:mod:`watchkeeper.analysis.slo`): a page-level burn
(1 h and 5 m over 14.4×, or 6 h and 30 m over 6×) makes the SLO monitor ``down``, a
ticket-level one (3 d and 6 h over 1×) ``degraded``; either way the alert pipeline (routes,
grouping, repeat, silences) carries it. Facts: ``slo.sli_pct``, ``slo.budget_remaining_pct``,
``slo.burn_5m`` ... ``slo.burn_3d``, ``slo.events``; all of them are series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import field_validator

from watchkeeper.analysis.slo import SPANS, Minutes, assess, describe, span_name
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.units import Duration


class SloSettings(CheckSettings):
    monitor: str
    objective: float
    window: Duration = 30 * 86400.0
    latency: Duration | None = None
    """With a threshold, a check is good only when it passed at most this slow."""

    @field_validator("objective", mode="before")
    @classmethod
    def _objective(cls, value: Any) -> float:
        text = str(value).strip()
        try:
            number = float(text.removesuffix("%"))
        except ValueError:
            raise ValueError(f"objective '{value}' is not a percentage like 99.9%") from None
        ratio = number / 100 if text.endswith("%") or number > 1 else number
        if not 0 < ratio < 1:
            raise ValueError(f"objective '{value}' must be between 0% and 100% (e.g. 99.9%)")
        return ratio

    @field_validator("window")
    @classmethod
    def _window(cls, value: float) -> float:
        if value < 3600:
            raise ValueError("window must be at least 1h (30d is usual)")
        return value

    def target(self) -> str:
        what = f"{self.objective * 100:g}% of checks"
        if self.latency is not None:
            what += f" passing under {self.latency * 1000:g}ms"
        return f"{self.monitor}: {what} over {span_name(int(self.window))}"


@dataclass
class Tracked:
    settings: SloSettings
    minutes: Minutes

    def record(self, at: float, ok: bool, latency: float | None) -> None:
        limit = self.settings.latency
        good = ok and (limit is None or (latency is not None and latency <= limit))
        self.minutes.add(at, good)


@dataclass
class Tracker:
    """Every SLO's counts, by SLO monitor name (the engine feeds it; the check reads it)."""

    slos: dict[str, Tracked] = field(default_factory=dict)
    by_target: dict[str, list[Tracked]] = field(default_factory=dict)

    def add(self, name: str, settings: SloSettings) -> Tracked:
        tracked = Tracked(settings, Minutes(settings.window))
        self.slos[name] = tracked
        self.by_target.setdefault(settings.monitor, []).append(tracked)
        return tracked

    def forget(self, name: str) -> None:
        tracked = self.slos.pop(name, None)
        if tracked is not None:
            self.by_target[tracked.settings.monitor].remove(tracked)

    def record(self, monitor: str, at: float, ok: bool, latency: float | None) -> None:
        for tracked in self.by_target.get(monitor, ()):
            tracked.record(at, ok, latency)


async def probe(settings: SloSettings, attempt: Attempt) -> None:
    tracker: Tracker = attempt.resources.shared("slo.tracker", Tracker)
    tracked = tracker.slos.get(attempt.monitor)
    if tracked is None:  # run outside the engine (wk check): nothing counted here
        tracked = Tracked(settings, Minutes(settings.window))
    attempt.begin("ttfb")
    now = attempt.observation.started_at
    found = assess(tracked.minutes, settings.objective, settings.window, now)
    attempt.end("ttfb")
    facts = attempt.observation.facts
    facts["slo.events"] = found.total
    if found.sli is not None:
        facts["slo.sli_pct"] = round(found.sli * 100, 4)
    if found.budget_remaining is not None:
        facts["slo.budget_remaining_pct"] = round(found.budget_remaining * 100, 3)
    for span in SPANS:
        facts[f"slo.burn_{span_name(span)}"] = round(found.burn[span], 3)
    reason = describe(found)
    if reason is None:
        return
    if found.severity == "page":
        attempt.fail(reason)
    else:
        attempt.warn(reason)


CHECK = CheckKind(
    name="slo",
    settings=SloSettings,
    subjects={
        "slo.events": ValueType.NUMBER,
        "slo.sli_pct": ValueType.NUMBER,
        "slo.budget_remaining_pct": ValueType.NUMBER,
        **{f"slo.burn_{span_name(span)}": ValueType.NUMBER for span in SPANS},
    },
    probe=probe,
    confirm=1,
)
