"""What a load test is asked to do, parsed from the command line: arrival-rate stages,
spacing, thresholds. Pure functions; errors are ValueError with a hint.

    --rate 500/s --duration 30s          one constant stage
    --ramp 100/s:2000/s:5m               a linear ramp
    --ramp 100/s:30s,500/s:1m,500/s:2m   stages: each ramps from the previous rate
    --slo "p99<300ms,errors<1%"          thresholds that set the exit code
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from watchkeeper.units import format_duration, parse_duration

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|m|min|h))?\s*$")
_PER = {"s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_rate(text: str, *, zero: bool = False) -> float:
    """``500/s``, ``500``, ``30000/m`` → requests per second (0 only with ``zero``)."""
    found = _RATE.match(text)
    if not found:
        raise ValueError(f"bad rate '{text}': use requests per second, e.g. 500/s")
    rate = float(found.group(1)) / _PER[found.group(2)]
    if rate < 0 or (rate == 0 and not zero):
        raise ValueError(f"bad rate '{text}': it must be above zero")
    return rate


@dataclass(frozen=True, slots=True)
class Stage:
    """Arrivals go from ``start`` to ``end`` requests per second, linearly, over
    ``seconds``."""

    start: float
    end: float
    seconds: float

    def rate_at(self, t: float) -> float:
        if self.seconds <= 0:
            return self.end
        return self.start + (self.end - self.start) * min(1.0, max(0.0, t / self.seconds))

    def arrivals_by(self, t: float) -> float:
        """How many arrivals are due from the stage's start to ``t`` (the rate's integral)."""
        t = min(max(t, 0.0), self.seconds)
        slope = (self.end - self.start) / self.seconds if self.seconds > 0 else 0.0
        return self.start * t + slope * t * t / 2


@dataclass(frozen=True, slots=True)
class Profile:
    """The arrival-rate profile of an open-model test: stages one after another."""

    stages: tuple[Stage, ...]

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def peak(self) -> float:
        return max(max(s.start, s.end) for s in self.stages)

    @property
    def total(self) -> float:
        return sum(s.arrivals_by(s.seconds) for s in self.stages)

    def rate_at(self, t: float) -> float:
        for stage in self.stages:
            if t < stage.seconds:
                return stage.rate_at(t)
            t -= stage.seconds
        return self.stages[-1].end

    def arrivals_by(self, t: float) -> float:
        done = 0.0
        for stage in self.stages:
            if t <= stage.seconds:
                return done + stage.arrivals_by(t)
            done += stage.arrivals_by(stage.seconds)
            t -= stage.seconds
        return done

    def scaled(self, share: float) -> Profile:
        """The same shape at ``share`` of the rate (one worker's part)."""
        return Profile(tuple(Stage(s.start * share, s.end * share, s.seconds) for s in self.stages))

    def describe(self) -> str:
        parts = []
        for stage in self.stages:
            if math.isclose(stage.start, stage.end):
                parts.append(f"{stage.end:g}/s for {format_duration(stage.seconds)}")
            else:
                parts.append(
                    f"{stage.start:g}/s → {stage.end:g}/s over {format_duration(stage.seconds)}"
                )
        return ", then ".join(parts)


def constant(rate: float, seconds: float) -> Profile:
    return Profile((Stage(rate, rate, seconds),))


def parse_ramp(text: str) -> Profile:
    """``100/s:2000/s:5m`` (from, to, over) or stages ``100/s:30s,500/s:1m`` (each ramps
    from the previous rate to its own over its time; the first starts at its own rate)."""
    pieces = [p.strip() for p in text.split(",") if p.strip()]
    if not pieces:
        raise ValueError("empty --ramp: e.g. 100/s:2000/s:5m")
    if len(pieces) == 1 and pieces[0].count(":") == 2:
        start, end, over = pieces[0].split(":")
        return Profile((Stage(parse_rate(start, zero=True), parse_rate(end), _seconds(over)),))
    stages: list[Stage] = []
    previous: float | None = None
    for piece in pieces:
        if piece.count(":") != 1:
            raise ValueError(
                f"bad stage '{piece}': use RATE:DURATION (e.g. 500/s:1m), or one "
                "FROM:TO:DURATION ramp"
            )
        rate_text, over = piece.split(":")
        rate = parse_rate(rate_text)
        stages.append(Stage(rate if previous is None else previous, rate, _seconds(over)))
        previous = rate
    return Profile(tuple(stages))


def _seconds(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"bad duration '{text}': it must be above zero")
    return seconds


def intended_times(profile: Profile, *, poisson: bool, seed: int = 0) -> Iterator[float]:
    """Send times (seconds from the start) of every arrival: evenly spread along the rate
    (uniform), or a Poisson process with that intensity (exponential gaps, mapped through the
    inverse of the rate's integral, solved per stage in closed form)."""
    import random

    rng = random.Random(seed)
    offset = 0.0  # the time the stage starts at
    due = 0.0  # arrivals due by the start of the stage
    count = 0.0
    for stage in profile.stages:
        in_stage = stage.arrivals_by(stage.seconds)
        slope = (stage.end - stage.start) / stage.seconds if stage.seconds > 0 else 0.0
        while True:
            step = rng.expovariate(1.0) if poisson else 1.0
            if count + step > due + in_stage + 1e-9:
                break
            count += step
            n = count - due
            if abs(slope) < 1e-12:
                t = n / stage.start if stage.start > 0 else stage.seconds
            else:  # start*t + slope*t²/2 = n
                t = (-stage.start + math.sqrt(stage.start**2 + 2 * slope * n)) / slope
            yield offset + min(t, stage.seconds)
        due += in_stage
        offset += stage.seconds


# -- thresholds ----------------------------------------------------------------------------
_SLO = re.compile(
    r"^\s*(p50|p90|p95|p99|p999|p99\.9|max|mean|errors|rps)\s*(<=|>=|<|>)\s*(.+?)\s*$"
)
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "p999", "max", "mean")


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    """p50 p90 p95 p99 p999 max mean (milliseconds), errors (a share), rps."""
    operator: str
    value: float
    text: str

    def holds(self, observed: float) -> bool:
        return {
            "<": observed < self.value,
            "<=": observed <= self.value,
            ">": observed > self.value,
            ">=": observed >= self.value,
        }[self.operator]

    def show(self, observed: float) -> str:
        if self.metric in LATENCY_KEYS:
            return f"{format_duration(observed / 1000)}"
        if self.metric == "errors":
            return f"{observed * 100:.2f}%"
        return f"{observed:,.0f}/s"


def parse_slo(text: str) -> tuple[Threshold, ...]:
    """``p99<300ms,errors<1%,rps>=500``."""
    thresholds = []
    for piece in (p for p in text.split(",") if p.strip()):
        found = _SLO.match(piece)
        if not found:
            raise ValueError(
                f"bad threshold '{piece.strip()}': use e.g. p99<300ms, errors<1%, rps>=500 "
                "(p50 p90 p95 p99 p999 max mean errors rps)"
            )
        metric, operator, raw = found.groups()
        metric = "p999" if metric == "p99.9" else metric
        if metric in LATENCY_KEYS:
            value = parse_duration(raw) * 1000
        elif metric == "errors":
            value = float(raw.rstrip("%")) / 100 if raw.endswith("%") else float(raw)
            if not 0 <= value <= 1:
                raise ValueError(f"bad threshold '{piece.strip()}': errors is 0%..100%")
        else:
            value = parse_rate(raw)
        thresholds.append(Threshold(metric, operator, value, piece.strip()))
    if not thresholds:
        raise ValueError("empty --slo: e.g. p99<300ms,errors<1%")
    return tuple(thresholds)
