r"""The problem WHAM and MBAR solve, on samples collapsed onto points of the CV.

Both estimators solve the same convex problem (Shirts & Chodera, J. Chem. Phys. 129,
124105 (2008); Zhu & Hummer, J. Comput. Chem. 33, 453 (2012)). With reduced biases
:math:`u_k(x) = \beta\,\tfrac12\kappa_k d(x, c_k)^2`, points :math:`x` carrying weights
:math:`n_x`, and :math:`N_k` samples in window *k*, the dimensionless window free
energies :math:`f_k` minimise

.. math:: A(f) = \sum_x n_x \ln \sum_k N_k e^{f_k - u_k(x)} - \sum_k N_k f_k ,

and the unbiased probability of point *x* is :math:`p_x \propto n_x /
\sum_k N_k e^{f_k - u_k(x)}`. The PMF of bin *b* is
:math:`F_b = -k_BT \ln(\sum_{x\in b} p_x / \Delta x_b)`, shifted to a minimum of 0.

The points differ: **MBAR** (:func:`collapse_samples`) is exact per sample, but because
umbrella biases depend on the CV alone, samples can be collapsed onto a fine grid of the
CV — each occupied cell becomes one point at the mean CV of its samples, weighted by its
count — without storing the K x N matrix of pymbar. The cell width is
``grid_resolution`` times the narrowest window's width :math:`\sqrt{k_BT/\kappa}`; the
bias error this introduces is second order in the cell width, about ``grid_resolution**2
/ 12`` kT per sample (1e-5 kT at the default), far below any statistical error. **WHAM**
(:func:`bin_samples`) takes the PMF bins themselves as points, with the bias at the bin
centre. The 2D estimators (:mod:`mlpmf.estimators2d`) collapse onto a 2D grid and solve
the same problem here.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from mlpmf.colvars import periodic_difference
from mlpmf.units import kt_kj_mol

DEFAULT_GRID_RESOLUTION = 0.02
"""Grid cell width of MBAR's collapsed samples, in units of the narrowest window width."""


class ConvergenceError(RuntimeError):
    """The estimator's equations were not solved to the requested tolerance."""


@dataclass
class CollapsedSamples:
    """Umbrella samples as weighted points of the CV: what both estimators solve on."""

    points: np.ndarray  # (X,) CV value of each point
    window_counts: np.ndarray  # (K, X) samples of window k at point x
    u_kx: np.ndarray  # (K, X) reduced bias of window k at point x
    sample_points: list[np.ndarray]  # per window, the point of each of its samples

    @property
    def n_k(self) -> np.ndarray:
        return self.window_counts.sum(1)

    @property
    def point_weights(self) -> np.ndarray:
        return self.window_counts.sum(0)


def reduced_bias(x, centers, spring_constants, temperature_k, period=None) -> np.ndarray:
    """u_k(x) = 0.5 kappa_k d(x, c_k)^2 / kT, shape (K, len(x))."""
    deviation = periodic_difference(np.asarray(x)[None, :], np.asarray(centers)[:, None], period)
    return 0.5 * np.asarray(spring_constants)[:, None] * deviation**2 / kt_kj_mol(temperature_k)


def wrap(x, period, origin):
    return x if period is None else origin + np.mod(x - origin, period)


def fine_edges(bin_edges, width, low, high):
    """Cell edges that subdivide every PMF bin evenly (cells never straddle a bin edge)
    and extend with the same width over the samples outside the bins."""
    pieces = [
        np.linspace(a, b, int(np.ceil((b - a) / width)) + 1)[:-1]
        for a, b in zip(bin_edges[:-1], bin_edges[1:], strict=True)
    ]
    inner = np.concatenate([*pieces, bin_edges[-1:]])
    below = bin_edges[0] - width * np.arange(int(np.ceil((bin_edges[0] - low) / width)) + 1, 0, -1)
    above = bin_edges[-1] + width * np.arange(1, int(np.ceil((high - bin_edges[-1]) / width)) + 2)
    return np.concatenate([below, inner, above])


def collapse_samples(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature_k: float,
    bin_edges: np.ndarray | None = None,
    period: float | None = None,
    grid_resolution: float = DEFAULT_GRID_RESOLUTION,
) -> CollapsedSamples:
    """Collapse samples onto occupied cells of a fine grid aligned with ``bin_edges``
    (module docstring); without bin edges the grid starts at the smallest sample."""
    width = grid_resolution * np.sqrt(kt_kj_mol(temperature_k) / np.max(spring_constants))
    if bin_edges is None:
        bin_edges = np.array([min(np.min(s) for s in cv_samples)] * 2)
    bin_edges = np.asarray(bin_edges, dtype=float)
    wrapped = [wrap(np.asarray(s, dtype=float), period, bin_edges[0]) for s in cv_samples]
    pooled = np.concatenate(wrapped)
    edges = fine_edges(bin_edges, width, pooled.min(), pooled.max())
    cells = np.digitize(pooled, edges)
    occupied, inverse = np.unique(cells, return_inverse=True)
    sizes = np.cumsum([0] + [len(s) for s in wrapped])
    sample_points = [inverse[sizes[k] : sizes[k + 1]] for k in range(len(wrapped))]
    counts = np.array([np.bincount(p, minlength=len(occupied)) for p in sample_points], float)
    points = np.bincount(inverse, weights=pooled) / counts.sum(0)
    u_kx = reduced_bias(points, centers, spring_constants, temperature_k, period)
    return CollapsedSamples(points, counts, u_kx, sample_points)


