"""The checks of a study config that JSON Schema cannot express, run when the workflow
reads the config, before any job: what needs the structure file, the files the config
names, or relations between keys. :func:`check_study` raises
:class:`mlpmf.config.ConfigError` naming the key (or file) and what was expected, and
returns warnings for settings that are legal but implausible (the workflow prints them).
"""

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.data import atomic_masses
from ase.io import iread

from mlpmf.config import ConfigError, read_structure
from mlpmf.cvsettings import make_colvar, period_and_unit
from mlpmf.grids import (
    bin_edges,
    linear_or_list,
    second_bin_edges,
    window_centers,
    window_grid,
    window_spring_constants,
)
from mlpmf.plugins import calculator_and_parameters
from mlpmf.scope import builds_path, explorer_of
from mlpmf.units import kt_kj_mol


def check_study(config: Mapping) -> list[str]:
    """Checks beyond the schema; raises ConfigError on the first problem found and
    returns warnings for settings that are legal but implausible."""
    atoms = read_structure(config["system"]["structure"])
    _check_atoms(config, atoms)
    _check_files(config, atoms)
    _check_oracles(config, atoms)
    _check_variables(config, atoms)
    _check_second_cv(config, atoms)
    _check_windows(config, atoms)
    _check_oracle_every(config)
    _check_rates(config)
    descriptor = config["descriptor"]
    if descriptor["angular_cutoff_a"] > descriptor["cutoff_a"]:
        raise ConfigError(
            f"descriptor.angular_cutoff_a: {descriptor['angular_cutoff_a']} Å exceeds "
            f"descriptor.cutoff_a ({descriptor['cutoff_a']} Å); expected at most the cutoff"
        )
    return md_warnings(config, atoms)


CLOSEST_ATOMS_A = 0.5  # atoms closer than this in the structure file: a broken structure


def _cv_settings(config: Mapping) -> list[tuple[str, Mapping]]:
    return [("collective_variable", config["collective_variable"])] + [
        (f"observables.{name}", spec) for name, spec in config["observables"].items()
    ]


def _check_atoms(config: Mapping, atoms: Atoms) -> None:
    """Atom indices in range; no two atoms on top of each other."""
    num_atoms = len(atoms)
    atom_lists = [("system.fixed_atoms", config["system"]["fixed_atoms"])] + [
        (f"{key}.{field}", spec.get(field, []))
        for key, spec in _cv_settings(config)
        for field in ("atoms", "other_atoms")
    ]
    for key, indices in atom_lists:
        bad = [i for i in indices if not 0 <= i < num_atoms]
        if bad:
            raise ConfigError(
                f"{key}: atom indices {bad} out of range for {num_atoms} atoms in "
                f"{config['system']['structure']!r}"
            )
    if config["oracle"]["kind"] == "double_well_bond" and num_atoms < 2:
        raise ConfigError("oracle.kind: double_well_bond needs at least 2 atoms in the structure")
    if num_atoms > 1:
        distances = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
        np.fill_diagonal(distances, np.inf)
        i, j = np.unravel_index(np.argmin(distances), distances.shape)
        if distances[i, j] < CLOSEST_ATOMS_A:
            raise ConfigError(
                f"system.structure: atoms {i} and {j} of {config['system']['structure']!r} "
                f"lie {distances[i, j]:.2f} Å apart; expected at least {CLOSEST_ATOMS_A} Å "
                "(a structure with atoms on top of each other)"
            )


REFERENCE_HINTS = {
    "pmf_file": "python resources/oracle_reference.py STUDY_FILE PATH runs the same "
    "windows on the oracle and writes it",
    "barrier_file": "a JSON file with barrier_kj_mol (e.g. from a relaxed scan)",
}


def _check_files(config: Mapping, atoms: Atoms) -> None:
    """The reference files exist and hold what is read from them; start frames fit."""
    reference = config.get("reference", {})
    for key, hint in REFERENCE_HINTS.items():
        path = reference.get(key)
        if path and not Path(path).is_file():
            raise ConfigError(f"reference.{key}: no file {path!r}; {hint}")
    if reference.get("pmf_file"):
        _check_reference_pmf(reference["pmf_file"])
    if reference.get("barrier_file"):
        _check_reference_barrier(reference["barrier_file"])
    start_frames = config["umbrella"].get("start_frames")
    if start_frames:
        _check_start_frames(start_frames, atoms)


