"""Diagnostics that point the user at a place: which pairs of windows overlap, and
where the two halves of a run disagree."""

import numpy as np
import pandas as pd
import pytest

from mlpmf.convergence import (
    compare_sets,
    error_scale,
    largest_half_difference_at,
    set_pmfs,
    window_sets,
)
from mlpmf.estimators import PMF, mbar
from mlpmf.estimators2d import PMF2D
from mlpmf.overlap import grid_neighbour_overlaps
from mlpmf.samples import UmbrellaSamples
from mlpmf.timeseries import kept_indices

TEMPERATURE = 300.0


def periodic_grid_samples(phi_centers, rng):
    """Windows on a (dihedral, distance) grid, each a Gaussian 12 deg wide around its
    centre (wrapped into [-180, 180)), three rows along the second CV."""
    centers = [(p, y) for p in phi_centers for y in (-0.5, 0.0, 0.5)]
    samples = []
    for p, y in centers:
        phi = (p + rng.normal(0.0, 12.0, 600) + 180.0) % 360.0 - 180.0
        samples.append(np.column_stack([phi, y + rng.normal(0.0, 0.2, 600)]))
    return np.array(centers), samples


@pytest.mark.parametrize("circle", [True, False], ids=["whole circle", "arc"])
def test_grid_overlaps_include_the_pair_across_a_periodic_seam(circle):
    phi_centers = np.linspace(-180.0, 150.0, 12) if circle else np.linspace(-60.0, 60.0, 5)
    centers, samples = periodic_grid_samples(phi_centers, np.random.default_rng(5))
    kappas = np.tile([0.0173, 25.0], (len(centers), 1))  # 12 deg and 0.2 wide
    edges = (np.linspace(-180.0, 180.0, 37), np.linspace(-1.2, 1.2, 13))
    pairs = grid_neighbour_overlaps(samples, centers, kappas, TEMPERATURE, edges, (360.0, None))
    along_phi = [(k, m, o) for k, m, o in pairs if centers[k, 1] == centers[m, 1]]
    seam = [(k, m, o) for k, m, o in along_phi if abs(centers[k, 0] - centers[m, 0]) > 180.0]
    rows = 3
    if not circle:  # the ends of an arc 120 deg apart across the seam: not neighbours
        assert not seam and len(along_phi) == rows * (len(phi_centers) - 1)
        return
    assert len(along_phi) == rows * len(phi_centers) and len(seam) == rows
    for k, _, across in seam:  # -180 and 150 lie 30 deg apart across the seam, like every
        row = [o for j, m, o in along_phi if centers[j, 1] == centers[k, 1]]  # inner pair
        inner = np.median(row)  # (rows differ: the middle one shares more with its neighbours)
        assert 0.8 * inner < across < 1.25 * inner, (centers[k], across, row)


def test_the_largest_half_difference_is_located():
    cv = np.linspace(-175.0, 175.0, 36)
    flat = np.zeros_like(cv)
    error = np.full_like(cv, 0.3)
    drifted = np.where(np.isclose(cv, 65.0), 3.0, 0.0) + 0.1 * np.sin(np.radians(cv))
    first = PMF(cv, flat, error, np.ones_like(cv), np.zeros(1))
    second = PMF(cv, drifted, error, np.ones_like(cv), np.zeros(1))
    assert largest_half_difference_at(first, second) == (65.0,)

    x, y = np.linspace(-1.0, 1.0, 5), np.linspace(0.0, 2.0, 3)
    surface = np.zeros((5, 3))
    error_2d = np.full((5, 3), 0.5)
    error_2d[1, 2] = 5.0  # the largest difference, but not the most standard errors
    bumped = surface.copy()
    bumped[1, 2], bumped[3, 0] = 4.0, 2.0
    bumped[0, 0] = np.nan  # a bin the second half never filled
    halves = [PMF2D(x, y, f, error_2d, np.ones((5, 3)), np.zeros(1), (x, y), TEMPERATURE,
                    np.empty((0, 5, 3))) for f in (surface, bumped)]  # fmt: skip
    assert largest_half_difference_at(*halves) == (0.5, 0.0)


def two_state_windows(rng, centers, kappa, steps, switch_per_step, sets):
    """Umbrella windows on x for a system with a hidden state s in {0, 1} the CV does not
    drive: in state s, x sits in a harmonic well at WELLS[s] (WELL_KJ_MOL per unit^2).
    Given s, x is drawn exactly (independent frames); s itself is a Markov chain with
    the window's stationary state weights that leaves its state with probability up to
    ``switch_per_step``: slow switching is a slow motion orthogonal to the CV."""
    kt = TEMPERATURE * 0.0083144626
    windows = []
    for _ in range(sets):
        for c in centers:
            stiffness = WELL_KJ_MOL + kappa
            means = np.array([(WELL_KJ_MOL * a + kappa * c) / stiffness for a in WELLS])
            log_w = np.array([-0.5 * WELL_KJ_MOL * kappa / stiffness * (a - c) ** 2 for a in WELLS])
            weights = np.exp((log_w - log_w.max()) / kt)
            weights /= weights.sum()
            leave = switch_per_step * weights[::-1] / weights.max()  # detailed balance
            state = np.empty(steps, dtype=int)
            state[0] = rng.random() < weights[1]
            jumps = rng.random(steps)
            for t in range(1, steps):
                previous = state[t - 1]
                state[t] = 1 - previous if jumps[t] < leave[previous] else previous
            windows.append(means[state] + rng.normal(0.0, np.sqrt(kt / stiffness), steps))
    return windows


