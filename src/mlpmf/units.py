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
