"""Hartree-Fock and Kohn-Sham DFT with PySCF as an ASE calculator (oracle kind
``pyscf``), with the knobs a safer retry turns (iterations, damping, level shift, a
second-order solver).
"""

import numpy as np
from ase import units
from ase.calculators.calculator import CalculationFailed, Calculator, all_changes


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
