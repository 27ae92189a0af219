"""Langevin dynamics with an optional harmonic umbrella bias on a collective variable.

The integrator is BAOAB (Leimkuhler & Matthews, J. Chem. Phys. 138, 174102 (2013)):
half kick (B), half drift (A), exact Ornstein-Uhlenbeck step of the velocities (O),
half drift, new forces, half kick. Its configurational sampling error is O(dt^2) and
small at the time steps used for MD of atoms, which is what umbrella sampling needs.

The bias on window k is ``U_k(x) = 0.5 * kappa_k * d(xi(x), c_k)**2`` with ``kappa`` in
kJ/mol per CV unit squared (converted to eV here) and ``d`` the periodic difference for
periodic CVs. Positions are never wrapped into the cell, so CVs stay continuous.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed
from ase.constraints import FixAtoms
from tqdm import tqdm

from mlpmf.colvars import CollectiveVariable, periodic_difference
from mlpmf.pathcv import UpperWall
from mlpmf.units import fs_to_ase_time, kj_mol_to_ev, kt_ev

log = logging.getLogger(__name__)


Exchange = Callable[[int, list, list, list], Sequence[int]]
"""(step, positions, momenta, results) -> replicas whose state was swapped."""


class SimulationError(RuntimeError):
    """MD became unphysical (non-finite forces or positions, atoms flown apart) or its
    force field failed: at ``step``, in replica ``replica`` (its index in the batch),
    for the atoms ``atoms`` when the force field names them."""

    def __init__(
        self,
        message: str,
        step: int | None = None,
        replica: int | None = None,
        atoms: list[int] | None = None,
    ):
        super().__init__(message)
        self.step = step
        self.replica = replica
        self.atoms = atoms


@dataclass(frozen=True)
class UmbrellaBias:
    """Harmonic restraint ``0.5 * spring_constant * d(xi, center)**2`` on a CV."""

    cv: CollectiveVariable
    center: float  # CV unit
    spring_constant_kj_mol: float  # kJ/mol per CV unit squared

    def deviation(self, positions: np.ndarray) -> float:
        """d(xi, centre) at ``positions``, CV unit (periodic for a periodic CV)."""
        return float(periodic_difference(self.cv.value(positions), self.center, self.cv.period))

    def energy(self, positions: np.ndarray) -> float:
        """Bias energy (eV) at ``positions``."""
        return 0.5 * kj_mol_to_ev(self.spring_constant_kj_mol) * self.deviation(positions) ** 2

    def energy_and_forces(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Bias energy (eV) and forces (eV/Å) at ``positions``."""
        kappa_ev = kj_mol_to_ev(self.spring_constant_kj_mol)
        deviation = self.deviation(positions)
        forces = -kappa_ev * deviation * self.cv.gradient(positions)
        return 0.5 * kappa_ev * deviation**2, forces

    @property
    def terms(self) -> tuple["UmbrellaBias", ...]:
        """The harmonic restraints this bias is the sum of: itself."""
        return (self,)


