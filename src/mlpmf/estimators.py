r"""WHAM and MBAR for umbrella sampling along one collective variable.

Both estimators solve the same convex problem (Shirts & Chodera, J. Chem. Phys. 129,
124105 (2008); Zhu & Hummer, J. Comput. Chem. 33, 453 (2012)). With reduced biases
:math:`u_k(x) = \beta\,\tfrac12\kappa_k d(x, c_k)^2`, points :math:`x` carrying weights
:math:`n_x`, and :math:`N_k` samples in window *k*, the dimensionless window free
energies :math:`f_k` minimise

.. math:: A(f) = \sum_x n_x \ln \sum_k N_k e^{f_k - u_k(x)} - \sum_k N_k f_k ,

and the unbiased probability of point *x* is :math:`p_x \propto n_x /
\sum_k N_k e^{f_k - u_k(x)}`. The PMF of bin *b* is
:math:`F_b = -k_BT \ln(\sum_{x\in b} p_x / \Delta x_b)`, shifted to a minimum of 0.

The points differ: **MBAR** is exact per sample, but because umbrella biases depend on
the CV alone, samples can be collapsed onto a fine grid of the CV — each occupied cell
becomes one point at the mean CV of its samples, weighted by its count — without
storing the K x N matrix of pymbar. The cell width is ``grid_resolution`` times the
narrowest window's width :math:`\sqrt{k_BT/\kappa}`; the bias error this introduces is
second order in the cell width, about ``grid_resolution**2 / 12`` kT per sample
(1e-5 kT at the default), far below any statistical error. **WHAM** takes the PMF bins
themselves as points, with the bias at the bin centre.

Uncertainties are one standard error of each bin's free energy up to the normalisation
of the whole profile, i.e. of :math:`-k_BT \ln p_b`. Unlike errors measured from the
lowest bin (pymbar's "from-lowest"), they do not depend on which bin the noise happened
to make lowest, so they are calibrated (68% of bins within one error), and every bin,
the minimum too, has an error bar:

- ``"analytical"`` (MBAR only): the asymptotic covariance of MBAR (Kong et al. 2003;
  Shirts & Chodera 2008, appendix D) with one extra state per bin and one for all bins.
- ``"bootstrap"``: every window's samples are redrawn with replacement — a multinomial
  over its grid cells, so nothing is re-read — and the problem re-solved warm-started.

Samples must be statistically independent: pass trajectories through
:func:`mlpmf.timeseries.decorrelate` first, which also drops the equilibration it
detects. Overlap and convergence checks of an estimate are in :mod:`mlpmf.diagnostics`,
PMFs along unbiased observables in :mod:`mlpmf.reweighting`.
"""

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from mlpmf.colvars import periodic_difference
from mlpmf.units import kt_kj_mol

log = logging.getLogger(__name__)

DEFAULT_GRID_RESOLUTION = 0.02
"""Grid cell width of MBAR's collapsed samples, in units of the narrowest window width."""


class ConvergenceError(RuntimeError):
    """The estimator's equations were not solved to the requested tolerance."""


@dataclass
class PMF:
    """A potential of mean force on bins of the CV."""

    cv: np.ndarray  # (M,) bin centres, CV unit
    free_energy: np.ndarray  # (M,) kJ/mol, minimum 0; NaN where a bin is empty
    uncertainty: np.ndarray  # (M,) kJ/mol, one standard error up to normalisation
    counts: np.ndarray  # (M,) samples per bin, all windows pooled
    window_free_energies: np.ndarray  # (K,) f_k in units of kT, f_0 = 0
    bootstrap_free_energies: np.ndarray = field(
        default_factory=lambda: np.empty((0, 0))
    )  # (R, M) kJ/mol, bootstrap replicas, each zero at the PMF's minimum bin

    def to_frame(self) -> pd.DataFrame:
        """The table of DESIGN.md: cv, free_energy_kj_mol, uncertainty_kj_mol."""
        return pd.DataFrame(
            {
                "cv": self.cv,
                "free_energy_kj_mol": self.free_energy,
                "uncertainty_kj_mol": self.uncertainty,
            }
        )


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


def _wrap(x, period, origin):
    return x if period is None else origin + np.mod(x - origin, period)


def _fine_edges(bin_edges, width, low, high):
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
    wrapped = [_wrap(np.asarray(s, dtype=float), period, bin_edges[0]) for s in cv_samples]
    pooled = np.concatenate(wrapped)
    edges = _fine_edges(bin_edges, width, pooled.min(), pooled.max())
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
        index = np.digitize(_wrap(np.asarray(s, float), period, edges[0]), edges) - 1
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


