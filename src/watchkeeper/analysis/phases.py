"""Where the time went: which latency phases (dns, connect, tls, ttfb, transfer) of a monitor's
checks moved between a baseline period and now.

Each phase is compared on its median (robust to the odd slow check) and its 95th percentile;
a phase counts as moved when the median shifted by at least ``min_ms`` and ``min_ratio`` of
its baseline and a rank test (Mann–Whitney U) says the two samples differ beyond chance. The
verdict names what the moved phase points at, and the phases that did not move are evidence
too ("connect unchanged: not the network"). Pure functions on arrays of milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import mannwhitneyu

from watchkeeper.units import format_ms

PHASES = ("dns", "connect", "tls", "ttfb", "transfer")

MEANING = {
    "dns": "name resolution: the resolver or the DNS provider",
    "connect": "the network path or the server's accept backlog",
    "tls": "the TLS handshake: server CPU, the certificate chain or OCSP",
    "ttfb": "server side: the application or what it waits on (database, cache, upstream)",
    "transfer": "the response body: a larger payload or less bandwidth",
}

NOT_IT = {
    "dns": "not the resolver",
    "connect": "not the network",
    "tls": "not the TLS handshake",
    "ttfb": "not the application",
    "transfer": "not the payload size",
}


@dataclass(frozen=True, slots=True)
class PhaseShift:
    phase: str
    before_ms: float
    """Median of the baseline."""
    after_ms: float
    """Median now."""
    before_p95_ms: float
    after_p95_ms: float
    checks_before: int
    checks_after: int
    p_value: float
    moved: bool

    @property
    def delta_ms(self) -> float:
        return self.after_ms - self.before_ms

    @property
    def change_pct(self) -> float | None:
        if self.before_ms <= 0:
            return None
        return 100.0 * self.delta_ms / self.before_ms


@dataclass(frozen=True, slots=True)
class PhaseBlame:
    shifts: tuple[PhaseShift, ...]
    total_before_ms: float
    total_after_ms: float

    @property
    def moved(self) -> list[PhaseShift]:
        """The phases that moved, the largest change first."""
        return sorted((s for s in self.shifts if s.moved), key=lambda s: -abs(s.delta_ms))

    @property
    def unchanged(self) -> list[PhaseShift]:
        return [s for s in self.shifts if not s.moved]

    def summary(self) -> str:
        """ "TTFB +210ms: server side (...); connect unchanged: not the network": the two
        largest moves, and of the phases that held, the ones that rule out the most (the
        network and the application first)."""
        moved = self.moved
        if not moved:
            return "no phase moved"
        parts = [
            f"{_label(s.phase)} {'+' if s.delta_ms > 0 else ''}"
            f"{format_ms(s.delta_ms)}: {MEANING[s.phase]}"
            for s in moved[:2]
        ]
        held = sorted(self.unchanged, key=lambda s: _TELLING.index(s.phase))[:2]
        parts += [f"{_label(s.phase)} unchanged: {NOT_IT[s.phase]}" for s in held]
        return "; ".join(parts)

    @property
    def total_moved(self) -> bool:
        """Did the whole check get slower (or faster) by as much as a phase must move?"""
        delta = self.total_after_ms - self.total_before_ms
        return abs(delta) >= max(5.0, 0.1 * self.total_before_ms)


_TELLING = ("connect", "ttfb", "dns", "tls", "transfer")
"""Which unchanged phase rules out the most, first."""


def _label(phase: str) -> str:
    return "TTFB" if phase == "ttfb" else "TLS" if phase == "tls" else phase


def blame(
    before: Mapping[str, npt.ArrayLike],
    after: Mapping[str, npt.ArrayLike],
    *,
    min_ms: float = 5.0,
    min_ratio: float = 0.2,
    alpha: float = 0.001,
    min_checks: int = 8,
) -> PhaseBlame | None:
    """Compare per-phase samples (milliseconds; NaN where a phase did not apply) of a baseline
    and of now. None when either side has fewer than ``min_checks`` checks with a total."""
    before_total = _clean(before.get("total", ()))
    after_total = _clean(after.get("total", ()))
    if len(before_total) < min_checks or len(after_total) < min_checks:
        return None
    shifts: list[PhaseShift] = []
    for phase in PHASES:
        old = _clean(before.get(phase, ()))
        new = _clean(after.get(phase, ()))
        if len(old) < min_checks or len(new) < min_checks:
            continue  # the phase does not apply (no TLS on http://, no DNS for an address)
        old_median, new_median = float(np.median(old)), float(np.median(new))
        delta = new_median - old_median
        p_value = 1.0
        if delta != 0.0:
            p_value = float(mannwhitneyu(old, new, alternative="two-sided").pvalue)
        big = abs(delta) >= max(min_ms, min_ratio * max(old_median, 0.0))
        shifts.append(
            PhaseShift(
                phase=phase,
                before_ms=old_median,
                after_ms=new_median,
                before_p95_ms=float(np.percentile(old, 95)),
                after_p95_ms=float(np.percentile(new, 95)),
                checks_before=len(old),
                checks_after=len(new),
                p_value=p_value,
                moved=big and p_value < alpha,
            )
        )
    return PhaseBlame(
        shifts=tuple(shifts),
        total_before_ms=float(np.median(before_total)),
        total_after_ms=float(np.median(after_total)),
    )


def _clean(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]
