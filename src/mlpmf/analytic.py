"""An analytic oracle: a quartic double well on one bond, whose potential of mean
force is known exactly (:func:`double_well_exact_pmf`), so a whole study can be judged
against the truth (oracle kind ``double_well_bond``); and the same potential as a
vectorised force field for MD on many replicas at once.
"""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from mlpmf.units import ev_to_kj_mol, kt_kj_mol


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
