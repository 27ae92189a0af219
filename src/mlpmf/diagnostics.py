r"""Diagnostics of an umbrella-sampling PMF: window overlap, convergence, agreement.

- Overlap: the MBAR overlap matrix :math:`O_{kl}` (Shirts & Chodera, J. Chem. Phys.
  129, 124105 (2008)), the probability that a sample drawn from window *k* is
  attributed to window *l*; neighbouring windows below :data:`OVERLAP_WARNING_THRESHOLD`
  are not joined reliably.
- Convergence: the MBAR PMFs of the first and the second half of every window's
  samples, and how far they differ in units of their standard errors; with independent
  sets of windows (``umbrella.repeats``), the same between the sets' PMFs: a test of the
  error bars that a slow motion orthogonal to the CV fails.
- Agreement: the difference between a PMF and a reference profile, up to the constant
  a PMF is defined up to.
- Before any solving: each window's spread against the width its spring alone would
  give, :math:`\sqrt{k_BT/\kappa}` (a wrong unit of the spring constant or the CV shows
  as a ratio far from 1 in every window), and how much neighbouring windows' samples
  overlap at all (what a solver that does not converge needs).
"""

import logging
from collections.abc import Sequence

import numpy as np

from mlpmf.colvars import periodic_difference
from mlpmf.estimators import PMF, mbar
from mlpmf.estimators2d import DEFAULT_GRID_RESOLUTION_2D, PMF2D, collapse_samples_2d, mbar_2d
from mlpmf.solver import CollapsedSamples, collapse_samples, log_denominator, solve_free_energies
from mlpmf.units import kt_kj_mol

logger = logging.getLogger(__name__)

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


