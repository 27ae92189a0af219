r"""The error budget of a PMF, a barrier and a rate: statistical, model and the CV's own
(recrossing), combined into one interval at a stated confidence (:data:`CONFIDENCE`).

- **Statistical**: the PMF's own error (bootstrap or MBAR's, widened by the scatter of
  independent sets of windows, :func:`mlpmf.convergence.error_scale`).
- **Model**: the committee members' spread (:func:`mlpmf.reweighting.member_pmfs`),
  *calibrated* by the windows' oracle checks (``umbrella.oracle_every``). The
  free-energy-perturbation correction to the oracle (:mod:`mlpmf.correction`) measures
  the model's error on the PMF directly, bin by bin; where it scatters more about its
  mean than its own noise and the members' spread account for, the spread is scaled
  up to match (:func:`model_calibration`; never down: a committee that agrees is not
  taken as proof of a small error). Without oracle checks the spread is the model part,
  uncalibrated, and the budget says so.
- **Recrossing**: kappa's error from the reactive-flux shots (the transmission stage)
  where they ran; otherwise not measured, and the rate is TST's, an upper bound.

The parts add in quadrature in the barrier (kJ/mol) and in ln k; the interval is the
value ± z standard deviations (:data:`Z`), on the rate as k exp(± z sigma_ln k).
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95  # the stated confidence of every total interval
Z = 1.959963984540054  # two-sided normal quantile of CONFIDENCE
MIN_EFFECTIVE_ROWS = 10.0  # bins whose correction rests on fewer labelled frames are left out
MIN_BINS = 3


@dataclass(frozen=True)
class ModelCalibration:
    """How the members' spread compares with the model's error the oracle checks measure."""

    scale: float  # the spread's factor, >= 1
    measured_rms_kj_mol: float  # the correction's scatter about its mean, its noise removed
    spread_rms_kj_mol: float  # the members' spread, RMS over the same bins
    noise_rms_kj_mol: float  # the correction's own standard error, RMS
    bins: int

    def to_dict(self) -> dict:
        return {**asdict(self), "source": "the windows' oracle checks (umbrella.oracle_every)"}


def model_calibration(
    correction_kj_mol: np.ndarray,
    correction_uncertainty_kj_mol: np.ndarray,
    spread_kj_mol: np.ndarray,
    effective_rows: np.ndarray | None = None,
) -> ModelCalibration | None:
    r"""The factor :math:`c \ge 1` on the members' spread :math:`\sigma_i` from the oracle
    correction :math:`\Delta_i \pm \epsilon_i` on the same bins (defined up to a constant
    :math:`C`, its spread-weighted mean):

    .. math:: c^2 = \max\Big(1, \frac{\frac{n}{n-1}\langle(\Delta_i - C)^2\rangle
              - \langle\epsilon_i^2\rangle}{\langle\sigma_i^2\rangle}\Big)

    over the bins where all three are known and the correction rests on at least
    :data:`MIN_EFFECTIVE_ROWS` labelled frames (``effective_rows``, Kish's). None with
    fewer than :data:`MIN_BINS` such bins or no spread (one member)."""
    delta = np.asarray(correction_kj_mol, dtype=float)
    noise = np.asarray(correction_uncertainty_kj_mol, dtype=float)
    spread = np.asarray(spread_kj_mol, dtype=float)
    usable = np.isfinite(delta) & np.isfinite(noise) & np.isfinite(spread)
    if effective_rows is not None:
        usable &= np.nan_to_num(np.asarray(effective_rows, dtype=float)) >= MIN_EFFECTIVE_ROWS
    n = int(usable.sum())
    if n < MIN_BINS or not np.any(spread[usable] > 0):
        return None
    delta, noise, spread = delta[usable], noise[usable], spread[usable]
    weight = 1.0 / np.maximum(spread**2 + noise**2, 1e-12)
    centred = delta - np.sum(weight * delta) / np.sum(weight)
    measured = n / (n - 1) * np.mean(centred**2) - np.mean(noise**2)
    spread_ms = float(np.mean(spread**2))
    return ModelCalibration(
        scale=float(np.sqrt(max(1.0, measured / spread_ms))),
        measured_rms_kj_mol=float(np.sqrt(max(measured, 0.0))),
        spread_rms_kj_mol=float(np.sqrt(spread_ms)),
        noise_rms_kj_mol=float(np.sqrt(np.mean(noise**2))),
        bins=n,
    )


def calibration_of_table(table: Mapping) -> ModelCalibration | None:
    """:func:`model_calibration` from a PMF table's columns (``member_spread_kj_mol`` and
    the oracle correction's); None where the table lacks either."""
    needed = ("member_spread_kj_mol", "oracle_correction_kj_mol")
    if not all(column in table for column in needed):
        return None
    rows = table["oracle_effective_samples"] if "oracle_effective_samples" in table else None
    return model_calibration(
        np.asarray(table["oracle_correction_kj_mol"]),
        np.asarray(table["oracle_correction_uncertainty_kj_mol"]),
        np.asarray(table["member_spread_kj_mol"]),
        None if rows is None else np.asarray(rows),
    )


def log_sigma_from_interval(low: float, high: float) -> float:
    """The standard deviation of ln k a 16-84% interval [low, high] stands for."""
    return float(np.log(high / low) / 2) if low > 0 and high > low else 0.0


def rate_interval(rate_per_s: float, log_sigmas: Mapping[str, float | None]) -> dict:
    """The rate's budget: each part's standard deviation of ln k (None: not measured,
    left out), their total in quadrature and the interval k exp(± Z total) at
    :data:`CONFIDENCE`."""
    known = [s for s in log_sigmas.values() if s is not None]
    total = float(np.sqrt(np.sum(np.square(known)))) if known else 0.0
    return {
        "confidence": CONFIDENCE,
        "log_rate_uncertainty": {**dict(log_sigmas), "total": total},
        "rate_constant_total_interval_per_s": [
            float(rate_per_s * np.exp(-Z * total)),
            float(rate_per_s * np.exp(Z * total)),
        ],
    }


def barrier_interval(barrier_kj_mol: float, statistical: float, model: float | None) -> dict:
    """The barrier's total standard error (statistical and model in quadrature) and its
    interval at :data:`CONFIDENCE`."""
    total = float(np.hypot(statistical, model or 0.0))
    return {
        "barrier_total_uncertainty_kj_mol": total,
        "barrier_total_interval_kj_mol": [barrier_kj_mol - Z * total, barrier_kj_mol + Z * total],
    }


def rate_z_score(rate: float, log_sigma: float, reference: float, reference_log_sigma: float):
    """How many combined standard deviations of ln k a rate lies from a reference's."""
    combined = np.hypot(log_sigma, reference_log_sigma)
    return float(np.log(rate / reference) / combined) if combined > 0 else float("inf")