def _check_reference_pmf(path: str) -> None:
    import pandas as pd

    key = "reference.pmf_file"
    try:
        table = pd.read_csv(path, comment="#")
    except Exception as error:  # pandas raises many types for unreadable files
        raise ConfigError(f"{key}: cannot read {path!r} as a CSV table: {error}") from None
    expected = ["cv", "free_energy_kj_mol"]
    missing = [column for column in expected if column not in table]
    if missing:
        raise ConfigError(
            f"{key}: {path!r} has columns {list(table.columns)}; expected {expected} "
            "(and optionally uncertainty_kj_mol), as pmf_mbar.csv has"
        )
    values = table[expected].apply(pd.to_numeric, errors="coerce")
    if values["cv"].isna().any() or values["free_energy_kj_mol"].notna().sum() < 2:
        raise ConfigError(
            f"{key}: {path!r} needs a number in every cv row and at least two free energies"
        )


def _check_reference_barrier(path: str) -> None:
    import json

    key = "reference.barrier_file"
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{key}: cannot read {path!r} as JSON: {error}") from None
    barrier = document.get("barrier_kj_mol") if isinstance(document, dict) else None
    if not isinstance(barrier, int | float) or isinstance(barrier, bool):
        raise ConfigError(
            f"{key}: {path!r} has no number barrier_kj_mol; {REFERENCE_HINTS['barrier_file']}"
        )


METHODS = {"xtb": ("GFN2-xTB", "GFN1-xTB"), "pyscf": ("hf", "dft")}


def _check_oracles(config: Mapping, atoms: Atoms) -> None:
    """Calculators import and take their parameters; methods exist; charge and
    multiplicity fit the electrons."""
    try:  # import external calculators and check their arguments now, not in a job
        _check_calculators(config)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    explorer = explorer_of(config)
    for key, settings in (("oracle", config["oracle"]), ("dataset.explorer", explorer)):
        if settings is None:
            continue
        method, kind = settings.get("method"), settings["kind"]
        if method is not None and method not in METHODS.get(kind, ()):
            raise ConfigError(
                f"{key}.method: {method!r} is not a method of the {kind} oracle; expected "
                f"one of {list(METHODS.get(kind, ()))} or null"
            )
        if kind in METHODS:
            electrons = int(atoms.numbers.sum()) - int(settings["charge"])
            unpaired = int(settings["multiplicity"]) - 1
            if electrons < 0 or unpaired > electrons or (electrons - unpaired) % 2:
                raise ConfigError(
                    f"{key}.multiplicity: {settings['multiplicity']} does not fit "
                    f"{electrons} electrons ({atoms.get_chemical_formula()}, charge "
                    f"{settings['charge']}); expected an {'even' if electrons % 2 else 'odd'} "
                    "multiplicity (2S + 1: 1 for a closed shell, 2 for a radical)"
                )


def _check_calculators(config: Mapping) -> None:
    """Import every ASE calculator a config names and check its arguments, without
    building one (a model file loaded at every workflow start would cost seconds)."""
    if config["oracle"]["kind"] == "ase":
        calculator_and_parameters(config["oracle"])
    explorer = explorer_of(config)
    if explorer is not None and explorer["kind"] == "ase":
        calculator_and_parameters(explorer, "dataset.explorer")
    if config["potential"] == "ase":
        if not config["external_potential"]:
            raise ValueError("external_potential: potential ase needs at least one calculator")
        for k, spec in enumerate(config["external_potential"]):
            calculator_and_parameters(spec, f"external_potential[{k}]")


def _check_variables(config: Mapping, atoms: Atoms) -> None:
    """Every CV and observable builds; observables' bins; the CV can move."""
    for key, settings in _cv_settings(config):
        if builds_path(settings):  # its images are rule build_path's output
            _check_path_ends(settings, atoms)
            continue
        try:
            make_colvar(settings, atoms)
        except ValueError as error:
            raise ConfigError(str(error).replace("collective_variable", key, 1)) from None
    for name, spec in config["observables"].items():
        bins = spec["bins"]
        if bins["start"] >= bins["stop"]:
            raise ConfigError(f"observables.{name}.bins: expected start < stop, got {bins}")
    fixed = fixed_atoms(config, atoms)
    spec = config["collective_variable"]
    involved = set(spec["atoms"]) | set(spec.get("other_atoms", []))
    if involved <= fixed:
        raise ConfigError(
            f"collective_variable.atoms: every atom of the CV ({sorted(involved)}) is held "
            "fixed (system.fixed_atoms or the structure file's constraints), so no window "
            "can move it; expected at least one free atom"
        )


def fixed_atoms(config: Mapping, atoms: Atoms) -> set[int]:
    """Atoms held fixed in every MD: system.fixed_atoms and the file's FixAtoms."""
    fixed = set(config["system"]["fixed_atoms"])
    for constraint in atoms.constraints:
        if isinstance(constraint, FixAtoms):
            fixed |= {int(i) for i in constraint.get_indices()}
    return fixed


