"""What RUM keeps: a tally of one page group, device class and metric over a minute or an
hour, and a worst sample with its attribution. Plain data shared by the collector, the store
and the analysis (no behaviour here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Tally:
    """The beacons of one (page group, device, metric) in one minute or hour."""

    at: float
    """The start of its minute (or hour), epoch seconds."""
    page: str
    device: str
    metric: str
    samples: int
    good: int
    needs_improvement: int
    poor: int
    counts: Mapping[int, int] = field(default_factory=dict)
    """The histogram: bucket → samples (see ``rum.histogram``)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One of the worst values of its (page group, device, metric) in its hour, with what
    web-vitals said caused it. The page's address is never kept, only its path."""

    id: str
    at: float
    page: str
    device: str
    metric: str
    value: float
    rating: str
    path: str
    navigation: str
    attribution: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "page": self.page,
            "device": self.device,
            "metric": self.metric,
            "value": self.value,
            "rating": self.rating,
            "path": self.path,
            "navigation_type": self.navigation,
            "attribution": dict(self.attribution) if self.attribution else {},
        }
