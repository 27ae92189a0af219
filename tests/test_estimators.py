"""WHAM and MBAR against exactly known PMFs.

The exact reference of a bin is its Boltzmann average, F_b = -kT ln(<exp(-F/kT)>_b),
which is what a histogram estimates. Tolerances are statistical: with a few thousand
independent samples per window the standard error is ~0.1 kT per bin, so estimates must
be within 0.3 kT RMS; over many independent repeats the fraction of bins whose error is
within one reported standard error must be that of a normal variable, 0.68 (accepted
0.6-0.75, as the acceptance criterion states).
"""

import numpy as np
import pytest

from mlpmf.convergence import convergence_check
from mlpmf.estimators import mbar, wham
from mlpmf.overlap import neighbour_overlaps, overlap_matrix
from mlpmf.samples import UmbrellaSamples
from mlpmf.solver import ConvergenceError, collapse_samples, solve_free_energies
from mlpmf.timeseries import decorrelate, kept_indices
from mlpmf.units import kt_kj_mol

TEMPERATURE_K = 300.0
KT = kt_kj_mol(TEMPERATURE_K)
KAPPA = 300.0  # kJ/mol/Å^2
CENTERS = np.linspace(-1.6, 1.6, 17)
EDGES = np.linspace(-1.5, 1.5, 61)
GRID = np.linspace(-2.2, 2.2, 44001)


def double_well(x):
    return 12.0 * (x**2 - 1.0) ** 2  # kJ/mol, barrier 12 kJ/mol at 0


def torsion(phi_deg):
    return 8.0 * (1.0 - np.cos(np.radians(2.0 * phi_deg))) + 2.0 * np.sin(np.radians(phi_deg))


def exact_binned(pmf, edges, points=2001):
    """Boltzmann-averaged exact PMF of each bin, minimum 0."""
    values = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        x = np.linspace(a, b, points)
        values.append(-KT * np.log(np.mean(np.exp(-pmf(x) / KT))))
    values = np.array(values)
    return values - values.min()


def biased_log_density(pmf, grid, center, kappa, period=None):
    deviation = grid - center
    if period is not None:
        deviation = (deviation + 0.5 * period) % period - 0.5 * period
    return -(pmf(grid) + 0.5 * kappa * deviation**2) / KT


def exact_umbrella_samples(pmf, grid, centers, kappa, n, rng, period=None):
    """Independent samples of exp(-(F + bias)/kT) by inverse-CDF on a fine grid."""
    samples = []
    for center in centers:
        log_p = biased_log_density(pmf, grid, center, kappa, period)
        cdf = np.cumsum(np.exp(log_p - log_p.max()))
        samples.append(np.interp(rng.random(n), cdf / cdf[-1], grid))
    return samples


def normalised(free, edges):
    filled = np.isfinite(free)
    log_z = np.log(np.sum(np.exp(-free[filled] / KT) * np.diff(edges)[filled]))
    return free + KT * log_z


def normalised_errors(result, exact, edges):
    """Errors of -kT ln p_b, the quantity the uncertainties describe: estimate and exact
    PMF both normalised over the bins the estimate fills."""
    filled = np.isfinite(result.free_energy)
    exact = np.where(filled, exact, np.nan)
    error = normalised(result.free_energy, edges) - normalised(exact, edges)
    return error[filled], result.uncertainty[filled]


@pytest.fixture(scope="module")
def double_well_samples():
    rng = np.random.default_rng(1)
    return exact_umbrella_samples(double_well, GRID, CENTERS, KAPPA, 2000, rng)


@pytest.mark.parametrize("estimator", [mbar, wham])
def test_double_well_pmf_matches_exact(estimator, double_well_samples):
    kappa = np.full(len(CENTERS), KAPPA)
    result = estimator(
        UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), EDGES, seed=2
    )
    assert result.free_energy.shape == result.cv.shape == (60,)
    assert np.nanmin(result.free_energy) == 0.0
    error = result.free_energy - exact_binned(double_well, EDGES)
    assert np.sqrt(np.mean((error - error.mean()) ** 2)) < 0.3 * KT


