"""How good a trained model is: its predictions on labelled frames (with the
committee's per-atom disagreement), error metrics and the uncertainty-error rank
correlation; and the model written beside its metrics. The trust levels calibrated from
those predictions: :mod:`mlpmf.trustlevels`.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from scipy.stats import spearmanr

from mlpmf.dataset import reference_arrays
from mlpmf.descriptors import pair_batch
from mlpmf.io import atomic_path, write_json
from mlpmf.models import GaussianProcess, Potential, max_pairwise_force_difference
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
