"""Neighbour pairs and triples of one or more structures, as the descriptors use them.

A :class:`PairBatch` holds the pair vectors of a set of structures (periodic images
included); :class:`PairTopology` keeps which atoms pair with which between neighbour-list
rebuilds, so MD recomputes only the vectors; :func:`angular_triples` lists the pairs of
neighbours of every centre atom that three-body terms sum over.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from ase.neighborlist import primitive_neighbor_list


@dataclass
class PairBatch:
    """Neighbour pairs of one or more structures, ready for a descriptor and a model."""

    species_index: torch.Tensor  # (A,) index into Descriptor.species
    structure_index: torch.Tensor  # (A,) which structure each atom belongs to
    num_structures: int
    pair_i: torch.Tensor  # (P,) centre atom
    pair_j: torch.Tensor  # (P,) neighbour atom
    vectors: torch.Tensor  # (P, 3) from i to j, Å

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

    def within(self, cutoff_a: float) -> "PairBatch":
        """The pairs shorter than ``cutoff_a`` (a Verlet list's candidates without its
        skin: the others contribute exactly zero to a descriptor cut off there)."""
        length2 = (self.vectors * self.vectors).sum(1)
        kept = torch.nonzero(length2 < cutoff_a * cutoff_a).squeeze(1)
        return PairBatch(
            self.species_index,
            self.structure_index,
            self.num_structures,
            self.pair_i[kept],
            self.pair_j[kept],
            self.vectors[kept],
        )

    def forces_from_pair_gradient(self, gradient: torch.Tensor) -> torch.Tensor:
        """Forces (..., A, 3) from dE/d(pair vector) (..., P, 3): the vector points from
        i to j, so F_i = +dE/dr_ij and F_j = -dE/dr_ij."""
        lead = gradient.shape[:-2]
        forces = torch.zeros(*lead, self.num_atoms, 3, dtype=gradient.dtype, device=gradient.device)
        forces.index_add_(len(lead), self.pair_i, gradient)
        forces.index_add_(len(lead), self.pair_j, -gradient)
        return forces


def angular_triples(
    pair_i: torch.Tensor, within: torch.Tensor, num_atoms: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every unordered pair of neighbours (j, k) of each centre atom among the pairs
    marked ``within`` (P,) bool: the pair indices (T,) of i-j and of i-k, each triple
    once, vectorised over centres (no Python loop over atoms)."""
    selected = torch.nonzero(within).squeeze(1)
    centre = pair_i[selected]
    order = torch.argsort(centre, stable=True)
    selected, centre = selected[order], centre[order]
    counts = torch.bincount(centre, minlength=num_atoms)
    most = int(counts.max()) if counts.numel() else 0
    if most < 2:
        empty = torch.zeros(0, dtype=torch.int64, device=pair_i.device)
        return empty, empty
    first = torch.cumsum(counts, 0) - counts
    local_j, local_k = torch.triu_indices(most, most, offset=1, device=pair_i.device)
    atoms, combination = torch.nonzero(local_k[None, :] < counts[:, None], as_tuple=True)
    start = first[atoms]
    return selected[start + local_j[combination]], selected[start + local_k[combination]]


