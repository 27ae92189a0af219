r"""WHAM and MBAR for umbrella sampling along one collective variable.

Both estimators solve the same convex problem (Shirts & Chodera, J. Chem. Phys. 129,
124105 (2008); Zhu & Hummer, J. Comput. Chem. 33, 453 (2012)). With reduced biases
:math:`u_k(x) = \beta\,\tfrac12\kappa_k d(x, c_k)^2`, points :math:`x` carrying weights
:math:`n_x`, and :math:`N_k` samples in window *k*, the dimensionless window free
energies :math:`f_k` minimise

.. math:: A(f) = \sum_x n_x \ln \sum_k N_k e^{f_k - u_k(x)} - \sum_k N_k f_k ,

and the unbiased probability of point *x* is :math:`p_x \propto n_x /
\sum_k N_k e^{f_k - u_k(x)}`. MBAR takes every sample as a point (:math:`n_x = 1`);
WHAM takes the bin centres, with :math:`n_x` the pooled histogram. The PMF of bin *b*
is :math:`F_b = -k_BT \ln(\sum_{x\in b} p_x / \Delta x_b)`, shifted to a minimum of 0.

Uncertainties come from a bootstrap that resamples *counts*: every window's samples are
redrawn with replacement (a multinomial over its samples or, for WHAM, its histogram),
and the problem is re-solved warm-started. Samples must be statistically independent:
pass trajectories through :func:`decorrelate` first.
"""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from mlpmf.colvars import periodic_difference
from mlpmf.units import kt_kj_mol


class ConvergenceError(RuntimeError):
    """The estimator's equations were not solved to the requested tolerance."""


@dataclass
class PMF:
    """A potential of mean force on bins of the CV."""

    cv: np.ndarray  # (M,) bin centres, CV unit
    free_energy: np.ndarray  # (M,) kJ/mol, minimum 0; NaN where a bin is empty
    uncertainty: np.ndarray  # (M,) kJ/mol, one standard error relative to the minimum
    counts: np.ndarray  # (M,) samples per bin, all windows pooled

    def to_frame(self) -> pd.DataFrame:
        """The table of DESIGN.md: cv, free_energy_kj_mol, uncertainty_kj_mol."""
        return pd.DataFrame(
            {
                "cv": self.cv,
                "free_energy_kj_mol": self.free_energy,
                "uncertainty_kj_mol": self.uncertainty,
            }
        )


def decorrelate(series: np.ndarray) -> np.ndarray:
    """Statistically independent subsample of a time series.

    Uses the statistical inefficiency g of the series (pymbar's autocorrelation
    estimate) and keeps every g-th sample.
    """
    from pymbar import timeseries

    series = np.asarray(series, dtype=float)
    if len(series) < 3 or np.ptp(series) == 0.0:
        return series
    return series[timeseries.subsample_correlated_data(series)]


def _reduced_bias(x, centers, spring_constants, temperature_k, period):
    """u_k(x), shape (K, len(x)), dimensionless."""
    deviation = periodic_difference(np.asarray(x)[None, :], np.asarray(centers)[:, None], period)
    return 0.5 * np.asarray(spring_constants)[:, None] * deviation**2 / kt_kj_mol(temperature_k)


def _log_denominator(f, log_n_k, u_kx):
    return logsumexp(log_n_k[:, None] + f[:, None] - u_kx, axis=0)


def solve_free_energies(
    u_kx: np.ndarray,
    point_weights: np.ndarray,
    n_k: np.ndarray,
    initial_f: np.ndarray | None = None,
    tolerance: float = 1e-8,
    max_iterations: int = 200,
) -> np.ndarray:
    """Minimise A(f) (module docstring) by Newton's method with a backtracking line search.

    Returns f with f[0] = 0. Raises :class:`ConvergenceError` unless every component
    of the gradient, relative to N_k, falls below ``tolerance``.
    """
    num_windows = len(n_k)
    log_n_k = np.log(n_k)
    f = np.zeros(num_windows) if initial_f is None else np.array(initial_f, dtype=float)
    f -= f[0]

    def objective(f):
        return point_weights @ _log_denominator(f, log_n_k, u_kx) - n_k @ f

    value = objective(f)
    for _ in range(max_iterations):
        log_terms = log_n_k[:, None] + f[:, None] - u_kx
        p_kx = np.exp(log_terms - logsumexp(log_terms, axis=0))
        weighted = p_kx * point_weights
        gradient = weighted.sum(1) - n_k
        if np.max(np.abs(gradient) / n_k) < tolerance:
            return f
        hessian = np.diag(weighted.sum(1)) - weighted @ p_kx.T
        step = np.zeros(num_windows)
        step[1:] = -np.linalg.lstsq(hessian[1:, 1:], gradient[1:], rcond=None)[0]
        scale = 1.0
        while scale > 1e-8:
            candidate = f + scale * step
            candidate_value = objective(candidate)
            # Armijo condition, with slack for rounding in a sum over all samples
            slack = 1e-12 * abs(value)
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


