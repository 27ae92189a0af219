r"""WHAM and MBAR PMFs for umbrella sampling along one collective variable.

Both estimators solve the convex problem of :mod:`mlpmf.solver` (MBAR on samples
collapsed onto a fine grid of the CV, WHAM on the PMF bins) and bin the unbiased
weights: :math:`F_b = -k_BT \ln(\sum_{x\in b} p_x / \Delta x_b)`, shifted to 0 at the
lowest well-sampled bin (:func:`zero_bin`: a bin with a sample or two has a free energy
that noise alone can put far below the rest).

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
detects. Overlap and convergence checks of an estimate are in :mod:`mlpmf.overlap` and
:mod:`mlpmf.convergence`, PMFs along unbiased observables in :mod:`mlpmf.reweighting`.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from mlpmf.samples import UmbrellaSamples
from mlpmf.solver import (
    DEFAULT_GRID_RESOLUTION,
    CollapsedSamples,
    ConvergenceError,
    bin_samples,
    collapse_samples,
    log_denominator,
    resample_counts,
    solve_free_energies,
    wrap,
)
from mlpmf.units import kt_kj_mol

__all__ = ["PMF", "ConvergenceError", "check_inputs", "estimate_pmf", "mbar", "wham"]


@dataclass
class PMF:
    """A potential of mean force on bins of the CV."""

    cv: np.ndarray  # (M,) bin centres, CV unit
    free_energy: np.ndarray  # (M,) kJ/mol, 0 at zero_bin; NaN where a bin is empty
    uncertainty: np.ndarray  # (M,) kJ/mol, one standard error up to normalisation
    counts: np.ndarray  # (M,) samples per bin, all windows pooled
    window_free_energies: np.ndarray  # (K,) f_k in units of kT, f_0 = 0
    bootstrap_free_energies: np.ndarray = field(
        default_factory=lambda: np.empty((0, 0))
    )  # (R, M) kJ/mol, bootstrap replicas, each zero at zero_bin
    zero_bin: int = 0  # the bin whose free energy is 0 (zero_bin())

    def to_frame(self) -> pd.DataFrame:
        """The PMF table every stage writes: cv, free_energy_kj_mol, uncertainty_kj_mol."""
        return pd.DataFrame(
            {
                "cv": self.cv,
                "free_energy_kj_mol": self.free_energy,
                "uncertainty_kj_mol": self.uncertainty,
            }
        )


ZERO_MIN_SAMPLES = 10  # a bin the zero may sit on holds at least this many samples ...
ZERO_MIN_FRACTION = 0.1  # ... and this fraction of the median filled bin's


def zero_bin(free_energy: np.ndarray, counts: np.ndarray) -> int:
    """The bin a PMF's zero goes on: the lowest of the well-sampled bins (at least
    ZERO_MIN_SAMPLES samples and ZERO_MIN_FRACTION of the median filled bin's), the
    lowest filled bin where none is."""
    filled = np.isfinite(free_energy)
    threshold = max(ZERO_MIN_SAMPLES, ZERO_MIN_FRACTION * np.median(counts[filled]))
    candidates = np.flatnonzero(filled & (counts >= threshold))
    if not len(candidates):
        candidates = np.flatnonzero(filled)
    return int(candidates[np.argmin(free_energy[candidates])])


def _point_log_weights(f, data: CollapsedSamples, point_weights=None):
    """ln p_x (unnormalised) of every point for the unbiased state."""
    weights = data.point_weights if point_weights is None else point_weights
    log_d = log_denominator(f, np.log(data.n_k), data.u_kx)
    with np.errstate(divide="ignore"):
        return np.log(weights) - log_d


def _binned_free_energy(log_p, points, bin_edges, period, temperature_k):
    """kJ/mol per bin (not yet shifted); NaN for empty bins."""
    bins = np.digitize(wrap(points, period, bin_edges[0]), bin_edges) - 1
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
    bins = np.digitize(wrap(data.points, period, bin_edges[0]), bin_edges) - 1
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
    counts = np.histogram(
        wrap(data.points, period, bin_edges[0]), bin_edges, weights=data.point_weights
    )[0]
    reference = zero_bin(free, counts)
    free -= free[reference]
    rng = np.random.default_rng(seed)
    replicas = []
    for _ in range(bootstrap_samples):
        weights = resample_counts(data, rng)
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
    centres = 0.5 * (bin_edges[1:] + bin_edges[:-1])
    return PMF(centres, free, error, counts.astype(int), f, replicas, reference)


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
    samples: UmbrellaSamples,
    bin_edges: np.ndarray,
    uncertainty: str = "analytical",
    bootstrap_samples: int = 0,
    seed: int = 0,
    grid_resolution: float = DEFAULT_GRID_RESOLUTION,
) -> PMF:
    """PMF by MBAR from umbrella samples.

    Parameters
    ----------
    samples
        The windows (:class:`~mlpmf.samples.UmbrellaSamples`): K one-dimensional arrays
        of independent CV samples (CV unit), centres (CV unit), spring constants (kJ/mol
        per CV unit squared), the temperature (K) and the CV's period (or None).
    bin_edges
        (M + 1,) edges of the PMF bins, CV unit; for a periodic CV, one period.
    uncertainty
        ``"analytical"`` (asymptotic covariance) or ``"bootstrap"``.
    bootstrap_samples, seed
        Number and seed of bootstrap replicas (kept in the result for error propagation).
    grid_resolution
        Width of the collapsing grid in units of the narrowest window's width.
    """
    cv_samples, centers, spring_constants = samples.x_kn, samples.centers_k, samples.kappas_k
    temperature, period = samples.temperature, samples.period
    check_inputs(cv_samples, centers, spring_constants)
    data = collapse_samples(
        cv_samples, centers, spring_constants, temperature, bin_edges, period, grid_resolution
    )
    return estimate_pmf(data, bin_edges, temperature, period, uncertainty, bootstrap_samples, seed)


def wham(
    samples: UmbrellaSamples,
    bin_edges: np.ndarray,
    bootstrap_samples: int = 50,
    seed: int = 0,
) -> PMF:
    """PMF by binned WHAM; arguments as for :func:`mbar`, uncertainties by bootstrap
    (NaN with fewer than two ``bootstrap_samples``).

    The bias is evaluated at bin centres, so bins should be narrow compared with the
    width of each window's distribution, sqrt(kT / kappa). Samples outside the bins are
    ignored.
    """
    cv_samples, centers, spring_constants = samples.x_kn, samples.centers_k, samples.kappas_k
    temperature, period = samples.temperature, samples.period
    check_inputs(cv_samples, centers, spring_constants)
    data = bin_samples(cv_samples, centers, spring_constants, temperature, bin_edges, period)
    return estimate_pmf(data, bin_edges, temperature, period, "bootstrap", bootstrap_samples, seed)
