"""The oracle correction: a PMF sampled on a model's potential carried to the oracle's by
exponential averaging of their energy difference (free-energy perturbation)."""

import numpy as np
import pytest

from mlpmf.correction import oracle_correction
from mlpmf.estimators import mbar
from mlpmf.samples import UmbrellaSamples
from mlpmf.units import kj_mol_to_ev, kt_kj_mol

TEMPERATURE_K = 300.0
KT = kt_kj_mol(TEMPERATURE_K)
KAPPA = 300.0  # kJ/mol/Å^2
CENTERS = np.linspace(-1.6, 1.6, 17)
EDGES = np.linspace(-1.5, 1.5, 31)
GRID = np.linspace(-2.2, 2.2, 44001)
SIGMA_Y = 1.0  # the hidden coordinate's spread on the model's potential
TILT = 4.0  # kJ/mol per Å: the oracle's extra term along the CV ...
CURVATURE = 1.2  # ... and b(x) = CURVATURE (1 + x/2) in b(x) y^2, kJ/mol


def model_pmf(x):
    return 12.0 * (x**2 - 1.0) ** 2  # kJ/mol


def exact_correction(x):
    """F_oracle - F_model at x: the tilt, and -kT ln <exp(-b(x) y^2 / kT)> over
    y ~ N(0, SIGMA_Y^2), a Gaussian integral: kT/2 ln(1 + 2 b(x) SIGMA_Y^2 / kT)."""
    b = CURVATURE * (1.0 + 0.5 * x)
    return TILT * x + 0.5 * KT * np.log1p(2.0 * b * SIGMA_Y**2 / KT)


def model_windows(n, rng):
    """Independent samples (x, y) of each window on the model: x from the biased double
    well by inverse CDF, y independent of x."""
    xs, ys = [], []
    for center in CENTERS:
        log_p = -(model_pmf(GRID) + 0.5 * KAPPA * (GRID - center) ** 2) / KT
        cdf = np.cumsum(np.exp(log_p - log_p.max()))
        xs.append(np.interp(rng.random(n), cdf / cdf[-1], GRID))
        ys.append(rng.normal(0.0, SIGMA_Y, n))
    return xs, ys


def offsets_ev(x, y, scale=1.0):
    """Oracle minus model energy of each sample, eV, with an arbitrary constant."""
    return kj_mol_to_ev(scale * (TILT * x + CURVATURE * (1.0 + 0.5 * x) * y**2) + 500.0)


@pytest.fixture(scope="module")
def windows():
    return model_windows(4000, np.random.default_rng(11))


def test_the_oracle_pmf_is_recovered_from_the_models_samples_within_its_error(windows):
    xs, ys = windows
    kappa = np.full(len(CENTERS), KAPPA)
    model = mbar(UmbrellaSamples(xs, CENTERS, kappa, TEMPERATURE_K), EDGES, seed=1)
    every = 4  # the oracle labels every 4th sample, as umbrella.oracle_every does
    result = oracle_correction(
        UmbrellaSamples([x[::every] for x in xs], CENTERS, kappa, TEMPERATURE_K),
        [offsets_ev(x, y)[::every] for x, y in zip(xs, ys, strict=True)],
        EDGES,
        model.window_free_energies,
        seed=2,
    )
    exact = exact_correction(model.cv)
    error = result.correction - exact
    error -= np.average(error, weights=1 / result.uncertainty**2)
    z = error / result.uncertainty
    assert np.sqrt(np.mean(error**2)) < 0.1 * KT
    # the block-bootstrap errors describe the scatter (chi2/bin of 30 bins: 0.4-2 at 99%)
    assert 0.4 < np.mean(z**2) < 2.0
    assert np.all(result.effective_samples > 100)
    # the model's energy error per window: the std of TILT x + b(x) y^2 over its samples
    spread = [np.std(d) / kj_mol_to_ev(1.0) for d in result_deltas(xs, ys)]
    np.testing.assert_allclose(result.energy_error_kj_mol, spread, rtol=0.05)
    assert np.all(result.effective_fraction > 0.3)


def result_deltas(xs, ys, every=4):
    return [offsets_ev(x, y)[::every] for x, y in zip(xs, ys, strict=True)]


def test_a_model_far_from_the_oracle_shows_as_lost_effective_samples(windows):
    xs, ys = windows
    kappa = np.full(len(CENTERS), KAPPA)
    model = mbar(UmbrellaSamples(xs, CENTERS, kappa, TEMPERATURE_K), EDGES, seed=1)
    rows = UmbrellaSamples(xs, CENTERS, kappa, TEMPERATURE_K)
    args = (EDGES, model.window_free_energies)
    mild = oracle_correction(rows, [offsets_ev(x, y) for x, y in zip(xs, ys, strict=True)], *args)
    rough = oracle_correction(
        rows, [offsets_ev(x, y, scale=8.0) for x, y in zip(xs, ys, strict=True)], *args
    )
    assert np.all(rough.energy_error_kj_mol > 6 * mild.energy_error_kj_mol)
    # energy errors of 2-9 kT: a fraction of the rows carry the exponential average
    assert rough.effective_fraction.max() < 0.4 and mild.effective_fraction.min() > 0.7
    assert np.nanmedian(rough.uncertainty) > 2 * np.nanmedian(mild.uncertainty)


