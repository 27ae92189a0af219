r"""Agreement of umbrella sampling with what is expected of it.

- A PMF against a reference profile: RMS and largest difference up to the constant a
  PMF is defined up to, and in units of the combined error bars.
- Before any solving: each window's spread against the width its spring alone would
  give, :math:`\sqrt{k_BT/\kappa}` (a wrong unit of the spring constant or the CV shows
  as a ratio far from 1 in every window).

The windows' overlap is :mod:`mlpmf.overlap`'s, the convergence of the PMF (halves,
independent sets) :mod:`mlpmf.convergence`'s, where windows are added
:func:`mlpmf.placement.windows_to_insert`'s.
"""

from collections.abc import Sequence

import numpy as np

from mlpmf.colvars import periodic_difference
from mlpmf.errorbudget import CONFIDENCE, Z
from mlpmf.units import kt_kj_mol


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
    median ratio of the total error to the statistical one. ``covered_fraction`` is the
    share of bins the total band (model included where given, the reference's error
    too) covers at the stated ``confidence`` (:mod:`mlpmf.errorbudget`).
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
    total = variance
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
    result["confidence"] = CONFIDENCE
    result["covered_fraction"] = float(np.mean(np.abs(difference) <= Z * np.sqrt(total)))
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
