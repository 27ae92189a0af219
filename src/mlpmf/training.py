"""Training a committee on energies and forces.

Each member sees its own bootstrap resample of the training structures (frame weights
drawn from a multinomial) and its own random initialisation; all members train in the
same optimiser steps, since they share the descriptor. The loss of member m is

    L_m = sum_f w_mf [ w_E ((E_f - E_f^ref) / N_f)^2 + w_F mean_atoms,xyz (F_f - F_f^ref)^2 ]
          / sum_f w_mf

with energies per atom in eV and forces in eV/Å; the optimiser minimises sum_m L_m.
"""

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from tqdm import tqdm

from mlpmf.descriptors import PairBatch, RadialBasis, pair_batch
from mlpmf.io import atomic_path
from mlpmf.models import Committee, resolve_device

log = logging.getLogger(__name__)


def check_labelled_frames(frames: Sequence[Atoms], source: str) -> None:
    """Raise ValueError naming ``source`` and the frame if any label is missing or not finite."""
    if len(frames) == 0:
        raise ValueError(f"{source}: no frames")
    for index, frame in enumerate(frames):
        try:
            energy = frame.get_potential_energy()
            forces = frame.get_forces(apply_constraint=False)
        except Exception as error:  # ASE raises several types for missing labels
            raise ValueError(
                f"{source}: frame {index} has no energy and forces ({error})"
            ) from None
        if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
            raise ValueError(f"{source}: frame {index} has a non-finite energy or force")


