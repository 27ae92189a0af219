"""Labelled frames as the committee's training loop reads them, evaluated once.

A frame's descriptors G and the linear map from dE/dG to its forces depend only on its
geometry, so both are computed before the first epoch and every mini-batch afterwards
costs only the networks (:mod:`mlpmf.training`). Two layouts give the same losses:

- :class:`ForceMapFrames`, where the frames have one atom count and their force maps fit
  in memory (``FORCE_MAP_BUDGET_BYTES``): each frame's map from dE/dG (a x F) to its
  forces (a x 3) is a dense matrix, written out once by applying the descriptor's exact
  vector-Jacobian product to the unit vectors, and a mini-batch's forces are one batched
  matrix product. Training then runs at the speed of the networks (a few milliseconds
  per step for small molecules).
- :class:`PairFrames` otherwise: the descriptors' cached values per frame, joined into
  each mini-batch and differentiated pair by pair (the trainer before the force maps).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from tqdm import tqdm

from mlpmf.dataset import reference_arrays
from mlpmf.descriptors import Descriptor, DescriptorValues, pair_batch

FORCE_MAP_BUDGET_BYTES = 2 * 1024**3
"""Largest memory the force maps of a training set may take (else :class:`PairFrames`)."""

BASIS_CHUNK = 1024  # unit vectors per vector-Jacobian product when writing a force map


def loss_terms(predicted_e, predicted_f, energies, forces, counts, weights) -> torch.Tensor:
    """Per-member, per-structure loss (M, n): ``weights`` = (energy, force) weights of
    the squared error of the energy per atom and of the mean squared force component;
    forces (M, n, a, 3) against (n, a, 3), or summed per structure already."""
    energy_term = ((predicted_e - energies) / counts) ** 2
    if predicted_f.dim() == 4:
        force_sum = ((predicted_f - forces) ** 2).sum((-1, -2))
    else:
        force_sum = predicted_f
    return weights[0] * energy_term + weights[1] * force_sum / (3.0 * counts)


@dataclass
class PairFrames:
    """Frames with their descriptors' values, joined into mini-batches pair by pair."""

    descriptors: DescriptorValues
    energies: torch.Tensor
    forces: torch.Tensor
    counts: torch.Tensor
    frames: np.ndarray  # indices into the training frames

    @classmethod
    def of(cls, frames, indices, descriptor, device) -> "PairFrames":
        arrays = [array.to(device) for array in reference_arrays([frames[i] for i in indices])]
        pairs = pair_batch([frames[i] for i in indices], descriptor).to(device)
        with torch.no_grad():
            descriptors = descriptor.evaluate(pairs)
        return cls(descriptors, *arrays, np.asarray(indices))

    @classmethod
    def join(cls, parts: Sequence["PairFrames"]) -> "PairFrames":
        return cls(
            DescriptorValues.concatenate([p.descriptors for p in parts]),
            torch.cat([p.energies for p in parts]),
            torch.cat([p.forces for p in parts]),
            torch.cat([p.counts for p in parts]),
            np.concatenate([p.frames for p in parts]),
        )

    def losses(self, model, weights: tuple[float, float]) -> torch.Tensor:
        """Per-member, per-structure loss (M, n_structures)."""
        predicted_e, predicted_f = model.energies_and_forces(self.descriptors)
        squared = ((predicted_f - self.forces) ** 2).sum(-1)
        structure_index = self.descriptors.batch.structure_index
        force_sum = torch.zeros_like(predicted_e).index_add_(1, structure_index, squared)
        return loss_terms(predicted_e, force_sum, self.energies, None, self.counts, weights)


class PairFrameSet:
    """Every frame's :class:`PairFrames`, joined anew for each mini-batch."""

    def __init__(self, frames, indices, descriptor, device):
        self.single = {
            int(i): PairFrames.of(frames, [i], descriptor, device)
            for i in tqdm(indices, desc="descriptors", mininterval=5)
        }

    def batch(self, indices) -> PairFrames:
        return PairFrames.join([self.single[int(i)] for i in indices])


@dataclass
class ForceMapBatch:
    """A mini-batch of :class:`ForceMapFrames`: n frames of a atoms."""

    features: torch.Tensor  # (n a, F)
    species_index: torch.Tensor  # (n a,)
    force_maps: torch.Tensor  # (n, a F, a 3): forces = dE/dG @ map
    energies: torch.Tensor  # (n,)
    forces: torch.Tensor  # (n, a, 3)
    counts: torch.Tensor  # (n,)
    frames: np.ndarray

    def losses(self, model, weights: tuple[float, float]) -> torch.Tensor:
        """Per-member, per-structure loss (M, n), as :meth:`PairFrames.losses`."""
        atomic, gradient = model.atomic_energies_and_gradient(self.features, self.species_index)
        count, atoms = self.forces.shape[:2]
        members = atomic.shape[0]
        energies = atomic.view(members, count, atoms).sum(-1)
        flat = gradient.reshape(members, count, -1).transpose(0, 1)  # (n, M, a F)
        forces = torch.bmm(flat, self.force_maps).transpose(0, 1)  # (M, n, a 3)
        forces = forces.reshape(members, count, atoms, 3)
        return loss_terms(energies, forces, self.energies, self.forces, self.counts, weights)