def _check_windows(config: Mapping, atoms: Atoms) -> None:
    """At least two windows, none twice, within the CV's range; bins inside them."""
    centers = window_centers(config)
    if len(centers) < 2:
        raise ConfigError("umbrella.centers: at least two windows are needed")
    window_spring_constants(config)
    grid = window_grid(config)
    keys = list(grid)  # a window is its centres, spring constants and set (its seed)
    seen: dict[tuple, int] = {}
    for k in range(len(grid["center"])):
        identity = tuple(round(float(grid[name][k]), 9) for name in keys)
        if identity in seen:
            where = ", ".join(f"{name} {grid[name][k]:g}" for name in keys)
            raise ConfigError(
                f"umbrella.centers: windows {seen[identity]} and {k} are the same window "
                f"({where}): it would run twice with one seed and count its samples twice; "
                "expected every centre once"
            )
        seen[identity] = k
    spec = config["collective_variable"]
    period, unit = period_and_unit(spec)
    kind = spec["kind"] if spec["kind"] != "path" else f"path {spec['component']}"
    low, high = CV_RANGES.get(kind, (-np.inf, np.inf))
    outside = [float(c) for c in centers if not low <= c <= high]
    if outside:
        raise ConfigError(
            f"umbrella.centers: {outside} lie outside the range of a "
            f"{kind} CV ({low:g} to {high:g} {unit})"
        )
    edges = bin_edges(config)
    if period is None and (edges[0] < centers.min() - 1e-9 or edges[-1] > centers.max() + 1e-9):
        raise ConfigError(
            f"free_energy.bins: [{edges[0]:g}, {edges[-1]:g}] reaches outside the window "
            f"centres [{centers.min():g}, {centers.max():g}]; unsampled bins would be empty"
        )
    umbrella = config["umbrella"]
    if umbrella.get("repeats", 1) > 1 and umbrella.get("adaptive", {}).get("enabled"):
        raise ConfigError(
            "umbrella.repeats: independent sets of windows are not available with "
            "umbrella.adaptive.enabled (insertion judges one set of windows); expected 1"
        )
    if umbrella["record_every"] > umbrella["steps"]:
        raise ConfigError(
            f"umbrella.record_every: {umbrella['record_every']} exceeds umbrella.steps "
            f"({umbrella['steps']}): a window would record nothing; expected at most the steps"
        )


# Values a CV of each kind can take (CV unit); a window centred outside never gets there.
CV_RANGES = {
    "distance": (0.0, np.inf),
    "angle": (0.0, 180.0),
    "dihedral": (-180.0, 180.0),
    "coordination_number": (0.0, np.inf),
    "path progress": (0.0, 1.0),
    "path distance": (0.0, np.inf),
}


def _check_path_ends(settings: Mapping, atoms: Atoms) -> None:
    """The ends of a path the workflow builds: readable, the system's atoms in order."""
    for end in ("reactant", "product"):
        structure = read_structure(settings[end], f"collective_variable.{end}")
        if list(structure.numbers) != list(atoms.numbers):
            raise ConfigError(
                f"collective_variable.{end}: {settings[end]!r} holds "
                f"{structure.get_chemical_formula()} ({len(structure)} atoms); expected "
                f"the atoms of system.structure in the same order "
                f"({atoms.get_chemical_formula()})"
            )
    if settings.get("align", True) and len(settings["atoms"]) < 2:
        raise ConfigError(
            "collective_variable.align: one path atom has nothing to superpose (every image "
            "would be the same); give align: false"
        )


def _check_rates(config: Mapping) -> None:
    edges = bin_edges(config)
    reactant = config["rates"]["reactant"]
    product = config["rates"]["product"]
    for name, interval in (("reactant", reactant), ("product", product)):
        if interval[0] >= interval[1]:
            raise ConfigError(f"rates.{name}: expected [lo, hi] with lo < hi, got {interval}")
        if interval[1] < edges[0] or interval[0] > edges[-1]:
            raise ConfigError(f"rates.{name}: {interval} lies outside free_energy.bins")
    if reactant[0] < product[1] and product[0] < reactant[1]:
        raise ConfigError(f"rates: reactant {reactant} and product {product} overlap")


# The largest Verlet-type time step for the fastest vibration of the lightest moving
# atom: about a tenth of the period of an X-H stretch (~9 fs) for hydrogen, and
# sqrt(m / m_H) times that for heavier atoms (the same force constants).
TIMESTEP_FOR_HYDROGEN_FS = 1.0
NEIGHBOUR_SPACING_WARNING = 3.5  # neighbouring centres further apart than this many
# window widths sqrt(kT/k) overlap little (the shipped studies: 1.4 to 3.0)


