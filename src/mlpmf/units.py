"""Unit conversions: the one place where they live.

Inside the library everything is in ASE units (Å, eV, amu, ASE time); tables and JSON
files report kJ/mol, K, fs and 1/s.
"""

from ase import units as _ase

KJ_MOL_IN_EV: float = _ase.kJ / _ase.mol
"""1 kJ/mol expressed in eV."""

BOLTZMANN_EV_K: float = _ase.kB
"""Boltzmann's constant in eV/K."""

BOLTZMANN_KJ_MOL_K: float = _ase.kB / KJ_MOL_IN_EV
"""Boltzmann's constant in kJ/(mol K)."""

FS_IN_ASE_TIME: float = _ase.fs
"""1 fs expressed in ASE's internal time unit."""


def ev_to_kj_mol(energy_ev):
    """Convert an energy (or array) from eV to kJ/mol."""
    return energy_ev / KJ_MOL_IN_EV


def kj_mol_to_ev(energy_kj_mol):
    """Convert an energy (or array) from kJ/mol to eV."""
    return energy_kj_mol * KJ_MOL_IN_EV


def kt_kj_mol(temperature_k: float) -> float:
    """Thermal energy kT in kJ/mol at ``temperature_k``."""
    return BOLTZMANN_KJ_MOL_K * temperature_k


def kt_ev(temperature_k: float) -> float:
    """Thermal energy kT in eV at ``temperature_k``."""
    return BOLTZMANN_EV_K * temperature_k


def fs_to_ase_time(time_fs: float) -> float:
    """Convert a time from fs to ASE's internal time unit."""
    return time_fs * FS_IN_ASE_TIME


def ase_rate_to_per_s(rate_per_ase_time: float) -> float:
    """Convert a rate from 1/(ASE time) to 1/s."""
    return rate_per_ase_time * FS_IN_ASE_TIME * 1e15


# Units of other engines' umbrella data (the ``mlpmf pmf`` command and its readers).
ENERGY_UNITS_KJ_MOL: dict[str, float] = {"kJ/mol": 1.0, "kcal/mol": 4.184, "eV": 1.0 / KJ_MOL_IN_EV}
"""An energy unit's size in kJ/mol (kcal: thermochemical)."""

CV_UNITS: dict[str, tuple[str, float]] = {
    "A": ("length", 1.0),
    "nm": ("length", 10.0),
    "deg": ("angle", 1.0),
    "rad": ("angle", 180.0 / 3.141592653589793),
}
"""A CV unit's dimension and its size in Å (lengths) or degrees (angles)."""

_CV_UNIT_ALIASES = {"Å": "A", "angstrom": "A", "ang": "A", "degree": "deg", "degrees": "deg",
                    "radian": "rad", "radians": "rad"}  # fmt: skip


def cv_unit(name: str) -> str:
    """The canonical name of a CV unit (``A``, ``nm``, ``deg``, ``rad``); ValueError else."""
    unit = _CV_UNIT_ALIASES.get(name, name)
    if unit not in CV_UNITS:
        raise ValueError(f"unknown CV unit {name!r}: expected one of {', '.join(CV_UNITS)}")
    return unit


def cv_unit_factor(source: str, target: str) -> float:
    """The size of one ``source`` CV unit in ``target`` units (same dimension)."""
    source, target = cv_unit(source), cv_unit(target)
    if CV_UNITS[source][0] != CV_UNITS[target][0]:
        raise ValueError(
            f"CV units {source!r} and {target!r} differ in dimension "
            f"({CV_UNITS[source][0]} vs {CV_UNITS[target][0]})"
        )
    return CV_UNITS[source][1] / CV_UNITS[target][1]


def parse_spring_unit(text: str) -> tuple[str, str]:
    """``"kcal/mol/A^2"`` (also ``kcal/mol/A2``, ``kJ mol-1 nm-2``-free forms like
    ``kJ/mol/nm**2``) -> (energy unit, CV unit). ValueError naming the accepted forms."""
    cleaned = text.replace(" ", "").replace("**", "^").replace("^2", "").rstrip("2")
    for energy in ENERGY_UNITS_KJ_MOL:
        prefix = energy + "/"
        if cleaned.lower().startswith(prefix.lower()):
            try:
                return energy, cv_unit(cleaned[len(prefix) :])
            except ValueError:
                break
    raise ValueError(
        f"unknown spring-constant unit {text!r}: expected ENERGY/CV^2 with ENERGY one of "
        f"{', '.join(ENERGY_UNITS_KJ_MOL)} and CV one of {', '.join(CV_UNITS)}, "
        "e.g. kJ/mol/nm^2 or kcal/mol/rad^2"
    )


def spring_constant_to(value, unit: str, cv: str, energy: str = "kJ/mol"):
    """A spring constant given in ``unit`` (ENERGY/CV'^2) expressed in ``energy`` per
    ``cv`` unit squared."""
    source_energy, source_cv = parse_spring_unit(unit)
    per_cv = cv_unit_factor(cv, source_cv)  # one target CV unit in source CV units
    energy_factor = ENERGY_UNITS_KJ_MOL[source_energy] / ENERGY_UNITS_KJ_MOL[energy]
    return value * energy_factor * per_cv**2
