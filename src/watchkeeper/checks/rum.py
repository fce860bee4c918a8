"""``rum``: a passive check of a page group's Core Web Vital as real browsers measured it
(``/rum.js``, see ``watchkeeper.rum``).

    - name: product-lcp
      rum: {page: product, metric: LCP, device: mobile, window: 15m, min_samples: 20}

Every run reads the beacons of the last ``window`` for that page group (one of the
``rum: pages:`` names, or ``other``), metric and device class (``all`` by default) and
judges their 75th percentile by web-vitals' thresholds: needs improvement makes the monitor
degraded, poor makes it down, good passes. With fewer than ``min_samples`` beacons there is
nothing to judge: it passes, and says so in its facts (``rum.samples``, no ``rum.p75``,
``rum.rating`` ``none``), as an SLO without events does.

Facts (numbers are series): ``rum.p75`` (in the metric's unit: milliseconds, CLS unitless),
``rum.samples``, ``rum.good_pct``, ``rum.needs_improvement_pct``, ``rum.poor_pct`` and
``rum.rating`` (``good``, ``needs-improvement``, ``poor``, ``none``).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import Field, field_validator

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.units import Duration, format_duration


class RumSettings(CheckSettings):
    page: str = Field(min_length=1, max_length=64)
    """A page group of ``rum: pages:`` (or ``other``)."""
    metric: Literal["LCP", "INP", "CLS", "FCP", "TTFB"]
    device: Literal["mobile", "tablet", "desktop", "all"] = "all"
    window: Duration = 900.0
    min_samples: int = Field(20, ge=1, le=10_000_000)

    @field_validator("metric", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("window")
    @classmethod
    def _window(cls, value: float) -> float:
        if not 60 <= value <= 31 * 86400:
            raise ValueError("window must be between 1m and 31d (15m is usual)")
        return value

    def host_key(self) -> str:
        return "rum"

    def target(self) -> str:
        window = format_duration(self.window)
        return f"{self.metric} p75 of {self.page} ({self.device}) over {window}"


class Vitals(Protocol):
    """What tells the check a page group's p75 (``rum.vitals``): the collector in ``wk up``,
    what the store held in ``wk check``."""

    async def judge(self, monitor: str, settings: RumSettings, now: float) -> Any | None:
        """A ``rum.analysis.Summary`` of the window ending ``now``, or None: no data here."""
        ...


NOT_COLLECTED = "passive: no real-user monitoring data here (wk up collects it), not judged"


async def probe(settings: RumSettings, attempt: Attempt) -> None:
    from watchkeeper.errors import StoreError
    from watchkeeper.lanes import Busy
    from watchkeeper.rum.vitals import format_value

    vitals: Vitals | None = attempt.resources.shared("rum.vitals", lambda: None)
    now = attempt.observation.started_at
    attempt.begin("ttfb")
    try:
        found = None if vitals is None else await vitals.judge(attempt.monitor, settings, now)
    except Busy:
        attempt.fail("the previous read of this monitor's beacons is still running (slow store)")
        return
    except StoreError as exc:
        attempt.fail(f"cannot read the beacons: {exc}")
        return
    attempt.end("ttfb")
    if found is None:
        attempt.warn(NOT_COLLECTED)
        return
    facts = attempt.observation.facts
    facts["rum.samples"] = found.samples
    facts["rum.rating"] = "none"
    if found.samples < settings.min_samples or found.p75 is None:
        return
    facts["rum.p75"] = found.p75
    facts["rum.rating"] = str(found.rating)
    facts["rum.good_pct"] = round(found.good * 100, 2)
    facts["rum.needs_improvement_pct"] = round(found.needs_improvement * 100, 2)
    facts["rum.poor_pct"] = round(found.poor * 100, 2)
    if found.rating == "good":
        return
    words = "is poor" if found.rating == "poor" else "needs improvement"
    text = (
        f"{settings.metric} p75 {format_value(settings.metric, found.p75)} on {settings.page}"
        f"{'' if settings.device == 'all' else f' ({settings.device})'} {words} over the last "
        f"{format_duration(settings.window)} ({found.samples} page views, "
        f"{found.poor * 100:.0f}% poor)"
    )
    if found.rating == "poor":
        attempt.fail(text)
    else:
        attempt.warn(text)


CHECK = CheckKind(
    name="rum",
    settings=RumSettings,
    subjects={
        "rum.p75": ValueType.NUMBER,
        "rum.samples": ValueType.NUMBER,
        "rum.good_pct": ValueType.NUMBER,
        "rum.needs_improvement_pct": ValueType.NUMBER,
        "rum.poor_pct": ValueType.NUMBER,
        "rum.rating": ValueType.TEXT,
    },
    probe=probe,
    interval=60.0,
    timeout=30.0,
    confirm=1,
    runtime=("watchkeeper.lanes", "watchkeeper.rum.vitals"),
)