WELLS = (-0.5, 0.5)
WELL_KJ_MOL = 100.0  # 40 kT per unit^2


@pytest.mark.parametrize(
    ("switch_per_step", "sets"), [(0.5, 2), (0.02, 4)], ids=["fast hidden state", "slow"]
)
def test_independent_sets_of_windows_scale_error_bars_to_a_hidden_slow_motion(
    switch_per_step, sets
):
    """With umbrella.repeats, the pooled PMF's error bars are the estimator's times the
    sets' scatter in standard errors (never less): where the hidden state switches
    fast, the sets agree within their errors (chi2 per bin ~1, no scaling) and the PMF
    is within its errors of the exact one; where it switches a few times per window, the
    estimator's errors (from the CV's own correlation time) understate the real error
    several fold, and the scaled errors are about right again.

    20 repeats of 11 windows x 2000 frames. Over 40 trial repeats the means per repeat
    were: fast, chi2 1.19 (sd 0.89), squared error/uncertainty 0.95 (sd 0.49); slow,
    chi2 9.1 (sd 8.0), unscaled 12 (sd 18), scaled 1.7 (sd 2.3); the bounds below lie at
    least 3 standard errors of a 20-repeat mean from those means.
    """
    kt = TEMPERATURE * 0.0083144626
    centers, kappa = np.linspace(-1.0, 1.0, 11), 150.0
    edges = np.linspace(-1.0, 1.0, 41)
    x = 0.5 * (edges[1:] + edges[:-1])
    exact = -kt * np.log(sum(np.exp(-0.5 * WELL_KJ_MOL * (x - a) ** 2 / kt) for a in WELLS))
    chi2s, unscaled, scaled = [], [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        raw = two_state_windows(rng, centers, kappa, 2000, switch_per_step, sets)
        samples = [s[k] for s, k in zip(raw, kept_indices(raw), strict=True)]
        all_centers = np.tile(centers, sets)
        kappas = np.full(len(all_centers), kappa)
        pooled = mbar(UmbrellaSamples(samples, all_centers, kappas, TEMPERATURE), edges)
        parts = window_sets(pd.DataFrame({"repeat": np.repeat(np.arange(sets), len(centers))}))
        pmfs = set_pmfs(
            mbar, UmbrellaSamples(samples, all_centers, kappas, TEMPERATURE), parts, bin_edges=edges
        )
        chi2 = compare_sets(pmfs)[0]
        filled = np.isfinite(pooled.free_energy) & (pooled.uncertainty > 0)
        error = pooled.free_energy[filled] - exact[filled]
        weights = pooled.uncertainty[filled] ** -2
        z2 = np.mean(
            ((error - np.average(error, weights=weights)) / pooled.uncertainty[filled]) ** 2
        )
        chi2s.append(chi2)
        unscaled.append(z2)
        scaled.append(z2 / error_scale(chi2) ** 2)
    if switch_per_step > 0.1:
        assert 0.5 < np.mean(chi2s) < 1.8
        assert 0.6 < np.mean(unscaled) < 1.5 and 0.6 < np.mean(scaled) < 1.5
    else:
        assert np.mean(chi2s) > 3.0
        assert np.mean(unscaled) > 2 * np.mean(scaled)  # the estimator's errors understate
        assert 0.4 < np.mean(scaled) < 3.3


def test_pooled_runs_keep_their_mean_and_widen_the_error_by_their_scatter():
    """Two runs of one profile with equal errors 0.5: pooled, the error is 0.5/sqrt(2)
    where they agree within their errors (chi2 ~ 1, 200 bins: +-0.1); offset by a
    constant, they pool to the same profile; where they scatter twice as far as their
    errors say, the pooled error doubles too (the factor sqrt(chi2) ~ 2, +-10%)."""
    from mlpmf.convergence import pool_profiles

    rng = np.random.default_rng(8)
    cv = np.linspace(-np.pi, np.pi, 200)
    truth = 10 * np.sin(cv) ** 2
    errors = np.full((2, cv.size), 0.5)
    runs = [truth + rng.normal(0, 0.5, cv.size), truth + 7.0 + rng.normal(0, 0.5, cv.size)]
    free, error, chi2 = pool_profiles(runs, errors)
    assert chi2 == pytest.approx(1.0, abs=0.25)
    assert np.nanmin(free) == 0.0
    shifted = free - truth
    assert np.std(shifted) == pytest.approx(0.5 / np.sqrt(2), rel=0.15)
    assert np.median(error) == pytest.approx(0.5 / np.sqrt(2) * max(1, np.sqrt(chi2)))
    wide = [truth + rng.normal(0, 1.0, cv.size), truth + rng.normal(0, 1.0, cv.size)]
    _, error, chi2 = pool_profiles(wide, errors)
    assert np.sqrt(chi2) == pytest.approx(2.0, rel=0.1)
    assert np.median(error) == pytest.approx(np.sqrt(chi2) * 0.5 / np.sqrt(2))
    with pytest.raises(ValueError, match="at least two"):
        pool_profiles(runs[:1], errors[:1])
