"""Whether a PMF has converged: PMFs from disjoint parts of the data, compared in units
of their standard errors.

- Halves: the MBAR PMFs of the first and the second half of every window's samples
  (1D and 2D), and how far they differ.
- Independent sets of windows (``umbrella.repeats``): the sets' PMFs against each other,
  a test of the error bars that a slow motion orthogonal to the CV fails; their chi2
  per bin sets the factor the pooled PMF's error bars are widened by.
"""

import logging
from collections.abc import Sequence

import numpy as np

from mlpmf.estimators import PMF, mbar
from mlpmf.estimators2d import PMF2D, mbar_2d
from mlpmf.samples import UmbrellaSamples
from mlpmf.units import kt_kj_mol

logger = logging.getLogger(__name__)


def convergence_check_2d(
    samples: UmbrellaSamples,
    bin_edges: tuple[np.ndarray, np.ndarray],
    bootstrap_samples: int = 20,
) -> tuple[PMF2D, PMF2D, float, float]:
    """:func:`convergence_check` for 2D umbrella sampling: the 2D MBAR PMFs of the two
    halves (errors from ``bootstrap_samples`` replicas), their largest difference in kT
    and in standard errors, over the bins both fill."""
    arrays = [np.asarray(s) for s in samples.x_kn]
    first, second = (
        mbar_2d(samples.with_samples(parts), bin_edges, bootstrap_samples=bootstrap_samples)
        for parts in (
            [s[: len(s) // 2] for s in arrays],
            [s[len(s) // 2 :] for s in arrays],
        )
    )
    return first, second, *_half_difference(first, second, samples.temperature)


def _half_z(first, second) -> tuple[np.ndarray, np.ndarray]:
    """The halves' difference less its mean offset over the bins both fill (NaN
    elsewhere), and its size in standard errors, both errors combined (-inf elsewhere)."""
    difference = second.free_energy - first.free_energy
    error = np.hypot(first.uncertainty, second.uncertainty)
    both = np.isfinite(difference) & np.isfinite(error) & (error > 0)
    shifted = np.full(difference.shape, np.nan)
    shifted[both] = difference[both] - difference[both].mean()
    z = np.full(difference.shape, -np.inf)
    z[both] = np.abs(shifted[both]) / error[both]
    return shifted, z


def _half_difference(first, second, temperature: float) -> tuple[float, float]:
    """Largest difference of two PMFs (1D or 2D) in kT, after removing their mean offset
    over the bins both fill, and in units of its standard error (both errors combined)."""
    shifted, z = _half_z(first, second)
    return float(np.nanmax(np.abs(shifted)) / kt_kj_mol(temperature)), float(z.max())


def window_sets(windows) -> list[np.ndarray]:
    """The windows (row indices of the windows table) of each independent set of
    ``umbrella.repeats``: one set when the table has no ``repeat`` column."""
    if "repeat" not in windows:
        return [np.arange(len(windows))]
    sets = np.asarray(windows["repeat"], dtype=int)
    return [np.flatnonzero(sets == r) for r in range(sets.max() + 1)]


def set_pmfs(estimate, samples: UmbrellaSamples, sets, **arguments) -> list:
    """The PMF of each set of windows (``sets`` as :func:`window_sets`) by ``estimate``
    (:func:`mlpmf.estimators.mbar`, ``wham``, ``mbar_2d``; ``arguments`` its others)."""
    return [estimate(samples.subset(part), **arguments) for part in sets]


def error_scale(chi2_per_bin: float) -> float:
    """What the error bars of pooled sets of windows are multiplied by: the RMS of the
    sets' differences in standard errors (:func:`compare_sets`), never below 1 (the
    Birge ratio: independent sets that scatter more than their errors say, say how much
    a slow motion the CV does not see adds)."""
    return max(1.0, float(np.sqrt(chi2_per_bin)))


def sets_error_scale(estimate, samples: UmbrellaSamples, windows, **arguments):
    """The factor the pooled PMF's error bars take from its independent sets of windows
    (:func:`error_scale` of :func:`compare_sets` of :func:`set_pmfs`), logged; None when
    the windows table (``windows``) holds one set."""
    sets = window_sets(windows)
    if len(sets) < 2:
        return None
    chi2 = compare_sets(set_pmfs(estimate, samples, sets, **arguments))[0]
    scale = error_scale(chi2)
    logger.info(
        "%d independent sets of windows differ by %.2f standard errors RMS: error bars x %.2f",
        len(sets),
        np.sqrt(chi2),
        scale,
    )
    return scale


def scale_spread(replicas: np.ndarray, scale: float) -> np.ndarray:
    """Bootstrap replicas (R, ...) of a PMF spread ``scale`` times as far about their mean,
    so that errors drawn from them (a barrier's) carry the same factor."""
    if not len(replicas):
        return replicas
    mean = np.nanmean(replicas, axis=0)
    return mean + scale * (replicas - mean)


def compare_sets(pmfs: Sequence[PMF | PMF2D]) -> tuple[float, float, tuple[float, ...], int]:
    """How far the PMFs of independent sets of windows (``umbrella.repeats``) differ.

    For every pair of sets, the difference less its mean offset over the bins both fill,
    in standard errors (both errors combined). Returns the mean of its square over bins
    and pairs (about 1 where the error bars are right: a slow motion the CV does not see
    makes it larger), the largest |z| and the bin where it lies, and how many bins were
    compared (per pair).
    """
    if len(pmfs) < 2:
        raise ValueError("compare_sets: at least two sets of windows are needed")
    squares, largest, where, compared = [], -np.inf, (), 0
    for a in range(len(pmfs)):
        for b in range(a + 1, len(pmfs)):
            _, z = _half_z(pmfs[a], pmfs[b])
            filled = np.isfinite(z)
            squares.append(z[filled] ** 2)
            compared = max(compared, int(filled.sum()))
            if z.max() > largest:
                largest, where = float(z.max()), largest_half_difference_at(pmfs[a], pmfs[b])
    return float(np.concatenate(squares).mean()), largest, where, compared


def largest_half_difference_at(first, second) -> tuple[float, ...]:
    """The bin centre (1D: ``(cv,)``; 2D: ``(cv_1, cv_2)``) where the halves of
    :func:`convergence_check` or :func:`convergence_check_2d` differ by the most standard
    errors: where a drift warning should send the user to look."""
    _, z = _half_z(first, second)
    where = np.unravel_index(int(np.argmax(z)), z.shape)
    axes = (first.cv,) if z.ndim == 1 else (first.x, first.y)
    return tuple(float(axis[i]) for axis, i in zip(axes, where, strict=True))


def convergence_check(
    samples: UmbrellaSamples, bin_edges: np.ndarray
) -> tuple[PMF, PMF, float, float]:
    """MBAR PMFs of the first and the second half of every window's samples.

    Returns both PMFs, the largest difference between them in kT after removing their
    mean offset over the bins both fill, and the largest difference in units of its
    standard error (both halves' errors combined). A z beyond ~3.5 means the windows
    drift: sampling has not converged.
    """
    arrays = [np.asarray(s) for s in samples.x_kn]
    first, second = (
        mbar(samples.with_samples(parts), bin_edges)
        for parts in (
            [s[: len(s) // 2] for s in arrays],
            [s[len(s) // 2 :] for s in arrays],
        )
    )
    return first, second, *_half_difference(first, second, samples.temperature)


def pool_profiles(
    free_energies: Sequence[np.ndarray], uncertainties: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, float]:
    """Independent PMFs of one system on the same bins (e.g. reference runs with
    different starts), pooled: each shifted onto the first (the weighted mean offset
    over the bins all fill), then averaged bin by bin with inverse-variance weights. The
    pooled error is the weighted mean's, times :func:`error_scale` of their scatter
    (the chi2 per bin of every pair, as :func:`compare_sets`): runs that disagree beyond
    their error bars widen it. Bins some run leaves empty are NaN. Returns the pooled
    free energy (minimum 0), its error and the chi2 per bin."""
    free = np.array(free_energies, dtype=float)
    error = np.array(uncertainties, dtype=float)
    if len(free) < 2 or free.shape != error.shape:
        raise ValueError("pool_profiles: at least two profiles on the same bins, with errors")
    filled = np.all(np.isfinite(free) & np.isfinite(error) & (error > 0), axis=0)
    squares = []
    for k in range(1, len(free)):
        weight = 1.0 / (error[0, filled] ** 2 + error[k, filled] ** 2)
        difference = free[k, filled] - free[0, filled]
        free[k] -= np.sum(weight * difference) / np.sum(weight)
    for a in range(len(free)):
        for b in range(a + 1, len(free)):
            difference = free[b, filled] - free[a, filled]
            variance = error[a, filled] ** 2 + error[b, filled] ** 2
            offset = np.sum(difference / variance) / np.sum(1.0 / variance)
            squares.append((difference - offset) ** 2 / variance)
    chi2 = float(np.concatenate(squares).mean())
    weight = np.where(filled, 1.0 / np.where(filled, error, 1.0) ** 2, np.nan)
    pooled = np.sum(weight * free, axis=0) / np.sum(weight, axis=0)
    pooled_error = error_scale(chi2) / np.sqrt(np.sum(weight, axis=0))
    return pooled - np.nanmin(pooled), pooled_error, chi2
