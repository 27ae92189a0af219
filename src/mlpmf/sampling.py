"""Reference-data generation with the oracle.

Two sources of frames, so that the data cover both the thermally accessible basins and
the barrier region along the CV:

1. Langevin MD at an elevated temperature, started from the input structure.
2. A restrained scan: short umbrella-restrained MD at evenly spaced CV values across the
   window range, each started from the input structure moved onto that CV value.

Every frame stores the oracle's unbiased energy and forces. An oracle call that fails
even after its retries ends that trajectory (its frames so far are kept) instead of
the whole run.
"""

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator

from mlpmf.colvars import CollectiveVariable, move_to_value
from mlpmf.dynamics import LangevinSettings, SimulationError, UmbrellaBias, run_langevin


def _labelled_copy(atoms: Atoms) -> Atoms:
    frame = atoms.copy()
    frame.calc = SinglePointCalculator(
        frame,
        energy=float(atoms.calc.results["energy"]),
        forces=np.array(atoms.calc.results["forces"]),
    )
    return frame


log = logging.getLogger(__name__)


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


def sample_reference(
    structure: Atoms,
    oracle: Calculator,
    cv: CollectiveVariable,
    scan_centers: Sequence[float],
    settings: Mapping,
    rng: np.random.Generator,
) -> list[Atoms]:
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
        The config's ``dataset`` section: ``md_temperature_k``, ``md_steps``,
        ``scan_temperature_k``, ``scan_steps_per_point``, ``scan_spring_constant_kj_mol``,
        ``timestep_fs``, ``friction_per_fs``, ``record_every``.
    rng
        Source of all random numbers.
    """
    record_every = settings["record_every"]
    hot = structure.copy()
    hot.calc = oracle
    hot_settings = LangevinSettings(
        settings["md_temperature_k"], settings["timestep_fs"], settings["friction_per_fs"]
    )
    frames = _run_and_collect(
        hot, hot_settings, settings["md_steps"], rng, record_every, label="hot MD"
    )

    scan_settings = LangevinSettings(
        settings["scan_temperature_k"], settings["timestep_fs"], settings["friction_per_fs"]
    )
    for center in scan_centers:
        restrained = structure.copy()
        restrained.positions = move_to_value(cv, structure.positions, center)
        restrained.calc = oracle
        bias = UmbrellaBias(cv, float(center), settings["scan_spring_constant_kj_mol"])
        frames += _run_and_collect(
            restrained, scan_settings, settings["scan_steps_per_point"], rng, record_every, bias
        )
    return frames


def split_train_test(
    frames: Sequence[Atoms], test_fraction: float, rng: np.random.Generator
) -> tuple[list[Atoms], list[Atoms]]:
    """Shuffle ``frames`` and split off ``test_fraction`` of them (at least one) as a test set."""
    order = rng.permutation(len(frames))
    n_test = max(1, int(round(test_fraction * len(frames))))
    return [frames[i] for i in order[n_test:]], [frames[i] for i in order[:n_test]]
