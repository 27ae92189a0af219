"""The committee as an ASE calculator."""

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.neighborlist import primitive_neighbor_list

from mlpmf.descriptors import pair_batch_from_candidates
from mlpmf.models import Committee


class VerletList:
    """Candidate pairs within cutoff + skin, rebuilt only when an atom moved skin/2.

    Between rebuilds no pair can enter the cutoff unseen, so the energy is exactly that
    of a fresh neighbour list; rebuilding every step is what makes small-system MD slow.
    """

    def __init__(self, cutoff_a: float, skin_a: float = 1.0):
        self.cutoff_a = cutoff_a
        self.skin_a = skin_a
        self._key = None

    def candidates(self, atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pair_i, pair_j, image_offsets) covering every pair within the cutoff."""
        key = (atoms.cell.array.tobytes(), atoms.pbc.tobytes(), atoms.numbers.tobytes())
        if self._key != key or self._needs_rebuild(atoms.positions):
            i, j, shifts = primitive_neighbor_list(
                "ijS", atoms.pbc, atoms.cell.array, atoms.positions, self.cutoff_a + self.skin_a
            )
            self._pairs = (i, j, shifts @ atoms.cell.array)
            self._reference = atoms.positions.copy()
            self._key = key
        return self._pairs

    def _needs_rebuild(self, positions: np.ndarray) -> bool:
        if self._reference.shape != positions.shape:
            return True
        displacement = np.linalg.norm(positions - self._reference, axis=1).max()
        return displacement > 0.5 * self.skin_a


def max_pairwise_force_difference(member_forces: np.ndarray) -> np.ndarray:
    """Largest |F_m - F_m'| over member pairs, per atom: (M, A, 3) -> (A,), eV/Å."""
    difference = member_forces[:, None] - member_forces[None, :]
    return np.linalg.norm(difference, axis=-1).max(axis=(0, 1))


class BatchedCommittee:
    """Committee predictions for many structures in one forward pass.

    Replica k of every call keeps its own Verlet list, so the structures passed must
    keep their order between calls (as the replicas of a batched MD do). Each result
    holds ``energy`` and ``forces`` (committee mean), ``force_disagreement`` (A,) — per
    atom, the largest difference between any two members' force vectors, the
    active-learning trigger — and ``energy_spread``, the members' energy standard
    deviation, all in eV and Å.
    """

    def __init__(self, committee: Committee):
        self.committee = committee.eval()
        self.neighbors: list[VerletList] = []

    def __call__(self, structures) -> list[dict]:
        while len(self.neighbors) < len(structures):
            self.neighbors.append(VerletList(self.committee.basis.cutoff_a))
        candidates = [self.neighbors[k].candidates(s) for k, s in enumerate(structures)]
        with torch.no_grad():
            batch = pair_batch_from_candidates(structures, self.committee.basis, candidates)
            energies, forces = self.committee.energies_and_forces(batch.to(self.committee.device))
        energies = energies.cpu().numpy()
        forces = forces.cpu().numpy()
        results, start = [], 0
        for k, atoms in enumerate(structures):
            member_forces = forces[:, start : start + len(atoms)]
            start += len(atoms)
            energy = float(energies[:, k].mean())
            results.append(
                {
                    "energy": energy,
                    "free_energy": energy,
                    "forces": member_forces.mean(0),
                    "force_disagreement": max_pairwise_force_difference(member_forces),
                    "energy_spread": float(energies[:, k].std()),
                }
            )
        return results


class CommitteeCalculator(Calculator):
    """The committee as an ASE calculator: mean energy and forces, with the results
    ``force_disagreement`` and ``energy_spread`` of :class:`BatchedCommittee`."""

    implemented_properties = [
        "energy",
        "free_energy",
        "forces",
        "force_disagreement",
        "energy_spread",
    ]

    def __init__(self, committee: Committee, **kwargs):
        super().__init__(**kwargs)
        self.committee = committee.eval()
        self.evaluate = BatchedCommittee(committee)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = self.evaluate([self.atoms])[0]
