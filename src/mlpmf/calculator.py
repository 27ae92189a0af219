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


class CommitteeCalculator(Calculator):
    """Mean energy and forces of a committee, with its disagreement.

    Results beyond energy and forces:

    - ``force_disagreement`` (A,), eV/Å: per atom, the largest difference between any
      two members' force vectors — the active-learning trigger.
    - ``energy_spread``, eV: standard deviation of the members' energies.
    """

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
        self.neighbors = VerletList(committee.basis.cutoff_a)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        with torch.no_grad():
            batch = pair_batch_from_candidates(
                self.atoms, self.committee.basis, *self.neighbors.candidates(self.atoms)
            )
            energies, forces = self.committee.energies_and_forces(batch)
        member_energies = energies[:, 0].numpy()
        member_forces = forces.numpy()
        energy = float(member_energies.mean())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": member_forces.mean(0),
            "force_disagreement": max_pairwise_force_difference(member_forces),
            "energy_spread": float(member_energies.std()),
        }
