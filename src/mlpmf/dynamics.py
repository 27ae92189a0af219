"""Langevin dynamics with an optional harmonic umbrella bias on a collective variable.

The integrator is BAOAB (Leimkuhler & Matthews, J. Chem. Phys. 138, 174102 (2013)):
half kick (B), half drift (A), exact Ornstein-Uhlenbeck step of the velocities (O),
half drift, new forces, half kick. Its configurational sampling error is O(dt^2) and
small at the time steps used for MD of atoms, which is what umbrella sampling needs.

The bias on window k is ``U_k(x) = 0.5 * kappa_k * d(xi(x), c_k)**2`` with ``kappa`` in
kJ/mol per CV unit squared (converted to eV here) and ``d`` the periodic difference for
periodic CVs. Positions are never wrapped into the cell, so CVs stay continuous.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from tqdm import tqdm

from mlpmf.colvars import CollectiveVariable, move_to_value, periodic_difference
from mlpmf.units import fs_to_ase_time, kj_mol_to_ev, kt_ev


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
) -> None:
    """Integrate ``steps`` BAOAB steps of ``atoms`` (with its calculator) in place.

    ``observe(step, atoms)`` is called after every ``observe_every``-th step, with the
    calculator's results for the current positions available in ``atoms.calc.results``.
    Atoms under ``FixAtoms`` do not move. Raises :class:`SimulationError` as soon as
    forces or positions stop being finite.
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

    def total_forces(x: np.ndarray) -> np.ndarray:
        atoms.positions = x  # bypasses constraints on purpose: fixed atoms never move here
        forces = atoms.calc.get_forces(atoms)
        if bias is not None:
            forces = forces + bias.energy_and_forces(x)[1]
        if not (np.all(np.isfinite(forces)) and np.all(np.isfinite(x))):
            raise SimulationError("MD produced non-finite forces or positions")
        return forces * mobile

    forces = total_forces(positions)
    for step in tqdm(
        range(1, steps + 1), desc=progress_label, disable=progress_label is None, mininterval=5
    ):
        velocities += 0.5 * dt * forces / masses
        positions = positions + 0.5 * dt * velocities
        velocities = damping * velocities + noise * rng.standard_normal(positions.shape) * mobile
        positions = positions + 0.5 * dt * velocities
        forces = total_forces(positions)
        velocities += 0.5 * dt * forces / masses
        if observe is not None and step % observe_every == 0:
            observe(step, atoms)
    atoms.set_velocities(velocities)


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
) -> dict[str, np.ndarray]:
    """One umbrella window: place the CV at the centre, equilibrate, then record.

    ``atoms`` (with its calculator) is first moved onto the window centre along the CV
    gradient. Returns the production time series: ``time_fs``, ``cv``,
    ``max_force_disagreement_ev_a`` (largest per-atom committee disagreement of the
    frame, when the calculator reports one; NaN otherwise) and ``observable_<name>`` for
    every unbiased observable.
    """
    observables = dict(observables or {})
    atoms.positions = move_to_value(bias.cv, atoms.positions, bias.center)
    run_langevin(atoms, settings, equilibration_steps, rng, bias=bias)
    times, values, disagreement = [], [], []
    recorded = {name: [] for name in observables}

    def record(step: int, current: Atoms) -> None:
        times.append(step * settings.timestep_fs)
        values.append(bias.cv.value(current.positions))
        for name, observable in observables.items():
            recorded[name].append(observable.value(current.positions))
        per_atom = current.calc.results.get("force_disagreement")
        disagreement.append(np.nan if per_atom is None else float(np.max(per_atom)))

    run_langevin(
        atoms, settings, steps, rng, bias, record, record_every, progress_label=progress_label
    )
    return {
        "time_fs": np.array(times),
        "cv": np.array(values),
        "max_force_disagreement_ev_a": np.array(disagreement),
        **{f"observable_{name}": np.array(series) for name, series in recorded.items()},
    }