def _point_log_weights(f, data: CollapsedSamples, point_weights=None):
    """ln p_x (unnormalised) of every point for the unbiased state."""
    weights = data.point_weights if point_weights is None else point_weights
    log_d = log_denominator(f, np.log(data.n_k), data.u_kx)
    with np.errstate(divide="ignore"):
        return np.log(weights) - log_d


def _binned_free_energy(log_p, points, bin_edges, period, temperature_k):
    """kJ/mol per bin (not yet shifted); NaN for empty bins."""
    bins = np.digitize(_wrap(points, period, bin_edges[0]), bin_edges) - 1
    inside = (bins >= 0) & (bins < len(bin_edges) - 1) & np.isfinite(log_p)
    if not inside.any():
        raise ValueError("no sample falls inside the bins; check the bin edges")
    shift = log_p[inside].max()
    totals = np.bincount(
        bins[inside], weights=np.exp(log_p[inside] - shift), minlength=len(bin_edges) - 1
    )
    with np.errstate(divide="ignore"):
        free = -(np.log(totals) + shift - np.log(np.diff(bin_edges))) * kt_kj_mol(temperature_k)
    return np.where(np.isfinite(free), free, np.nan)


def _normalised(free, bin_edges, temperature_k):
    """``free`` shifted so that the binned probability sum_b exp(-F_b/kT) dx_b is 1."""
    kt = kt_kj_mol(temperature_k)
    filled = np.isfinite(free)
    log_z = logsumexp(-free[filled] / kt + np.log(np.diff(bin_edges)[filled]))
    return free + kt * log_z


def _analytical_uncertainty(f, data: CollapsedSamples, bin_edges, period, temperature_k):
    """One standard error of -kT ln p_b (kJ/mol) from MBAR's asymptotic covariance.

    Each bin and the union of all bins are extra states, as in pymbar's FES; the
    variance of f_b - f_union is that of the bin's normalised log-probability.
    """
    n_k = data.n_k
    weights = data.point_weights
    log_d = log_denominator(f, np.log(n_k), data.u_kx)
    w_window = np.exp(f[:, None] - data.u_kx - log_d)  # (K, X), sum_x n_x w_kx = 1
    bins = np.digitize(_wrap(data.points, period, bin_edges[0]), bin_edges) - 1
    occupied = np.unique(bins[(bins >= 0) & (bins < len(bin_edges) - 1)])
    w_bin = np.zeros((len(occupied) + 1, len(data.points)))
    for row, inside in enumerate([bins == b for b in occupied] + [np.isin(bins, occupied)]):
        log_norm = logsumexp(np.log(weights[inside]) - log_d[inside])
        w_bin[row, inside] = np.exp(-log_d[inside] - log_norm)
    w_all = np.vstack([w_window, w_bin])
    scaled = w_all * np.sqrt(weights)
    gram = scaled @ scaled.T  # W^T W of the uncollapsed samples
    counts = np.concatenate([n_k, np.zeros(len(occupied) + 1)])
    eigenvalues, vectors = np.linalg.eigh(gram)
    sigma = np.diag(np.sqrt(np.clip(eigenvalues, 0.0, None)))
    inner = np.eye(len(counts)) - sigma @ vectors.T @ np.diag(counts) @ vectors @ sigma
    theta = vectors @ sigma @ np.linalg.pinv(inner, rcond=1e-10) @ sigma @ vectors.T
    k = len(n_k)
    variance = np.diag(theta)[k:-1] + theta[-1, -1] - 2.0 * theta[-1, k:-1]
    uncertainty = np.full(len(bin_edges) - 1, np.nan)
    uncertainty[occupied] = np.sqrt(np.clip(variance, 0.0, None)) * kt_kj_mol(temperature_k)
    return uncertainty


def _resample_counts(data: CollapsedSamples, rng) -> np.ndarray:
    """Pooled point weights after redrawing every window's samples with replacement."""
    resampled = np.zeros(len(data.points))
    for counts in data.window_counts:
        total = int(counts.sum())
        resampled += rng.multinomial(total, counts / total)
    return resampled