def bin_samples(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature_k: float,
    bin_edges: np.ndarray,
    period: float | None = None,
) -> CollapsedSamples:
    """WHAM's points: the bin centres, with each window's histogram; samples outside the
    bins are dropped."""
    edges = np.asarray(bin_edges, dtype=float)
    centres = 0.5 * (edges[1:] + edges[:-1])
    sample_points = []
    for s in cv_samples:
        index = np.digitize(wrap(np.asarray(s, float), period, edges[0]), edges) - 1
        sample_points.append(index[(index >= 0) & (index < len(centres))])
    counts = np.array([np.bincount(p, minlength=len(centres)) for p in sample_points], float)
    empty = np.flatnonzero(counts.sum(1) == 0)
    if len(empty):
        raise ValueError(f"windows {empty.tolist()} have no samples inside the bins")
    u_kx = reduced_bias(centres, centers, spring_constants, temperature_k, period)
    return CollapsedSamples(centres, counts, u_kx, sample_points)


def log_denominator(f, log_n_k, u_kx):
    """ln sum_k N_k exp(f_k - u_k(x)) of every point x, shape (X,)."""
    return logsumexp(log_n_k[:, None] + f[:, None] - u_kx, axis=0)


def _initial_guess(u_kx, point_weights, n_k):
    """f_k from chaining neighbouring windows (free-energy perturbation k -> k+1)."""
    f = np.zeros(len(n_k))
    for k in range(1, len(n_k)):
        # <exp(-(u_k - u_{k-1}))>_{k-1}, with window k-1's own samples approximated by
        # the pooled points reweighted to it: cheap and only a starting point.
        log_w = np.log(np.maximum(point_weights, 1e-300)) - u_kx[k - 1]
        log_w -= logsumexp(log_w)
        f[k] = f[k - 1] - logsumexp(log_w - (u_kx[k] - u_kx[k - 1]))
    return f


def solve_free_energies(
    u_kx: np.ndarray,
    point_weights: np.ndarray,
    n_k: np.ndarray,
    initial_f: np.ndarray | None = None,
    tolerance: float = 1e-8,
    max_iterations: int = 200,
) -> np.ndarray:
    """Minimise A(f) (module docstring) by Newton's method with a backtracking line search.

    Returns f (units of kT) with f[0] = 0. Raises :class:`ConvergenceError` unless
    every component of the gradient, relative to N_k, falls below ``tolerance``.
    """
    num_windows = len(n_k)
    log_n_k = np.log(n_k)
    if initial_f is None:
        initial_f = _initial_guess(u_kx, point_weights, n_k)
    f = np.array(initial_f, dtype=float)
    f -= f[0]

    def objective(f):
        return point_weights @ log_denominator(f, log_n_k, u_kx) - n_k @ f

    value = objective(f)
    for iteration in range(max_iterations + 1):
        log_terms = log_n_k[:, None] + f[:, None] - u_kx
        p_kx = np.exp(log_terms - logsumexp(log_terms, axis=0))
        weighted = p_kx * point_weights
        gradient = weighted.sum(1) - n_k
        if np.max(np.abs(gradient) / n_k) < tolerance:
            return f
        if iteration == max_iterations:
            break
        hessian = np.diag(weighted.sum(1)) - weighted @ p_kx.T
        step = np.zeros(num_windows)
        step[1:] = -np.linalg.lstsq(hessian[1:, 1:], gradient[1:], rcond=None)[0]
        scale = 1.0
        slack = 1e-12 * abs(value)  # rounding in a sum over all samples
        while scale > 1e-8:
            candidate = f + scale * step
            candidate_value = objective(candidate)
            if candidate_value <= value + 1e-4 * scale * (gradient @ step) + slack:
                break
            scale *= 0.5
        if scale <= 1e-8:
            break
        f, value = candidate, candidate_value
    raise ConvergenceError(
        f"free energies did not converge to relative gradient {tolerance:g} "
        f"(largest {np.max(np.abs(gradient) / n_k):.3g})"
    )


def resample_counts(data: CollapsedSamples, rng) -> np.ndarray:
    """Pooled point weights after redrawing every window's samples with replacement."""
    resampled = np.zeros(len(data.points))
    for counts in data.window_counts:
        total = int(counts.sum())
        resampled += rng.multinomial(total, counts / total)
    return resampled