@pytest.mark.parametrize("estimator", [mbar, wham])
def test_periodic_torsion_pmf_matches_exact(estimator):
    centers = np.linspace(-180.0, 165.0, 24)
    grid = np.linspace(-180.0, 180.0, 36001)
    rng = np.random.default_rng(3)
    samples = exact_umbrella_samples(torsion, grid, centers, 0.05, 1500, rng, period=360.0)
    kappa = np.full(len(centers), 0.05)  # kJ/mol/deg^2
    edges = np.linspace(-180.0, 180.0, 73)
    result = estimator(
        UmbrellaSamples(samples, centers, kappa, TEMPERATURE_K, 360.0), edges, seed=4
    )
    error = result.free_energy - exact_binned(torsion, edges)
    assert np.sqrt(np.mean((error - error.mean()) ** 2)) < 0.3 * KT
    # the window at -180 and the one at 165 are neighbours across the period
    data = collapse_samples(samples, centers, kappa, TEMPERATURE_K, edges, 360.0)
    overlap = overlap_matrix(data, result.window_free_energies)
    assert overlap[0, -1] > 0.05


def test_mbar_matches_pymbar_within_a_hundredth_of_kt(double_well_samples):
    from pymbar import FES

    kappa = np.full(len(CENTERS), KAPPA)
    ours = mbar(UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), EDGES)
    x = np.concatenate(double_well_samples)
    counts = np.array([len(s) for s in double_well_samples])
    u_kn = 0.5 * kappa[:, None] * (x[None, :] - CENTERS[:, None]) ** 2 / KT
    fes = FES(u_kn, counts)
    fes.generate_fes(
        np.zeros(len(x)), x, fes_type="histogram", histogram_parameters={"bin_edges": EDGES}
    )
    theirs = fes.get_fes(ours.cv, reference_point="from-lowest")["f_i"] * KT
    theirs -= theirs.min()
    np.testing.assert_allclose(ours.free_energy, theirs, atol=1e-3 * KT)
    # WHAM (bias at bin centres) agrees within its statistical error
    binned = wham(
        UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), EDGES, seed=3
    )
    difference = binned.free_energy - theirs
    difference -= difference.mean()
    assert np.mean(np.abs(difference) < 2 * binned.uncertainty) > 0.9


def coverage(results, exact, edges):
    inside = []
    for result in results:
        error, uncertainty = normalised_errors(result, exact, edges)
        inside.append(np.abs(error) < uncertainty)
    return float(np.mean(np.concatenate(inside)))


@pytest.mark.parametrize(
    "estimator, options",
    [
        (mbar, {"uncertainty": "analytical"}),
        (mbar, {"uncertainty": "bootstrap", "bootstrap_samples": 40}),
        (wham, {"bootstrap_samples": 40}),
    ],
    ids=["mbar-analytical", "mbar-bootstrap", "wham-bootstrap"],
)
def test_uncertainties_are_calibrated_over_independent_repeats(estimator, options):
    rng = np.random.default_rng(10)
    edges = np.linspace(-1.5, 1.5, 76)  # 0.04 Å bins: WHAM's bin-centre bias stays small
    kappa = np.full(len(CENTERS), KAPPA)
    results = []
    for repeat in range(50):
        samples = exact_umbrella_samples(double_well, GRID, CENTERS, KAPPA, 1000, rng)
        results.append(
            estimator(
                UmbrellaSamples(samples, CENTERS, kappa, TEMPERATURE_K),
                edges,
                seed=repeat,
                **options,
            )
        )
    assert 0.6 <= coverage(results, exact_binned(double_well, edges), edges) <= 0.75


def test_periodic_uncertainties_are_calibrated_over_independent_repeats():
    centers = np.linspace(-180.0, 165.0, 24)
    grid = np.linspace(-180.0, 180.0, 36001)
    edges = np.linspace(-180.0, 180.0, 73)
    kappa = np.full(len(centers), 0.05)
    rng = np.random.default_rng(11)
    results = []
    for _ in range(50):
        samples = exact_umbrella_samples(torsion, grid, centers, 0.05, 800, rng, period=360.0)
        results.append(mbar(UmbrellaSamples(samples, centers, kappa, TEMPERATURE_K, 360.0), edges))
    assert 0.6 <= coverage(results, exact_binned(torsion, edges), edges) <= 0.75


def brownian_umbrella_trajectories(pmf, centers, kappa, steps, repeats, rng):
    """Overdamped Langevin trajectories, all windows and repeats at once, by the
    Leimkuhler-Matthews scheme (second-order accurate in configuration)."""
    step_size = 0.05 / (kappa / KT)  # D dt in Å^2: a window relaxes in ~20 steps
    x = np.tile(centers, (repeats, 1)).astype(float)
    noise = rng.standard_normal(x.shape)
    trajectory = np.empty((steps, *x.shape))
    h = 1e-5
    for t in range(steps):
        gradient = (pmf(x + h) - pmf(x - h)) / (2 * h) + kappa * (x - centers)
        new_noise = rng.standard_normal(x.shape)
        x = x - step_size * gradient / KT + np.sqrt(step_size / 2) * (noise + new_noise)
        noise = new_noise
        trajectory[t] = x
    return trajectory


