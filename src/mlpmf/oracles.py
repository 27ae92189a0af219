"""Reference methods ("oracles") behind one factory.

``make_oracle(settings)`` turns the ``oracle`` section of a study config into an ASE
calculator. Kinds:

- ``emt``: ASE's effective-medium theory (Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O).
- ``double_well_bond``: an analytic quartic double well on the distance between atoms 0
  and 1, with an exactly known potential of mean force (see :func:`double_well_exact_pmf`).
- ``xtb``: GFN1/GFN2-xTB through tblite's ASE calculator.
- ``pyscf``: Hartree-Fock or Kohn-Sham DFT with PySCF (:class:`PySCF`).
- ``ase``: any ASE calculator, named ``"package.module:Class"`` (or
  ``"path/to/file.py:Class"``) in ``calculator`` and built with the keyword arguments
  in ``parameters``: ORCA, Psi4, CP2K, GPAW, VASP through ASE, or a trained MACE,
  NequIP or ANI model's ASE calculator.

An oracle call can fail (SCF not converged, a non-finite result). :class:`RobustOracle`
retries it with settings that converge more safely but give the same answer (more
iterations, damping, level shifts, a second-order solver; never a different
Hamiltonian, which would mix two potential energy surfaces in one dataset), and
records a call that still fails instead of using it or stopping the run.
"""

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import CalculationFailed, Calculator, all_changes
from ase.calculators.emt import EMT

from mlpmf.plugins import build_calculator
from mlpmf.units import ev_to_kj_mol, kt_kj_mol

ORACLE_KINDS = ("emt", "double_well_bond", "xtb", "pyscf", "ase")
log = logging.getLogger(__name__)


class DoubleWellBond(Calculator):
    r"""Quartic double well on the distance between atoms 0 and 1.

    .. math:: V(r) = B\,\bigl(((r - r_\mathrm{mid}) / w)^2 - 1\bigr)^2

    with minima at :math:`r_\mathrm{mid} \pm w` and a barrier :math:`B` at
    :math:`r_\mathrm{mid}`. With :math:`s = (r - r_\mathrm{mid}) / w`,
    :math:`dV/dr = 4 B s (s^2 - 1) / w`, and the force on atom 1 is
    :math:`-dV/dr\,\hat{r}`, with :math:`\hat{r}` the unit vector from atom 0 to atom 1;
    atom 0 feels the opposite force and every other atom none. The distance is taken
    without periodic images.
    """

    implemented_properties = ["energy", "free_energy", "forces"]
    default_parameters = {"barrier_ev": 0.15, "r_mid": 3.2, "half_width": 0.45}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        p = self.parameters
        energy, forces = double_well_energy_forces(
            self.atoms.positions, p.barrier_ev, p.r_mid, p.half_width
        )
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}


def double_well_energy_forces(
    positions: np.ndarray, barrier_ev: float, r_mid: float, half_width: float
) -> tuple[float, np.ndarray]:
    """Energy (eV) and forces (eV/Å) of :class:`DoubleWellBond` at ``positions``."""
    bond = positions[1] - positions[0]
    r = float(np.linalg.norm(bond))
    s = (r - r_mid) / half_width
    energy = barrier_ev * (s * s - 1.0) ** 2
    dv_dr = 4.0 * barrier_ev * s * (s * s - 1.0) / half_width
    forces = np.zeros_like(positions)
    forces[1] = -dv_dr * bond / r
    forces[0] = -forces[1]
    return energy, forces


def double_well_force_field(barrier_ev: float = 0.15, r_mid: float = 3.2, half_width: float = 0.45):
    """:class:`DoubleWellBond` as a force field for :func:`mlpmf.dynamics.integrate`:
    many replicas without an ASE calculator each (long validation runs)."""

    def evaluate(structures, _disagreement: bool = True) -> list[dict]:
        results = []
        for atoms in structures:
            energy, forces = double_well_energy_forces(
                atoms.positions, barrier_ev, r_mid, half_width
            )
            results.append({"energy": energy, "forces": forces})
        return results

    return evaluate


def double_well_exact_pmf(
    r: np.ndarray, temperature_k: float, barrier_ev: float, r_mid: float, half_width: float
) -> np.ndarray:
    r"""Exact PMF along the bond of a free dimer in the :class:`DoubleWellBond` potential.

    Integrating the Boltzmann factor over the orientation of the bond gives the radial
    Jacobian :math:`4\pi r^2`, so :math:`F(r) = V(r) - 2 k_B T \ln r` up to a constant.

    Returns
    -------
    numpy.ndarray
        PMF in kJ/mol at ``r`` (Å), shifted so that its minimum over ``r`` is 0.
    """
    s = (np.asarray(r, dtype=float) - r_mid) / half_width
    pmf = ev_to_kj_mol(barrier_ev * (s * s - 1.0) ** 2) - 2.0 * kt_kj_mol(temperature_k) * np.log(r)
    return pmf - pmf.min()