def _reference_arrays(frames: Sequence[Atoms]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    energies = torch.tensor([f.get_potential_energy() for f in frames], dtype=torch.float64)
    forces = torch.as_tensor(
        np.concatenate([f.get_forces(apply_constraint=False) for f in frames]), dtype=torch.float64
    )
    counts = torch.tensor([len(f) for f in frames], dtype=torch.float64)
    return energies, forces, counts


def _initial_committee(frames, basis: RadialBasis, settings: Mapping) -> Committee:
    """A committee whose normalisation and reference energies come from ``frames``."""
    batch = pair_batch(frames, basis)
    features = batch.features(basis)
    num_species = len(basis.species)
    mean = torch.zeros(num_species, basis.num_features, dtype=torch.float64)
    std = torch.ones(num_species, basis.num_features, dtype=torch.float64)
    for s in range(num_species):
        selected = features[batch.species_index == s]
        mean[s] = selected.mean(0)
        if len(selected) > 1:
            std[s] = selected.std(0).clamp_min(1e-3)
    energies, forces, _ = _reference_arrays(frames)
    composition = torch.zeros(len(frames), num_species, dtype=torch.float64)
    composition.index_put_(
        (batch.structure_index, batch.species_index),
        torch.ones(batch.num_atoms, dtype=torch.float64),
        accumulate=True,
    )
    reference_energies = torch.linalg.lstsq(composition, energies[:, None]).solution[:, 0]
    energy_scale = float(forces.std()) if forces.numel() > 1 else 1.0
    return Committee(
        basis,
        settings["members"],
        settings["hidden_layers"],
        mean,
        std,
        reference_energies,
        max(energy_scale, 1e-3),
    )


def _per_structure_losses(model: Committee, batch: PairBatch, energies, forces, counts, settings):
    predicted_e, predicted_f = model.energies_and_forces(batch)
    energy_term = ((predicted_e - energies) / counts) ** 2
    squared = ((predicted_f - forces) ** 2).sum(-1)
    force_sum = torch.zeros_like(predicted_e).index_add_(1, batch.structure_index, squared)
    force_term = force_sum / (3.0 * counts)
    return settings["energy_weight"] * energy_term + settings["force_weight"] * force_term


@dataclass
class TrainingCheckpoint:
    """Restart file of a training run: weights, optimiser, schedule, RNG state, history.

    Used only when its ``fingerprint`` (a digest of the data and settings) matches;
    continuing from it reproduces the uninterrupted run exactly.
    """

    path: Path
    fingerprint: str
    every_epochs: int

    def save(self, epoch, model, optimizer, scheduler, rng, history) -> None:
        state = {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": json.dumps(rng.bit_generator.state),
            "history": list(history),
        }
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    def load(self) -> dict | None:
        if not Path(self.path).exists():
            return None
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        return state if state.get("fingerprint") == self.fingerprint else None

    def remove(self) -> None:
        Path(self.path).unlink(missing_ok=True)


def train_committee(
    train_frames: Sequence[Atoms],
    settings: Mapping,
    seed: int,
    device: str = "cpu",
    checkpoint: TrainingCheckpoint | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> tuple[Committee, list[float]]:
    """Train a committee on ``train_frames``.

    Parameters
    ----------
    train_frames
        Structures labelled with energy (eV) and forces (eV/Å).
    settings
        The config's ``committee`` section: ``members``, ``num_radial``, ``cutoff_a``,
        ``hidden_layers``, ``epochs``, ``batch_size``, ``learning_rate``,
        ``final_learning_rate``, ``energy_weight``, ``force_weight``.
    seed
        Seeds the initial weights, the bootstrap resamples and the batch order.
    device
        ``cpu``, ``cuda`` or ``auto`` (:func:`mlpmf.models.resolve_device`).
    checkpoint
        Where to save the state every few epochs, and resume from when it matches.
    on_epoch_end
        Called with (epoch, loss) after every epoch.

    Returns
    -------
    The trained committee and the summed training loss per epoch.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    species = tuple(sorted({int(z) for f in train_frames for z in f.numbers}))
    basis = RadialBasis(species, settings["num_radial"], settings["cutoff_a"])
    target = resolve_device(device)
    model = _initial_committee(train_frames, basis, settings).to(target)
    n_frames = len(train_frames)
    bootstrap = rng.multinomial(n_frames, np.full(n_frames, 1.0 / n_frames), size=model.num_members)
    bootstrap_weights = torch.as_tensor(bootstrap, dtype=torch.float64, device=target)

    order = rng.permutation(n_frames)
    batch_size = min(settings["batch_size"], n_frames)
    chunks = [order[k : k + batch_size] for k in range(0, n_frames, batch_size)]
    batches = []
    for chunk in chunks:
        frames = [train_frames[i] for i in chunk]
        arrays = [array.to(target) for array in _reference_arrays(frames)]
        batches.append((pair_batch(frames, basis).to(target), *arrays, chunk))

    optimizer = torch.optim.Adam(model.parameters(), lr=settings["learning_rate"])
    decay = (settings["final_learning_rate"] / settings["learning_rate"]) ** (
        1.0 / max(settings["epochs"] * len(batches), 1)
    )
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=decay)
    history = []
    first_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        rng.bit_generator.state = json.loads(saved["rng"])
        history = list(saved["history"])
        first_epoch = saved["epoch"] + 1
        log.info("resuming training from its checkpoint after epoch %d", saved["epoch"])
    for epoch in tqdm(
        range(first_epoch, settings["epochs"]),
        desc="training",
        mininterval=5,
        initial=first_epoch,
        total=settings["epochs"],
    ):
        epoch_loss = 0.0
        for b in rng.permutation(len(batches)):
            batch, energies, forces, counts, chunk = batches[b]
            weights = bootstrap_weights[:, chunk]
            if float(weights.sum()) == 0.0:
                continue
            losses = _per_structure_losses(model, batch, energies, forces, counts, settings)
            loss = ((losses * weights).sum(1) / bootstrap_weights.sum(1) * len(batches)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            epoch_loss += loss.item() / len(batches)
        history.append(epoch_loss)
        if checkpoint is not None and (epoch + 1) % checkpoint.every_epochs == 0:
            checkpoint.save(epoch, model, optimizer, scheduler, rng, history)
        if on_epoch_end is not None:
            on_epoch_end(epoch, epoch_loss)
    log.info("final training loss %.6g", history[-1])
    return model, history


def evaluate_committee(model: Committee, frames: Sequence[Atoms]) -> dict:
    """Energy (eV/atom) and force (eV/Å) RMSE of every member and of the mean on ``frames``."""
    energies, forces, counts = _reference_arrays(frames)
    with torch.no_grad():
        batch = pair_batch(frames, model.basis).to(model.device)
        predicted_e, predicted_f = (t.cpu() for t in model.energies_and_forces(batch))
    energy_error = (predicted_e - energies) / counts
    force_error = predicted_f - forces
    mean_energy_error = energy_error.mean(0)
    mean_force_error = predicted_f.mean(0) - forces
    return {
        "members": [
            {
                "energy_rmse_ev_per_atom": float(energy_error[m].pow(2).mean().sqrt()),
                "force_rmse_ev_a": float(force_error[m].pow(2).mean().sqrt()),
            }
            for m in range(model.num_members)
        ],
        "committee_energy_rmse_ev_per_atom": float(mean_energy_error.pow(2).mean().sqrt()),
        "committee_force_rmse_ev_a": float(mean_force_error.pow(2).mean().sqrt()),
        "reference_force_std_ev_a": float(forces.std()),
        "num_structures": len(frames),
    }
