"""Labelled frames: reading and checking them, their reference arrays, and the
statistics a model is normalised by (per-element feature scales and energy shifts)."""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.io import read

from mlpmf.descriptors import Descriptor, pair_batch
from mlpmf.settings import DescriptorSettings

# A feature is scaled by its spread over the training atoms, but by no less than this
# fraction of the largest spread of any feature of its block, and no less than the
# absolute floor (chiral features of an achiral system are zero up to rounding). A
# feature that barely varies in the data (a Gaussian far from any neighbour distance,
# an element pair that seldom meets) must not be blown up into a large input that
# varies with noise and rare outliers: on alanine dipeptide a floor of 1e-3 of the
# block's spread gave a committee 19% force error after 30 epochs, 0.1-0.3 of the
# largest spread 7%. Relative to the block, because chiral products are small numbers
# (1e-4 and below) whose spread still carries the signal, while radial and angular
# features are of order one.
RELATIVE_STD_FLOOR = 0.2
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


def reference_arrays(frames: Sequence[Atoms]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Energies (n,) eV, forces (atoms of all frames, 3) eV/Å and atom counts (n,)."""
    energies = torch.tensor([f.get_potential_energy() for f in frames], dtype=torch.float64)
    forces = torch.as_tensor(
        np.concatenate([f.get_forces(apply_constraint=False) for f in frames]), dtype=torch.float64
    )
    counts = torch.tensor([len(f) for f in frames], dtype=torch.float64)
    return energies, forces, counts


def descriptor_for(frames: Sequence[Atoms], settings: DescriptorSettings | Mapping) -> Descriptor:
    """The descriptor of the config's ``descriptor`` section for the elements of ``frames``."""
    species = tuple(sorted({int(z) for f in frames for z in f.numbers}))
    return Descriptor(species, **dataclasses.asdict(DescriptorSettings.of(settings)))


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
                spread = selected.std(0)
                floor = torch.cat(
                    [
                        torch.full_like(block, RELATIVE_STD_FLOOR * float(block.max()))
                        for block in torch.split(spread, descriptor.block_sizes())
                    ]
                ).clamp_min(ABSOLUTE_STD_FLOOR)
                std[s] = torch.maximum(spread, floor)
        energies, _, _ = reference_arrays(frames)
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
