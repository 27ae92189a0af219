"""Reference methods ("oracles") behind one factory.

``make_oracle(settings)`` turns the ``oracle`` section of a study config into an ASE
calculator. Kinds:

- ``emt``: ASE's effective-medium theory (Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O).
- ``double_well_bond``: an analytic quartic double well on the distance between atoms 0
  and 1, with an exactly known potential of mean force (:mod:`mlpmf.analytic`).
- ``xtb``: GFN1/GFN2-xTB through tblite's ASE calculator.
- ``pyscf``: Hartree-Fock or Kohn-Sham DFT with PySCF (:mod:`mlpmf.pyscf_calculator`).
- ``ase``: any ASE calculator, named ``"package.module:Class"`` (or
  ``"path/to/file.py:Class"``) in ``calculator`` and built with the keyword arguments
  in ``parameters``: ORCA, Psi4, CP2K, GPAW, VASP through ASE, or a trained MACE,
  NequIP or ANI model's ASE calculator.

``make_robust_oracle(settings)`` wraps it in a :class:`mlpmf.robust.RobustOracle` with,
for xtb and pyscf, a safer retry of the same Hamiltonian.
(:func:`mlpmf.scope.explorer_of` gives the settings of the cheap method that explores
for the reference data.)
"""

from collections.abc import Mapping

from ase.calculators.calculator import Calculator
from ase.calculators.emt import EMT

from mlpmf.analytic import DoubleWellBond
from mlpmf.plugins import build_calculator
from mlpmf.pyscf_calculator import PySCF
from mlpmf.robust import RobustOracle
from mlpmf.settings import OracleSettings

ORACLE_KINDS = ("emt", "double_well_bond", "xtb", "pyscf", "ase")


def _xtb(settings: OracleSettings, safer: bool = False) -> Calculator:
    from tblite.ase import TBLite

    return TBLite(
        method=settings.method or "GFN2-xTB",
        charge=settings.charge,
        multiplicity=settings.multiplicity,
        electronic_temperature=settings.electronic_temperature_k,
        max_iterations=settings.max_iterations * (4 if safer else 1),
        mixer_damping=0.1 if safer else 0.4,
        verbosity=0,
    )


def _pyscf(settings: OracleSettings, safer: bool = False) -> Calculator:
    convergence = {"max_cycle": settings.max_iterations}
    if safer:
        convergence = {
            "max_cycle": 4 * settings.max_iterations,
            "level_shift": 0.3,
            "damping": 0.5,
            "second_order": True,
        }
    return PySCF(
        method=settings.method or "hf",
        basis=settings.basis,
        functional=settings.functional,
        charge=settings.charge,
        spin=settings.multiplicity - 1,
        **convergence,
    )


def method_name(settings: OracleSettings | Mapping) -> str:
    """A short name of the method an oracle block describes, e.g. 'xtb GFN2-xTB' or
    'pyscf dft pbe0/6-31g*'."""
    settings = OracleSettings.of(settings)
    kind = settings.kind
    if kind == "xtb":
        return f"xtb {settings.method or 'GFN2-xTB'}"
    if kind == "pyscf":
        method = settings.method or "hf"
        level = settings.functional if method == "dft" else "hf"
        return f"pyscf {method} {level}/{settings.basis}"
    if kind == "ase":
        return f"ase {settings.calculator}"
    return kind


def make_robust_oracle(settings: OracleSettings | Mapping) -> RobustOracle:
    """The oracle of ``settings`` with, for xtb and pyscf, a safer retry."""
    settings = OracleSettings.of(settings)
    kind = settings.kind
    if kind == "xtb":
        return RobustOracle([_xtb(settings), _xtb(settings, safer=True)])
    if kind == "pyscf":
        return RobustOracle([_pyscf(settings), _pyscf(settings, safer=True)])
    return RobustOracle([make_oracle(settings)])


def make_oracle(settings: OracleSettings | Mapping) -> Calculator:
    """Build the oracle calculator described by the config's ``oracle`` section."""
    settings = OracleSettings.of(settings)
    kind = settings.kind
    if kind == "emt":
        return EMT()
    if kind == "double_well_bond":
        return DoubleWellBond(
            barrier_ev=settings.barrier_ev,
            r_mid=settings.r_mid,
            half_width=settings.half_width,
        )
    if kind == "xtb":
        return _xtb(settings)
    if kind == "pyscf":
        return _pyscf(settings)
    if kind == "ase":
        return build_calculator(
            {"calculator": settings.calculator, "parameters": settings.parameters}
        )
    raise ValueError(f"oracle.kind: unknown oracle {kind!r}; expected one of {ORACLE_KINDS}")
