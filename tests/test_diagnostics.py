"""Diagnostics that point the user at a place: which pairs of windows overlap, and
where the two halves of a run disagree."""

import numpy as np
import pytest

from mlpmf.diagnostics import grid_neighbour_overlaps, largest_half_difference_at
from mlpmf.estimators import PMF
from mlpmf.estimators2d import PMF2D

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
