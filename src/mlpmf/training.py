"""Training a committee on energies and forces.

Each member sees its own bootstrap resample of the training structures (frame weights
drawn from a multinomial) and its own random initialisation; all members train in the
same optimiser steps, since they share the descriptor. The loss of member m is

    L_m = sum_f w_mf [ w_E ((E_f - E_f^ref) / N_f)^2 + w_F mean_atoms,xyz (F_f - F_f^ref)^2 ]
          / sum_f w_mf

with energies per atom in eV and forces in eV/Å; the optimiser minimises sum_m L_m.
"""

import copy
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.io import read
from scipy.stats import spearmanr
from tqdm import tqdm

from mlpmf.descriptors import Descriptor, DescriptorValues, PairBatch, pair_batch
from mlpmf.io import atomic_path, write_json
from mlpmf.models import (
    Committee,
    GaussianProcess,
    max_pairwise_force_difference,
    resolve_device,
)

log = logging.getLogger(__name__)

# A feature is scaled by its spread over the training atoms, but by no less than this
# fraction of the spread of its whole block (a feature that barely varies in the data
# must not blow up when it varies a little in MD), and no less than the absolute floor
# (chiral features of an achiral system are zero up to rounding). Relative to the
# block, because chiral products are small numbers (1e-4 and below) whose spread
# still carries the signal, while radial and angular features are of order one.
RELATIVE_STD_FLOOR = 1e-3
ABSOLUTE_STD_FLOOR = 1e-10


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


def read_labelled_frames(path: str | Path) -> list[Atoms]:
    """The frames of an extxyz file, checked to carry finite energies and forces."""
    frames = read(path, index=":")
    check_labelled_frames(frames, str(path))
    return frames


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


