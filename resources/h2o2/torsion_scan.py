"""GFN2-xTB relaxed torsion scan of H2O2, the reference the PMF barriers are compared with.

    .venv/bin/python resources/h2o2/torsion_scan.py

At each H-O-O-H dihedral (5 degree steps) the rest of the molecule is relaxed with the
dihedral held fixed (ASE FixInternals, BFGS to 0.01 eV/Å). Writes ``torsion_scan.json``
beside this script: the scan, the minimum, and the trans (180) and cis (0) barriers
above it, with the experimental values for comparison; and ``reference_barrier.json``,
the cis barrier the study's report shows beside its PMF barrier. These are potential
energy barriers; the PMF adds the thermal (entropic, zero-point-free) part at 300 K.
"""

import json
from pathlib import Path

import numpy as np
from ase.constraints import FixInternals
from ase.io import read
from ase.optimize import BFGS
from tblite.ase import TBLite

HERE = Path(__file__).parent
DIHEDRAL = [2, 0, 1, 3]  # H-O-O-H
EXPERIMENT_KJ_MOL = {"trans": 4.6, "cis": 29.5}  # Hunt et al. 1965; Koput 1986
EV_TO_KJ_MOL = 96.48533212


def relaxed_energy(molecule, angle_deg):
    atoms = molecule.copy()
    atoms.set_dihedral(*DIHEDRAL, angle_deg)
    atoms.set_constraint(FixInternals(dihedrals_deg=[[angle_deg, DIHEDRAL]]))
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    BFGS(atoms, logfile=None).run(fmax=0.01, steps=500)
    return float(atoms.get_potential_energy())


def main() -> None:
    molecule = read(HERE / "h2o2.xyz")
    angles = np.arange(0.0, 181.0, 5.0)
    energies = np.array([relaxed_energy(molecule, a) for a in angles])
    relative = (energies - energies.min()) * EV_TO_KJ_MOL
    result = {
        "method": "GFN2-xTB relaxed torsion scan (tblite), H-O-O-H dihedral",
        "dihedral_deg": angles.tolist(),
        "energy_kj_mol": relative.tolist(),
        "minimum_dihedral_deg": float(angles[np.argmin(relative)]),
        "trans_barrier_kj_mol": float(relative[-1]),
        "cis_barrier_kj_mol": float(relative[0]),
        "experiment_kj_mol": EXPERIMENT_KJ_MOL,
    }
    (HERE / "torsion_scan.json").write_text(json.dumps(result, indent=1) + "\n")
    reference = {
        "barrier_kj_mol": result["cis_barrier_kj_mol"],
        "method": "GFN2-xTB relaxed scan, cis barrier (experiment: 29.5)",
    }
    (HERE / "reference_barrier.json").write_text(json.dumps(reference, indent=1) + "\n")
    print({k: v for k, v in result.items() if not isinstance(v, list)})


if __name__ == "__main__":
    main()
