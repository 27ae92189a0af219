"""WHAM and MBAR against exactly known PMFs, on exact (independent) umbrella samples.

Tolerances are statistical: with a few thousand independent samples per window the
PMF's standard error is ~0.1 kT, so each estimate must be within 0.3 kT RMS of the exact
PMF, and at least 80% of bins within 2 reported standard errors (95% expected).
"""

import numpy as np
import pytest

from mlpmf.estimators import decorrelate, mbar, solve_free_energies, wham
from mlpmf.units import kt_kj_mol

TEMPERATURE_K = 300.0
KT = kt_kj_mol(TEMPERATURE_K)


def double_well(x):
    return 12.0 * (x**2 - 1.0) ** 2  # kJ/mol, barrier 12 kJ/mol at 0


def torsion(phi_deg):
    return 8.0 * (1.0 - np.cos(np.radians(2.0 * phi_deg))) + 2.0 * np.sin(np.radians(phi_deg))


def exact_umbrella_samples(pmf, grid, centers, kappa, n, seed, period=None):
    """Independent samples of exp(-(F + bias)/kT) by inverse-CDF on a fine grid."""
    rng = np.random.default_rng(seed)
    samples = []
    for center in centers:
        deviation = grid - center
        if period is not None:
            deviation = (deviation + 0.5 * period) % period - 0.5 * period
        log_p = -(pmf(grid) + 0.5 * kappa * deviation**2) / KT
        cdf = np.cumsum(np.exp(log_p - log_p.max()))
        samples.append(np.interp(rng.random(n), cdf / cdf[-1], grid))
    return samples


def assert_matches_exact(pmf_result, exact):
    error = pmf_result.free_energy - exact
    error -= np.mean(error)  # the PMF is defined up to a constant
    assert np.sqrt(np.mean(error**2)) < 0.3 * KT
    assert np.mean(np.abs(error) < 2 * pmf_result.uncertainty) > 0.8


CENTERS = np.linspace(-1.6, 1.6, 17)
EDGES = np.linspace(-1.5, 1.5, 61)


@pytest.fixture(scope="module")
def double_well_samples():
    grid = np.linspace(-2.2, 2.2, 40001)
    return exact_umbrella_samples(double_well, grid, CENTERS, 300.0, 2000, seed=1)


@pytest.mark.parametrize("estimator", [mbar, wham])
def test_double_well_pmf_matches_exact(estimator, double_well_samples):
    kappa = np.full(len(CENTERS), 300.0)
    result = estimator(double_well_samples, CENTERS, kappa, TEMPERATURE_K, EDGES, seed=2)
    assert result.free_energy.shape == result.cv.shape == (60,)
    assert np.nanmin(result.free_energy) == 0.0
    assert_matches_exact(result, double_well(result.cv) - double_well(result.cv).min())


@pytest.mark.parametrize("estimator", [mbar, wham])
def test_periodic_torsion_pmf_matches_exact(estimator):
    centers = np.linspace(-180.0, 165.0, 24)
    grid = np.linspace(-180.0, 180.0, 36001)
    samples = exact_umbrella_samples(torsion, grid, centers, 0.05, 1500, seed=3, period=360.0)
    kappa = np.full(len(centers), 0.05)  # kJ/mol/deg^2
    edges = np.linspace(-180.0, 180.0, 73)
    result = estimator(samples, centers, kappa, TEMPERATURE_K, edges, period=360.0, seed=4)
    exact = torsion(result.cv) - torsion(result.cv).min()
    assert_matches_exact(result, exact)


def test_mbar_matches_pymbar(double_well_samples):
    from pymbar import FES

    kappa = np.full(len(CENTERS), 300.0)
    ours = mbar(double_well_samples, CENTERS, kappa, TEMPERATURE_K, EDGES, bootstrap_samples=0)
    x = np.concatenate(double_well_samples)
    counts = np.array([len(s) for s in double_well_samples])
    u_kn = 0.5 * kappa[:, None] * (x[None, :] - CENTERS[:, None]) ** 2 / KT
    fes = FES(u_kn, counts)
    fes.generate_fes(
        np.zeros(len(x)), x, fes_type="histogram", histogram_parameters={"bin_edges": EDGES}
    )
    theirs = fes.get_fes(ours.cv, reference_point="from-lowest")["f_i"] * KT
    np.testing.assert_allclose(ours.free_energy, theirs - theirs.min(), atol=1e-6 * KT)


def test_empty_bins_are_nan_not_a_crash():
    samples = [np.random.default_rng(k).normal(c, 0.05, 500) for k, c in enumerate([0.0, 0.2])]
    edges = np.linspace(-0.5, 1.5, 41)
    result = mbar(samples, [0.0, 0.2], [1000.0, 1000.0], TEMPERATURE_K, edges, bootstrap_samples=5)
    assert np.isnan(result.free_energy[-1]) and np.isnan(result.uncertainty[-1])
    assert np.isfinite(result.free_energy[10])


def test_solver_gauge_and_self_consistency(double_well_samples):
    x = np.concatenate(double_well_samples)
    n_k = np.array([len(s) for s in double_well_samples], dtype=float)
    u_kx = 0.5 * 300.0 * (x[None, :] - CENTERS[:, None]) ** 2 / KT
    f = solve_free_energies(u_kx, np.ones_like(x), n_k)
    assert f[0] == 0.0
    # MBAR's self-consistency: f_k = -ln sum_n exp(-u_kn) / sum_l N_l exp(f_l - u_ln)
    log_denominator = np.log(np.sum(n_k[:, None] * np.exp(f[:, None] - u_kx), axis=0))
    f_again = -np.log(np.sum(np.exp(-u_kx - log_denominator), axis=1))
    np.testing.assert_allclose(f_again - f_again[0], f, atol=1e-7)


def test_decorrelate_thins_a_correlated_series():
    rng = np.random.default_rng(5)
    series = np.zeros(20000)
    for t in range(1, len(series)):  # AR(1) with correlation time ~ 50 steps
        series[t] = 0.98 * series[t - 1] + rng.normal()
    kept = decorrelate(series)
    assert 100 < len(kept) < 600


def test_mismatched_inputs_are_named():
    with pytest.raises(ValueError, match="one entry per window"):
        mbar([np.zeros(3)], [0.0, 1.0], [1.0, 1.0], 300.0, np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="window 1 has non-finite"):
        wham([np.zeros(3), np.array([np.nan])], [0.0, 1.0], [1.0, 1.0], 300.0, np.linspace(0, 1, 5))
