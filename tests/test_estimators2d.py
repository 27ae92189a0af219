"""2D MBAR and WHAM against an analytic surface, sampled exactly (no MD): each window's
samples are drawn from exp(-(F + U_k) / kT) on a fine grid, so every deviation from the
exact PMF is statistical and the error bars can be judged."""

import numpy as np
import pytest

from mlpmf.estimators2d import mbar_2d, minimax_height, wham_2d
from mlpmf.samples import UmbrellaSamples
from mlpmf.units import kt_kj_mol

TEMPERATURE = 300.0
KT = kt_kj_mol(TEMPERATURE)


def surface(x, y):
    """Two basins, at (-1, -0.5) and (1, 0.6), a col between them, and walls (kJ/mol)."""
    return (
        -14.0 * np.exp(-((x + 1.0) ** 2 + (y + 0.5) ** 2) / 0.5)
        - 11.0 * np.exp(-((x - 1.0) ** 2 + (y - 0.6) ** 2) / 0.4)
        - 4.0 * np.exp(-((x - 0.1) ** 2 + y**2) / 0.3)
        + 3.0 * (x**4 / 16 + y**4 / 4)
    )


FINE = np.linspace(-2.6, 2.6, 521)  # sampling grid, spacing 0.01
EDGES = (np.linspace(-2.0, 2.0, 21), np.linspace(-1.5, 1.5, 16))
CENTERS = [(cx, cy) for cx in np.linspace(-2.0, 2.0, 9) for cy in np.linspace(-1.5, 1.5, 7)]
KAPPA = (40.0, 40.0)  # kJ/mol/unit^2: window width 0.25


def draw(rng, samples_per_window):
    gx, gy = np.meshgrid(FINE, FINE, indexing="ij")
    free = surface(gx, gy)
    windows = []
    for cx, cy in CENTERS:
        log_p = -(free + 0.5 * KAPPA[0] * (gx - cx) ** 2 + 0.5 * KAPPA[1] * (gy - cy) ** 2) / KT
        p = np.exp(log_p - log_p.max()).ravel()
        cells = rng.choice(p.size, samples_per_window, p=p / p.sum())
        jitter = rng.uniform(-0.005, 0.005, (samples_per_window, 2))
        windows.append(np.column_stack([gx.ravel()[cells], gy.ravel()[cells]]) + jitter)
    return windows


def exact_binned():
    """-kT ln of each bin's integral of exp(-F/kT), divided by its area."""
    xs = np.linspace(-2.0, 2.0, 801)
    ys = np.linspace(-1.5, 1.5, 601)
    gx, gy = np.meshgrid(0.5 * (xs[1:] + xs[:-1]), 0.5 * (ys[1:] + ys[:-1]), indexing="ij")
    weight = np.exp(-surface(gx, gy) / KT)
    per_bin = weight.reshape(20, 40, 15, 40).sum(axis=(1, 3))
    return -KT * np.log(per_bin)


BASINS = ((-0.95, -0.45), (1.05, 0.65))


def deviations(pmf, exact):
    """The estimate against the exact bin free energies: the deviations (kJ/mol, after
    the error-weighted constant shift) of the bins below 20 kJ/mol, their errors, and
    the path barrier between the basins with its error and the exact one (here and in
    benchmarks/coverage2d.py)."""
    low = (exact - exact.min() < 20.0) & np.isfinite(pmf.free_energy)
    difference = pmf.free_energy - exact
    weights = 1.0 / pmf.uncertainty[low] ** 2
    difference -= np.sum(weights * difference[low]) / weights.sum()  # free constant
    barrier, error = pmf.path_barrier(*BASINS)
    start, end = pmf._bin_of(BASINS[0]), pmf._bin_of(BASINS[1])
    exact_barrier = minimax_height(exact, start, end) - exact[start]
    return difference[low], pmf.uncertainty[low], (barrier, error, exact_barrier)


def estimate(estimator, windows):
    return estimator(
        UmbrellaSamples(windows, CENTERS, [KAPPA] * len(CENTERS), TEMPERATURE),
        EDGES,
        bootstrap_samples=40,
        seed=3,
    )


@pytest.mark.parametrize("estimator", [mbar_2d, wham_2d], ids=["mbar", "wham"])
def test_2d_estimators_recover_an_analytic_surface_with_calibrated_errors(estimator):
    rng = np.random.default_rng(7)
    pmf = estimate(estimator, draw(rng, 1500))
    exact = exact_binned()
    difference, uncertainty, (barrier, error, exact_barrier) = deviations(pmf, exact)
    assert len(difference) > 150
    z = np.abs(difference) / uncertainty
    coverage = np.mean(z < 1.0)
    # one standard error covers 68% of bins; 170 correlated bins: about +-0.07
    assert 0.55 <= coverage <= 0.82, coverage
    assert np.sqrt(np.mean(difference**2)) < 0.6  # kJ/mol
    assert np.mean(z**2) < 2.0

    # the minimum free-energy path between the two basins crosses the exact col
    assert 0.03 < error < 1.5
    assert abs(barrier - exact_barrier) < 3.0 * error, (barrier, exact_barrier, error)

    # the projection on x equals the exact one within its errors
    projection = pmf.projection(0)
    exact_x = -KT * np.log(np.sum(np.exp(-exact / KT), axis=1))
    shown = projection["free_energy_kj_mol"].to_numpy()
    offset = np.mean(shown - exact_x)
    z_x = (shown - exact_x - offset) / projection["uncertainty_kj_mol"].to_numpy()
    assert np.mean(z_x**2) < 3.0
    assert pmf.to_frame().shape == (20 * 15, 5)


def test_a_periodic_cv_wraps_and_bad_input_is_named():
    rng = np.random.default_rng(2)
    centers = [(c, 0.0) for c in np.linspace(-180.0, 150.0, 12)]
    windows = []
    for cx, _ in centers:
        x = cx + rng.normal(0.0, 12.0, 800)
        windows.append(np.column_stack([x, rng.normal(0.0, 0.3, 800)]))
    edges = (np.linspace(-180.0, 180.0, 25), np.linspace(-1.0, 1.0, 9))
    pmf = mbar_2d(
        UmbrellaSamples(windows, centers, [(0.0173, 30.0)] * 12, TEMPERATURE, (360.0, None)),
        edges,
        bootstrap_samples=10,
    )
    flat = pmf.projection(0)["free_energy_kj_mol"].to_numpy()
    assert np.all(np.isfinite(flat)) and np.ptp(flat) < 3.0  # free rotation: flat
    with pytest.raises(ValueError, match=r"window 1: expected samples of shape \(N, 2\)"):
        mbar_2d(
            UmbrellaSamples([windows[0], windows[1][:, 0]], centers[:2], [(1, 1)] * 2, TEMPERATURE),
            edges,
        )
