"""The Universal Scalability Law, fitted to measured throughput at several concurrencies.

    X(N) = γ N / (1 + α (N − 1) + β N (N − 1))

α is contention (the serial share), β coherency (the cost of keeping N workers in step), γ
the throughput of one. The peak comes at N* = √((1 − α) / β), and X_roof = γ / α bounds
what any N can reach when β is 0. Fitted by bounded non-linear least squares (scipy),
0 ≤ α ≤ 1, β ≥ 0, γ > 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares


@dataclass(frozen=True, slots=True)
class Fit:
    alpha: float
    beta: float
    gamma: float
    r_squared: float
    points: int
    max_measured_n: float

    def throughput(self, n: float) -> float:
        return self.gamma * n / (1 + self.alpha * (n - 1) + self.beta * n * (n - 1))

    @property
    def peak_n(self) -> float | None:
        """N* (None when β is 0: throughput only levels off)."""
        if self.beta <= 0:
            return None
        return math.sqrt(max(0.0, 1 - self.alpha) / self.beta)

    @property
    def peak_throughput(self) -> float:
        peak = self.peak_n
        return self.throughput(peak) if peak is not None else self.roof

    @property
    def roof(self) -> float:
        """X_roof = γ / α (infinite without contention)."""
        return self.gamma / self.alpha if self.alpha > 0 else math.inf

    @property
    def extrapolated(self) -> bool:
        """The peak lies beyond the loads measured: the data never reached it."""
        peak = self.peak_n
        return peak is None or peak > self.max_measured_n * 1.1


def fit(loads: Sequence[float], throughputs: Sequence[float]) -> Fit:
    """Fit the USL; ValueError when the data cannot carry it (fewer than 3 points, or no
    throughput)."""
    n = np.asarray(loads, dtype=float)
    x = np.asarray(throughputs, dtype=float)
    keep = (n > 0) & np.isfinite(x) & (x > 0)
    n, x = n[keep], x[keep]
    if len(n) < 3:
        raise ValueError("a USL fit needs throughput at 3 or more concurrencies")
    order = np.argsort(n)
    n, x = n[order], x[order]
    # start from γ ≈ throughput at the smallest load per unit of load
    gamma0 = float(x[0] / n[0])

    def residuals(params: np.ndarray) -> np.ndarray:
        alpha, beta, gamma = params
        model = gamma * n / (1 + alpha * (n - 1) + beta * n * (n - 1))
        result: np.ndarray = model - x
        return result

    best = None
    for alpha0, beta0 in ((0.01, 1e-4), (0.1, 1e-3), (0.5, 1e-2), (0.001, 1e-6)):
        attempt = least_squares(
            residuals,
            x0=[alpha0, beta0, gamma0],
            bounds=([0.0, 0.0, 1e-12], [1.0, np.inf, np.inf]),
            x_scale="jac",
            max_nfev=10_000,
        )
        if best is None or attempt.cost < best.cost:
            best = attempt
    assert best is not None
    alpha, beta, gamma = (float(v) for v in best.x)
    total = float(np.sum((x - x.mean()) ** 2))
    r_squared = 1 - float(np.sum(best.fun**2)) / total if total > 0 else 1.0
    return Fit(alpha, beta, gamma, r_squared, len(n), float(n.max()))
