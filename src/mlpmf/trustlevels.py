"""The committee's trust levels: DP-GEN's pair of thresholds on its disagreement (the
largest difference between two members' forces on any atom of a frame).

Below the lower one a frame is trusted; between the two it is worth an oracle label (the
active learning trigger); above the upper one the committee extrapolates so far that the
frame itself is not trusted. They are calibrated on held-out frames, where the committee
is in its data: a high percentile of the per-frame disagreement there, times a margin,
is the lower level, so that the committee's own noise does not trigger. Held-out frames
colder than the study (reference MD at 100 K for a study at 300 K) make that noise look
smaller than it will be where the committee runs, so the lower level is never below a
fraction of the thermal force scale at the study temperature (the RMS force of the data
times sqrt(T_study / T_data), as for harmonic forces): a disagreement that small is a
small part of the forces that drive the dynamics.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from mlpmf.dataset import reference_arrays
from mlpmf.evaluation import ModelPredictions
from mlpmf.models import Committee
from mlpmf.settings import TrustSettings


@dataclass(frozen=True)
class TrustLevels:
    """The committee's trust levels, eV/Å, and where they came from."""

    lower_ev_a: float
    upper_ev_a: float
    calibrated: bool  # True: from held-out disagreement; False: the config's values
    held_out_percentile_ev_a: float  # the calibration statistic (NaN for a GP)
    held_out_median_ev_a: float
    force_floor_ev_a: float = 0.0  # force_fraction x the thermal force scale

    def to_dict(self) -> dict:
        return asdict(self)


def trust_levels(
    frame_disagreement: np.ndarray, settings: TrustSettings, force_scale_ev_a: float = 0.0
) -> TrustLevels:
    """Trust levels from the committee's per-frame disagreement on held-out frames and
    the thermal force scale at the study temperature, eV/Å (module docstring); an
    explicit value in ``settings`` wins over the calibration."""
    percentile = float(np.percentile(frame_disagreement, settings.percentile))
    floor = settings.force_fraction * force_scale_ev_a
    lower = settings.lower_ev_a
    if lower is None:
        lower = max(settings.factor * percentile, floor)
    upper = settings.upper_ev_a
    if upper is None:
        upper = settings.upper_factor * lower
    return TrustLevels(
        float(lower),
        float(max(upper, lower)),
        settings.lower_ev_a is None,
        percentile,
        float(np.median(frame_disagreement)),
        floor,
    )


def thermal_force_scale(
    frames: Sequence[Atoms], temperature_k: float, data_temperature_k: float
) -> float:
    """RMS force component of ``frames`` (sampled at up to ``data_temperature_k``),
    eV/Å, scaled to ``temperature_k`` as harmonic forces scale, by sqrt(T / T_data)."""
    _, forces, _ = reference_arrays(frames)
    return float(forces.pow(2).mean().sqrt()) * (temperature_k / data_temperature_k) ** 0.5


def calibrated_trust(
    committee: Committee,
    unseen: Sequence[Atoms],
    settings: TrustSettings,
    force_scale_ev_a: float = 0.0,
) -> TrustLevels:
    """The committee's trust levels from its disagreement on frames it was not trained
    on (held-out test frames, validation frames) and the thermal force scale."""
    predictions = ModelPredictions.of(committee, unseen)
    maxima = predictions.frame_maxima(predictions.uncertainty)
    return trust_levels(maxima, settings, force_scale_ev_a)
