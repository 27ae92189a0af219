r"""How well umbrella windows overlap: what joins them into one PMF.

- The MBAR overlap matrix :math:`O_{kl}` (Shirts & Chodera, J. Chem. Phys. 129, 124105
  (2008)), the probability that a sample drawn from window *k* is attributed to window
  *l*; neighbouring windows below :data:`OVERLAP_WARNING_THRESHOLD` are not joined
  reliably. In 2D, each window against its nearest neighbours on the grid.
- Before any solving: how much neighbouring windows' samples overlap at all (what a
  solver that does not converge needs).
"""

from collections.abc import Sequence

import numpy as np

from mlpmf.colvars import periodic_difference
from mlpmf.estimators2d import DEFAULT_GRID_RESOLUTION_2D, collapse_samples_2d
from mlpmf.solver import CollapsedSamples, collapse_samples, log_denominator, solve_free_energies

OVERLAP_WARNING_THRESHOLD = 0.03
"""Smallest acceptable MBAR overlap between neighbouring windows (pymbar's guidance)."""


def overlap_matrix(data: CollapsedSamples, window_free_energies: np.ndarray) -> np.ndarray:
    """MBAR overlap matrix O_kl = N_l sum_n W_nk W_nl (Shirts & Chodera 2008); rows sum to 1.

    O_kl is the probability that a sample drawn from window k is attributed to window
    l; a neighbouring pair with O_k,k+1 below ~0.03 is not joined reliably.
    """
    n_k = data.n_k
    log_d = log_denominator(window_free_energies, np.log(n_k), data.u_kx)
    w = np.exp(window_free_energies[:, None] - data.u_kx - log_d)
    return (w * data.point_weights) @ w.T * n_k[None, :]


def neighbour_overlaps(overlap: np.ndarray, centers: Sequence[float]) -> np.ndarray:
    """O_k,k+1 for windows taken in order of their centres, shape (K - 1,)."""
    order = np.argsort(centers)
    return overlap[order[:-1], order[1:]]


def neighbour_mbar_overlaps(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature_k: float,
    bin_edges: np.ndarray | None = None,
    period: float | None = None,
) -> np.ndarray:
    """MBAR overlap of every pair of windows adjacent in centre, shape (K - 1,)."""
    data = collapse_samples(cv_samples, centers, spring_constants, temperature_k, bin_edges, period)
    f = solve_free_energies(data.u_kx, data.point_weights, data.n_k)
    return neighbour_overlaps(overlap_matrix(data, f), centers)


def grid_neighbour_overlaps(
    samples: Sequence[np.ndarray],
    centers: np.ndarray,
    spring_constants: np.ndarray,
    temperature_k: float,
    bin_edges: tuple[np.ndarray, np.ndarray],
    periods: tuple[float | None, float | None],
) -> list[tuple[int, int, float]]:
    """2D umbrella sampling: the MBAR overlap O_kl of every pair of windows next to each
    other on the grid of centres (the same centre on one CV, the next one on the other;
    along a periodic CV whose centres go round the circle, the last and the first too),
    as (k, l, O_kl); samples and centres are (N, 2) and (K, 2) arrays."""
    data = collapse_samples_2d(samples, centers, spring_constants, temperature_k, bin_edges,
                               periods, DEFAULT_GRID_RESOLUTION_2D)  # fmt: skip
    f = solve_free_energies(data.u_kx, data.point_weights, data.n_k)
    overlap = overlap_matrix(data, f)
    centers = np.asarray(centers, float)
    pairs = []
    for d in range(2):
        for k in range(len(centers)):
            same = np.flatnonzero(np.isclose(centers[:, 1 - d], centers[k, 1 - d]))
            above = [m for m in same if centers[m, d] > centers[k, d]]
            if above:
                nearest = min(above, key=lambda m: centers[m, d])
            elif (seam := _across_the_seam(centers[same, d], periods[d])) is not None:
                nearest = same[seam]  # the last window of a row that wraps round the circle
            else:
                continue
            pairs.append((k, int(nearest), float(overlap[k, nearest])))
    return pairs


def _across_the_seam(row: np.ndarray, period: float | None) -> int | None:
    """Where the centres of one grid row (along a periodic CV) cover the whole circle, the
    index of the lowest: the neighbour of the highest across the seam. None where the CV
    is not periodic or the gap across the seam is wider than every gap inside the row (the
    windows cover an arc, and its two ends need not overlap)."""
    if period is None or len(row) < 3:
        return None
    ordered = np.sort(row)
    seam_gap = period - (ordered[-1] - ordered[0])
    if seam_gap > np.diff(ordered).max() * (1 + 1e-9):
        return None
    return int(np.argmin(row))


def neighbour_sample_overlaps(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    bins: int = 50,
    period: float | None = None,
) -> list[tuple[int, int, float]]:
    """For each pair of windows adjacent in centre, (k, l, overlap): the overlap
    coefficient sum_b min(p_k(b), p_l(b)) of their sample histograms on common bins, 0
    when no sample of one lies where the other's do (nothing joins them). On a periodic
    CV the windows form a chain round the circle, cut at the widest gap between centres
    (a chain covering part of the circle is not joined across its open side), and each
    pair is compared about its midpoint, so a pair across the seam (-180 and 165 deg)
    is a pair like any other."""
    order = list(np.argsort(centers))
    if period is not None and len(order) > 1:
        ordered = np.asarray(centers, dtype=float)[order]
        gaps = np.mod(np.diff(np.append(ordered, ordered[0] + period)), period)
        cut = int(np.argmax(gaps)) + 1  # the chain starts after the widest gap
        order = order[cut:] + order[:cut]
    pairs = []
    for k, j in zip(order[:-1], order[1:], strict=True):
        a, b = np.asarray(cv_samples[k], dtype=float), np.asarray(cv_samples[j], dtype=float)
        if period is not None:
            middle = centers[k] + 0.5 * periodic_difference(centers[j], centers[k], period)
            a, b = periodic_difference(a, middle, period), periodic_difference(b, middle, period)
        edges = np.linspace(min(a.min(), b.min()), max(a.max(), b.max()), bins + 1)
        p = np.histogram(a, edges)[0] / len(a)
        q = np.histogram(b, edges)[0] / len(b)
        pairs.append((int(k), int(j), float(np.minimum(p, q).sum())))
    return pairs
