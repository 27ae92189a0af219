"""How good a trained model is: its predictions on labelled frames, error metrics,
the uncertainty-error rank correlation, and the committee's trust levels.

The trust levels are DP-GEN's pair of thresholds on the committee's disagreement (the
largest difference between two members' forces on any atom of a frame): below the
lower one a frame is trusted; between the two it is worth an oracle label (the active
learning trigger); above the upper one the committee extrapolates so far that the frame
itself is not trusted. They are calibrated on held-out frames, where the committee is
in its data: a high percentile of the per-frame disagreement there, times a margin, is
the lower level, so that the committee's own noise does not trigger. Held-out frames
colder than the study (reference MD at 100 K for a study at 300 K) make that noise
look smaller than it will be where the committee runs, so the lower level is never
below a fraction of the thermal force scale at the study temperature (the RMS force of
the data times sqrt(T_study / T_data), as for harmonic forces): a disagreement that
small is a small part of the forces that drive the dynamics.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from ase import Atoms
from scipy.stats import spearmanr

from mlpmf.dataset import reference_arrays
from mlpmf.descriptors import pair_batch
from mlpmf.io import atomic_path, write_json
from mlpmf.models import Committee, GaussianProcess, Potential, max_pairwise_force_difference
from mlpmf.neighbours import PairBatch

log = logging.getLogger(__name__)


def force_uncertainty(model: Potential, batch: PairBatch) -> torch.Tensor:
    """Per-atom uncertainty (A,): the committee's largest pairwise member force
    difference, eV/Å, or the GP's predictive std of the atom's energy, eV."""
    if isinstance(model, GaussianProcess):
        return model.predictive_variances(batch)[1].sqrt()
    return max_pairwise_force_difference(model.energies_and_forces(batch)[1])


@dataclass
class ModelPredictions:
    """A model's predictions on labelled frames, per member, with reference labels."""

    energies: torch.Tensor  # (M, n) eV
    forces: torch.Tensor  # (M, A, 3) eV/Å
    reference_energies: torch.Tensor  # (n,) eV
    reference_forces: torch.Tensor  # (A, 3) eV/Å
    atom_counts: torch.Tensor  # (n,)
    uncertainty: torch.Tensor  # (A,) eV/Å, force_uncertainty of each atom

    @classmethod
    def of(cls, model: Potential, frames: Sequence[Atoms]) -> "ModelPredictions":
        energies, forces, uncertainty = [], [], []
        with torch.no_grad():
            for frame in frames:
                batch = pair_batch([frame], model.descriptor).to(model.device)
                e, f = model.energies_and_forces(batch)
                energies.append(e.cpu())
                forces.append(f.cpu())
                uncertainty.append(force_uncertainty(model, batch).cpu())
        return cls(
            torch.cat(energies, 1),
            torch.cat(forces, 1),
            *reference_arrays(frames),
            torch.cat(uncertainty),
        )

    @property
    def atom_force_errors(self) -> torch.Tensor:
        """|mean predicted force - reference force| of every atom (A,), eV/Å."""
        return (self.forces.mean(0) - self.reference_forces).norm(dim=-1)

    def frame_maxima(self, per_atom: torch.Tensor) -> np.ndarray:
        """The largest value of a per-atom quantity (A,) in each frame (n,)."""
        counts = self.atom_counts.long().tolist()
        return np.array([float(part.max()) for part in torch.split(per_atom, counts)])


@dataclass(frozen=True)
class TrustSettings:
    """How the trust levels are set (the config's ``active_learning`` keys)."""

    lower_ev_a: float | None = None  # explicit lower level (the trigger); None: calibrate
    upper_ev_a: float | None = None  # explicit upper level; None: upper_factor x lower
    percentile: float = 95.0  # of the held-out per-frame disagreement
    factor: float = 2.0  # margin on that percentile
    upper_factor: float = 3.0  # upper level over lower level
    force_fraction: float = 0.5  # lower level at least this times the thermal force scale

    @classmethod
    def from_config(cls, section: Mapping) -> "TrustSettings":
        return cls(
            section["force_disagreement_ev_a"],
            section["upper_disagreement_ev_a"],
            section["trigger_percentile"],
            section["trigger_factor"],
            section["upper_factor"],
            section["trigger_force_fraction"],
        )


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


def evaluate_model(model: Potential, frames: Sequence[Atoms]) -> dict:
    """Energy (eV/atom) and force (eV/Å) RMSE of every member and of the mean on
    ``frames``, the Spearman rank correlation between each atom's force uncertainty
    (:func:`force_uncertainty`) and its true force error, and the distribution of the
    per-atom uncertainty (for a committee: the in-distribution member disagreement)."""
    p = ModelPredictions.of(model, frames)
    energy_error = (p.energies - p.reference_energies) / p.atom_counts
    force_error = p.forces - p.reference_forces
    mean_energy_rmse = float(energy_error.mean(0).pow(2).mean().sqrt())
    mean_force_rmse = float((p.forces.mean(0) - p.reference_forces).pow(2).mean().sqrt())
    reference_std = float(p.reference_forces.std())
    frame_disagreement = p.frame_maxima(p.uncertainty)
    return {
        "model": model.kind,
        "members": [
            {
                "energy_rmse_ev_per_atom": float(energy_error[m].pow(2).mean().sqrt()),
                "force_rmse_ev_a": float(force_error[m].pow(2).mean().sqrt()),
                "force_rmse_over_reference_std": float(force_error[m].pow(2).mean().sqrt())
                / reference_std
                if reference_std > 0
                else float("nan"),
            }
            for m in range(model.num_members)
        ],
        "committee_energy_rmse_ev_per_atom": mean_energy_rmse,
        "committee_force_rmse_ev_a": mean_force_rmse,
        "reference_force_std_ev_a": reference_std,
        "force_rmse_over_reference_std": (
            mean_force_rmse / reference_std if reference_std > 0 else float("nan")
        ),
        "uncertainty_error_spearman": float(
            spearmanr(p.uncertainty, p.atom_force_errors).statistic
        ),
        "median_atom_uncertainty": float(p.uncertainty.median()),
        "frame_max_uncertainty": frame_disagreement.tolist(),
        "num_structures": len(frames),
    }


def save_model_and_metrics(model, metrics: Mapping, model_path, metrics_path) -> None:
    """Log a model's held-out accuracy and write it and its metrics, each atomically."""
    log.info(
        "%s: test force RMSE %.4f eV/A = %.1f%% of the reference force std; "
        "uncertainty-error rank correlation %.2f",
        model.kind,
        metrics["committee_force_rmse_ev_a"],
        100 * metrics["force_rmse_over_reference_std"],
        metrics["uncertainty_error_spearman"],
    )
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    write_json(dict(metrics), metrics_path)