def species_indices(atoms: Atoms, species: Sequence[int]) -> np.ndarray:
    """Index of each atom's element in ``species``; a clear error for unknown ones."""
    lookup = {z: k for k, z in enumerate(species)}
    unknown = sorted({int(z) for z in atoms.numbers} - set(lookup))
    if unknown:
        raise ValueError(
            f"elements with atomic numbers {unknown} are not among the model's species "
            f"{tuple(species)}"
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
    pair_i: torch.Tensor  # (P,) into the concatenated atoms
    pair_j: torch.Tensor  # (P,)
    image_offsets: np.ndarray  # (P, 3) Cartesian translation of atom j, Å

    @classmethod
    def from_candidates(
        cls,
        structures: Sequence[Atoms],
        species: Sequence[int],
        candidates: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> "PairTopology":
        """``candidates[k]`` is (pair_i, pair_j, image_offsets) of structure k, e.g. a
        Verlet list with a skin; pairs beyond the cutoff will contribute exactly zero."""
        species_index, owner, pair_i, pair_j, offsets = [], [], [], [], []
        start = 0
        for index, (atoms, (i, j, shift)) in enumerate(zip(structures, candidates, strict=True)):
            species_index.append(species_indices(atoms, species))
            owner.append(np.full(len(atoms), index, dtype=np.int64))
            pair_i.append(i + start)
            pair_j.append(j + start)
            offsets.append(shift)
            start += len(atoms)
        return cls(
            torch.as_tensor(np.concatenate(species_index)),
            torch.as_tensor(np.concatenate(owner)),
            len(structures),
            torch.as_tensor(np.concatenate(pair_i), dtype=torch.int64),
            torch.as_tensor(np.concatenate(pair_j), dtype=torch.int64),
            np.concatenate(offsets).reshape(-1, 3),
        )

    def batch(self, positions: np.ndarray, dtype: torch.dtype = torch.float64) -> PairBatch:
        """The batch at ``positions`` (all structures' atoms, concatenated)."""
        vectors = positions[self.pair_j] - positions[self.pair_i] + self.image_offsets
        return PairBatch(
            species_index=self.species_index,
            structure_index=self.structure_index,
            num_structures=self.num_structures,
            pair_i=self.pair_i,
            pair_j=self.pair_j,
            vectors=torch.as_tensor(vectors, dtype=dtype),
        )


SMALL_SEARCH = 1_000_000
"""Largest atoms x atoms x lattice images that :func:`neighbour_list` compares directly
(a few milliseconds); larger systems go to ASE's binned search."""


def neighbour_list(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff_a: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered pair (i, j, S) with |x_j - x_i + S @ cell| < ``cutoff_a``, S the
    integer lattice translation (0 along non-periodic axes), as ASE's
    ``primitive_neighbor_list("ijS", ...)`` gives them for the unwrapped positions.

    A small system (a molecule, a slab of tens of atoms, where ASE's binning costs
    milliseconds of Python per call) compares every pair under every lattice image in
    reach, vectorised; the pairs come sorted by i, then S, then j."""
    pbc = np.asarray(pbc, dtype=bool)
    count = len(positions)
    if pbc.any() and abs(np.linalg.det(cell)) < 1e-9:  # a periodic axis without a cell
        return primitive_neighbor_list("ijS", pbc, cell, positions, cutoff_a)
    if pbc.any():
        fractional = np.linalg.solve(cell.T, positions.T).T
        cells = np.where(pbc, np.floor(fractional), 0.0).astype(np.int64)
        wrapped = positions - cells @ cell
        volume = abs(np.linalg.det(cell))
        spacing = volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        reach = np.where(pbc, np.ceil(cutoff_a / spacing).astype(np.int64) + 1, 0)
        ranges = [np.arange(-n, n + 1) for n in reach]
        images = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, 3)
    else:
        cells = np.zeros((count, 3), dtype=np.int64)
        wrapped = positions
        images = np.zeros((1, 3), dtype=np.int64)
    if count * count * len(images) > SMALL_SEARCH:
        return primitive_neighbor_list("ijS", pbc, cell, positions, cutoff_a)
    translations = images @ cell if pbc.any() else np.zeros((1, 3))
    vectors = (
        wrapped[None, :, None, :] - wrapped[:, None, None, :] + translations[None, None, :, :]
    )  # (i, j, S, 3)
    within = np.einsum("ijsk,ijsk->ijs", vectors, vectors) < cutoff_a * cutoff_a
    within[np.arange(count), np.arange(count), np.flatnonzero(~images.any(1))] = False
    i, s, j = np.nonzero(within.transpose(0, 2, 1))
    shifts = images[s] - cells[j] + cells[i]
    return i, j, shifts


def neighbour_pairs(
    structures: Sequence[Atoms],
    species: Sequence[int],
    cutoff_a: float,
    dtype: torch.dtype = torch.float64,
) -> PairBatch:
    """Neighbour pairs within ``cutoff_a`` (periodic images included) of ``structures``."""
    candidates = []
    for atoms in structures:
        i, j, shifts = neighbour_list(atoms.positions, atoms.cell.array, atoms.pbc, cutoff_a)
        candidates.append((i, j, shifts @ atoms.cell.array))
    topology = PairTopology.from_candidates(structures, species, candidates)
    return topology.batch(np.concatenate([a.positions for a in structures]), dtype)
