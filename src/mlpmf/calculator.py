"""The committee as an ASE calculator and as a batched force field, and the force field
that drives a study's MD."""

import copy
import logging
from collections.abc import Callable

import numpy as np
import torch
from ase.calculators.calculator import CalculationFailed, Calculator, all_changes

from mlpmf.models import (
    Potential,
    dpgen_force_deviation,
    load_model,
    max_pairwise_force_difference,
    resolve_device,
)
from mlpmf.neighbours import PairTopology, neighbour_list

log = logging.getLogger(__name__)

COMMITTEE_PROPERTIES = [
    "energy",
    "free_energy",
    "forces",
    "force_disagreement",
    "force_deviation",
    "energy_spread",
]
"""What a committee calculator (ours or :class:`ExternalCommittee`) reports."""


class IsolatedAtomError(CalculationFailed):
    """An atom has no neighbour within the descriptor cutoff: the committee cannot see
    it, so a simulation that produced it has flown apart. ``structure`` is the index of
    the structure in the batch, ``atoms`` the isolated atoms' indices."""

    def __init__(self, message: str, structure: int, atoms: list[int]):
        super().__init__(message)
        self.structure = structure
        self.atoms = atoms


class VerletList:
    """Candidate pairs within cutoff + skin, rebuilt only when an atom moved skin/2.

    Between rebuilds no pair can enter the cutoff unseen, so the energy is exactly that
    of a fresh neighbour list; rebuilding every step is what makes small-system MD slow.
    A small molecule without periodic boundaries simply keeps all its pairs.
    """

    ALL_PAIRS_UP_TO_ATOMS = 64

    def __init__(self, cutoff_a: float, skin_a: float = 1.0):
        self.cutoff_a = cutoff_a
        self.skin_a = skin_a
        self.rebuilds = 0  # how often the candidates changed
        self._key = None

    def candidates(self, atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pair_i, pair_j, image_offsets) covering every pair within the cutoff."""
        key = (atoms.cell.array.tobytes(), atoms.pbc.tobytes(), atoms.numbers.tobytes())
        if self._key == key and (self._all_pairs or not self._needs_rebuild(atoms.positions)):
            return self._pairs
        self._all_pairs = not atoms.pbc.any() and len(atoms) <= self.ALL_PAIRS_UP_TO_ATOMS
        if self._all_pairs:
            i, j = np.nonzero(~np.eye(len(atoms), dtype=bool))
            self._pairs = (i, j, np.zeros((len(i), 3)))
        else:
            i, j, shifts = neighbour_list(
                atoms.positions, atoms.cell.array, atoms.pbc, self.cutoff_a + self.skin_a
            )
            self._pairs = (i, j, shifts @ atoms.cell.array)
        self._reference = atoms.positions.copy()
        self._key = key
        self.rebuilds += 1
        return self._pairs

    def _needs_rebuild(self, positions: np.ndarray) -> bool:
        displacement = np.sqrt(np.max(np.sum((positions - self._reference) ** 2, axis=1)))
        return displacement > 0.5 * self.skin_a


class BatchedCommittee:
    """Committee predictions for many structures in one forward pass.

    Replica k of every call keeps its own Verlet list, so the structures passed must
    keep their order between calls (as the replicas of a batched MD do). Each result
    holds ``energy`` and ``forces`` (committee mean), ``force_disagreement`` (A,) — per
    atom, the largest difference between any two members' force vectors, the
    active-learning trigger — ``force_deviation`` (A,), DP-GEN's metric, the norm of the
    members' force standard deviation per atom, and ``energy_spread``, the members'
    energy standard deviation, all in eV and Å. ``dtype`` float32 roughly doubles the throughput of
    large batches; forces then carry ~1e-6 relative rounding, far below any model error.
    """

    def __init__(self, committee: Potential, dtype: torch.dtype = torch.float64):
        if committee.feature_mean.dtype != dtype:  # Module.to converts in place: copy first
            committee = copy.deepcopy(committee).to(dtype)
        self.committee = committee.eval()
        self.dtype = dtype
        self.neighbors: list[VerletList] = []
        self._topology_key: tuple = ()

    def __call__(self, structures, with_disagreement: bool = True) -> list[dict]:
        """Results per structure; without ``with_disagreement`` only the mean force is
        differentiated (one backward pass instead of M) and ``force_disagreement`` is
        left out."""
        while len(self.neighbors) < len(structures):
            self.neighbors.append(VerletList(self.committee.descriptor.cutoff_a))
        candidates = [self.neighbors[k].candidates(s) for k, s in enumerate(structures)]
        key = tuple(self.neighbors[k].rebuilds for k in range(len(structures)))
        if key != self._topology_key:
            descriptor = self.committee.descriptor
            self._topology = PairTopology.from_candidates(
                structures, descriptor.species, candidates
            )
            self._topology_key = key
        positions = np.concatenate([atoms.positions for atoms in structures])
        with torch.no_grad():
            cutoff = self.committee.descriptor.cutoff_a
            batch = self._topology.batch(positions, self.dtype).within(cutoff)
            self._check_no_isolated_atoms(batch, structures)
            energies, forces = self.committee.energies_and_forces(
                batch.to(self.committee.device), member_forces=with_disagreement
            )
            mean_forces = forces.mean(0).double().cpu().numpy()
            if with_disagreement:
                disagreement = max_pairwise_force_difference(forces).double().cpu().numpy()
                deviation = dpgen_force_deviation(forces).double().cpu().numpy()
        energies = energies.double().cpu().numpy()
        mean_energy, spread = energies.mean(0), energies.std(0)
        results, start = [], 0
        for k, atoms in enumerate(structures):
            end = start + len(atoms)
            result = {
                "energy": float(mean_energy[k]),
                "free_energy": float(mean_energy[k]),
                "forces": mean_forces[start:end],
                "energy_spread": float(spread[k]),
                "member_energies": energies[:, k].copy(),
            }
            if with_disagreement:
                result["force_disagreement"] = disagreement[start:end]
                result["force_deviation"] = deviation[start:end]
            results.append(result)
            start = end
        return results

    def _check_no_isolated_atoms(self, batch, structures) -> None:
        seen = torch.bincount(batch.pair_i, minlength=batch.num_atoms) > 0  # pairs within
        if bool(seen.all()):
            return
        start = 0
        for k, atoms in enumerate(structures):
            alone = np.flatnonzero(~seen[start : start + len(atoms)].numpy())
            start += len(atoms)
            if len(atoms) > 1 and len(alone):
                raise IsolatedAtomError(
                    f"atoms {alone.tolist()} have no neighbour within the "
                    f"{self.committee.descriptor.cutoff_a} Å cutoff: the atoms flew apart",
                    k,
                    alone.tolist(),
                )


class CommitteeCalculator(Calculator):
    """The committee as an ASE calculator: mean energy and forces, with the results
    ``force_disagreement`` and ``energy_spread`` of :class:`BatchedCommittee`. The
    disagreement needs every member's forces, so it is computed only when asked for
    (``calc.get_property("force_disagreement", atoms)``)."""

    implemented_properties = COMMITTEE_PROPERTIES

    def __init__(self, committee: Potential, dtype: torch.dtype = torch.float64, **kwargs):
        super().__init__(**kwargs)
        self.evaluate = BatchedCommittee(committee, dtype)
        self.committee = self.evaluate.committee

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = self.evaluate([self.atoms], "force_disagreement" in properties)[0]


class ExternalCommittee(Calculator):
    """Several ASE calculators (e.g. MACE or NequIP models trained with different seeds)
    as one committee: mean energy and forces, and the per-atom ``force_disagreement``
    (largest pairwise member difference, eV/Å), ``force_deviation`` and
    ``energy_spread`` exactly as the built-in committee reports them. One calculator
    alone passes through (no disagreement)."""

    implemented_properties = COMMITTEE_PROPERTIES

    def __init__(self, members: list[Calculator], **kwargs):
        super().__init__(**kwargs)
        if not members:
            raise ValueError("ExternalCommittee: no calculators")
        self.members = members
        if len(members) == 1:  # one calculator has no disagreement to ask for
            self.implemented_properties = ["energy", "free_energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = self.fresh_results(self.atoms)

    def fresh_results(self, atoms) -> dict:
        """The committee's results at ``atoms``, without this calculator's own check of
        what changed (in MD the positions did): each member is asked as
        ``atoms.get_potential_energy()`` and ``atoms.get_forces()`` would ask it
        (:func:`member_energy_forces`)."""
        labels = [member_energy_forces(member, atoms) for member in self.members]
        energies = np.array([energy for energy, _ in labels])
        forces = np.array([force for _, force in labels])
        member_forces = torch.from_numpy(forces)
        results = {
            "energy": float(energies.mean()),
            "free_energy": float(energies.mean()),
            "forces": forces.mean(0),
        }
        if len(self.members) > 1:
            results.update(
                force_disagreement=max_pairwise_force_difference(member_forces).numpy(),
                force_deviation=dpgen_force_deviation(member_forces).numpy(),
                energy_spread=float(energies.std()),
                member_energies=energies,
            )
        return results


def member_energy_forces(calculator: Calculator, atoms) -> tuple[float, np.ndarray]:
    """What ``atoms.get_potential_energy()`` and ``atoms.get_forces()`` give with
    ``calculator`` attached (ASE's property cache, the constraints' adjustments), with
    one check of what changed and one ``calculate`` for both where the calculator
    computes both at once (ASE's check costs a cheap potential more than its physics)."""
    if not isinstance(calculator, Calculator):
        frame = atoms.copy()
        frame.calc = calculator
        return frame.get_potential_energy(), frame.get_forces()
    changes = calculator.check_state(atoms)
    if changes:  # as Calculator.get_property does
        calculator.atoms = None
        calculator.results = {}
    if "energy" not in calculator.results or "forces" not in calculator.results:
        if calculator.use_cache:
            calculator.atoms = atoms.copy()
        calculator.calculate(atoms, ["energy", "forces"], changes)
    if "energy" in calculator.results and "forces" in calculator.results:
        energy = calculator.results["energy"]
        forces = calculator.results["forces"].copy()  # Atoms.get_forces adjusts a copy
    else:  # a calculator that computes what it is asked one at a time
        energy, forces = calculator.get_potential_energy(atoms), calculator.get_forces(atoms)
    for constraint in atoms.constraints:
        if hasattr(constraint, "adjust_potential_energy"):
            energy += constraint.adjust_potential_energy(atoms)
        constraint.adjust_forces(atoms, forces)
    return energy, forces


def external_calculators_force_field(structures, with_disagreement: bool = True) -> list[dict]:
    """The force field (:func:`mlpmf.dynamics.integrate`) of structures that each carry
    an :class:`ExternalCommittee`: its results afresh at every call, as
    ``own_calculators`` gets them once ASE found the positions moved, less that check.
    The disagreement comes with every call (the members' forces are there anyway)."""
    return [atoms.calc.fresh_results(atoms) for atoms in structures]


def study_force_field(
    potential: str,
    replicas: list,
    model_path: str | None = None,
    oracle: dict | None = None,
    external_potential: list | None = None,
    precision: str = "float64",
    device: str = "cpu",
) -> tuple[Callable, int]:
    """The force field that drives a study's MD (windows, reactive-flux shots): the
    trained MLIP (``potential`` committee or gaussian_process) batched over the
    replicas, the user's ASE calculators (``ase``; several act as a committee) or the
    oracle, where every replica gets its own calculator. Returns the force field for
    :func:`mlpmf.dynamics.integrate` and the number of committee members (0 for one)."""
    from mlpmf.oracles import make_robust_oracle
    from mlpmf.plugins import external_calculators
    from mlpmf.robust import oracle_calculators

    if potential == "ase":
        for atoms in replicas:
            atoms.calc = ExternalCommittee(external_calculators(external_potential))
        members = len(external_potential)
        return external_calculators_force_field, members if members > 1 else 0
    if potential == "oracle":
        for atoms in replicas:  # an SCF that fails even on its retry stops the MD
            atoms.calc = make_robust_oracle(oracle).as_calculator()
        return oracle_calculators, 0
    model = load_model(model_path).to(resolve_device(device))
    log.info("%s runs on %s", model.kind, model.device)
    members = model.num_members
    return BatchedCommittee(model, getattr(torch, precision)), members if members > 1 else 0