def convergence_check_2d(
    samples: Sequence[np.ndarray],
    centers: np.ndarray,
    spring_constants: np.ndarray,
    temperature: float,
    bin_edges: tuple[np.ndarray, np.ndarray],
    periods: tuple[float | None, float | None],
    bootstrap_samples: int = 20,
) -> tuple[PMF2D, PMF2D, float, float]:
    """:func:`convergence_check` for 2D umbrella sampling: the 2D MBAR PMFs of the two
    halves (errors from ``bootstrap_samples`` replicas), their largest difference in kT
    and in standard errors, over the bins both fill."""
    arrays = [np.asarray(s) for s in samples]
    first, second = (
        mbar_2d(
            parts,
            centers,
            spring_constants,
            temperature,
            bin_edges,
            periods,
            bootstrap_samples=bootstrap_samples,
        )  # fmt: skip
        for parts in (
            [s[: len(s) // 2] for s in arrays],
            [s[len(s) // 2 :] for s in arrays],
        )
    )
    return first, second, *_half_difference(first, second, temperature)


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


def set_pmfs(estimate, samples, sets, centers, spring_constants, **arguments) -> list:
    """The PMF of each set of windows (``sets`` as :func:`window_sets`) by ``estimate``
    (:func:`mlpmf.estimators.mbar`, ``wham``, ``mbar_2d``; ``arguments`` its others)."""
    centers, spring_constants = np.asarray(centers), np.asarray(spring_constants)
    return [
        estimate([samples[k] for k in part], centers[part], spring_constants[part], **arguments)
        for part in sets
    ]


def error_scale(chi2_per_bin: float) -> float:
    """What the error bars of pooled sets of windows are multiplied by: the RMS of the
    sets' differences in standard errors (:func:`compare_sets`), never below 1 (the
    Birge ratio: independent sets that scatter more than their errors say, say how much
    a slow motion the CV does not see adds)."""
    return max(1.0, float(np.sqrt(chi2_per_bin)))


def sets_error_scale(estimate, samples, windows, centers, spring_constants, **arguments):
    """The factor the pooled PMF's error bars take from its independent sets of windows
    (:func:`error_scale` of :func:`compare_sets` of :func:`set_pmfs`), logged; None when
    the windows table (``windows``) holds one set."""
    sets = window_sets(windows)
    if len(sets) < 2:
        return None
    chi2 = compare_sets(set_pmfs(estimate, samples, sets, centers, spring_constants, **arguments))[
        0
    ]
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
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature: float,
    bin_edges: np.ndarray,
    period: float | None = None,
) -> tuple[PMF, PMF, float, float]:
    """MBAR PMFs of the first and the second half of every window's samples.

    Returns both PMFs, the largest difference between them in kT after removing their
    mean offset over the bins both fill, and the largest difference in units of its
    standard error (both halves' errors combined). A z beyond ~3.5 means the windows
    drift: sampling has not converged.
    """
    arrays = [np.asarray(s) for s in cv_samples]
    first, second = (
        mbar(parts, centers, spring_constants, temperature, bin_edges, period)
        for parts in (
            [s[: len(s) // 2] for s in arrays],
            [s[len(s) // 2 :] for s in arrays],
        )
    )
    return first, second, *_half_difference(first, second, temperature)


def compare_profiles(
    cv: np.ndarray,
    free_energy_kj_mol: np.ndarray,
    uncertainty_kj_mol: np.ndarray,
    reference_cv: np.ndarray,
    reference_kj_mol: np.ndarray,
    reference_uncertainty_kj_mol: np.ndarray | None = None,
    reference_below_kj_mol: float | None = None,
    model_uncertainty_kj_mol: np.ndarray | None = None,
) -> dict:
    """RMS and largest difference (kJ/mol) between a PMF and a reference on the PMF's
    bins, after the constant shift that minimises the RMS (PMFs are defined up to a
    constant), over the bins where both are finite and, with ``reference_below_kj_mol``,
    where the reference (shifted to a minimum of 0) lies below that level: the bins a
    trajectory visits, not the barrier tops that both runs sample least.

    ``chi2_per_bin`` is the mean squared difference over the combined variance (about 1
    when they agree within their error bars; correlated errors make it a rough guide),
    and ``expected_rms_kj_mol`` the RMS difference two profiles equal but for their
    statistical errors would show: the floor ``rms_difference_kj_mol`` is judged against.
    ``within_two_sigma_fraction`` is the share of bins whose difference lies within
    twice the combined error. With ``model_uncertainty_kj_mol`` (a committee's spread),
    the same two numbers with the model's variance added (``..._with_model``) and the
    median ratio of the total error to the statistical one.
    """
    reference = np.interp(cv, reference_cv, reference_kj_mol, left=np.nan, right=np.nan)
    both = np.isfinite(free_energy_kj_mol) & np.isfinite(reference)
    if reference_below_kj_mol is not None:
        both &= reference - np.nanmin(reference) < reference_below_kj_mol
    difference = free_energy_kj_mol[both] - reference[both]
    difference -= difference.mean()
    variance = np.asarray(uncertainty_kj_mol, dtype=float)[both] ** 2
    if reference_uncertainty_kj_mol is not None:
        variance = variance + np.interp(cv[both], reference_cv, reference_uncertainty_kj_mol) ** 2
    variance = np.maximum(variance, 1e-12)
    result = {
        "bins_compared": int(both.sum()),
        "reference_below_kj_mol": reference_below_kj_mol,
        "rms_difference_kj_mol": float(np.sqrt(np.mean(difference**2))),
        "max_abs_difference_kj_mol": float(np.abs(difference).max()),
        "chi2_per_bin": float(np.mean(difference**2 / variance)),
        "expected_rms_kj_mol": float(np.sqrt(np.mean(variance))),
        "within_two_sigma_fraction": float(np.mean(np.abs(difference) <= 2 * np.sqrt(variance))),
    }
    if model_uncertainty_kj_mol is not None:
        model = np.nan_to_num(np.asarray(model_uncertainty_kj_mol, dtype=float)[both])
        total = variance + model**2
        statistical = np.asarray(uncertainty_kj_mol, dtype=float)[both]
        result.update(
            chi2_per_bin_with_model=float(np.mean(difference**2 / total)),
            within_two_sigma_with_model_fraction=float(
                np.mean(np.abs(difference) <= 2 * np.sqrt(total))
            ),
            total_to_statistical_uncertainty_median=float(
                np.median(np.hypot(statistical, model) / np.maximum(statistical, 1e-12))
            ),
        )
    return result


def spread_ratios(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature_k: float,
    period: float | None = None,
) -> np.ndarray:
    r"""Per window, the samples' standard deviation over :math:`\sqrt{k_BT/\kappa}`
    (``spring_constants`` in kJ/mol per CV unit squared, bias kappa/2 (x - c)^2).

    About 1 where the PMF is flat across a window, below 1 in a basin, above on a
    barrier top; over a whole study the median lies near 0.8-1.0 (mlpmf's GFN2-xTB and
    EMT studies: 0.86-0.97, single windows 0.6-1.4). A spring constant in the wrong unit
    moves every window by the same factor: kcal for kJ sqrt(4.184) ~ 2, radians for
    degrees 57, nm for Å 10, a k(x - c)^2 convention for k/2 sqrt(2).
    """
    kt = kt_kj_mol(temperature_k)
    return np.array(
        [
            np.std(periodic_difference(np.asarray(x, dtype=float), c, period)) / np.sqrt(kt / k)
            for x, c, k in zip(cv_samples, centers, spring_constants, strict=True)
        ]
    )


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


def windows_to_insert(
    cv_samples: Sequence[np.ndarray],
    centers: Sequence[float],
    spring_constants: Sequence[float],
    temperature_k: float,
    threshold: float = OVERLAP_WARNING_THRESHOLD,
    bin_edges: np.ndarray | None = None,
    period: float | None = None,
) -> list[dict]:
    """Windows to add between neighbours (in centre order) that overlap too little:
    one midway between each pair whose MBAR overlap lies below ``threshold``, with the
    pair's mean spring constant. When some neighbours share no sample at all, MBAR
    cannot join the windows; those pairs get a window, and the others wait for the next
    round. Overlaps as :func:`neighbour_mbar_overlaps` (give the samples, bins and
    period the diagnostics use, so both judge alike). Returns ``{center,
    spring_constant, reason}`` rows."""
    centers = np.asarray(centers, dtype=float)
    kappas = np.asarray(spring_constants, dtype=float)
    pairs = neighbour_sample_overlaps(cv_samples, centers)
    if all(value > 0 for _, _, value in pairs):
        overlaps = neighbour_mbar_overlaps(
            cv_samples, centers, kappas, temperature_k, bin_edges, period
        )
        pairs = [(k, j, float(o)) for (k, j, _), o in zip(pairs, overlaps, strict=True)]
        kind = "MBAR overlap"
    else:
        pairs = [(k, j, 0.0) for k, j, value in pairs if value == 0]
        kind = "no common samples: overlap"
    return [
        {
            "center": float(0.5 * (centers[k] + centers[j])),
            "spring_constant": float(0.5 * (kappas[k] + kappas[j])),
            "reason": f"{kind} {value:.3g} between {centers[k]:g} and {centers[j]:g}",
        }
        for k, j, value in pairs
        if value < threshold
    ]
