"""Reference-data generation with the oracle.

Two sources of frames, so that the data cover both the thermally accessible basins and
the barrier region along the CV:

1. Langevin MD at an elevated temperature, started from the input structure.
2. A restrained scan: umbrella-restrained MD at evenly spaced CV values across the
   window range. The scan walks outwards from the input structure's CV value in both
   directions, each point starting from the previous point's last frame, so that every
   move along the CV is one scan step. With ``scan_both_ways`` the scan also comes
   back: every centre is visited once approached from below and once from above (a
   periodic CV is walked round the whole circle each way), so degrees of freedom that
   lag behind the CV (hysteresis: a dihedral that keeps its state while its neighbour
   is turned) are recorded on both branches. Moving the CV's atoms strains the molecule
   (only the atoms that define the CV move), so each point first relaxes under the
   restraint, then equilibrates, and only then records frames.

Every frame stores the oracle's unbiased energy and forces. With an ``explorer`` (a
cheaper method: GFN2-xTB for a DFT oracle) the explorer drives both sources and the
oracle labels only the recorded frames afterwards, so an expensive oracle never runs
MD: a frame's cost is one oracle call instead of ``record_every`` of them plus the
scan's relaxation and equilibration. Frames more than
``max_energy_above_minimum_kt`` above the lowest are dropped (strained geometries no
window will visit) and counted. An oracle call that fails even after its retries ends
that trajectory (its frames so far are kept) instead of the whole run.
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed, Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize import FIRE

from mlpmf.colvars import CollectiveVariable, periodic_difference
from mlpmf.dynamics import (
    LangevinSettings,
    SimulationError,
    UmbrellaBias,
    fixed_atom_mask,
    run_langevin,
)
from mlpmf.placement import move_to_value
from mlpmf.settings import DatasetSettings
from mlpmf.units import kt_ev

log = logging.getLogger(__name__)

RELAX_FMAX_EV_A = 0.5  # restrained relaxation of a scan point stops below this force
# Barriers along the CV that the automatic energy threshold leaves room for, in kT of
# the study temperature (40 kT = 100 kJ/mol at 300 K): scan frames sit on them.
BARRIER_ALLOWANCE_KT = 40.0


@dataclass
class ReferenceData:
    """Labelled frames and what the filter dropped."""

    frames: list[Atoms]
    sampled: int  # frames recorded before the energy filter
    dropped_high_energy: int
    energy_threshold_ev: float  # above the lowest frame's energy
    label_failures: int = 0  # explored frames the oracle could not label


def _labelled_copy(atoms: Atoms) -> Atoms:
    frame = atoms.copy()
    frame.calc = SinglePointCalculator(
        frame,
        energy=float(atoms.calc.results["energy"]),
        forces=np.array(atoms.calc.results["forces"]),
    )
    return frame


def _run_and_collect(atoms, settings, steps, rng, record_every, bias=None, label=None):
    frames: list[Atoms] = []
    try:
        run_langevin(
            atoms,
            settings,
            steps,
            rng,
            bias=bias,
            observe=lambda _step, current: frames.append(_labelled_copy(current)),
            observe_every=record_every,
            progress_label=label,
        )
    except SimulationError as error:  # an oracle call failed even after its retry
        log.warning("trajectory ended after %d frames: %s", len(frames), error)
    return frames


class _Restrained(Calculator):
    """The oracle plus an umbrella bias, for the restrained relaxation of a scan point."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, oracle: Calculator, bias: UmbrellaBias):
        super().__init__()
        self.oracle, self.bias = oracle, bias

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.oracle.reset()
        energy = self.oracle.get_potential_energy(self.atoms)
        forces = self.oracle.get_forces(self.atoms)
        bias_energy, bias_forces = self.bias.energy_and_forces(self.atoms.positions)
        self.results = {"energy": energy + bias_energy, "forces": forces + bias_forces}