def test_error_bars_cover_exact_pmf_on_correlated_langevin_trajectories():
    rng = np.random.default_rng(20)
    repeats = 50
    trajectories = brownian_umbrella_trajectories(double_well, CENTERS, KAPPA, 8000, repeats, rng)
    kappa = np.full(len(CENTERS), KAPPA)
    results = []
    for repeat in range(repeats):
        samples = [decorrelate(trajectories[:, repeat, k]) for k in range(len(CENTERS))]
        results.append(mbar(UmbrellaSamples(samples, CENTERS, kappa, TEMPERATURE_K), EDGES))
    assert 0.6 <= coverage(results, exact_binned(double_well, EDGES), EDGES) <= 0.75


def test_empty_bins_are_nan_not_a_crash():
    samples = [np.random.default_rng(k).normal(c, 0.05, 500) for k, c in enumerate([0.0, 0.2])]
    edges = np.linspace(-0.5, 1.5, 41)
    for result in (
        mbar(UmbrellaSamples(samples, [0.0, 0.2], [1000.0, 1000.0], TEMPERATURE_K), edges),
        wham(
            UmbrellaSamples(samples, [0.0, 0.2], [1000.0, 1000.0], TEMPERATURE_K),
            edges,
            bootstrap_samples=5,
        ),
    ):
        assert np.isnan(result.free_energy[-1]) and np.isnan(result.uncertainty[-1])
        assert np.isfinite(result.free_energy[10])


def test_solver_gauge_and_self_consistency(double_well_samples):
    x = np.concatenate(double_well_samples)
    n_k = np.array([len(s) for s in double_well_samples], dtype=float)
    u_kx = 0.5 * KAPPA * (x[None, :] - CENTERS[:, None]) ** 2 / KT
    f = solve_free_energies(u_kx, np.ones_like(x), n_k)
    assert f[0] == 0.0
    # MBAR's self-consistency: f_k = -ln sum_n exp(-u_kn) / sum_l N_l exp(f_l - u_ln)
    log_denominator = np.log(np.sum(n_k[:, None] * np.exp(f[:, None] - u_kx), axis=0))
    f_again = -np.log(np.sum(np.exp(-u_kx - log_denominator), axis=1))
    np.testing.assert_allclose(f_again - f_again[0], f, atol=1e-7)


def test_solver_raises_instead_of_returning_garbage():
    u_kx = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ConvergenceError, match="did not converge"):
        solve_free_energies(u_kx, np.array([9.0, 1.0]), np.array([5.0, 5.0]), max_iterations=0)


def test_overlap_rows_sum_to_one_and_neighbours_overlap(double_well_samples):
    kappa = np.full(len(CENTERS), KAPPA)
    data = collapse_samples(double_well_samples, CENTERS, kappa, TEMPERATURE_K, EDGES)
    result = mbar(UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), EDGES)
    overlap = overlap_matrix(data, result.window_free_energies)
    np.testing.assert_allclose(overlap.sum(1), 1.0, atol=1e-8)
    neighbours = neighbour_overlaps(overlap, CENTERS)
    assert neighbours.shape == (16,) and neighbours.min() > 0.03
    far_apart = [CENTERS[0], CENTERS[0] + 3.0]
    isolated = [np.random.default_rng(k).normal(c, 0.05, 500) for k, c in enumerate(far_apart)]
    data = collapse_samples(isolated, far_apart, [KAPPA, KAPPA], TEMPERATURE_K, EDGES)
    f = solve_free_energies(data.u_kx, data.point_weights, data.n_k, initial_f=[0.0, 0.0])
    assert neighbour_overlaps(overlap_matrix(data, f), far_apart)[0] < 1e-6


def test_convergence_check_flags_drift(double_well_samples):
    kappa = np.full(len(CENTERS), KAPPA)
    _, _, drift_kt, drift_z = convergence_check(
        UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), EDGES
    )
    assert drift_kt < 1.0 and drift_z < 3.5
    drifting = [np.concatenate([s[:1000], s[1000:] + 0.15]) for s in double_well_samples]
    _, _, drift_kt, drift_z = convergence_check(
        UmbrellaSamples(drifting, CENTERS, kappa, TEMPERATURE_K), EDGES
    )
    assert drift_kt > 2.0 and drift_z > 5.0


