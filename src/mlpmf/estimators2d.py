r"""MBAR and WHAM for umbrella sampling on two collective variables at once.

The one-dimensional estimators of :mod:`mlpmf.estimators` carry over unchanged: with
window biases :math:`u_k(x, y) = \beta[\tfrac12\kappa_{k,1} d_1^2 + \tfrac12\kappa_{k,2}
d_2^2]` the window free energies solve the same convex problem
(:func:`~mlpmf.solver.solve_free_energies`), and the unbiased probability of a
point is :math:`p \propto n / \sum_k N_k e^{f_k - u_k}`. What changes is the points:

- **MBAR** collapses the samples onto the occupied cells of a fine 2D grid (cell widths
  ``grid_resolution`` times each dimension's narrowest window width, cells never
  straddling a bin edge), each cell a point at the mean of its samples. Memory goes
  with the occupied cells times the windows, never with the samples: 400 windows of
  10^5 samples stay within a few hundred MB at the default resolution (0.1; the bias
  error this leaves is about ``grid_resolution**2 / 12`` kT per dimension, 1e-3 kT).
- **WHAM** takes the 2D bin centres as points (Grossfield's ``wham-2d``).

Uncertainties are bootstrap standard errors (every window's cell counts redrawn from a
multinomial, the problem re-solved warm-started) of each bin's :math:`-k_BT \ln p_b`,
normalised over the filled bins, as in 1D. The result gives the 1D projections (with
errors from the same replicas) and the barrier of the minimum free-energy path between
two basins: the lowest col over which any path of neighbouring bins leads from one to
the other (the minimax path), with its bootstrap error.
"""

import heapq
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from mlpmf.colvars import periodic_difference
from mlpmf.samples import UmbrellaSamples
from mlpmf.solver import (
    CollapsedSamples,
    fine_edges,
    resample_counts,
    solve_free_energies,
    wrap,
)
from mlpmf.units import kt_kj_mol

DEFAULT_GRID_RESOLUTION_2D = 0.1
"""Cell width of 2D MBAR's collapsing grid, in units of the narrowest window width."""

Periods = tuple[float | None, float | None]


@dataclass
class PMF2D:
    """A potential of mean force on a grid of bins of two CVs."""

    x: np.ndarray  # (Mx,) bin centres along the first CV
    y: np.ndarray  # (My,) along the second
    free_energy: np.ndarray  # (Mx, My) kJ/mol, minimum 0; NaN where a bin is empty
    uncertainty: np.ndarray  # (Mx, My) kJ/mol, one standard error up to normalisation
    counts: np.ndarray  # (Mx, My) samples per bin, all windows pooled
    window_free_energies: np.ndarray  # (K,) f_k in units of kT, f_0 = 0
    bin_edges: tuple[np.ndarray, np.ndarray]
    temperature_k: float
    replicas: np.ndarray  # (R, Mx, My) bootstrap replicas, kJ/mol

    def to_frame(self) -> pd.DataFrame:
        """One row per bin: cv_1, cv_2, free_energy_kj_mol, uncertainty_kj_mol, counts."""
        grid_x, grid_y = np.meshgrid(self.x, self.y, indexing="ij")
        return pd.DataFrame({
            "cv_1": grid_x.ravel(), "cv_2": grid_y.ravel(),
            "free_energy_kj_mol": self.free_energy.ravel(),
            "uncertainty_kj_mol": self.uncertainty.ravel(), "counts": self.counts.ravel(),
        })  # fmt: skip

    def projection(self, axis: int) -> pd.DataFrame:
        """The 1D PMF along CV ``axis`` (0 or 1), the other integrated out:
        F(x) = -kT ln sum_y exp(-F(x, y) / kT) dy; errors from the bootstrap replicas."""
        free = _project(self.free_energy, self.bin_edges, axis, self.temperature_k)
        errors = np.full_like(free, np.nan)
        if len(self.replicas) > 1:
            projected = [_project(r, self.bin_edges, axis, self.temperature_k)
                         for r in self.replicas]  # fmt: skip
            widths = np.diff(self.bin_edges[axis])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                normalised = [_normalise(p, widths, self.temperature_k) for p in projected]
                errors = np.nanstd(normalised, axis=0, ddof=1)
        shift = np.nanmin(free)
        centres = self.x if axis == 0 else self.y
        return pd.DataFrame({"cv": centres, "free_energy_kj_mol": free - shift,
                             "uncertainty_kj_mol": errors})  # fmt: skip

    def projected_replicas(self, axis: int) -> np.ndarray:
        """The bootstrap replicas of :meth:`projection`, each shifted to minimum 0,
        shape (R, bins along ``axis``)."""
        projected = [_project(r, self.bin_edges, axis, self.temperature_k) for r in self.replicas]
        projected = np.array(projected).reshape(len(self.replicas), len(self.bin_edges[axis]) - 1)
        with warnings.catch_warnings():  # a replica with no filled bin
            warnings.simplefilter("ignore", RuntimeWarning)
            return projected - np.nanmin(projected, axis=1, keepdims=True)

    def lowest_bin_between(self, low: float, high: float, period: float | None = None):
        """(x, y) of the lowest filled bin whose first CV lies in [low, high] (a basin
        given as a range of the first CV, as rates.reactant), or None when none is."""
        x = wrap(self.x, period, low)
        inside = (x >= low) & (x <= high)
        free = np.where(inside[:, None], self.free_energy, np.nan)
        if not np.isfinite(free).any():
            return None
        i, j = np.unravel_index(np.nanargmin(free), free.shape)
        return round(float(self.x[i]), 12), round(float(self.y[j]), 12)  # no 0.5499999...

    def path_barrier(self, start: Sequence[float], end: Sequence[float]) -> tuple[float, float]:
        """Barrier (kJ/mol) of the minimum free-energy path from the bin holding
        ``start`` to the bin holding ``end``: the lowest col any path of neighbouring
        filled bins must cross, above ``start``'s bin; and its bootstrap error."""
        a, b = self._bin_of(start), self._bin_of(end)
        barrier = minimax_height(self.free_energy, a, b) - self.free_energy[a]
        samples = [minimax_height(r, a, b) - r[a] for r in self.replicas if np.isfinite(r[a])]
        error = float(np.std(samples, ddof=1)) if len(samples) > 1 else float("nan")
        return float(barrier), error

    def _bin_of(self, point: Sequence[float]) -> tuple[int, int]:
        index = tuple(
            int(np.clip(np.searchsorted(edges, value) - 1, 0, len(edges) - 2))
            for edges, value in zip(self.bin_edges, point, strict=True)
        )
        if not np.isfinite(self.free_energy[index]):
            raise ValueError(f"no samples in the bin of {tuple(point)}")
        return index