class ForceMapFrames:
    """Frames of one atom count with their descriptors and dense force maps."""

    def __init__(self, frames, indices, descriptor: Descriptor, device):
        indices = [int(i) for i in indices]
        self.row = {frame: row for row, frame in enumerate(indices)}
        chosen = [frames[i] for i in indices]
        energies, forces, counts = reference_arrays(chosen)
        atoms = len(chosen[0])
        self.energies, self.counts = energies.to(device), counts.to(device)
        self.forces = forces.view(len(chosen), atoms, 3).to(device)
        features, species, maps = [], [], []
        for frame in tqdm(chosen, desc="descriptors and force maps", mininterval=5):
            values = _values(frame, descriptor, device)
            features.append(values.features)
            species.append(values.batch.species_index)
            maps.append(force_map(values))
        self.features = torch.stack(features)  # (N, a, F)
        self.species_index = torch.stack(species)
        self.force_maps = torch.stack(maps)

    @staticmethod
    def fits(frames: Sequence[Atoms], indices, descriptor: Descriptor) -> bool:
        """Whether the frames share one atom count and their maps fit the budget."""
        counts = {len(frames[i]) for i in indices}
        if len(counts) != 1:
            return False
        atoms = counts.pop()
        size = len(indices) * atoms * descriptor.num_features * atoms * 3 * 8
        return size <= FORCE_MAP_BUDGET_BYTES

    def batch(self, indices) -> ForceMapBatch:
        rows = torch.as_tensor([self.row[int(i)] for i in indices], device=self.features.device)
        features = self.features[rows]
        return ForceMapBatch(
            features.reshape(-1, features.shape[-1]),
            self.species_index[rows].reshape(-1),
            self.force_maps[rows],
            self.energies[rows],
            self.forces[rows],
            self.counts[rows],
            np.asarray(indices),
        )


def _values(frame: Atoms, descriptor: Descriptor, device) -> DescriptorValues:
    with torch.no_grad():
        return descriptor.evaluate(pair_batch([frame], descriptor).to(device))


def force_map(values: DescriptorValues) -> torch.Tensor:
    """The matrix (a F, a 3) that maps a structure's dE/dG (a x F, flattened) to its
    forces, eV/Å, from the descriptor's exact vector-Jacobian product. A centre feature
    column f of every atom at once is one product (pair i->j then holds dG_if/dv_ij
    alone, :attr:`Descriptor.num_centre_features`); the other columns, one atom's at a
    time."""
    batch, descriptor = values.batch, values.descriptor
    atoms, width = values.features.shape
    local = descriptor.num_centre_features
    like = {"dtype": values.features.dtype, "device": values.features.device}
    matrix = torch.zeros(atoms * width, atoms, 3, **like)
    with torch.no_grad():
        for start in range(0, local, BASIS_CHUNK):
            columns = torch.arange(start, min(start + BASIS_CHUNK, local), device=like["device"])
            basis = torch.zeros(len(columns), atoms, width, **like)
            basis[torch.arange(len(columns)), :, columns] = 1.0
            gradient = values.pair_gradient(basis)  # (C, P, 3)
            rows = (batch.pair_i[None, :] * width + columns[:, None]).reshape(-1)
            per_pair = gradient.reshape(-1, 3)
            matrix.index_put_((rows, batch.pair_i.repeat(len(columns))), per_pair, accumulate=True)
            matrix.index_put_((rows, batch.pair_j.repeat(len(columns))), -per_pair, accumulate=True)
        others = [(i, f) for i in range(atoms) for f in range(local, width)]
        for start in range(0, len(others), BASIS_CHUNK):
            chosen = torch.as_tensor(others[start : start + BASIS_CHUNK], device=like["device"])
            basis = torch.zeros(len(chosen), atoms, width, **like)
            basis[torch.arange(len(chosen)), chosen[:, 0], chosen[:, 1]] = 1.0
            forces = batch.forces_from_pair_gradient(values.pair_gradient(basis))
            matrix[chosen[:, 0] * width + chosen[:, 1]] = forces
    return matrix.reshape(atoms * width, atoms * 3)


def training_frames(frames: Sequence[Atoms], indices, descriptor: Descriptor, device):
    """The frames ``indices`` in the fastest layout that fits: an object whose
    ``batch(frame_indices)`` gives a mini-batch with ``losses(model, weights)``."""
    if ForceMapFrames.fits(frames, indices, descriptor):
        return ForceMapFrames(frames, indices, descriptor, device)
    return PairFrameSet(frames, indices, descriptor, device)