def _binned_free_energy(f, u_kx, point_weights, n_k, x, bin_edges, temperature_k):
    log_p = np.log(np.where(point_weights > 0, point_weights, 1.0)) - _log_denominator(
        f, np.log(n_k), u_kx
    )
    log_p = np.where(point_weights > 0, log_p, -np.inf)
    bins = np.digitize(x, bin_edges) - 1
    inside = (bins >= 0) & (bins < len(bin_edges) - 1) & np.isfinite(log_p)
    shift = log_p[inside].max()
    totals = np.bincount(
        bins[inside], weights=np.exp(log_p[inside] - shift), minlength=len(bin_edges) - 1
    )
    with np.errstate(divide="ignore"):
        log_bin = np.log(totals) + shift
    with np.errstate(divide="ignore"):
        free = -(log_bin - np.log(np.diff(bin_edges))) * kt_kj_mol(temperature_k)
    return np.where(np.isfinite(free), free, np.nan)


def _estimate(
    x,
    u_kx,
    point_windows,
    point_weights,
    n_k,
    bin_edges,
    temperature_k,
    bootstrap_samples,
    seed,
):
    f = solve_free_energies(u_kx, point_weights, n_k)
    free = _binned_free_energy(f, u_kx, point_weights, n_k, x, bin_edges, temperature_k)
    filled = np.isfinite(free)
    if not filled.any():
        raise ValueError("no sample falls inside the bins; check free_energy.bins")
    reference = int(np.nanargmin(free))
    free -= free[reference]
    rng = np.random.default_rng(seed)
    replicas = []
    for _ in range(bootstrap_samples):
        resampled = np.zeros_like(point_weights)
        for k in range(len(n_k)):
            mine = point_windows == k
            probabilities = point_weights[mine] / point_weights[mine].sum()
            resampled[mine] = rng.multinomial(int(n_k[k]), probabilities)
        f_star = solve_free_energies(u_kx, resampled, n_k, initial_f=f)
        replica = _binned_free_energy(f_star, u_kx, resampled, n_k, x, bin_edges, temperature_k)
        replicas.append(replica - replica[reference])
    if replicas:
        with warnings.catch_warnings():  # bins filled in fewer than two replicas
            warnings.simplefilter("ignore", RuntimeWarning)
            uncertainty = np.nanstd(np.array(replicas), axis=0, ddof=1)
    else:
        uncertainty = np.full_like(free, np.nan)
    uncertainty[~filled] = np.nan
    return free, uncertainty


def _check_inputs(cv_samples, centers, spring_constants):
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
    bootstrap_samples: int = 50,
    seed: int = 0,
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
        (M + 1,) edges of the PMF bins, CV unit.
    period
        The CV's period, or None.
    bootstrap_samples, seed
        Size and seed of the bootstrap for the uncertainty.
    """
    _check_inputs(cv_samples, centers, spring_constants)
    x = np.concatenate([np.asarray(s, dtype=float) for s in cv_samples])
    n_k = np.array([len(s) for s in cv_samples], dtype=float)
    windows = np.repeat(np.arange(len(cv_samples)), n_k.astype(int))
    u_kx = _reduced_bias(x, centers, spring_constants, temperature, period)
    free, uncertainty = _estimate(
        x, u_kx, windows, np.ones_like(x), n_k, bin_edges, temperature, bootstrap_samples, seed
    )
    counts = np.histogram(x, bin_edges)[0]
    return PMF(0.5 * (bin_edges[1:] + bin_edges[:-1]), free, uncertainty, counts)


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
    """PMF by binned WHAM from umbrella samples; arguments as for :func:`mbar`.

    The bias is evaluated at bin centres, so bins should be narrow compared with the
    width of each window's distribution, sqrt(kT / kappa). Samples outside the bins are
    ignored.
    """
    _check_inputs(cv_samples, centers, spring_constants)
    bin_edges = np.asarray(bin_edges, dtype=float)
    centres = 0.5 * (bin_edges[1:] + bin_edges[:-1])
    num_bins = len(centres)
    histograms = np.array([np.histogram(s, bin_edges)[0] for s in cv_samples], dtype=float)
    n_k = histograms.sum(1)
    if np.any(n_k == 0):
        empty = np.flatnonzero(n_k == 0).tolist()
        raise ValueError(f"windows {empty} have no samples inside the bins")
    # One point per (window, bin): same equations, and the bootstrap redraws each
    # window's histogram. Points of one bin share its centre, so pooling is exact.
    x = np.tile(centres, len(cv_samples))
    windows = np.repeat(np.arange(len(cv_samples)), num_bins)
    u_kx = _reduced_bias(x, centers, spring_constants, temperature, period)
    free, uncertainty = _estimate(
        x,
        u_kx,
        windows,
        histograms.ravel(),
        n_k,
        bin_edges,
        temperature,
        bootstrap_samples,
        seed,
    )
    return PMF(centres, free, uncertainty, histograms.sum(0).astype(int))