class PySCF(Calculator):
    """Restricted (closed shell) or unrestricted Hartree-Fock or Kohn-Sham DFT with PySCF.

    Parameters: ``method`` (hf or dft), ``basis`` (a PySCF basis name), ``functional``
    (an exchange-correlation functional, for dft), ``charge``, ``spin`` (2S, unpaired
    electrons), ``max_cycle``, ``conv_tol`` (Hartree), ``level_shift`` (Hartree),
    ``damping`` (0-1) and ``second_order`` (Newton solver). Raises
    :class:`CalculationFailed` when the SCF does not converge.
    """

    implemented_properties = ["energy", "free_energy", "forces"]
    default_parameters = {
        "method": "hf",
        "basis": "sto-3g",
        "functional": "pbe",
        "charge": 0,
        "spin": 0,
        "max_cycle": 50,
        "conv_tol": 1e-9,
        "level_shift": 0.0,
        "damping": 0.0,
        "second_order": False,
    }

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        from pyscf import dft, gto, scf

        super().calculate(atoms, properties, system_changes)
        p = self.parameters
        symbols = self.atoms.get_chemical_symbols()
        molecule = gto.M(
            atom=list(zip(symbols, self.atoms.positions.tolist(), strict=True)),
            unit="Angstrom",
            basis=p.basis,
            charge=p.charge,
            spin=p.spin,
            verbose=0,
        )
        restricted = p.spin == 0
        if p.method == "dft":
            solver = (dft.RKS if restricted else dft.UKS)(molecule)
            solver.xc = p.functional
        else:
            solver = (scf.RHF if restricted else scf.UHF)(molecule)
        solver.max_cycle, solver.conv_tol = p.max_cycle, p.conv_tol
        solver.level_shift, solver.damp = p.level_shift, p.damping
        if p.second_order:
            solver = solver.newton()
        energy = solver.kernel()
        if not solver.converged:
            raise CalculationFailed(f"PySCF SCF not converged in {p.max_cycle} cycles")
        gradient = solver.nuc_grad_method().kernel()  # Hartree/Bohr
        energy_ev = float(energy) * units.Hartree
        forces = -np.asarray(gradient) * units.Hartree / units.Bohr
        self.results = {"energy": energy_ev, "free_energy": energy_ev, "forces": forces}


def _xtb(settings: Mapping, safer: bool = False) -> Calculator:
    from tblite.ase import TBLite

    return TBLite(
        method=settings["method"] or "GFN2-xTB",
        charge=settings["charge"],
        multiplicity=settings["multiplicity"],
        electronic_temperature=settings["electronic_temperature_k"],
        max_iterations=settings["max_iterations"] * (4 if safer else 1),
        mixer_damping=0.1 if safer else 0.4,
        verbosity=0,
    )


def _pyscf(settings: Mapping, safer: bool = False) -> Calculator:
    convergence = {"max_cycle": settings["max_iterations"]}
    if safer:
        convergence = {
            "max_cycle": 4 * settings["max_iterations"],
            "level_shift": 0.3,
            "damping": 0.5,
            "second_order": True,
        }
    return PySCF(
        method=settings["method"] or "hf",
        basis=settings["basis"],
        functional=settings["functional"],
        charge=settings["charge"],
        spin=settings["multiplicity"] - 1,
        **convergence,
    )


def _energy_forces(calculator: Calculator, frame: Atoms) -> tuple[float, np.ndarray]:
    """A fresh calculation of ``frame`` (which the calculator copies, as ASE's do):
    what ``get_potential_energy`` and ``get_forces`` give after ``reset``, in one
    ``calculate`` for both (ASE's own check of what changed since the last call costs
    an analytic oracle more than its physics); through those two where a calculator
    leaves one of them out."""
    calculator.reset()
    if isinstance(calculator, Calculator):
        calculator.calculate(frame, ["energy", "forces"], all_changes)
        if "energy" in calculator.results and "forces" in calculator.results:
            return float(calculator.results["energy"]), np.array(calculator.results["forces"])
    return float(calculator.get_potential_energy(frame)), np.array(calculator.get_forces(frame))


