"""A beacon batch as the loader sends it, checked field by field (everything in it is
hostile until it passes here). Pure.

    {"view": "9f86d081884c7d65",                      the page view (random hex)
     "metrics": [{"id": "v5-1700000000000-8833817",   web-vitals' metric id
                  "name": "LCP", "value": 2212.4, "delta": 2212.4, "rating": "good",
                  "navigationType": "navigate",
                  "page": "/product/42",              the path: no query, no fragment
                  "device": "mobile",                 mobile | tablet | desktop
                  "attribution": {"target": "#hero>img", "url": "https://.../hero.jpg",
                                  "timeToFirstByte": 80, ...}}, ...]}

A batch that is not such an object (bad JSON, ``NaN``, no ``view``, more than
``MOST_METRICS``) is refused whole. Within a good batch each metric is checked on its own:
a known name, a finite value from 0 to the metric's maximum, a delta within the same bound,
an id, a path and a device; one that fails is left out and counted, the others are kept.
The client's ``rating`` is ignored (the server rates every value itself). Attribution keeps
only the fields named in ``ATTRIBUTION``, text cut to ``MOST_TEXT`` characters, URLs without
their query or fragment (a signed URL's token is not kept).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from watchkeeper.rum.vitals import DEVICES, MAXIMUM

MOST_BYTES = 64 * 1024
"""The largest batch read (sendBeacon's own quota is 64 KiB)."""
MOST_METRICS = 50
"""Metrics in one batch at most (a page reports five, a few more after back/forward)."""
MOST_PATH = 1000
"""Characters of a path at most (longer: the metric is refused)."""
KEPT_PATH = 300
"""Characters of a path kept with a worst sample."""
MOST_TEXT = 300
"""Characters kept of an attribution text (a CSS selector, a URL)."""

_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_VIEW = re.compile(r"[0-9a-f]{8,64}")
_WORD = re.compile(r"[A-Za-z_-]{1,32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_TIMINGS = ("timeToFirstByte",)
ATTRIBUTION: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # metric: (texts, URLs, numbers)
    "LCP": (
        ("target",),
        ("url",),
        (*_TIMINGS, "resourceLoadDelay", "resourceLoadDuration", "elementRenderDelay"),
    ),
    "INP": (
        ("interactionTarget", "interactionType", "loadState"),
        (),
        ("inputDelay", "processingDuration", "presentationDelay"),
    ),
    "CLS": (("largestShiftTarget", "loadState"), (), ("largestShiftValue", "largestShiftTime")),
    "FCP": (("loadState",), (), (*_TIMINGS, "firstByteToFCP")),
    "TTFB": (
        (),
        (),
        (
            "waitingDuration",
            "cacheDuration",
            "dnsDuration",
            "connectionDuration",
            "requestDuration",
        ),
    ),
}
"""The attribution fields kept per metric: texts, URLs (query cut) and numbers."""
_MOST_NUMBER = 1e7


class BatchError(ValueError):
    """The whole batch is refused; ``str()`` says why in one line."""


@dataclass(frozen=True, slots=True)
class Report:
    """One metric report that passed every check."""

    id: str
    metric: str
    value: float
    delta: float
    navigation: str
    path: str
    device: str
    attribution: dict[str, str | float] | None = None


@dataclass(slots=True)
class Batch:
    view: str
    reports: list[Report] = field(default_factory=list)
    refused: int = 0
    """Metrics left out, each for a reason (the first is ``why``)."""
    why: str | None = None

    def refuse(self, reason: str) -> None:
        self.refused += 1
        if self.why is None:
            self.why = reason


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse(body: bytes) -> Batch:
    """The batch in ``body`` (at most ``MOST_BYTES``, read by the caller); BatchError when
    it is refused whole."""
    if len(body) > MOST_BYTES:
        raise BatchError(f"the batch is over {MOST_BYTES // 1024} KiB")
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise BatchError("the batch nests too deep") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN, a huge integer
        raise BatchError(f"the batch is not JSON ({str(exc).splitlines()[0][:100]})") from None
    if not isinstance(data, dict):
        raise BatchError('the batch must be an object: {"view": ..., "metrics": [...]}')
    view = data.get("view")
    if not isinstance(view, str) or _VIEW.fullmatch(view) is None:
        raise BatchError("view must be the page view's id: 8 to 64 lower-case hex digits")
    metrics = data.get("metrics")
    if not isinstance(metrics, list):
        raise BatchError("metrics must be a list")
    if len(metrics) > MOST_METRICS:
        raise BatchError(f"at most {MOST_METRICS} metrics a batch ({len(metrics)} sent)")
    batch = Batch(view)
    for item in metrics:
        report = _report(item, batch)
        if report is not None:
            batch.reports.append(report)
    return batch


def _report(item: Any, batch: Batch) -> Report | None:
    if not isinstance(item, dict):
        batch.refuse("a metric must be an object")
        return None
    name = item.get("name")
    if name not in MAXIMUM:
        batch.refuse("unknown metric name (LCP, INP, CLS, FCP or TTFB)")
        return None
    most = MAXIMUM[name]
    value = item.get("value")
    if not _number(value) or not 0.0 <= value <= most:
        batch.refuse(f"{name}: value must be a number from 0 to {most:g}")
        return None
    delta = item.get("delta", value)
    if not _number(delta) or not -most <= delta <= most:
        batch.refuse(f"{name}: delta must be a number within ±{most:g}")
        return None
    metric_id = item.get("id")
    if not isinstance(metric_id, str) or _ID.fullmatch(metric_id) is None:
        batch.refuse(f"{name}: id must be 1-100 letters, digits or ._:-")
        return None
    page = item.get("page")
    if not isinstance(page, str) or not page.startswith("/") or len(page) > MOST_PATH:
        batch.refuse(f"{name}: page must be a path (/...) of at most {MOST_PATH} characters")
        return None
    device = item.get("device")
    if device not in DEVICES:
        batch.refuse(f"{name}: device must be mobile, tablet or desktop")
        return None
    navigation = item.get("navigationType", "navigate")
    if not isinstance(navigation, str) or _WORD.fullmatch(navigation) is None:
        navigation = "unknown"
    path = _clean(page.split("?", 1)[0].split("#", 1)[0], MOST_PATH)
    return Report(
        id=metric_id,
        metric=name,
        value=float(value),
        delta=float(delta),
        navigation=navigation,
        path=path,
        device=device,
        attribution=_attribution(name, item.get("attribution")),
    )


def _number(value: object) -> TypeGuard[float]:
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is int


def _clean(text: str, most: int = MOST_TEXT) -> str:
    """At most ``most`` characters, control characters (NUL included) taken out."""
    return _CONTROL.sub("", text[: most * 2])[:most]


def _attribution(metric: str, given: Any) -> dict[str, str | float] | None:
    if not isinstance(given, dict):
        return None
    texts, urls, numbers = ATTRIBUTION[metric]
    kept: dict[str, str | float] = {}
    for key in texts:
        text = given.get(key)
        if isinstance(text, str) and text:
            kept[key] = _clean(text)
    for key in urls:
        url = given.get(key)
        if isinstance(url, str) and url:
            kept[key] = _clean(url.split("?", 1)[0].split("#", 1)[0])
    for key in numbers:
        number = given.get(key)
        if _number(number) and abs(number) <= _MOST_NUMBER:
            kept[key] = round(float(number), 3)
    return kept or None
