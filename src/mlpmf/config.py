"""Study configuration: derived quantities and the checks JSON Schema cannot express.

The schema (``workflow/schemas/config.schema.yaml``) fixes keys, types, ranges and
defaults; :func:`check_study` then checks what needs the structure file or relations
between keys, and raises :class:`ConfigError` naming the key and what was expected,
before any job runs.
"""

import dataclasses
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import iread, read

from mlpmf.cvsettings import make_colvar, period_and_unit
from mlpmf.oracles import check_ase_settings, explorer_settings


class ConfigError(ValueError):
    """A study config that cannot be run, with the offending key in the message."""


def linear_or_list(value, key: str) -> np.ndarray:
    """A list of numbers, or ``{start, stop, num}`` expanded like numpy.linspace."""
    if isinstance(value, Mapping):
        return np.linspace(value["start"], value["stop"], int(value["num"]))
    values = np.asarray(value, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ConfigError(f"{key}: expected a list of numbers or {{start, stop, num}}")
    return values


def window_centers(config: Mapping) -> np.ndarray:
    """Umbrella window centres, CV unit."""
    return linear_or_list(config["umbrella"]["centers"], "umbrella.centers")


def window_spring_constants(config: Mapping) -> np.ndarray:
    """Spring constant of every window, kJ/mol per CV unit squared."""
    kappa = np.asarray(config["umbrella"]["spring_constant_kj_mol"], dtype=float)
    num_windows = len(window_centers(config))
    if kappa.ndim == 1 and len(kappa) != num_windows:
        raise ConfigError(
            f"umbrella.spring_constant_kj_mol: {len(kappa)} values for {num_windows} windows"
        )
    return np.broadcast_to(kappa, (num_windows,)).copy()


def second_cv(config: Mapping) -> tuple[str, Mapping] | None:
    """The observable restrained as the second CV of 2D umbrella sampling: (name, its
    config entry), or None for 1D umbrella sampling."""
    name = config["umbrella"].get("second_cv", {}).get("observable")
    return None if name is None else (name, config["observables"][name])


def window_grid(config: Mapping) -> dict[str, np.ndarray]:
    """Every window's centre and spring constant: ``center``, ``spring_constant`` and,
    in 2D umbrella sampling, ``center_2``, ``spring_constant_2`` (every centre of the
    CV with every centre of the second CV, the second varying fastest); and ``repeat``,
    which of the ``umbrella.repeats`` independent sets of windows (different seeds, the
    same centres) the window belongs to: set r holds windows r*n .. (r+1)*n - 1."""
    centers, kappas = window_centers(config), window_spring_constants(config)
    grid = {"center": centers, "spring_constant": kappas}
    if second_cv(config) is not None:
        section = config["umbrella"]["second_cv"]
        second = linear_or_list(section["centers"], "umbrella.second_cv.centers")
        grid = {
            "center": np.repeat(centers, len(second)),
            "spring_constant": np.repeat(kappas, len(second)),
            "center_2": np.tile(second, len(centers)),
            "spring_constant_2": np.full(
                len(centers) * len(second), section["spring_constant_kj_mol"]
            ),
        }
    repeats = int(config["umbrella"].get("repeats", 1))
    size = len(grid["center"])
    return {
        **{name: np.tile(values, repeats) for name, values in grid.items()},
        "repeat": np.repeat(np.arange(repeats), size),
    }


def second_bin_edges(config: Mapping) -> np.ndarray | None:
    """Edges of the second CV's bins (its observable's), or None in 1D."""
    found = second_cv(config)
    if found is None:
        return None
    return _edges(found[1]["bins"])


def bin_edges(config: Mapping) -> np.ndarray:
    """Edges of the PMF bins: ``free_energy.bins`` gives num bins between start and stop."""
    return _edges(config["free_energy"]["bins"])


def _edges(bins: Mapping) -> np.ndarray:
    return np.linspace(bins["start"], bins["stop"], int(bins["num"]) + 1)


def child_seed(seed: int, *keys: int) -> int:
    """An independent seed for one task (e.g. one window) derived from the study seed."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def window_seed(
    seed: int,
    center: float,
    spring_constant: float,
    center_2: float | None = None,
    spring_constant_2: float | None = None,
    repeat: int = 0,
) -> int:
    """The seed of the umbrella window at ``center`` (and ``center_2`` in 2D) in set
    ``repeat`` of ``umbrella.repeats``: tied to the window's centres, spring constants
    and set, not to its place in the list, so inserting a window (or adding a set)
    leaves the others' seeds (and trajectories) as they were."""
    key = f"{float(center) + 0.0:.9g}/{float(spring_constant):.9g}"  # no -0 vs 0
    if center_2 is not None:
        key += f"/{float(center_2) + 0.0:.9g}/{float(spring_constant_2):.9g}"
    if repeat:
        key += f"#{int(repeat)}"
    return child_seed(seed, 1, zlib.crc32(key.encode()))


def read_structure(path: str | Path, key: str = "system.structure") -> Atoms:
    """Read a structure file with ASE, turning every failure into a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}: structure file {str(path)!r} does not exist")
    try:
        atoms = read(path)
    except Exception as error:  # ASE raises many types for unreadable files
        raise ConfigError(f"{key}: ASE cannot read {str(path)!r}: {error}") from error
    if len(atoms) == 0:
        raise ConfigError(f"{key}: {str(path)!r} contains no atoms")
    return atoms


def check_study(config: Mapping) -> None:
    """Checks beyond the schema; raises ConfigError on the first problem found."""
    atoms = read_structure(config["system"]["structure"])
    num_atoms = len(atoms)
    cvs = [("collective_variable", config["collective_variable"])] + [
        (f"observables.{name}", spec) for name, spec in config["observables"].items()
    ]
    atom_lists = [("system.fixed_atoms", config["system"]["fixed_atoms"])] + [
        (f"{key}.{field}", spec.get(field, []))
        for key, spec in cvs
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
    hints = {
        "pmf_file": "python resources/oracle_reference.py STUDY_FILE PATH runs the same "
        "windows on the oracle and writes it",
        "barrier_file": "a JSON file with barrier_kj_mol (e.g. from a relaxed scan)",
    }
    for key, hint in hints.items():
        path = config.get("reference", {}).get(key)
        if path and not Path(path).is_file():
            raise ConfigError(f"reference.{key}: no file {path!r}; {hint}")
    start_frames = config["umbrella"].get("start_frames")
    if start_frames:
        _check_start_frames(start_frames, atoms)
    try:  # import external calculators and check their arguments now, not in a job
        check_ase_settings(config)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    methods = {"xtb": ("GFN2-xTB", "GFN1-xTB"), "pyscf": ("hf", "dft")}
    explorer = explorer_settings(config["oracle"], config["dataset"].get("explorer"))
    for key, settings in (("oracle", config["oracle"]), ("dataset.explorer", explorer)):
        method = None if settings is None else settings.get("method")
        kind = None if settings is None else settings["kind"]
        if method is not None and method not in methods.get(kind, ()):
            raise ConfigError(
                f"{key}.method: {method!r} is not a method of the {kind} oracle; expected "
                f"one of {list(methods.get(kind, ()))} or null"
            )
    for key, settings in cvs:
        try:
            make_colvar(settings, atoms)
        except ValueError as error:
            raise ConfigError(str(error).replace("collective_variable", key, 1)) from None
    for name, spec in config["observables"].items():
        bins = spec["bins"]
        if bins["start"] >= bins["stop"]:
            raise ConfigError(f"observables.{name}.bins: expected start < stop, got {bins}")
    centers = window_centers(config)
    if len(centers) < 2:
        raise ConfigError("umbrella.centers: at least two windows are needed")
    window_spring_constants(config)
    edges = bin_edges(config)
    periodic = period_and_unit(config["collective_variable"])[0] is not None
    if not periodic and (edges[0] < centers.min() - 1e-9 or edges[-1] > centers.max() + 1e-9):
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
    descriptor = config["descriptor"]
    if descriptor["angular_cutoff_a"] > descriptor["cutoff_a"]:
        raise ConfigError(
            f"descriptor.angular_cutoff_a: {descriptor['angular_cutoff_a']} Å exceeds "
            f"descriptor.cutoff_a ({descriptor['cutoff_a']} Å); expected at most the cutoff"
        )
    _check_second_cv(config, atoms)
    _check_oracle_every(config)
    reactant = config["rates"]["reactant"]
    product = config["rates"]["product"]
    for name, interval in (("reactant", reactant), ("product", product)):
        if interval[0] >= interval[1]:
            raise ConfigError(f"rates.{name}: expected [lo, hi] with lo < hi, got {interval}")
        if interval[1] < edges[0] or interval[0] > edges[-1]:
            raise ConfigError(f"rates.{name}: {interval} lies outside free_energy.bins")
    if reactant[0] < product[1] and product[0] < reactant[1]:
        raise ConfigError(f"rates: reactant {reactant} and product {product} overlap")


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


def load_system(system: Mapping) -> Atoms:
    """The study's starting structure with ``system.fixed_atoms`` added to its constraints."""
    from ase.constraints import FixAtoms

    atoms = read_structure(system["structure"])
    fixed = list(system.get("fixed_atoms", []))
    if fixed:
        atoms.constraints = [*atoms.constraints, FixAtoms(indices=fixed)]
    return atoms


def settings_values(settings_class, section: Mapping, exclude: frozenset = frozenset()) -> dict:
    """The keys of a config ``section`` that are fields of the settings dataclass (the
    section may hold keys other settings read)."""
    names = {f.name for f in dataclasses.fields(settings_class)} - exclude
    return {key: value for key, value in section.items() if key in names}


@dataclasses.dataclass(frozen=True)
class WindowSettings:
    """The MD every umbrella window shares (the config's ``umbrella`` section without
    the per-window centres and spring constants and the batching)."""

    steps: int = 5000  # production
    equilibration_steps: int = 1000
    timestep_fs: float = 2.0
    friction_per_fs: float = 0.01
    record_every: int = 2  # steps between recorded frames
    precision: str = "float64"  # of the committee's forward pass
    exchange_every: int = 0  # steps between replica-exchange attempts; 0: none
    oracle_every: int = 0  # production steps between oracle labels of a window; 0: none

    @classmethod
    def from_config(cls, section: Mapping) -> "WindowSettings":
        return cls(**settings_values(cls, section))


@dataclasses.dataclass(frozen=True)
class FreeEnergySettings:
    """How the windows' samples become a PMF (the config's ``free_energy`` section
    without the bins)."""

    decorrelate: bool = True  # keep every g-th sample (statistical inefficiency g)
    detect_equilibration: bool = True  # drop each window's start (Chodera 2016)
    uncertainty: str = "analytical"  # or "bootstrap"
    bootstrap_samples: int = 100
    overlap_threshold: float = 0.03  # neighbour overlap below which diagnostics warn
    mirror_symmetric: bool = False  # F(x) = F(-x) is checked

    @classmethod
    def from_config(cls, section: Mapping) -> "FreeEnergySettings":
        return cls(**settings_values(cls, section))
