"""The USL fitter against published numbers and a known curve."""

from __future__ import annotations

import pytest

from watchkeeper.loadtest.usl import fit

# The SPEC SDM 91 benchmark of a SPARCcenter 2000 (the R usl package's `specsdm91` data set,
# from Gunther's Guerrilla Capacity Planning), and the coefficients that package reports for
# it in its own test suite (tests/summary.Rout.save, peak-scalability.Rout.save).
SPECSDM91_LOAD = [1, 18, 36, 72, 108, 144, 216]
SPECSDM91_THROUGHPUT = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]


def test_it_reproduces_the_r_usl_package_on_specsdm91() -> None:
    found = fit(SPECSDM91_LOAD, SPECSDM91_THROUGHPUT)
    assert found.alpha == pytest.approx(2.773e-02, rel=1e-3)
    assert found.beta == pytest.approx(1.044e-04, rel=1e-3)
    assert found.gamma == pytest.approx(90.00, rel=1e-3)
    assert found.r_squared == pytest.approx(0.9896, abs=1e-4)
    assert found.peak_n is not None and round(found.peak_n, -0) == 97  # R: signif(..., 2) 97
    assert not found.extrapolated


def test_it_recovers_alpha_beta_gamma_and_the_peak_of_a_known_curve() -> None:
    loads = list(range(1, 11))
    throughput = [n / (1 + 0.02 * (n - 1) + 0.02 * n * (n - 1)) for n in loads]
    found = fit(loads, throughput)
    assert (found.alpha, found.beta, found.gamma) == pytest.approx((0.02, 0.02, 1.0), rel=1e-6)
    assert found.peak_n == pytest.approx(7.0, rel=1e-6)  # sqrt((1 - 0.02) / 0.02)
    assert found.roof == pytest.approx(50.0)


def test_data_that_never_turns_down_is_marked_as_extrapolated() -> None:
    loads = [1, 2, 4, 8, 16, 32]
    throughput = [100 * n / (1 + 0.05 * (n - 1) + 0.00001 * n * (n - 1)) for n in loads]
    found = fit(loads, throughput)
    assert found.extrapolated and found.peak_n is not None and found.peak_n > 100


def test_too_little_data_is_refused() -> None:
    with pytest.raises(ValueError, match="3 or more"):
        fit([1, 2], [10, 19])