def _normalise(free: np.ndarray, areas: np.ndarray, temperature_k: float) -> np.ndarray:
    kt = kt_kj_mol(temperature_k)
    filled = np.isfinite(free)
    return free + kt * logsumexp(-free[filled] / kt + np.log(areas[filled]))


def _project(free, bin_edges, axis, temperature_k):
    kt = kt_kj_mol(temperature_k)
    other = np.diff(bin_edges[1 - axis])
    log_terms = -np.where(np.isfinite(free), free, np.inf) / kt
    log_terms = log_terms + (np.log(other)[None, :] if axis == 0 else np.log(other)[:, None])
    with np.errstate(divide="ignore"):
        projected = -kt * logsumexp(log_terms, axis=1 - axis)
    return np.where(np.isfinite(projected), projected, np.nan)


def minimax_height(free: np.ndarray, start, end) -> float:
    """The smallest possible largest F on a path of 4-neighbour filled bins from
    ``start`` to ``end`` (a bottleneck shortest path, Dijkstra with max for +)."""
    best = np.full(free.shape, np.inf)
    best[start] = free[start]
    queue = [(free[start], start)]
    while queue:
        height, (i, j) = heapq.heappop(queue)
        if (i, j) == end:
            return float(height)
        if height > best[i, j]:
            continue
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            ni, nj = i + di, j + dj
            if 0 <= ni < free.shape[0] and 0 <= nj < free.shape[1] and np.isfinite(free[ni, nj]):
                candidate = max(height, free[ni, nj])
                if candidate < best[ni, nj]:
                    best[ni, nj] = candidate
                    heapq.heappush(queue, (candidate, (ni, nj)))
    return float("nan")  # the two bins are not connected through filled bins


def reduced_bias_2d(points, centers, spring_constants, temperature_k, periods: Periods):
    """u_k(x) = 0.5 sum_d kappa_kd d_d(x, c_kd)^2 / kT, shape (K, len(points))."""
    points, centers = np.asarray(points, float), np.asarray(centers, float)
    kappas = np.asarray(spring_constants, float)
    total = np.zeros((len(centers), len(points)))
    for d in range(2):
        deviation = periodic_difference(points[None, :, d], centers[:, d, None], periods[d])
        total += 0.5 * kappas[:, d, None] * deviation**2
    return total / kt_kj_mol(temperature_k)