def test_bins_without_oracle_rows_are_nan_and_bad_rows_are_named(windows):
    xs, ys = windows
    kappa = np.full(len(CENTERS), KAPPA)
    model = mbar(UmbrellaSamples(xs, CENTERS, kappa, TEMPERATURE_K), EDGES, seed=1)
    args = (EDGES, model.window_free_energies)
    left = [x[x < 0.5] for x in xs]
    deltas = [offsets_ev(x, y)[x < 0.5] for x, y in zip(xs, ys, strict=True)]
    keep = [k for k in range(len(CENTERS)) if len(left[k])]
    result = oracle_correction(
        UmbrellaSamples([left[k] for k in keep], CENTERS[keep], kappa[keep], TEMPERATURE_K),
        [deltas[k] for k in keep],
        EDGES,
        model.window_free_energies[keep],
    )
    centres = 0.5 * (EDGES[1:] + EDGES[:-1])
    assert np.all(np.isnan(result.correction[centres > 0.55]))
    assert np.all(np.isfinite(result.correction[centres < 0.4]))
    with pytest.raises(ValueError, match="differ in length"):
        oracle_correction(
            UmbrellaSamples(xs, CENTERS, kappa, TEMPERATURE_K),
            [d[:-1] for d in result_deltas(xs, ys, 1)],
            *args,
        )


def test_windows_on_a_model_give_the_oracles_pmf_through_their_oracle_rows():
    """Umbrella windows on a dimer's double well with a 0.15 eV barrier (the model), the
    oracle's well 0.11 eV high: every 10th recorded frame carries the oracle's energy
    minus the model's, exactly; the model's PMF misses the oracle's by 3.9 kJ/mol at the
    barrier, and the reweighted one lies on it within its error."""
    from ase import Atoms

    from mlpmf.analytic import DoubleWellBond, double_well_exact_pmf
    from mlpmf.colvars import Distance
    from mlpmf.dynamics import UmbrellaBias
    from mlpmf.robust import RobustOracle
    from mlpmf.settings import WindowSettings
    from mlpmf.timeseries import kept_indices
    from mlpmf.umbrella import (
        ORACLE_FORCE_COLUMN,
        ORACLE_OFFSET_COLUMN,
        WindowRecording,
        run_umbrella_windows,
    )
    from mlpmf.units import ev_to_kj_mol

    well = {"r_mid": 3.2, "half_width": 0.45}
    centers = np.linspace(2.7, 3.7, 11)
    kappa = np.full(len(centers), 150.0)  # kJ/mol/Å^2
    dimers = []
    for _ in centers:
        dimers.append(Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]]))
        dimers[-1].calc = DoubleWellBond(barrier_ev=0.15, **well)
    oracle = RobustOracle([DoubleWellBond(barrier_ev=0.11, **well)])
    series = run_umbrella_windows(
        dimers, [UmbrellaBias(Distance((0, 1)), c, k) for c, k in zip(centers, kappa, strict=True)],
        WindowSettings(10000, 500, 2.0, 0.02, record_every=2, oracle_every=20), TEMPERATURE_K,
        [np.random.default_rng(30 + k) for k in range(len(centers))],
        recording=WindowRecording(oracle=oracle),
    )  # fmt: skip
    for window in series:
        offset = window[ORACLE_OFFSET_COLUMN]
        labelled = np.isfinite(offset)
        np.testing.assert_array_equal(np.flatnonzero(labelled), np.arange(9, len(offset), 10))
        s = (window["cv"][labelled] - 3.2) / 0.45
        np.testing.assert_allclose(offset[labelled], -0.04 * (s * s - 1) ** 2, atol=1e-9)
        # the force difference, -dV/dr along the bond on each atom: RMS over 6 components
        slope = -0.16 * s * (s * s - 1) / 0.45  # eV/Å
        force_error = window[ORACLE_FORCE_COLUMN][labelled]
        np.testing.assert_allclose(force_error, np.abs(slope) / np.sqrt(3), rtol=1e-6, atol=1e-9)
    assert oracle.calls == len(centers) * 500

    cvs = [w["cv"] for w in series]
    kept = kept_indices(cvs, True, True, centers, None)
    edges = np.linspace(2.75, 3.65, 31)
    samples = [c[k] for c, k in zip(cvs, kept, strict=True)]
    model = mbar(UmbrellaSamples(samples, centers, kappa, TEMPERATURE_K), edges, seed=3)
    rows = [np.flatnonzero(np.isfinite(w[ORACLE_OFFSET_COLUMN])) for w in series]
    rows = [r[r >= k.min()] for r, k in zip(rows, kept, strict=True)]
    correction = oracle_correction(
        UmbrellaSamples(
            [c[r] for c, r in zip(cvs, rows, strict=True)], centers, kappa, TEMPERATURE_K
        ),
        [w[ORACLE_OFFSET_COLUMN][r] for w, r in zip(series, rows, strict=True)],
        edges,
        model.window_free_energies,
        seed=4,
    )
    exact = double_well_exact_pmf(model.cv, TEMPERATURE_K, 0.11, **well)
    exact_model = double_well_exact_pmf(model.cv, TEMPERATURE_K, 0.15, **well)
    assert np.ptp(exact - exact_model) == pytest.approx(ev_to_kj_mol(0.04), rel=0.01)

    def aligned(difference, error):
        return difference - np.average(difference, weights=1 / error**2)

    # the correction is the exact one, within its (block-bootstrap) error
    error = aligned(correction.correction - (exact - exact_model), correction.uncertainty)
    assert np.sqrt(np.mean(error**2)) < 0.02 * KT
    assert np.mean((error / correction.uncertainty) ** 2) < 4.0  # chi2/bin, correlated rows
    # so the reweighted PMF misses the oracle's by the model's own sampling error only,
    # where the model's PMF misses it by the 3.9 kJ/mol of the potentials' difference
    columns = correction.columns(model.free_energy, model.uncertainty)
    sampling = aligned(model.free_energy - exact_model, model.uncertainty)
    reweighted = aligned(columns["free_energy_oracle_kj_mol"] - exact, model.uncertainty)
    unmoved = aligned(model.free_energy - exact, model.uncertainty)
    assert np.sqrt(np.mean(reweighted**2)) < np.sqrt(np.mean(sampling**2)) + 0.02 * KT
    assert np.sqrt(np.mean(unmoved**2)) > 2 * np.sqrt(np.mean(reweighted**2))
    assert np.all(columns["uncertainty_oracle_kj_mol"] >= model.uncertainty)


