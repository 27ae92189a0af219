"""An oracle that survives its own failures.

An oracle call can fail (SCF not converged, a non-finite result). :class:`RobustOracle`
retries it with settings that converge more safely but give the same answer (more
iterations, damping, level shifts, a second-order solver; never a different
Hamiltonian, which would mix two potential energy surfaces in one dataset), and
records a call that still fails instead of using it or stopping the run. It counts its
calls and their wall time (the oracle ledger's figures), and drives MD as a calculator.
"""

import logging
import time
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed, Calculator, all_changes

log = logging.getLogger(__name__)


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