def estimate_pmf(
    data: CollapsedSamples,
    bin_edges: np.ndarray,
    temperature_k: float,
    period: float | None,
    uncertainty: str,
    bootstrap_samples: int,
    seed: int,
) -> PMF:
    """Solve for the window free energies on ``data`` and bin the unbiased weights."""
    bin_edges = np.asarray(bin_edges, dtype=float)
    f = solve_free_energies(data.u_kx, data.point_weights, data.n_k)
    free = _binned_free_energy(
        _point_log_weights(f, data), data.points, bin_edges, period, temperature_k
    )
    reference = int(np.nanargmin(free))
    free -= free[reference]
    rng = np.random.default_rng(seed)
    replicas = []
    for _ in range(bootstrap_samples):
        weights = _resample_counts(data, rng)
        f_star = solve_free_energies(data.u_kx, weights, data.n_k, initial_f=f)
        replica = _binned_free_energy(
            _point_log_weights(f_star, data, weights), data.points, bin_edges, period, temperature_k
        )
        replicas.append(replica - replica[reference])
    replicas = np.array(replicas).reshape(bootstrap_samples, len(free))
    if uncertainty == "analytical":
        error = _analytical_uncertainty(f, data, bin_edges, period, temperature_k)
    elif uncertainty == "bootstrap" and bootstrap_samples < 2:
        error = np.full_like(free, np.nan)  # asked for no replicas: no error bars
    elif uncertainty == "bootstrap":
        with warnings.catch_warnings():  # bins filled in fewer than two replicas
            warnings.simplefilter("ignore", RuntimeWarning)
            normalised = [_normalised(r, bin_edges, temperature_k) for r in replicas]
            error = np.nanstd(normalised, axis=0, ddof=1)
    else:
        raise ValueError(f"uncertainty: expected 'analytical' or 'bootstrap', got {uncertainty!r}")
    error[np.isnan(free)] = np.nan
    counts = np.histogram(
        _wrap(data.points, period, bin_edges[0]), bin_edges, weights=data.point_weights
    )[0]
    return PMF(0.5 * (bin_edges[1:] + bin_edges[:-1]), free, error, counts.astype(int), f, replicas)


def check_inputs(cv_samples, centers, spring_constants):
    """Raise ValueError unless there is one non-empty, finite sample array per window."""
    if not (len(cv_samples) == len(centers) == len(spring_constants)):
        raise ValueError(
            f"cv_samples, centers and spring_constants must have one entry per window; got "
            f"{len(cv_samples)}, {len(centers)}, {len(spring_constants)}"
        )
    for k, samples in enumerate(cv_samples):
        if len(samples) == 0:
            raise ValueError(f"window {k} has no samples")
        if not np.all(np.isfinite(samples)):
            raise ValueError(f"window {k} has non-finite CV samples")


def mbar(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature: float,
    bin_edges: np.ndarray,
    period: float | None = None,
    uncertainty: str = "analytical",
    bootstrap_samples: int = 0,
    seed: int = 0,
    grid_resolution: float = DEFAULT_GRID_RESOLUTION,
) -> PMF:
    """PMF by MBAR from umbrella samples.

    Parameters
    ----------
    cv_samples
        K one-dimensional arrays of independent CV samples, one per window (CV unit).
    centers
        (K,) window centres, CV unit.
    spring_constants
        (K,) kJ/mol per CV unit squared.
    temperature
        K.
    bin_edges
        (M + 1,) edges of the PMF bins, CV unit; for a periodic CV, one period.
    period
        The CV's period, or None.
    uncertainty
        ``"analytical"`` (asymptotic covariance) or ``"bootstrap"``.
    bootstrap_samples, seed
        Number and seed of bootstrap replicas (kept in the result for error propagation).
    grid_resolution
        Width of the collapsing grid in units of the narrowest window's width.
    """
    check_inputs(cv_samples, centers, spring_constants)
    data = collapse_samples(
        cv_samples, centers, spring_constants, temperature, bin_edges, period, grid_resolution
    )
    return estimate_pmf(data, bin_edges, temperature, period, uncertainty, bootstrap_samples, seed)


def wham(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature: float,
    bin_edges: np.ndarray,
    period: float | None = None,
    bootstrap_samples: int = 50,
    seed: int = 0,
) -> PMF:
    """PMF by binned WHAM; arguments as for :func:`mbar`, uncertainties by bootstrap
    (NaN with fewer than two ``bootstrap_samples``).

    The bias is evaluated at bin centres, so bins should be narrow compared with the
    width of each window's distribution, sqrt(kT / kappa). Samples outside the bins are
    ignored.
    """
    check_inputs(cv_samples, centers, spring_constants)
    data = bin_samples(cv_samples, centers, spring_constants, temperature, bin_edges, period)
    return estimate_pmf(data, bin_edges, temperature, period, "bootstrap", bootstrap_samples, seed)
