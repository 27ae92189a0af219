"""Reference methods ("oracles") behind one factory.

``make_oracle(settings)`` turns the ``oracle`` section of a study config into an ASE
calculator. Kinds:

- ``emt``: ASE's effective-medium theory (Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O).
- ``double_well_bond``: an analytic quartic double well on the distance between atoms 0
  and 1, with an exactly known potential of mean force (see :func:`double_well_exact_pmf`).
"""

from collections.abc import Mapping

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from mlpmf.units import ev_to_kj_mol, kt_kj_mol

ORACLE_KINDS = ("emt", "double_well_bond")


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
        positions = self.atoms.positions
        bond = positions[1] - positions[0]
        r = float(np.linalg.norm(bond))
        barrier = self.parameters.barrier_ev
        width = self.parameters.half_width
        s = (r - self.parameters.r_mid) / width
        energy = barrier * (s * s - 1.0) ** 2
        dv_dr = 4.0 * barrier * s * (s * s - 1.0) / width
        forces = np.zeros_like(positions)
        forces[1] = -dv_dr * bond / r
        forces[0] = -forces[1]
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}


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
    raise ValueError(f"oracle.kind: unknown oracle {kind!r}; expected one of {ORACLE_KINDS}")