class RobustOracle:
    """Labels frames with an oracle, retrying a failed call with safer settings.

    ``attempts`` are calculators tried in turn (the configured one first). A frame whose
    every attempt fails is returned as None and counted in ``failures`` (with the
    reasons in ``failure_messages``), so that the caller skips it.
    """

    def __init__(self, attempts: list[Calculator]):
        self.attempts = attempts
        self.calls = 0
        self.retries = 0
        self.failures = 0
        self.failure_messages: list[str] = []
        self.seconds = 0.0  # wall time spent in calls
        self.last_seconds = 0.0  # of the latest call

    def label(self, atoms: Atoms) -> tuple[float, np.ndarray] | None:
        """Energy (eV) and forces (eV/Å) of ``atoms``, or None if every attempt failed."""
        start = time.perf_counter()
        try:
            return self._label(atoms)
        finally:
            self.last_seconds = time.perf_counter() - start
            self.seconds += self.last_seconds

    def _label(self, atoms: Atoms) -> tuple[float, np.ndarray] | None:
        self.calls += 1
        reasons = []
        for attempt, calculator in enumerate(self.attempts):
            try:
                energy, forces = _energy_forces(calculator, atoms)
                if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
                    raise CalculationFailed("non-finite energy or forces")
                self.retries += attempt
                return energy, forces
            except (CalculationFailed, RuntimeError, ValueError, ArithmeticError) as error:
                reasons.append(f"attempt {attempt + 1}: {error}")
        self.retries += len(self.attempts) - 1
        self.failures += 1
        self.failure_messages.append("; ".join(reasons))
        log.warning("oracle call failed after %d attempts: %s", len(self.attempts), reasons)
        return None

    def as_calculator(self) -> Calculator:
        """This oracle as an ASE calculator, for MD; raises CalculationFailed when a
        call fails after every attempt (the caller ends that trajectory)."""
        return _RobustCalculator(self)

    def summary(self) -> dict:
        return {
            "oracle_calls": self.calls,
            "oracle_retries": self.retries,
            "oracle_failures": self.failures,
            "oracle_failure_messages": self.failure_messages,
            "oracle_time_s": self.seconds,
            "oracle_seconds_per_call": self.seconds / max(self.calls, 1),
        }


class _RobustCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, oracle: RobustOracle):
        super().__init__()
        self.oracle = oracle

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = self.fresh_results(self.atoms)

    def fresh_results(self, atoms: Atoms) -> dict:
        """The oracle's energy and forces at ``atoms``, without ASE's check whether they
        moved (in MD they did): raises CalculationFailed when every attempt failed."""
        labelled = self.oracle.label(atoms)
        if labelled is None:
            raise CalculationFailed(self.oracle.failure_messages[-1])
        energy, forces = labelled
        return {"energy": energy, "free_energy": energy, "forces": forces}


def oracle_calculators(structures: Sequence[Atoms], with_disagreement: bool = True) -> list[dict]:
    """The force field (:func:`mlpmf.dynamics.integrate`) of structures that each carry
    a :meth:`RobustOracle.as_calculator`: every call labels afresh, as ``own_calculators``
    would after ASE found the positions moved, less that bookkeeping (most of the cost
    of an analytic oracle's step). ``with_disagreement`` is ignored: one oracle."""
    return [atoms.calc.fresh_results(atoms) for atoms in structures]


def method_name(settings: Mapping) -> str:
    """A short name of the method an oracle block describes, e.g. 'xtb GFN2-xTB' or
    'pyscf dft pbe0/6-31g*'."""
    kind = settings["kind"]
    if kind == "xtb":
        return f"xtb {settings.get('method') or 'GFN2-xTB'}"
    if kind == "pyscf":
        method = settings.get("method") or "hf"
        level = settings["functional"] if method == "dft" else "hf"
        return f"pyscf {method} {level}/{settings['basis']}"
    if kind == "ase":
        return f"ase {settings['calculator']}"
    return kind


EXPLORER_RESET = {"method": None, "calculator": None, "parameters": {}}


def explorer_settings(oracle: Mapping, explorer: Mapping | None) -> dict | None:
    """The settings of the cheap method that explores for the reference data
    (``dataset.explorer``): the oracle's settings (the molecule's charge and
    multiplicity, the SCF limits) with the method-specific keys reset and the explorer's
    own keys (those not null) on top; None when the oracle explores itself."""
    if not explorer or explorer.get("kind") is None:
        return None
    given = {key: value for key, value in explorer.items() if value is not None}
    return {**oracle, **EXPLORER_RESET, **given}


def make_robust_oracle(settings: Mapping) -> RobustOracle:
    """The oracle of ``settings`` with, for xtb and pyscf, a safer retry."""
    kind = settings["kind"]
    if kind == "xtb":
        return RobustOracle([_xtb(settings), _xtb(settings, safer=True)])
    if kind == "pyscf":
        return RobustOracle([_pyscf(settings), _pyscf(settings, safer=True)])
    return RobustOracle([make_oracle(settings)])


def make_oracle(settings: Mapping) -> Calculator:
    """Build the oracle calculator described by the config's ``oracle`` section."""
    kind = settings["kind"]
    if kind == "emt":
        return EMT()
    if kind == "double_well_bond":
        return DoubleWellBond(
            barrier_ev=settings["barrier_ev"],
            r_mid=settings["r_mid"],
            half_width=settings["half_width"],
        )
    if kind == "xtb":
        return _xtb(settings)
    if kind == "pyscf":
        return _pyscf(settings)
    if kind == "ase":
        return build_calculator(settings)
    raise ValueError(f"oracle.kind: unknown oracle {kind!r}; expected one of {ORACLE_KINDS}")