def scan_order(
    start: float, centers: Sequence[float], period: float | None, both_ways: bool = False
) -> list[list[float]]:
    """The scan's chains, each walked from the input structure: centres at or above
    ``start`` going up, then those below going down (by the periodic difference for a
    periodic CV).

    ``both_ways``: one chain that visits every centre from both sides: a periodic CV
    round the whole circle upwards and then back round it downwards; otherwise up to
    the top centre, down to the bottom one and up again to ``start``.
    """
    offsets = np.array([float(periodic_difference(c, start, period)) for c in centers])
    if not both_ways:
        up = [centers[k] for k in np.argsort(offsets) if offsets[k] >= 0]
        down = [centers[k] for k in np.argsort(-offsets) if offsets[k] < 0]
        return [chain for chain in (up, down) if chain]
    if period is not None:  # round the circle upwards, then back
        circle = [centers[k] for k in np.argsort(np.mod(offsets, period), kind="stable")]
        legs = [circle, circle[::-1]]
    else:  # up to the top, down to the bottom, up again to the start
        rising = np.argsort(offsets, kind="stable")
        legs = [
            [centers[k] for k in rising if offsets[k] >= 0],
            [centers[k] for k in rising[::-1]],
            [centers[k] for k in rising if offsets[k] < 0],
        ]
    chain: list[float] = []
    for leg in legs:
        for center in leg:
            if not chain or chain[-1] != center:  # a turning point is one scan point
                chain.append(center)
    return [chain]


def _scan_point(atoms, oracle, bias, settings: DatasetSettings, rng) -> list[Atoms]:
    """Move ``atoms`` onto the bias centre, relax and equilibrate under the restraint,
    then record; ``atoms`` is left at the point's last frame."""
    atoms.positions = move_to_value(
        bias.cv, atoms.positions, bias.center, numbers=atoms.numbers,
        movable=~fixed_atom_mask(atoms),
    )  # fmt: skip
    atoms.set_velocities(np.zeros_like(atoms.positions))
    if settings.scan_relax_steps:
        relaxing = atoms.copy()
        relaxing.calc = _Restrained(oracle, bias)
        try:
            FIRE(relaxing, logfile=None).run(fmax=RELAX_FMAX_EV_A, steps=settings.scan_relax_steps)
        except CalculationFailed as error:
            log.warning("scan point %g: relaxation stopped: %s", bias.center, error)
        atoms.positions = relaxing.positions
    atoms.calc = oracle
    md = LangevinSettings(
        settings.scan_temperature_k, settings.timestep_fs, settings.friction_per_fs
    )
    try:
        run_langevin(atoms, md, settings.scan_equilibration_steps, rng, bias=bias)
    except SimulationError as error:  # an oracle call failed even after its retry
        log.warning("scan point %g: equilibration stopped, no frames: %s", bias.center, error)
        return []
    return _run_and_collect(
        atoms, md, settings.scan_steps_per_point, rng, settings.record_every, bias
    )


def relabel(frames: Sequence[Atoms], oracle: Calculator) -> tuple[list[Atoms], int]:
    """``frames`` with the oracle's energy and forces in place of the explorer's, and how
    many the oracle failed on (skipped)."""
    labelled, failures = [], 0
    for k, frame in enumerate(frames):
        atoms = frame.copy()
        atoms.calc = oracle
        try:
            atoms.get_potential_energy()
            atoms.get_forces()
        except CalculationFailed as error:
            failures += 1
            log.warning("frame %d: the oracle failed, skipped: %s", k, error)
            continue
        labelled.append(_labelled_copy(atoms))
        if (k + 1) % 25 == 0 or k + 1 == len(frames):
            log.info("labelled %d of %d explored frames with the oracle", k + 1, len(frames))
    return labelled, failures