def _check_inputs(samples, centers, spring_constants):
    if not (len(samples) == len(centers) == len(spring_constants)):
        raise ValueError(
            "samples, centers and spring_constants must have one entry per window; got "
            f"{len(samples)}, {len(centers)}, {len(spring_constants)}"
        )
    for k, window in enumerate(samples):
        window = np.asarray(window)
        if window.ndim != 2 or window.shape[1] != 2 or len(window) == 0:
            raise ValueError(f"window {k}: expected samples of shape (N, 2), got {window.shape}")
        if not np.all(np.isfinite(window)):
            raise ValueError(f"window {k} has non-finite CV samples")


def _cells(samples, bin_edges, periods, widths) -> tuple[list, np.ndarray, np.ndarray]:
    """Per window the cell of each sample; the pooled, wrapped samples; cell index."""
    wrapped = [
        np.column_stack([wrap(np.asarray(s, float)[:, d], periods[d], bin_edges[d][0])
                         for d in range(2)])
        for s in samples
    ]  # fmt: skip
    pooled = np.concatenate(wrapped)
    index = np.zeros(len(pooled), dtype=np.int64)
    for d in range(2):
        edges = fine_edges(bin_edges[d], widths[d], pooled[:, d].min(), pooled[:, d].max())
        index = index * (len(edges) + 1) + np.digitize(pooled[:, d], edges)
    return wrapped, pooled, index


def collapse_samples_2d(samples, centers, spring_constants, temperature_k, bin_edges,
                        periods: Periods, grid_resolution: float) -> CollapsedSamples:  # fmt: skip
    """MBAR's points in 2D: occupied cells of a fine grid, at their samples' mean."""
    kappas = np.asarray(spring_constants, float)
    widths = grid_resolution * np.sqrt(kt_kj_mol(temperature_k) / kappas.max(0))
    wrapped, pooled, index = _cells(samples, bin_edges, periods, widths)
    occupied, inverse = np.unique(index, return_inverse=True)
    sizes = np.cumsum([0] + [len(s) for s in wrapped])
    sample_points = [inverse[sizes[k] : sizes[k + 1]] for k in range(len(wrapped))]
    counts = np.array([np.bincount(p, minlength=len(occupied)) for p in sample_points], float)
    totals = counts.sum(0)
    points = np.column_stack(
        [np.bincount(inverse, weights=pooled[:, d]) / totals for d in range(2)]
    )
    u_kx = reduced_bias_2d(points, centers, kappas, temperature_k, periods)
    return CollapsedSamples(points, counts, u_kx, sample_points)


def bin_index_2d(points, bin_edges, periods):
    """Flat 2D bin of every point (row-major over the bins) and whether it is inside."""
    shape = (len(bin_edges[0]) - 1, len(bin_edges[1]) - 1)
    idx = [np.digitize(wrap(points[:, d], periods[d], bin_edges[d][0]), bin_edges[d]) - 1
           for d in range(2)]  # fmt: skip
    inside = (idx[0] >= 0) & (idx[0] < shape[0]) & (idx[1] >= 0) & (idx[1] < shape[1])
    return idx[0] * shape[1] + idx[1], inside


def bin_samples_2d(samples, centers, spring_constants, temperature_k, bin_edges,
                   periods: Periods) -> CollapsedSamples:  # fmt: skip
    """WHAM's points in 2D: the bin centres, with each window's 2D histogram; samples
    outside the bins are dropped."""
    shape = (len(bin_edges[0]) - 1, len(bin_edges[1]) - 1)
    sample_points = []
    for s in samples:
        flat, inside = bin_index_2d(np.asarray(s, float), bin_edges, periods)
        sample_points.append(flat[inside])
    size = shape[0] * shape[1]
    counts = np.array([np.bincount(p, minlength=size) for p in sample_points], float)
    if np.any(counts.sum(1) == 0):
        raise ValueError(f"windows {np.flatnonzero(counts.sum(1) == 0).tolist()} have no "
                         "samples inside the bins")  # fmt: skip
    centres = [0.5 * (e[1:] + e[:-1]) for e in bin_edges]
    grid = np.column_stack([g.ravel() for g in np.meshgrid(*centres, indexing="ij")])
    u_kx = reduced_bias_2d(grid, centers, spring_constants, temperature_k, periods)
    return CollapsedSamples(grid, counts, u_kx, sample_points)


