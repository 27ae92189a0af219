"""Build the Au/Al(100) adatom structure and its EMT NEB reference barrier.

Writes, beside this script:
- ``initial.extxyz``: a 3x3x3 Al(100) slab (bottom layer fixed) with an Au adatom
  relaxed in a hollow site; the default study's input structure;
- ``neb_barrier.json``: the climbing-image NEB barrier of the hop to the neighbouring
  hollow site along +x, with the same EMT oracle, in kJ/mol.

Run from anywhere: ``python resources/au_al100/neb_reference.py``.
"""

import json
from pathlib import Path

import numpy as np
from ase.build import add_adsorbate, fcc100
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.io import write
from ase.mep import NEB
from ase.optimize import BFGS

from mlpmf.units import ev_to_kj_mol

HERE = Path(__file__).parent
FMAX_EV_A = 0.005
NUM_IMAGES = 7


def relaxed(atoms):
    atoms.calc = EMT()
    BFGS(atoms, logfile=None).run(fmax=FMAX_EV_A)
    return atoms


def main() -> None:
    slab = fcc100("Al", size=(3, 3, 3), vacuum=8.0)
    add_adsorbate(slab, "Au", 1.7, "hollow")
    slab.set_constraint(FixAtoms(mask=slab.get_tags() == 3))  # bottom layer
    initial = relaxed(slab)
    hop_a = initial.cell[0, 0] / 3  # hollow-to-hollow distance along x
    final = initial.copy()
    final.positions[-1, 0] += hop_a
    final = relaxed(final)

    images = [initial] + [initial.copy() for _ in range(NUM_IMAGES)] + [final]
    for image in images[1:-1]:
        image.calc = EMT()
    band = NEB(images, climb=True, method="improvedtangent")
    band.interpolate()
    BFGS(band, logfile=None).run(fmax=FMAX_EV_A)
    energies = np.array([image.get_potential_energy() for image in images])
    top = int(np.argmax(energies))

    write(HERE / "initial.extxyz", initial)
    result = {
        "method": "climbing-image NEB, ASE EMT, 7 images, fmax 0.005 eV/A",
        "barrier_kj_mol": float(ev_to_kj_mol(energies[top] - energies[0])),
        "saddle_cv_a": float(images[top].positions[-1, 0]),
        "initial_cv_a": float(initial.positions[-1, 0]),
        "final_cv_a": float(final.positions[-1, 0]),
        "path_cv_a": [float(image.positions[-1, 0]) for image in images],
        "path_energy_kj_mol": [float(e) for e in ev_to_kj_mol(energies - energies[0])],
    }
    (HERE / "neb_barrier.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