@dataclass(frozen=True)
class GridBias:
    """Harmonic restraints on several CVs at once (a window of 2D umbrella sampling):
    the sum of its ``terms``. ``cv`` and ``center`` are the first term's, the CV the
    windows are ordered along."""

    terms: tuple[UmbrellaBias, ...]

    @property
    def cv(self) -> CollectiveVariable:
        return self.terms[0].cv

    @property
    def center(self) -> float:
        return self.terms[0].center

    def energy(self, positions: np.ndarray) -> float:
        """Bias energy (eV) at ``positions``."""
        return sum(term.energy(positions) for term in self.terms)

    def energy_and_forces(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Bias energy (eV) and forces (eV/Å) at ``positions``."""
        parts = [term.energy_and_forces(positions) for term in self.terms]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)


class Bias(Protocol):
    """What drives a window: harmonic restraints (``terms``) on one CV or more, ordered
    and placed by the first (``cv``, ``center``). UmbrellaBias and GridBias are Biases."""

    @property
    def cv(self) -> CollectiveVariable: ...
    @property
    def center(self) -> float: ...
    @property
    def terms(self) -> tuple[UmbrellaBias, ...]: ...
    def energy(self, positions: np.ndarray) -> float: ...
    def energy_and_forces(self, positions: np.ndarray) -> tuple[float, np.ndarray]: ...


def bias_forces(
    biases: Sequence[Bias | None], positions: Sequence[np.ndarray]
) -> list[np.ndarray | None]:
    """Bias forces (eV/Å) of every replica (None where it has no bias), the restraints
    on one CV in one vectorised pass: per replica, the same numbers as
    ``energy_and_forces`` gives it alone."""
    forces: list[np.ndarray | None] = [None] * len(biases)
    groups: dict[tuple, list[tuple[int, UmbrellaBias]]] = {}
    for k, bias in enumerate(biases):
        if bias is not None:
            for term in bias.terms:
                groups.setdefault((term.cv, positions[k].shape), []).append((k, term))
    for (cv, _), members in groups.items():
        stack = np.stack([positions[k] for k, _ in members])
        centers = np.array([term.center for _, term in members])
        kappa_ev = kj_mol_to_ev(np.array([term.spring_constant_kj_mol for _, term in members]))
        deviation = periodic_difference(cv.values(stack), centers, cv.period)
        forces_of_group = -(kappa_ev * deviation)[:, None, None] * cv.gradients(stack)
        for (k, _), f in zip(members, forces_of_group, strict=True):
            forces[k] = f if forces[k] is None else forces[k] + f
    return forces


def walled(force_field: "ForceField", wall: UpperWall | None) -> "ForceField":
    """``force_field`` with ``wall``'s forces added to every structure's (itself where
    there is no wall)."""
    if wall is None:
        return force_field

    def with_wall(structures: Sequence[Atoms], with_disagreement: bool = True) -> list:
        results = force_field(structures, with_disagreement)
        if not structures:
            return results
        stack = np.stack([atoms.positions for atoms in structures])
        pushes = wall.forces(stack)
        return [
            {**result, "forces": np.asarray(result["forces"]) + push}
            for result, push in zip(results, pushes, strict=True)
        ]

    return with_wall


@dataclass(frozen=True)
class LangevinSettings:
    temperature_k: float
    timestep_fs: float
    friction_per_fs: float


def fixed_atom_mask(atoms: Atoms) -> np.ndarray:
    """Boolean mask of atoms held by ``FixAtoms`` constraints."""
    mask = np.zeros(len(atoms), dtype=bool)
    for constraint in atoms.constraints:
        if isinstance(constraint, FixAtoms):
            mask[constraint.index] = True
    return mask


def maxwell_boltzmann_velocities(
    masses: np.ndarray, temperature_k: float, rng: np.random.Generator
) -> np.ndarray:
    """Velocities (Å per ASE time unit) drawn from the Maxwell-Boltzmann distribution."""
    sigma = np.sqrt(kt_ev(temperature_k) / masses)[:, None]
    return sigma * rng.standard_normal((len(masses), 3))


ForceField = Callable[[Sequence[Atoms], bool], list[Mapping]]
"""Evaluates structures (replicas of an MD) at once; returns per structure a mapping with
at least ``forces`` (eV/Å), and ``force_disagreement`` when the force field has one and
the second argument asks for it (a committee then computes every member's forces)."""


def own_calculators(structures: Sequence[Atoms], with_disagreement: bool = True) -> list[Mapping]:
    """The force field of structures that each carry their own ASE calculator."""
    results = []
    for atoms in structures:
        forces = atoms.calc.get_forces(atoms)
        if with_disagreement and "force_disagreement" in atoms.calc.implemented_properties:
            atoms.calc.get_property("force_disagreement", atoms)
        results.append({**atoms.calc.results, "forces": forces})
    return results


@dataclass(frozen=True)
class StepHooks:
    """What :func:`integrate` does besides integrating, all optional.

    ``observe(step, k, atoms, results)`` is called for every replica after every step;
    ``checkpoint(step)`` after every ``checkpoint_every``-th, with the momenta stored in
    the replicas' Atoms. ``disagreement_at(step)`` says at which steps the force field
    must report its disagreement (default: every step); elsewhere a committee computes
    only its mean force, a quarter of the work for four members. ``exchange(step,
    positions, momenta, results)``, after ``observe``, may swap replicas' states in
    place (replica exchange) and returns the replicas it changed. ``progress_label``:
    a progress bar with this label."""

    observe: Callable[[int, int, Atoms, Mapping], None] | None = None
    disagreement_at: Callable[[int], bool] | None = None
    exchange: Exchange | None = None
    checkpoint: Callable[[int], None] | None = None
    checkpoint_every: int = 0
    progress_label: str | None = None


NO_HOOKS = StepHooks()


def integrate(
    replicas: Sequence[Atoms],
    settings: LangevinSettings,
    steps: int,
    rngs: Sequence[np.random.Generator],
    biases: Sequence[Bias | None],
    force_field: ForceField = own_calculators,
    hooks: StepHooks = NO_HOOKS,
    first_step: int = 1,
) -> None:
    """Integrate BAOAB steps ``first_step`` .. ``steps`` of independent replicas at once.

    Every replica has its own random stream and bias; the force field evaluates all
    replicas together (one batched forward pass for a committee), so a replica follows
    the same trajectory whether it runs alone or in a batch. Momenta already in an Atoms
    are continued, else drawn from Maxwell-Boltzmann. The integrator's own variables are
    positions and momenta, the two an Atoms stores exactly (velocities it keeps as
    momenta, and p / m * m is not always p), so a run continued from its stored state
    follows the uninterrupted one bit for bit. Atoms under ``FixAtoms`` do not move.
    Raises :class:`SimulationError` as soon as forces or positions stop being finite.
    What it does besides (observers, checkpoints, disagreement, replica exchange,
    progress): ``hooks`` (:class:`StepHooks`).
    """
    observe, exchange, checkpoint = hooks.observe, hooks.exchange, hooks.checkpoint
    disagreement_at, checkpoint_every = hooks.disagreement_at, hooks.checkpoint_every
    dt = fs_to_ase_time(settings.timestep_fs)
    damping = np.exp(-settings.friction_per_fs * settings.timestep_fs)
    masses = [a.get_masses()[:, None] for a in replicas]
    mobile = [~fixed_atom_mask(a)[:, None] for a in replicas]
    noise = [np.sqrt((1.0 - damping**2) * kt_ev(settings.temperature_k) * m) for m in masses]
    positions = [a.get_positions() for a in replicas]
    momenta = []
    for atoms, rng, m, free in zip(replicas, rngs, masses, mobile, strict=True):
        p = atoms.get_momenta()
        if not np.any(p):
            p = m * maxwell_boltzmann_velocities(m[:, 0], settings.temperature_k, rng)
        momenta.append(p * free)

    def evaluate(step: int) -> tuple[list[np.ndarray], list[Mapping]]:
        for atoms, x in zip(replicas, positions, strict=True):
            atoms.positions = x  # bypasses constraints on purpose: fixed atoms never move
        try:
            results = force_field(replicas, disagreement_at is None or disagreement_at(step))
        except CalculationFailed as error:
            raise SimulationError(
                f"the force field failed at step {step}: {error}",
                step,
                getattr(error, "structure", None),
                getattr(error, "atoms", None),
            ) from error
        forces = []
        biased = bias_forces(biases, positions)
        for k, (x, result) in enumerate(zip(positions, results, strict=True)):
            f = total_force(k, result, biased[k])
            if not (np.all(np.isfinite(f)) and np.all(np.isfinite(x))):
                bad = np.flatnonzero(~np.all(np.isfinite(f) & np.isfinite(x), axis=1))
                raise SimulationError(
                    f"MD produced non-finite forces or positions at step {step} (replica "
                    f"{k}, atoms {bad.tolist()})",
                    step,
                    k,
                    bad.tolist(),
                )
            forces.append(f)
        return forces, results

    def total_force(k: int, result: Mapping, bias: np.ndarray | None) -> np.ndarray:
        if bias is None:
            return result["forces"] * mobile[k]
        return (result["forces"] + bias) * mobile[k]

    def store_state() -> None:
        for atoms, x, p in zip(replicas, positions, momenta, strict=True):
            atoms.positions = x
            atoms.set_momenta(p, apply_constraint=False)

    forces, _ = evaluate(first_step - 1)
    for step in tqdm(
        range(first_step, steps + 1),
        desc=hooks.progress_label,
        disable=hooks.progress_label is None,
        mininterval=5,
        initial=first_step - 1,
        total=steps,
    ):
        for k, rng in enumerate(rngs):
            momenta[k] += 0.5 * dt * forces[k]
            positions[k] = positions[k] + 0.5 * dt * momenta[k] / masses[k]
            kick = noise[k] * rng.standard_normal(positions[k].shape) * mobile[k]
            momenta[k] = damping * momenta[k] + kick
            positions[k] = positions[k] + 0.5 * dt * momenta[k] / masses[k]
        forces, results = evaluate(step)
        for k in range(len(replicas)):
            momenta[k] += 0.5 * dt * forces[k]
            if observe is not None:
                observe(step, k, replicas[k], results[k])
        if exchange is not None:
            swapped = list(exchange(step, positions, momenta, results))
            biased = bias_forces([biases[k] for k in swapped], [positions[k] for k in swapped])
            for k, bias in zip(swapped, biased, strict=True):
                forces[k] = total_force(k, results[k], bias)
        if checkpoint is not None and checkpoint_every and step % checkpoint_every == 0:
            store_state()
            checkpoint(step)
    store_state()


def run_langevin(
    atoms: Atoms,
    settings: LangevinSettings,
    steps: int,
    rng: np.random.Generator,
    bias: Bias | None = None,
    observe: Callable[[int, Atoms], None] | None = None,
    observe_every: int = 1,
    progress_label: str | None = None,
) -> None:
    """Integrate ``steps`` BAOAB steps of one ``atoms`` with its own calculator
    (:func:`integrate`); ``observe(step, atoms)`` after every ``observe_every``-th step,
    with the calculator's results for the current positions in ``atoms.calc.results``."""

    def observe_one(step, _k, current, _results):
        if observe is not None and step % observe_every == 0:
            observe(step, current)

    hooks = StepHooks(observe=observe_one, progress_label=progress_label)
    integrate([atoms], settings, steps, [rng], [bias], hooks=hooks)