def test_decorrelate_thins_a_correlated_series_and_drops_equilibration():
    rng = np.random.default_rng(5)
    series = np.zeros(20000)
    for t in range(1, len(series)):  # AR(1) with correlation time ~ 50 steps
        series[t] = 0.98 * series[t - 1] + rng.normal()
    kept = decorrelate(series, detect_equilibration=False)
    assert 100 < len(kept) < 600
    drifting = series.copy()
    drifting[:2000] += np.linspace(40.0, 0.0, 2000)  # relaxes from far away over 10%
    kept = decorrelate(drifting)
    assert kept.max() < 25.0
    assert 100 < len(kept) < 600


def test_a_dihedral_window_at_the_period_edge_is_decorrelated_as_its_deviation():
    # AR(1) of correlation ~50 steps and 8 deg spread about 180 deg: the recorded dihedral
    # jumps between +179 and -179, which a plain autocorrelation takes for fast noise
    rng = np.random.default_rng(6)
    deviation = np.zeros(20000)
    for t in range(1, len(deviation)):
        deviation[t] = 0.98 * deviation[t - 1] + rng.normal(scale=8.0 * np.sqrt(1 - 0.98**2))
    wrapped = (180.0 + deviation + 180.0) % 360.0 - 180.0
    periodic = kept_indices([wrapped], True, False, centers=[180.0], period=360.0)[0]
    expected = kept_indices([deviation], True, False)[0]
    np.testing.assert_array_equal(periodic, expected)
    assert 100 < len(periodic) < 600  # g ~ (1 + 0.98) / (1 - 0.98) ~ 100
    naive = kept_indices([wrapped], True, False)[0]
    assert len(naive) > 1.4 * len(periodic)  # what the estimate used to take as independent
    with pytest.raises(ValueError, match="centers"):
        kept_indices([wrapped], True, False, period=360.0)


def test_mismatched_inputs_are_named():
    with pytest.raises(ValueError, match="one entry per window"):
        mbar(UmbrellaSamples([np.zeros(3)], [0.0, 1.0], [1.0, 1.0], 300.0), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="window 1 has non-finite"):
        wham(
            UmbrellaSamples([np.zeros(3), np.array([np.nan])], [0.0, 1.0], [1.0, 1.0], 300.0),
            np.linspace(0, 1, 5),
        )


def test_statistical_inefficiency_matches_pymbar():
    from pymbar import timeseries

    from mlpmf.timeseries import statistical_inefficiency

    rng = np.random.default_rng(8)
    series = np.zeros(5000)
    for t in range(1, len(series)):
        series[t] = 0.9 * series[t - 1] + rng.normal()
    assert statistical_inefficiency(series) == pytest.approx(
        timeseries.statistical_inefficiency(series), rel=1e-9
    )


def test_reweighting_onto_an_unbiased_observable_and_in_2d():
    """F(x, y) = F1(x) + k_y/2 (y - a x)^2, windows biased along x only: the reweighted
    marginal along y and the 2D PMF must match quadrature of the exact density."""
    from mlpmf.reweighting import reweight

    rng = np.random.default_rng(30)
    k_y, slope = 40.0, 0.8
    xs = exact_umbrella_samples(double_well, GRID, CENTERS, KAPPA, 2000, rng)
    ys = [slope * x + rng.normal(scale=np.sqrt(KT / k_y), size=len(x)) for x in xs]
    kappa = np.full(len(CENTERS), KAPPA)
    y_edges = np.linspace(-1.5, 1.5, 31)
    result = reweight(UmbrellaSamples(xs, CENTERS, kappa, TEMPERATURE_K), ys, [y_edges], seed=1)

    x_grid = np.linspace(-2.2, 2.2, 4401)
    y_mid = result.centers[0]
    density = np.exp(-double_well(x_grid) / KT)[None, :] * np.exp(
        -0.5 * k_y * (y_mid[:, None] - slope * x_grid[None, :]) ** 2 / KT
    )
    exact = -KT * np.log(density.sum(1))
    error = result.free_energy - (exact - exact.min())
    well_sampled = np.isfinite(error) & (exact - exact.min() < 8 * KT)
    error = error[well_sampled] - error[well_sampled].mean()
    assert np.sqrt(np.mean(error**2)) < 0.3 * KT
    assert np.all(result.uncertainty[well_sampled] > 0)

    x_edges = np.linspace(-1.5, 1.5, 16)
    pairs = [np.column_stack([x, y]) for x, y in zip(xs, ys, strict=True)]
    two_d = reweight(
        UmbrellaSamples(xs, CENTERS, kappa, TEMPERATURE_K),
        pairs,
        [x_edges, y_edges],
        bootstrap_samples=0,
    )
    xx, yy = np.meshgrid(*two_d.centers, indexing="ij")
    exact_2d = double_well(xx) + 0.5 * k_y * (yy - slope * xx) ** 2
    populated = np.isfinite(two_d.free_energy) & (exact_2d - exact_2d.min() < 5 * KT)
    error = (two_d.free_energy - exact_2d)[populated]
    assert populated.sum() > 30
    assert np.sqrt(np.mean((error - error.mean()) ** 2)) < 0.5 * KT