def test_the_2d_correction_and_its_projection_follow_the_oracle():
    """Windows on a grid over (x, y), the model separable, F = f(x) + g(y); the oracle
    adds Delta = 3x - 2y + 4xy (kJ/mol). The surface's correction is Delta itself (no
    hidden coordinate), the projection's -kT ln of the y-average of exp(-Delta/kT) under
    exp(-g(y)/kT): both within their errors."""
    from mlpmf.correction import oracle_correction_2d
    from mlpmf.estimators2d import mbar_2d

    def f(x):
        return 6.0 * (x**2 - 1.0) ** 2

    def g(y):
        return 3.0 * y**2

    def delta(x, y):
        return 3.0 * x - 2.0 * y + 4.0 * x * y

    axis = np.linspace(-1.2, 1.2, 7)
    centers = np.array([(a, b) for a in axis for b in axis])
    kappas = np.full(centers.shape, 60.0)
    grid = np.linspace(-2.0, 2.0, 8001)
    rng = np.random.default_rng(21)

    def draw(potential, center, n):
        log_p = -(potential(grid) + 30.0 * (grid - center) ** 2) / KT
        cdf = np.cumsum(np.exp(log_p - log_p.max()))
        return np.interp(rng.random(n), cdf / cdf[-1], grid)

    samples = [np.column_stack([draw(f, a, 1500), draw(g, b, 1500)]) for a, b in centers]
    edges = (np.linspace(-1.0, 1.0, 11), np.linspace(-1.0, 1.0, 11))
    model = mbar_2d(
        UmbrellaSamples(samples, centers, kappas, TEMPERATURE_K), edges, bootstrap_samples=2
    )
    rows = [s[::3] for s in samples]
    offsets = [kj_mol_to_ev(delta(r[:, 0], r[:, 1])) for r in rows]
    surface, projection = oracle_correction_2d(
        UmbrellaSamples(rows, centers, kappas, TEMPERATURE_K),
        offsets,
        edges,
        model.window_free_energies,
        seed=5,
    )
    mid = [0.5 * (e[1:] + e[:-1]) for e in edges]
    x, y = np.meshgrid(*mid, indexing="ij")
    # within a bin 0.2 wide, -kT ln <exp(-Delta/kT)> differs from Delta at the centre
    # by the bin's spread of Delta: compare with the bin average by quadrature
    fine = [np.linspace(-0.1, 0.1, 41)] * 2
    u, v = np.meshgrid(*fine, indexing="ij")
    exact = np.array([
        [-KT * np.log(np.mean(np.exp(-(delta(a + u, b + v) + f(a + u) + g(b + v)) / KT))
                      / np.mean(np.exp(-(f(a + u) + g(b + v)) / KT)))
         for b in mid[1]] for a in mid[0]
    ])  # fmt: skip
    error = surface.correction.reshape(x.shape) - exact
    error -= np.nanmean(error)
    z = error / surface.uncertainty.reshape(x.shape)
    assert np.sqrt(np.nanmean(error**2)) < 0.1 * KT
    assert np.nanmean(z**2) < 2.0
    weights = np.exp(-g(grid) / KT)
    exact_projection = np.array(
        [-KT * np.log(np.sum(weights * np.exp(-delta(a, grid) / KT)) / weights.sum())
         for a in mid[0]]
    )  # fmt: skip
    error = projection.correction - exact_projection
    error -= error.mean()
    assert np.sqrt(np.mean(error**2)) < 0.05 * KT
    assert np.mean((error / projection.uncertainty) ** 2) < 3.0