def automatic_energy_threshold_kt(
    structure: Atoms, settings: DatasetSettings, temperature_k: float
) -> float:
    """Frames further above the lowest energy than this (kT at ``temperature_k``) are
    not thermal: for n moving degrees of freedom at the hottest sampling temperature
    T_s, a harmonic system's potential energy above its minimum has mean n kT_s/2 and
    standard deviation sqrt(n/2) kT_s; the threshold is that mean plus six standard
    deviations, plus BARRIER_ALLOWANCE_KT for the barriers the scan climbs."""
    mobile = int(np.count_nonzero(~fixed_atom_mask(structure)))
    degrees = max(3 * mobile - 6, 1)
    hottest = max(settings.md_temperature_k, settings.scan_temperature_k)
    thermal = 0.5 * degrees + 6.0 * math.sqrt(0.5 * degrees)
    return thermal * hottest / temperature_k + BARRIER_ALLOWANCE_KT


def drop_high_energy_frames(
    frames: Sequence[Atoms], threshold_ev: float
) -> tuple[list[Atoms], int]:
    """The frames within ``threshold_ev`` of the lowest energy, and how many were dropped."""
    if not frames:
        return [], 0
    energies = np.array([f.get_potential_energy() for f in frames])
    keep = energies - energies.min() <= threshold_ev
    return [f for f, k in zip(frames, keep, strict=True) if k], int(np.count_nonzero(~keep))


def sample_reference(
    structure: Atoms,
    oracle: Calculator,
    cv: CollectiveVariable,
    scan_centers: Sequence[float],
    settings: DatasetSettings,
    rng: np.random.Generator,
    temperature_k: float,
    explorer: Calculator | None = None,
) -> ReferenceData:
    """Generate labelled reference frames (see the module docstring).

    Parameters
    ----------
    structure
        Starting structure, with its constraints.
    oracle
        Reference calculator.
    cv
        Collective variable of the study.
    scan_centers
        CV values of the restrained scan (CV unit).
    settings
        The dataset settings.
    rng
        Source of all random numbers.
    temperature_k
        The study's temperature: the unit kT of the energy threshold.
    explorer
        A cheaper calculator that drives the MD and the scan, whose recorded frames the
        oracle then labels; None: the oracle drives.
    """
    driver = oracle if explorer is None else explorer
    hot = structure.copy()
    hot.calc = driver
    hot_settings = LangevinSettings(
        settings.md_temperature_k, settings.timestep_fs, settings.friction_per_fs
    )
    frames = []
    if settings.md_steps:
        frames = _run_and_collect(
            hot, hot_settings, settings.md_steps, rng, settings.record_every, label="hot MD"
        )
    start = cv.value(structure.positions)
    for chain in scan_order(start, list(scan_centers), cv.period, settings.scan_both_ways):
        atoms = structure.copy()
        for center in chain:
            bias = UmbrellaBias(cv, float(center), settings.scan_spring_constant_kj_mol)
            point = _scan_point(atoms, driver, bias, settings, rng)
            log.info("scan point %g: %d frames", center, len(point))
            frames += point
    failures = 0
    if explorer is not None:
        frames, failures = relabel(frames, oracle)
    threshold_kt = settings.max_energy_above_minimum_kt
    if threshold_kt is None:
        threshold_kt = automatic_energy_threshold_kt(structure, settings, temperature_k)
    threshold_ev = threshold_kt * kt_ev(temperature_k)
    kept, dropped = drop_high_energy_frames(frames, threshold_ev)
    log.info(
        "%d of %d frames lie more than %.1f kT (%.3f eV) above the lowest: dropped",
        dropped, len(frames), threshold_kt, threshold_ev,
    )  # fmt: skip
    return ReferenceData(kept, len(frames), dropped, threshold_ev, failures)


def split_train_test(
    frames: Sequence[Atoms], test_fraction: float, rng: np.random.Generator
) -> tuple[list[Atoms], list[Atoms]]:
    """Shuffle ``frames`` and split off ``test_fraction`` of them (at least one) as a test set."""
    order = rng.permutation(len(frames))
    n_test = max(1, int(round(test_fraction * len(frames))))
    return [frames[i] for i in order[n_test:]], [frames[i] for i in order[:n_test]]
