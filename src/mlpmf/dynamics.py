"""Langevin dynamics with an optional harmonic umbrella bias on a collective variable.

The integrator is BAOAB (Leimkuhler & Matthews, J. Chem. Phys. 138, 174102 (2013)):
half kick (B), half drift (A), exact Ornstein-Uhlenbeck step of the velocities (O),
half drift, new forces, half kick. Its configurational sampling error is O(dt^2) and
small at the time steps used for MD of atoms, which is what umbrella sampling needs.

The bias on window k is ``U_k(x) = 0.5 * kappa_k * d(xi(x), c_k)**2`` with ``kappa`` in
kJ/mol per CV unit squared (converted to eV here) and ``d`` the periodic difference for
periodic CVs. Positions are never wrapped into the cell, so CVs stay continuous.
"""

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed
from ase.constraints import FixAtoms
from tqdm import tqdm

from mlpmf.colvars import CollectiveVariable, move_to_value, periodic_difference
from mlpmf.io import atomic_path
from mlpmf.units import fs_to_ase_time, kj_mol_to_ev, kt_ev

log = logging.getLogger(__name__)


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

    def energy_and_forces(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Bias energy (eV) and forces (eV/Å) at ``positions``."""
        kappa_ev = kj_mol_to_ev(self.spring_constant_kj_mol)
        deviation = float(
            periodic_difference(self.cv.value(positions), self.center, self.cv.period)
        )
        energy = 0.5 * kappa_ev * deviation**2
        forces = -kappa_ev * deviation * self.cv.gradient(positions)
        return energy, forces


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


def integrate(
    replicas: Sequence[Atoms],
    settings: LangevinSettings,
    steps: int,
    rngs: Sequence[np.random.Generator],
    biases: Sequence[UmbrellaBias | None],
    force_field: ForceField = own_calculators,
    observe: Callable[[int, int, Atoms, Mapping], None] | None = None,
    progress_label: str | None = None,
    first_step: int = 1,
    checkpoint: Callable[[int], None] | None = None,
    checkpoint_every: int = 0,
    disagreement_at: Callable[[int], bool] | None = None,
) -> None:
    """Integrate BAOAB steps ``first_step`` .. ``steps`` of independent replicas at once.

    Every replica has its own random stream and bias; the force field evaluates all
    replicas together (one batched forward pass for a committee), so a replica follows
    the same trajectory whether it runs alone or in a batch. ``observe(step, k, atoms,
    results)`` is called for every replica after every step; ``checkpoint(step)`` after
    every ``checkpoint_every``-th, with the velocities stored in the replicas' Atoms.
    Velocities already in an Atoms are continued, else drawn from Maxwell-Boltzmann.
    Atoms under ``FixAtoms`` do not move. Raises :class:`SimulationError` as soon as
    forces or positions stop being finite. ``disagreement_at(step)`` says at which steps
    the force field must report its disagreement (default: every step); elsewhere a
    committee computes only its mean force, a quarter of the work for four members.
    """
    dt = fs_to_ase_time(settings.timestep_fs)
    damping = np.exp(-settings.friction_per_fs * settings.timestep_fs)
    masses = [a.get_masses()[:, None] for a in replicas]
    mobile = [~fixed_atom_mask(a)[:, None] for a in replicas]
    noise = [np.sqrt((1.0 - damping**2) * kt_ev(settings.temperature_k) / m) for m in masses]
    positions = [a.get_positions() for a in replicas]
    velocities = []
    for atoms, rng, m, free in zip(replicas, rngs, masses, mobile, strict=True):
        v = atoms.get_velocities()
        if not np.any(v):
            v = maxwell_boltzmann_velocities(m[:, 0], settings.temperature_k, rng)
        velocities.append(v * free)

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
        for k, (x, result, bias) in enumerate(zip(positions, results, biases, strict=True)):
            f = (
                result["forces"]
                if bias is None
                else result["forces"] + bias.energy_and_forces(x)[1]
            )
            if not (np.all(np.isfinite(f)) and np.all(np.isfinite(x))):
                bad = np.flatnonzero(~np.all(np.isfinite(f) & np.isfinite(x), axis=1))
                raise SimulationError(
                    f"MD produced non-finite forces or positions at step {step} (replica "
                    f"{k}, atoms {bad.tolist()})",
                    step,
                    k,
                    bad.tolist(),
                )
            forces.append(f * mobile[k])
        return forces, results

    forces, _ = evaluate(first_step - 1)
    for step in tqdm(
        range(first_step, steps + 1),
        desc=progress_label,
        disable=progress_label is None,
        mininterval=5,
        initial=first_step - 1,
        total=steps,
    ):
        for k, rng in enumerate(rngs):
            velocities[k] += 0.5 * dt * forces[k] / masses[k]
            positions[k] = positions[k] + 0.5 * dt * velocities[k]
            kick = noise[k] * rng.standard_normal(positions[k].shape) * mobile[k]
            velocities[k] = damping * velocities[k] + kick
            positions[k] = positions[k] + 0.5 * dt * velocities[k]
        forces, results = evaluate(step)
        for k in range(len(replicas)):
            velocities[k] += 0.5 * dt * forces[k] / masses[k]
            if observe is not None:
                observe(step, k, replicas[k], results[k])
        if checkpoint is not None and checkpoint_every and step % checkpoint_every == 0:
            for atoms, v in zip(replicas, velocities, strict=True):
                atoms.set_velocities(v)
            checkpoint(step)
    for atoms, v in zip(replicas, velocities, strict=True):
        atoms.set_velocities(v)


def run_langevin(
    atoms: Atoms,
    settings: LangevinSettings,
    steps: int,
    rng: np.random.Generator,
    bias: UmbrellaBias | None = None,
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

    integrate(
        [atoms], settings, steps, [rng], [bias], observe=observe_one, progress_label=progress_label
    )


class WindowCheckpoint:
    """Restart file of one umbrella window: positions, velocities, RNG state, series.

    A checkpoint is used only when its ``fingerprint`` (a digest of everything the
    window depends on) matches, so a changed setting or model never resumes stale state.
    Continuing from it reproduces the uninterrupted run bit for bit.
    """

    def __init__(self, path: str | Path, fingerprint: str, every_steps: int):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.every_steps = every_steps

    def save(self, step: int, atoms: Atoms, rng: np.random.Generator, series: Mapping) -> None:
        arrays = {f"series_{name}": np.asarray(values) for name, values in series.items()}
        with atomic_path(self.path) as tmp:
            np.savez(
                tmp,
                fingerprint=self.fingerprint,
                step=step,
                positions=atoms.positions,
                velocities=atoms.get_velocities(),
                rng_state=json.dumps(rng.bit_generator.state),
                **arrays,
            )

    def load(self) -> dict | None:
        """The saved state, or None when there is none for this fingerprint."""
        if not self.path.exists():
            return None
        with np.load(self.path) as saved:
            if str(saved["fingerprint"]) != self.fingerprint:
                return None
            return {name: saved[name] for name in saved.files}

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def run_umbrella_windows(
    replicas: Sequence[Atoms],
    biases: Sequence[UmbrellaBias],
    settings: LangevinSettings,
    steps: int,
    equilibration_steps: int,
    record_every: int,
    rngs: Sequence[np.random.Generator],
    force_field: ForceField = own_calculators,
    observables: Mapping[str, CollectiveVariable] | None = None,
    checkpoints: Sequence[WindowCheckpoint] | None = None,
    progress_label: str | None = None,
) -> list[dict[str, np.ndarray]]:
    """Umbrella windows, integrated together: place each CV at its window's centre,
    equilibrate, then record.

    Returns, per window, the production time series: ``time_fs``, ``cv``,
    ``max_force_disagreement_ev_a`` (largest per-atom committee disagreement of the
    frame, when the force field reports one; NaN otherwise) and ``observable_<name>`` for
    every unbiased observable. With ``checkpoints`` (one per window) the state is saved
    periodically, and resumed when every window has a matching saved state at the same
    step.
    """
    observables = dict(observables or {})
    names = ["time_fs", "cv", "max_force_disagreement_ev_a"]
    names += [f"observable_{name}" for name in observables]
    series = [{name: [] for name in names} for _ in replicas]
    saved = [c.load() for c in checkpoints] if checkpoints else [None]
    resume = all(s is not None for s in saved) and len({int(s["step"]) for s in saved}) == 1
    first_step = 1
    for k, (atoms, bias, rng) in enumerate(zip(replicas, biases, rngs, strict=True)):
        if not resume:
            atoms.positions = move_to_value(
                bias.cv, atoms.positions, bias.center, numbers=atoms.numbers,
                movable=~fixed_atom_mask(atoms),
            )  # fmt: skip
            continue
        state = saved[k]
        atoms.positions = state["positions"]
        atoms.set_velocities(state["velocities"])
        rng.bit_generator.state = json.loads(str(state["rng_state"]))
        series[k] = {name: list(state[f"series_{name}"]) for name in names}
        first_step = int(state["step"]) + 1
    if resume:
        log.info("resuming windows from their checkpoints at step %d", first_step - 1)

    def recorded(step: int) -> bool:
        production_step = step - equilibration_steps
        return production_step > 0 and production_step % record_every == 0

    def record(step: int, k: int, atoms: Atoms, results: Mapping) -> None:
        if not recorded(step):
            return
        production_step = step - equilibration_steps
        cv = biases[k].cv
        per_atom = results.get("force_disagreement")
        row = series[k]
        row["time_fs"].append(production_step * settings.timestep_fs)
        row["cv"].append(cv.value(atoms.positions))
        row["max_force_disagreement_ev_a"].append(
            np.nan if per_atom is None else float(np.max(per_atom))
        )
        for name, observable in observables.items():
            row[f"observable_{name}"].append(observable.value(atoms.positions))

    def save(step: int) -> None:
        for checkpoint, atoms, rng, row in zip(checkpoints, replicas, rngs, series, strict=True):
            checkpoint.save(step, atoms, rng, row)

    integrate(
        replicas,
        settings,
        equilibration_steps + steps,
        rngs,
        biases,
        force_field,
        record,
        progress_label,
        first_step=first_step,
        checkpoint=save if checkpoints else None,
        checkpoint_every=checkpoints[0].every_steps if checkpoints else 0,
        disagreement_at=recorded,
    )
    return [{name: np.array(v, dtype=float) for name, v in row.items()} for row in series]


def run_umbrella_window(
    atoms: Atoms,
    bias: UmbrellaBias,
    settings: LangevinSettings,
    steps: int,
    equilibration_steps: int,
    record_every: int,
    rng: np.random.Generator,
    progress_label: str | None = None,
    observables: Mapping[str, CollectiveVariable] | None = None,
    checkpoint: WindowCheckpoint | None = None,
) -> dict[str, np.ndarray]:
    """One umbrella window on ``atoms``' own calculator (:func:`run_umbrella_windows`)."""
    return run_umbrella_windows(
        [atoms],
        [bias],
        settings,
        steps,
        equilibration_steps,
        record_every,
        [rng],
        observables=observables,
        checkpoints=None if checkpoint is None else [checkpoint],
        progress_label=progress_label,
    )[0]
