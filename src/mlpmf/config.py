"""Reading what a user gives: the study file (a YAML mistake named with file, line and
column) and the structure it names, every failure a :class:`ConfigError` naming the key.

The schema (``workflow/schemas/config.schema.yaml``) fixes keys, types, ranges and
defaults; :mod:`mlpmf.studycheck` checks what the schema cannot, before any job runs;
:mod:`mlpmf.grids` derives the window grid, bins and seeds, :mod:`mlpmf.settings` the
typed settings of the stages.
"""

from collections.abc import Mapping
from pathlib import Path

from ase import Atoms
from ase.io import read

from mlpmf.settings import SystemSettings


class ConfigError(ValueError):
    """A study config that cannot be run, with the offending key in the message."""


def load_study_file(path: str | Path) -> dict:
    """A study file's mapping; a YAML mistake names the file, line and column."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the study file ({error.strerror})") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        raise ConfigError(
            f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")
        ) from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected keys at the top level (study:, system:, ...)")
    return config


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


def load_system(system: SystemSettings | Mapping) -> Atoms:
    """The study's starting structure with ``system.fixed_atoms`` added to its constraints."""
    from ase.constraints import FixAtoms

    system = SystemSettings.of(system)
    atoms = read_structure(system.structure)
    fixed = list(system.fixed_atoms)
    if fixed:
        atoms.constraints = [*atoms.constraints, FixAtoms(indices=fixed)]
    return atoms
