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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from tqdm import tqdm

from mlpmf.colvars import CollectiveVariable, move_to_value, periodic_difference
from mlpmf.io import atomic_path
from mlpmf.units import fs_to_ase_time, kj_mol_to_ev, kt_ev

log = logging.getLogger(__name__)


class SimulationError(RuntimeError):
    """MD became unphysical (non-finite forces or positions)."""


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


def run_langevin(
    atoms: Atoms,
    settings: LangevinSettings,
    steps: int,
    rng: np.random.Generator,
    bias: UmbrellaBias | None = None,
    observe: Callable[[int, Atoms], None] | None = None,
    observe_every: int = 1,
    progress_label: str | None = None,
    first_step: int = 1,
    checkpoint: Callable[[int, Atoms], None] | None = None,
    checkpoint_every: int = 0,
) -> None:
    """Integrate BAOAB steps ``first_step`` .. ``steps`` of ``atoms`` (with its calculator).

    ``observe(step, atoms)`` is called after every ``observe_every``-th step, with the
    calculator's results for the current positions available in ``atoms.calc.results``;
    ``checkpoint(step, atoms)`` after every ``checkpoint_every``-th step, with the
    velocities stored in ``atoms``. Velocities already in ``atoms`` are continued, else
    drawn from Maxwell-Boltzmann. Atoms under ``FixAtoms`` do not move. Raises
    :class:`SimulationError` as soon as forces or positions stop being finite.
    """
    masses = atoms.get_masses()[:, None]
    mobile = ~fixed_atom_mask(atoms)[:, None]
    dt = fs_to_ase_time(settings.timestep_fs)
    damping = np.exp(-settings.friction_per_fs * settings.timestep_fs)
    noise = np.sqrt((1.0 - damping**2) * kt_ev(settings.temperature_k) / masses)

    positions = atoms.get_positions()
    velocities = atoms.get_velocities()
    if not np.any(velocities):
        velocities = maxwell_boltzmann_velocities(masses[:, 0], settings.temperature_k, rng)
    velocities *= mobile

    def total_forces(x: np.ndarray, step: int) -> np.ndarray:
        atoms.positions = x  # bypasses constraints on purpose: fixed atoms never move here
        forces = atoms.calc.get_forces(atoms)
        if bias is not None:
            forces = forces + bias.energy_and_forces(x)[1]
        if not (np.all(np.isfinite(forces)) and np.all(np.isfinite(x))):
            raise SimulationError(f"MD produced non-finite forces or positions at step {step}")
        return forces * mobile

    forces = total_forces(positions, first_step - 1)
    for step in tqdm(
        range(first_step, steps + 1),
        desc=progress_label,
        disable=progress_label is None,
        mininterval=5,
        initial=first_step - 1,
        total=steps,
    ):
        velocities += 0.5 * dt * forces / masses
        positions = positions + 0.5 * dt * velocities
        velocities = damping * velocities + noise * rng.standard_normal(positions.shape) * mobile
        positions = positions + 0.5 * dt * velocities
        forces = total_forces(positions, step)
        velocities += 0.5 * dt * forces / masses
        if observe is not None and step % observe_every == 0:
            observe(step, atoms)
        if checkpoint is not None and checkpoint_every and step % checkpoint_every == 0:
            atoms.set_velocities(velocities)
            checkpoint(step, atoms)
    atoms.set_velocities(velocities)


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
    """One umbrella window: place the CV at the centre, equilibrate, then record.

    ``atoms`` (with its calculator) is first moved onto the window centre along the CV
    gradient. Returns the production time series: ``time_fs``, ``cv``,
    ``max_force_disagreement_ev_a`` (largest per-atom committee disagreement of the
    frame, when the calculator reports one; NaN otherwise) and ``observable_<name>`` for
    every unbiased observable. With a ``checkpoint``, the state is saved periodically
    and a matching saved state is resumed.
    """
    observables = dict(observables or {})
    series = {"time_fs": [], "cv": [], "max_force_disagreement_ev_a": []}
    series.update({f"observable_{name}": [] for name in observables})
    first_step = 1
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        atoms.positions = move_to_value(bias.cv, atoms.positions, bias.center)
    else:
        atoms.positions = saved["positions"]
        atoms.set_velocities(saved["velocities"])
        rng.bit_generator.state = json.loads(str(saved["rng_state"]))
        for name in series:
            series[name] = list(saved[f"series_{name}"])
        first_step = int(saved["step"]) + 1
        log.info("resuming window from its checkpoint at step %d", first_step - 1)

    def record(step: int, current: Atoms) -> None:
        production_step = step - equilibration_steps
        if production_step <= 0 or production_step % record_every:
            return
        series["time_fs"].append(production_step * settings.timestep_fs)
        series["cv"].append(bias.cv.value(current.positions))
        per_atom = current.calc.results.get("force_disagreement")
        series["max_force_disagreement_ev_a"].append(
            np.nan if per_atom is None else float(np.max(per_atom))
        )
        for name, observable in observables.items():
            series[f"observable_{name}"].append(observable.value(current.positions))

    run_langevin(
        atoms,
        settings,
        equilibration_steps + steps,
        rng,
        bias,
        record,
        1,
        progress_label,
        first_step=first_step,
        checkpoint=None
        if checkpoint is None
        else (lambda step, current: checkpoint.save(step, current, rng, series)),
        checkpoint_every=0 if checkpoint is None else checkpoint.every_steps,
    )
    return {name: np.array(values, dtype=float) for name, values in series.items()}
