"""A user's own ASE calculator, loaded by file path as ``oracle: {kind: ase,
calculator: tests/ase_calculators.py:HarmonicBond}``."""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class HarmonicBond(Calculator):
    """E = k/2 (r01 - r0)^2 between atoms 0 and 1 (eV, Å)."""

    implemented_properties = ("energy", "forces")

    def __init__(self, k: float = 1.0, r0: float = 1.0):
        super().__init__()
        self.k, self.r0 = k, r0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        bond = self.atoms.positions[1] - self.atoms.positions[0]
        r = np.linalg.norm(bond)
        forces = np.zeros((len(self.atoms), 3))
        forces[1] = -self.k * (r - self.r0) * bond / r
        forces[0] = -forces[1]
        self.results = {"energy": 0.5 * self.k * (r - self.r0) ** 2, "forces": forces}