def test_member_pmfs_follow_each_members_potential(double_well_samples):
    """Members differing from the mean by a tilt a_m x (kJ/mol): each member's PMF is the
    mean's plus its tilt, up to a constant (the same samples reweighted: nearly exact),
    the model band is their spread, and a strong tilt shows as lost effective samples."""
    from mlpmf.reweighting import member_pmfs
    from mlpmf.units import kj_mol_to_ev

    tilts = np.array([-1.5, 0.0, 1.5])  # kJ/mol per Å
    offsets = [kj_mol_to_ev(np.outer(s, tilts)) for s in double_well_samples]
    kappa = np.full(len(CENTERS), KAPPA)
    mean = mbar(UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), EDGES)
    result = member_pmfs(
        UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), offsets, EDGES
    )
    reused = member_pmfs(
        UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K), offsets, EDGES
    )
    np.testing.assert_allclose(reused.free_energy, result.free_energy, atol=1e-6)
    x = mean.cv
    for member, tilt in zip(result.free_energy, tilts, strict=True):
        difference = member - mean.free_energy - tilt * x
        assert np.nanstd(difference) < 0.03 * KT
    tilted = [normalised(mean.free_energy + tilt * x, EDGES) for tilt in tilts]
    np.testing.assert_allclose(result.model_uncertainty, np.std(tilted, 0, ddof=1), atol=0.05 * KT)
    assert np.all(result.effective_fraction > 0.5) and result.effective_fraction[1] == 1.0
    steep = member_pmfs(
        UmbrellaSamples(double_well_samples, CENTERS, kappa, TEMPERATURE_K),
        [50 * o for o in offsets],
        EDGES,
    )
    assert steep.effective_fraction[0] < 0.2


def test_adaptive_placement_fills_gaps_and_leaves_dense_windows_alone(double_well_samples):
    """Evenly dense windows need nothing; a gap the samples cannot cross gets a window
    midway (no MBAR possible there yet); a pair whose samples touch but overlap below
    the threshold gets one too, judged by MBAR, with the pair's mean spring constant."""
    from mlpmf.placement import windows_to_insert

    kappa = np.full(len(CENTERS), KAPPA)
    assert windows_to_insert(double_well_samples, CENTERS, kappa, TEMPERATURE_K) == []
    rng = np.random.default_rng(4)
    wide = [c for c in CENTERS if abs(c) > 0.5]  # -0.6 and 0.6: 13 widths apart
    samples = exact_umbrella_samples(double_well, GRID, wide, KAPPA, 2000, rng)
    added = windows_to_insert(samples, wide, np.full(len(wide), KAPPA), TEMPERATURE_K)
    assert [a["center"] for a in added] == pytest.approx([0.0])
    assert "no common samples" in added[0]["reason"]
    near = [c for c in CENTERS if abs(c) > 0.1]  # -0.2 and 0.2: 4.4 widths apart
    kappas = np.where(np.array(near) < 0, KAPPA, 2 * KAPPA)
    samples = [
        exact_umbrella_samples(double_well, GRID, [c], k, 2000, rng)[0]
        for c, k in zip(near, kappas, strict=True)
    ]
    added = windows_to_insert(samples, near, kappas, TEMPERATURE_K)
    assert [a["center"] for a in added] == pytest.approx([0.0])
    assert "MBAR overlap" in added[0]["reason"]
    assert added[0]["spring_constant"] == pytest.approx(1.5 * KAPPA)