def md_warnings(config: Mapping, atoms: Atoms) -> list[str]:
    """Legal settings no MD of this system is likely to survive or use well: a time step
    too long for its lightest moving atom, windows too far apart to overlap."""
    warnings = []
    moving = [i for i in range(len(atoms)) if i not in fixed_atoms(config, atoms)]
    if moving:
        lightest = min(moving, key=lambda i: atomic_masses[atoms.numbers[i]])
        mass = float(atomic_masses[atoms.numbers[lightest]])
        limit = TIMESTEP_FOR_HYDROGEN_FS * np.sqrt(mass / atomic_masses[1])
        symbol = atoms.get_chemical_symbols()[lightest]
        for key in ("umbrella.timestep_fs", "dataset.timestep_fs"):
            section, name = key.split(".")
            step = config[section][name]
            if step > 1.5 * limit:
                warnings.append(
                    f"{key}: {step:g} fs is long for {symbol} (atom {lightest}, the lightest "
                    f"that moves): its fastest vibrations need at most about {limit:.1f} fs; "
                    "the MD may heat up or fly apart"
                )
    grid = window_grid(config)
    centers = np.unique(grid["center"])
    widths = np.sqrt(kt_kj_mol(config["temperature_k"]) / np.asarray(grid["spring_constant"]))
    spacing = np.diff(centers)
    if len(spacing) and spacing.max() > NEIGHBOUR_SPACING_WARNING * widths.max():
        k = int(np.argmax(spacing))
        warnings.append(
            f"umbrella.centers: {centers[k]:g} and {centers[k + 1]:g} lie "
            f"{spacing[k] / widths.max():.1f} window widths sqrt(kT/k) apart: their samples "
            "will overlap little (add windows between them, lower "
            "umbrella.spring_constant_kj_mol or turn on umbrella.adaptive)"
        )
    return warnings


def _check_oracle_every(config: Mapping) -> None:
    umbrella = config["umbrella"]
    every = umbrella.get("oracle_every", 0)
    if not every:
        return
    if config["potential"] == "oracle":
        raise ConfigError(
            "umbrella.oracle_every: the oracle itself drives the windows (potential: "
            "oracle), so there is no model to check against it; expected 0"
        )
    if every % umbrella["record_every"]:
        raise ConfigError(
            f"umbrella.oracle_every: {every} is not a multiple of umbrella.record_every "
            f"({umbrella['record_every']}); expected a multiple, so that labelled frames "
            "are recorded frames"
        )


def _check_second_cv(config: Mapping, atoms: Atoms) -> None:
    section = config["umbrella"].get("second_cv", {})
    name = section.get("observable")
    if name is None:
        return
    key = "umbrella.second_cv"
    if name not in config["observables"]:
        raise ConfigError(
            f"{key}.observable: no observable {name!r}; expected one of "
            f"{sorted(config['observables'])} (define it under observables, with its bins)"
        )
    centers = linear_or_list(section["centers"], f"{key}.centers")
    if len(centers) < 2:
        raise ConfigError(f"{key}.centers: at least two centres are needed")
    spec = config["observables"][name]
    edges = second_bin_edges(config)
    period = period_and_unit(spec)[0]
    if period is None and (edges[0] < centers.min() - 1e-9 or edges[-1] > centers.max() + 1e-9):
        raise ConfigError(
            f"observables.{name}.bins: [{edges[0]:g}, {edges[-1]:g}] reaches outside "
            f"{key}.centers [{centers.min():g}, {centers.max():g}]; unsampled bins would be empty"
        )
    if np.ndim(config["umbrella"]["spring_constant_kj_mol"]) != 0:
        raise ConfigError(
            "umbrella.spring_constant_kj_mol: with umbrella.second_cv, one number for all "
            "windows (a list has one value per window of a 1D study)"
        )
    for other, enabled in (
        ("umbrella.adaptive.enabled", config["umbrella"].get("adaptive", {}).get("enabled")),
        ("transmission.enabled", config.get("transmission", {}).get("enabled")),
    ):
        if enabled:
            raise ConfigError(f"{other}: not available with {key} (2D umbrella sampling)")


def _check_start_frames(path: str, atoms: Atoms) -> None:
    key = "umbrella.start_frames"
    if not Path(path).is_file():
        raise ConfigError(f"{key}: no file {path!r}; expected extended-XYZ frames of the system")
    try:  # stop at the first frame of this system: the file may be long
        found = any(
            len(f) == len(atoms) and np.array_equal(f.numbers, atoms.numbers) for f in iread(path)
        )
    except Exception as error:  # ASE raises many types for unreadable files
        raise ConfigError(f"{key}: ASE cannot read {path!r}: {error}") from error
    if not found:
        raise ConfigError(
            f"{key}: no frame in {path!r} has the atoms of system.structure "
            f"({atoms.get_chemical_formula()} in the same order)"
        )