def _binned(f, data: CollapsedSamples, weights, bin_edges, periods, temperature_k):
    """kJ/mol per 2D bin (not yet shifted); NaN for empty bins."""
    shape = (len(bin_edges[0]) - 1, len(bin_edges[1]) - 1)
    log_d = logsumexp(np.log(data.n_k)[:, None] + f[:, None] - data.u_kx, axis=0)
    with np.errstate(divide="ignore"):
        log_p = np.log(weights) - log_d
    flat, inside = bin_index_2d(data.points, bin_edges, periods)
    inside &= np.isfinite(log_p)
    shift = log_p[inside].max()
    totals = np.bincount(
        flat[inside], weights=np.exp(log_p[inside] - shift), minlength=shape[0] * shape[1]
    )
    areas = np.outer(np.diff(bin_edges[0]), np.diff(bin_edges[1]))
    with np.errstate(divide="ignore"):
        free = -(np.log(totals.reshape(shape)) + shift - np.log(areas)) * kt_kj_mol(temperature_k)
    return np.where(np.isfinite(free), free, np.nan)


def _estimate(data, bin_edges, periods, temperature_k, bootstrap_samples, seed) -> PMF2D:
    bin_edges = tuple(np.asarray(e, float) for e in bin_edges)
    f = solve_free_energies(data.u_kx, data.point_weights, data.n_k)
    free = _binned(f, data, data.point_weights, bin_edges, periods, temperature_k)
    free -= np.nanmin(free)
    areas = np.outer(np.diff(bin_edges[0]), np.diff(bin_edges[1]))
    rng = np.random.default_rng(seed)
    replicas = []
    for _ in range(bootstrap_samples):
        weights = resample_counts(data, rng)
        f_star = solve_free_energies(data.u_kx, weights, data.n_k, initial_f=f)
        replica = _binned(f_star, data, weights, bin_edges, periods, temperature_k)
        replicas.append(replica - np.nanmin(replica))
    replicas = np.array(replicas).reshape(bootstrap_samples, *free.shape)
    error = np.full_like(free, np.nan)
    if bootstrap_samples > 1:
        with warnings.catch_warnings():  # bins filled in fewer than two replicas
            warnings.simplefilter("ignore", RuntimeWarning)
            normalised = [_normalise(r, areas, temperature_k) for r in replicas]
            error = np.nanstd(normalised, axis=0, ddof=1)
        error[np.isnan(free)] = np.nan
    flat, inside = bin_index_2d(data.points, bin_edges, periods)
    counts = np.bincount(flat[inside], weights=data.point_weights[inside], minlength=free.size)
    centres = [0.5 * (e[1:] + e[:-1]) for e in bin_edges]
    return PMF2D(centres[0], centres[1], free, error, counts.reshape(free.shape).astype(int), f,
                 bin_edges, temperature_k, replicas)  # fmt: skip


def mbar_2d(
    windows: UmbrellaSamples,
    bin_edges: tuple[np.ndarray, np.ndarray],
    bootstrap_samples: int = 50,
    seed: int = 0,
    grid_resolution: float = DEFAULT_GRID_RESOLUTION_2D,
) -> PMF2D:
    """2D PMF by MBAR. ``windows``: K arrays (N_k, 2) of independent samples of the two
    CVs, centres and spring constants (kJ/mol per CV unit squared) (K, 2), each CV's
    period or None (:class:`~mlpmf.samples.UmbrellaSamples`); ``bin_edges``: the edges
    along each CV (one period for a periodic CV). Errors by ``bootstrap_samples``
    replicas."""
    samples, centers, spring_constants = windows.x_kn, windows.centers_k, windows.kappas_k
    temperature, periods = windows.temperature, windows.periods
    _check_inputs(samples, centers, spring_constants)
    data = collapse_samples_2d(samples, centers, spring_constants, temperature, bin_edges,
                               periods, grid_resolution)  # fmt: skip
    return _estimate(data, bin_edges, periods, temperature, bootstrap_samples, seed)


def wham_2d(
    windows: UmbrellaSamples,
    bin_edges: tuple[np.ndarray, np.ndarray],
    bootstrap_samples: int = 50,
    seed: int = 0,
) -> PMF2D:
    """2D PMF by binned WHAM (bias at the bin centres); arguments as :func:`mbar_2d`."""
    samples, centers, spring_constants = windows.x_kn, windows.centers_k, windows.kappas_k
    temperature, periods = windows.temperature, windows.periods
    _check_inputs(samples, centers, spring_constants)
    data = bin_samples_2d(samples, centers, spring_constants, temperature, bin_edges, periods)
    return _estimate(data, bin_edges, periods, temperature, bootstrap_samples, seed)
