r"""Atom-centred Gaussian radial descriptors with a smooth cutoff, and their forces.

For atom *i* and neighbour species *s*, feature *b* is

.. math:: G_{i,sb} = \sum_{j \in s,\; r_{ij} < r_c} g_b(r_{ij}),\qquad
          g_b(r) = \exp\!\Bigl(-\frac{(r-\mu_b)^2}{2\sigma^2}\Bigr) f_c(r),\qquad
          f_c(r) = \tfrac12\bigl(\cos(\pi r / r_c) + 1\bigr)

with centres :math:`\mu_b` evenly spaced on :math:`[r_\mathrm{min}, r_c]` and
:math:`\sigma` their spacing. Everything vanishes smoothly at the cutoff, so energies
and forces are continuous when neighbours cross it.

Because each feature is a sum of pair terms, the force follows from the gradient of
the energy with respect to the features, :math:`\partial E/\partial G`, by the chain
rule over pairs: with :math:`c_{ij} = \sum_b \partial E/\partial G_{i,s_j b}\,
g_b'(r_{ij})` and :math:`\hat r_{ij}` the unit vector from *i* to *j*,
:math:`F_i \mathrel{+}= c_{ij}\hat r_{ij}` and :math:`F_j \mathrel{-}= c_{ij}\hat r_{ij}`.
The pair geometry does not depend on model parameters, so training differentiates only
through :math:`\partial E/\partial G` (cheap), never twice through the descriptor.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from ase import Atoms
from ase.neighborlist import primitive_neighbor_list


@dataclass(frozen=True)
class RadialBasis:
    """Settings of the radial descriptor."""

    species: tuple[int, ...]  # atomic numbers, in feature order
    num_radial: int
    cutoff_a: float  # Å
    r_min_a: float = 0.8  # Å, first Gaussian centre

    @property
    def num_features(self) -> int:
        return len(self.species) * self.num_radial

    def to_dict(self) -> dict:
        return asdict(self)

    def radial_terms(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """g_b(r) and dg_b/dr for distances ``r`` (P,); both of shape (P, num_radial)."""
        centers = torch.linspace(
            self.r_min_a, self.cutoff_a, self.num_radial, dtype=r.dtype, device=r.device
        )
        sigma = (self.cutoff_a - self.r_min_a) / max(self.num_radial - 1, 1)
        u = (r[:, None] - centers) / sigma
        gauss = torch.exp(-0.5 * u * u)
        inside = r < self.cutoff_a
        phase = torch.pi * r / self.cutoff_a
        cutoff = torch.where(inside, 0.5 * (torch.cos(phase) + 1.0), torch.zeros_like(r))
        dcutoff = torch.where(
            inside, -0.5 * torch.pi / self.cutoff_a * torch.sin(phase), torch.zeros_like(r)
        )
        g = gauss * cutoff[:, None]
        dg_dr = gauss * (dcutoff[:, None] - u / sigma * cutoff[:, None])
        return g, dg_dr


@dataclass
class PairBatch:
    """Pair geometry and radial terms of one or more structures, ready for a model."""

    species_index: torch.Tensor  # (A,) index into RadialBasis.species
    structure_index: torch.Tensor  # (A,) which structure each atom belongs to
    num_structures: int
    pair_i: torch.Tensor  # (P,) centre atom
    pair_j: torch.Tensor  # (P,) neighbour atom
    radial: torch.Tensor  # (P, num_radial) g_b(r_ij)
    radial_derivative: torch.Tensor  # (P, num_radial) dg_b/dr at r_ij, 1/Å
    unit_vectors: torch.Tensor  # (P, 3) from i to j

    @property
    def num_atoms(self) -> int:
        return int(self.species_index.shape[0])

    def to(self, device: torch.device | str) -> "PairBatch":
        """The same batch with every tensor on ``device``."""
        moved = {
            name: value.to(device) if isinstance(value, torch.Tensor) else value
            for name, value in vars(self).items()
        }
        return PairBatch(**moved)

    def features(self, basis: RadialBasis) -> torch.Tensor:
        """Descriptor matrix G, shape (A, num_features)."""
        num_species = len(basis.species)
        slot = self.pair_i * num_species + self.species_index[self.pair_j]
        features = torch.zeros(
            self.num_atoms * num_species,
            basis.num_radial,
            dtype=self.radial.dtype,
            device=self.radial.device,
        )
        features.index_add_(0, slot, self.radial)
        return features.reshape(self.num_atoms, basis.num_features)

    def forces(self, basis: RadialBasis, energy_gradient: torch.Tensor) -> torch.Tensor:
        """Forces (..., A, 3) from dE/dG of shape (..., A, num_features) (module docstring)."""
        leading = energy_gradient.shape[:-2]
        num_species = len(basis.species)
        # pairs first: index_select and index_add_ are much faster along dim 0
        rows = (
            energy_gradient.reshape(-1, self.num_atoms * num_species, basis.num_radial)
            .transpose(0, 1)
            .contiguous()
        )  # (A * S, members, nb)
        slot = self.pair_i * num_species + self.species_index[self.pair_j]
        coupling = torch.einsum(
            "pmb,pb->pm", rows.index_select(0, slot), self.radial_derivative
        )  # dE/dr of every pair, per member
        pair_force = coupling[..., None] * self.unit_vectors[:, None, :]  # (P, members, 3)
        forces = torch.zeros(
            self.num_atoms, pair_force.shape[1], 3, dtype=pair_force.dtype, device=pair_force.device
        )
        both_ends = torch.cat([self.pair_i, self.pair_j])
        forces.index_add_(0, both_ends, torch.cat([pair_force, -pair_force]))
        forces = forces.transpose(0, 1).reshape(*leading, self.num_atoms, 3)
        return forces


def species_indices(atoms: Atoms, basis: RadialBasis) -> np.ndarray:
    """Index of each atom's element in ``basis.species``; a clear error for unknown ones."""
    lookup = {z: k for k, z in enumerate(basis.species)}
    unknown = sorted({int(z) for z in atoms.numbers} - set(lookup))
    if unknown:
        raise ValueError(
            f"elements with atomic numbers {unknown} are not among the model's species "
            f"{basis.species}"
        )
    return np.array([lookup[z] for z in atoms.numbers], dtype=np.int64)