def _reference_arrays(frames: Sequence[Atoms]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    energies = torch.tensor([f.get_potential_energy() for f in frames], dtype=torch.float64)
    forces = torch.as_tensor(
        np.concatenate([f.get_forces(apply_constraint=False) for f in frames]), dtype=torch.float64
    )
    counts = torch.tensor([len(f) for f in frames], dtype=torch.float64)
    return energies, forces, counts


def descriptor_for(frames: Sequence[Atoms], settings: Mapping) -> Descriptor:
    """The descriptor of the config's ``descriptor`` section for the elements of ``frames``."""
    species = tuple(sorted({int(z) for f in frames for z in f.numbers}))
    return Descriptor(
        species,
        settings["num_radial"],
        settings["cutoff_a"],
        num_angular=settings["num_angular"],
        num_chiral=settings["num_chiral"],
    )


@dataclass
class DataStatistics:
    """Per-element descriptor mean and std, and per-element reference energies (eV)
    fitted by least squares to the structure energies."""

    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    reference_energies: torch.Tensor
    features: torch.Tensor  # (A, F) of every atom of the frames
    species_index: torch.Tensor  # (A,)
    residual_energies: torch.Tensor  # (n,) structure energies minus the reference ones, eV
    atomic_energy_std: float  # eV, std of residual / sqrt(atoms): an atomic energy's spread

    @classmethod
    def of(cls, frames: Sequence[Atoms], descriptor: Descriptor) -> "DataStatistics":
        batch = pair_batch(frames, descriptor)
        with torch.no_grad():
            features = descriptor.features(batch)
        num_species = len(descriptor.species)
        mean = torch.zeros(num_species, descriptor.num_features, dtype=torch.float64)
        std = torch.ones(num_species, descriptor.num_features, dtype=torch.float64)
        for s in range(num_species):
            selected = features[batch.species_index == s]
            mean[s] = selected.mean(0)
            if len(selected) > 1:
                blocks = torch.split(selected, descriptor.block_sizes(), dim=1)
                floor = torch.cat(
                    [
                        torch.full((block.shape[1],), RELATIVE_STD_FLOOR * float(block.std()))
                        for block in blocks
                    ]
                ).clamp_min(ABSOLUTE_STD_FLOOR)
                std[s] = torch.maximum(selected.std(0), floor.to(selected.dtype))
        energies, _, _ = _reference_arrays(frames)
        composition = torch.zeros(len(frames), num_species, dtype=torch.float64)
        composition.index_put_(
            (batch.structure_index, batch.species_index),
            torch.ones(batch.num_atoms, dtype=torch.float64),
            accumulate=True,
        )
        reference = torch.linalg.lstsq(composition, energies[:, None]).solution[:, 0]
        residual = energies - composition @ reference
        atoms = composition.sum(1)
        spread = float((residual / atoms.sqrt()).std()) if len(frames) > 1 else 0.0
        return cls(mean, std, reference, features, batch.species_index, residual, spread)


def _initial_committee(frames, descriptor: Descriptor, settings: Mapping) -> Committee:
    """A committee whose normalisation and reference energies come from ``frames``."""
    statistics = DataStatistics.of(frames, descriptor)
    _, forces, _ = _reference_arrays(frames)
    # the networks' output unit: the force spread (eV per Å of motion), or the atomic
    # energies' spread for data without forces
    force_std = float(forces.std()) if forces.numel() > 1 else 0.0
    energy_scale = force_std if force_std > 1e-6 else statistics.atomic_energy_std
    return Committee(
        descriptor,
        settings["members"],
        settings["hidden_layers"],
        statistics.feature_mean,
        statistics.feature_std,
        statistics.reference_energies,
        max(energy_scale, 1e-3),
    )


@dataclass
class TrainingCheckpoint:
    """Restart file of a training run: weights, optimiser, schedule, RNG state, history
    and the best weights so far.

    Used only when its ``fingerprint`` (a digest of the data and settings) matches;
    continuing from it reproduces the uninterrupted run exactly.
    """

    path: Path
    fingerprint: str
    every_epochs: int

    def save(self, epoch, model, optimizer, scheduler, rng, history, best) -> None:
        state = {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": json.dumps(rng.bit_generator.state),
            "history": history,
            "best": best,
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


@dataclass
class _LabelledBatch:
    """Reference labels of a few frames with their descriptors, evaluated once."""

    descriptors: DescriptorValues
    energies: torch.Tensor
    forces: torch.Tensor
    counts: torch.Tensor
    frames: np.ndarray  # indices into the training frames

    @classmethod
    def of(cls, frames, indices, descriptor, device):
        arrays = [array.to(device) for array in _reference_arrays([frames[i] for i in indices])]
        pairs = pair_batch([frames[i] for i in indices], descriptor).to(device)
        with torch.no_grad():
            descriptors = descriptor.evaluate(pairs)
        return cls(descriptors, *arrays, np.asarray(indices))

    def losses(self, model: Committee, settings: Mapping) -> torch.Tensor:
        """Per-member, per-structure loss (M, n_structures)."""
        predicted_e, predicted_f = model.energies_and_forces(self.descriptors)
        energy_term = ((predicted_e - self.energies) / self.counts) ** 2
        squared = ((predicted_f - self.forces) ** 2).sum(-1)
        structure_index = self.descriptors.batch.structure_index
        force_sum = torch.zeros_like(predicted_e).index_add_(1, structure_index, squared)
        force_term = force_sum / (3.0 * self.counts)
        return settings["energy_weight"] * energy_term + settings["force_weight"] * force_term


def _batches(frames, indices, batch_size, descriptor, device) -> list[_LabelledBatch]:
    chunks = [indices[k : k + batch_size] for k in range(0, len(indices), batch_size)]
    return [_LabelledBatch.of(frames, chunk, descriptor, device) for chunk in chunks]


def validation_split(num_frames: int, fraction: float, rng: np.random.Generator):
    """Indices of training and validation frames; at least one of each when fraction > 0."""
    order = rng.permutation(num_frames)
    num_validation = int(round(fraction * num_frames))
    if fraction > 0:
        num_validation = min(max(num_validation, 1), num_frames - 1)
    return np.sort(order[num_validation:]), np.sort(order[:num_validation])


def train_committee(
    frames: Sequence[Atoms],
    descriptor_settings: Mapping,
    settings: Mapping,
    seed: int,
    device: str = "cpu",
    checkpoint: TrainingCheckpoint | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
    initial: Committee | None = None,
) -> tuple[Committee, dict]:
    """Train a committee on ``frames``, stopping early on a validation split.

    Parameters
    ----------
    frames
        Structures labelled with energy (eV) and forces (eV/Å).
    descriptor_settings
        The config's ``descriptor`` section (:func:`descriptor_for`).
    settings
        The config's ``committee`` section: ``members``, ``hidden_layers``, ``epochs``,
        ``batch_size``, ``learning_rate``, ``final_learning_rate``, ``energy_weight``,
        ``force_weight``, ``validation_fraction``, ``patience_epochs``.
    seed
        Seeds the validation split, initial weights, bootstrap resamples and batch order.
    device
        ``cpu``, ``cuda`` or ``auto`` (:func:`mlpmf.models.resolve_device`).
    checkpoint
        Where to save the state every few epochs, and resume from when it matches.
    on_epoch_end
        Called with (epoch, training loss) after every epoch.
    initial
        A committee to continue from (warm start): its descriptor, normalisation and
        weights are kept; only the bootstrap resamples are drawn anew.

    Returns
    -------
    The committee with the weights of its best validation epoch, and the learning
    curves: ``training_loss`` and ``validation_loss`` per epoch (the members' summed
    loss; the validation loss averages the members, each on every validation frame)
    and ``best_epoch``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    target = resolve_device(device)
    train_indices, validation_indices = validation_split(
        len(frames), settings["validation_fraction"], rng
    )
    if initial is None:
        descriptor = descriptor_for(frames, descriptor_settings)
        model = _initial_committee([frames[i] for i in train_indices], descriptor, settings)
    else:
        descriptor = initial.descriptor
        model = copy.deepcopy(initial)
    model = model.to(target)
    n_train = len(train_indices)
    bootstrap = np.zeros((model.num_members, len(frames)))
    bootstrap[:, train_indices] = rng.multinomial(
        n_train, np.full(n_train, 1.0 / n_train), size=model.num_members
    )
    bootstrap_weights = torch.as_tensor(bootstrap, dtype=torch.float64, device=target)
    batch_size = min(settings["batch_size"], n_train)
    batches = _batches(frames, rng.permutation(train_indices), batch_size, descriptor, target)
    validation = _batches(frames, validation_indices, batch_size, descriptor, target)

    optimizer = torch.optim.Adam(model.parameters(), lr=settings["learning_rate"])
    decay = (settings["final_learning_rate"] / settings["learning_rate"]) ** (
        1.0 / max(settings["epochs"] * len(batches), 1)
    )
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=decay)
    history = {"training_loss": [], "validation_loss": []}
    best = {"loss": float("inf"), "epoch": -1, "state": None}
    first_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        rng.bit_generator.state = json.loads(saved["rng"])
        history, best = saved["history"], saved["best"]
        first_epoch = saved["epoch"] + 1
        log.info("resuming training from its checkpoint after epoch %d", saved["epoch"])
    progress = tqdm(
        range(first_epoch, settings["epochs"]),
        desc="training",
        mininterval=5,
        initial=first_epoch,
        total=settings["epochs"],
    )
    for epoch in progress:
        epoch_loss = 0.0
        for b in rng.permutation(len(batches)):
            batch = batches[b]
            weights = bootstrap_weights[:, batch.frames]
            if float(weights.sum()) == 0.0:
                continue
            losses = batch.losses(model, settings)
            loss = ((losses * weights).sum(1) / bootstrap_weights.sum(1) * len(batches)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            epoch_loss += loss.item() / len(batches)
        history["training_loss"].append(epoch_loss)
        validation_loss = _validation_loss(model, validation, settings)
        history["validation_loss"].append(validation_loss)
        if validation_loss < best["loss"] or not validation:
            best = {"loss": validation_loss, "epoch": epoch, "state": _copy_state(model)}
        if checkpoint is not None and (epoch + 1) % checkpoint.every_epochs == 0:
            checkpoint.save(epoch, model, optimizer, scheduler, rng, history, best)
        if on_epoch_end is not None:
            on_epoch_end(epoch, epoch_loss)
        if validation and epoch - best["epoch"] >= settings["patience_epochs"] > 0:
            log.info(
                "validation loss has not improved for %d epochs: stopping", epoch - best["epoch"]
            )
            break
    progress.close()
    model.load_state_dict(best["state"])
    history["best_epoch"] = best["epoch"]
    log.info(
        "best epoch %d: training loss %.6g, validation loss %.6g",
        best["epoch"],
        history["training_loss"][best["epoch"]],
        best["loss"],
    )
    return model, history


def _validation_loss(model, validation: list[_LabelledBatch], settings) -> float:
    if not validation:
        return float("nan")
    with torch.no_grad():
        total = sum(float(batch.losses(model, settings).sum(1).mean()) for batch in validation)
    return total / sum(len(batch.frames) for batch in validation)


def _copy_state(model) -> dict:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def fit_gaussian_process(
    frames: Sequence[Atoms],
    descriptor_settings: Mapping,
    settings: Mapping,
    seed: int,
    device: str = "cpu",
) -> GaussianProcess:
    """Fit a sparse GP (:class:`mlpmf.models.GaussianProcess`) to energies and forces.

    ``settings`` is the config's ``gaussian_process`` section: ``inducing_atoms`` (drawn
    at random, by ``seed``, from the atoms of ``frames``), ``length_scale`` (in
    standardised descriptor units; null: the median distance between inducing atoms),
    ``energy_noise_ev_per_atom`` and ``force_noise_ev_a``. The signal std is that of
    the per-atom energies left after the per-element reference energies.
    """
    rng = np.random.default_rng(seed)
    descriptor = descriptor_for(frames, descriptor_settings)
    statistics = DataStatistics.of(frames, descriptor)
    _, forces, _ = _reference_arrays(frames)
    num_atoms = statistics.features.shape[0]
    chosen = np.sort(
        rng.choice(num_atoms, min(settings["inducing_atoms"], num_atoms), replace=False)
    )
    species = statistics.species_index[chosen]
    inducing = (
        statistics.features[chosen] - statistics.feature_mean[species]
    ) / statistics.feature_std[species]
    length_scale = settings["length_scale"]
    if length_scale is None:
        distances = torch.cdist(inducing, inducing)
        length_scale = float(distances[distances > 0].median()) if len(chosen) > 1 else 1.0
    residual = statistics.residual_energies
    signal_std = max(statistics.atomic_energy_std, 1e-3)
    model = GaussianProcess(
        descriptor,
        statistics.feature_mean,
        statistics.feature_std,
        statistics.reference_energies,
        inducing,
        species,
        length_scale,
        signal_std,
    ).to(resolve_device(device))

    target = model.device
    precision = torch.zeros(len(chosen), len(chosen), dtype=torch.float64, device=target)
    projection = torch.zeros(len(chosen), dtype=torch.float64, device=target)
    start = 0
    for index, frame in enumerate(tqdm(frames, desc="GP design", mininterval=5)):
        with torch.no_grad():
            energy_row, force_rows = model.design_rows(pair_batch([frame], descriptor).to(target))
        rows = torch.cat([energy_row, force_rows.reshape(-1, len(chosen))])
        targets = torch.cat(
            [
                residual[index : index + 1],
                forces[start : start + len(frame)].reshape(-1),
            ]
        ).to(target)
        inverse_noise = torch.cat(
            [
                torch.tensor([(settings["energy_noise_ev_per_atom"] * len(frame)) ** -2.0]),
                torch.full((3 * len(frame),), settings["force_noise_ev_a"] ** -2.0),
            ]
        ).to(target, torch.float64)
        precision += rows.T @ (inverse_noise[:, None] * rows)
        projection += rows.T @ (inverse_noise * targets)
        start += len(frame)
    jitter = 1e-8 * model.signal_std_ev**2 * torch.eye(len(chosen), dtype=torch.float64)
    inducing_kernel = model.kernel(statistics.features[chosen].to(target), species.to(target))
    inducing_kernel = inducing_kernel + jitter.to(target)
    model.inducing_cholesky.copy_(torch.linalg.cholesky(inducing_kernel))
    precision += inducing_kernel
    factor = torch.linalg.cholesky(precision)
    model.weights.copy_(torch.cholesky_solve(projection[:, None], factor)[:, 0])
    model.weight_covariance.copy_(torch.cholesky_inverse(factor))
    log.info("GP: %d inducing atoms, length scale %.3g", len(chosen), length_scale)
    return model


def force_uncertainty(model: Committee | GaussianProcess, batch: PairBatch) -> torch.Tensor:
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
    def of(cls, model: Committee | GaussianProcess, frames: Sequence[Atoms]) -> "ModelPredictions":
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
            *_reference_arrays(frames),
            torch.cat(uncertainty),
        )

    @property
    def atom_force_errors(self) -> torch.Tensor:
        """|mean predicted force - reference force| of every atom (A,), eV/Å."""
        return (self.forces.mean(0) - self.reference_forces).norm(dim=-1)


def evaluate_model(model: Committee | GaussianProcess, frames: Sequence[Atoms]) -> dict:
    """Energy (eV/atom) and force (eV/Å) RMSE of every member and of the mean on
    ``frames``, and the Spearman rank correlation between each atom's force
    uncertainty (:func:`force_uncertainty`) and its true force error."""
    p = ModelPredictions.of(model, frames)
    energy_error = (p.energies - p.reference_energies) / p.atom_counts
    force_error = p.forces - p.reference_forces
    mean_energy_rmse = float(energy_error.mean(0).pow(2).mean().sqrt())
    mean_force_rmse = float((p.forces.mean(0) - p.reference_forces).pow(2).mean().sqrt())
    reference_std = float(p.reference_forces.std())
    return {
        "model": model.kind,
        "members": [
            {
                "energy_rmse_ev_per_atom": float(energy_error[m].pow(2).mean().sqrt()),
                "force_rmse_ev_a": float(force_error[m].pow(2).mean().sqrt()),
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
        "num_structures": len(frames),
    }