@dataclass
class PairTopology:
    """Which atoms pair with which (and through which lattice translation) in a set of
    structures; it changes only when neighbour lists are rebuilt, so MD reuses it and
    recomputes just the pair vectors from new positions."""

    species_index: torch.Tensor  # (A,)
    structure_index: torch.Tensor  # (A,)
    num_structures: int
    pair_i: np.ndarray  # (P,) into the concatenated atoms
    pair_j: np.ndarray  # (P,)
    image_offsets: np.ndarray  # (P, 3) Cartesian translation of atom j, Å

    @classmethod
    def from_candidates(
        cls,
        structures: Sequence[Atoms],
        basis: RadialBasis,
        candidates: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> "PairTopology":
        """``candidates[k]`` is (pair_i, pair_j, image_offsets) of structure k, e.g. a
        Verlet list with a skin; pairs beyond the cutoff will contribute exactly zero."""
        species, owner, pair_i, pair_j, offsets = [], [], [], [], []
        start = 0
        for index, (atoms, (i, j, shift)) in enumerate(zip(structures, candidates, strict=True)):
            species.append(species_indices(atoms, basis))
            owner.append(np.full(len(atoms), index, dtype=np.int64))
            pair_i.append(i + start)
            pair_j.append(j + start)
            offsets.append(shift)
            start += len(atoms)
        return cls(
            torch.as_tensor(np.concatenate(species)),
            torch.as_tensor(np.concatenate(owner)),
            len(structures),
            np.concatenate(pair_i),
            np.concatenate(pair_j),
            np.concatenate(offsets).reshape(-1, 3),
        )

    def batch(
        self, positions: np.ndarray, basis: RadialBasis, dtype: torch.dtype = torch.float64
    ) -> PairBatch:
        """The batch at ``positions`` (all structures' atoms, concatenated)."""
        vectors = positions[self.pair_j] - positions[self.pair_i] + self.image_offsets
        return _assemble(
            basis,
            self.species_index,
            self.structure_index,
            self.num_structures,
            self.pair_i,
            self.pair_j,
            vectors,
            dtype,
        )


def pair_batch(
    structures: Sequence[Atoms], basis: RadialBasis, dtype: torch.dtype = torch.float64
) -> PairBatch:
    """Neighbour pairs within the cutoff (periodic images included) of ``structures``."""
    candidates = []
    for atoms in structures:
        i, j, shifts = primitive_neighbor_list(
            "ijS", atoms.pbc, atoms.cell.array, atoms.positions, basis.cutoff_a
        )
        candidates.append((i, j, shifts @ atoms.cell.array))
    topology = PairTopology.from_candidates(structures, basis, candidates)
    return topology.batch(np.concatenate([a.positions for a in structures]), basis, dtype)


def _assemble(basis, species, owner, num_structures, pair_i, pair_j, vectors, dtype):
    vectors_t = torch.as_tensor(vectors, dtype=dtype)
    r = torch.linalg.norm(vectors_t, dim=1)
    radial, radial_derivative = basis.radial_terms(r)
    return PairBatch(
        species_index=torch.as_tensor(species),
        structure_index=torch.as_tensor(owner),
        num_structures=num_structures,
        pair_i=torch.as_tensor(pair_i, dtype=torch.int64),
        pair_j=torch.as_tensor(pair_j, dtype=torch.int64),
        radial=radial,
        radial_derivative=radial_derivative,
        unit_vectors=vectors_t / r[:, None],
    )
