"""Relaxed torsion scan of H2O2 with a study's own oracle: the reference its PMF
barriers are compared with.

    .venv/bin/python resources/h2o2/torsion_scan.py                 # GFN2-xTB study
    .venv/bin/python resources/h2o2/torsion_scan.py config/studies/h2o2_dft.yaml \\
        resources/h2o2/dft_torsion_scan.json

The oracle is built from the study file's ``oracle`` section by mlpmf itself (the same
calculator that labels the study's data). At each H-O-O-H dihedral (5 degree steps,
each point started from the previous relaxed one) the rest of the molecule is relaxed
with the dihedral held fixed (ASE FixInternals, BFGS to 0.01 eV/Å); the minimum is
then relaxed freely. Writes the scan (SCAN_JSON) with the minimum, and the trans (180)
and cis (0) barriers above it beside experiment's; and the study's
``reference.barrier_file``: the cis barrier (the one between the study's reactant and
product intervals without crossing +-180) and both paths, which the report shows beside
the PMF's. These are potential-energy barriers without zero-point energy; the PMF adds
the thermal (entropic) part at the study's temperature.
"""

import json
import sys
from pathlib import Path

import numpy as np
import yaml
from ase.constraints import FixInternals
from ase.io import read
from ase.optimize import BFGS
from snakemake.utils import validate

from mlpmf.oracles import make_oracle, method_name

HERE = Path(__file__).parent
DIHEDRAL = [2, 0, 1, 3]  # H-O-O-H
EXPERIMENT_KJ_MOL = {"trans": 4.6, "cis": 29.5}  # Hunt et al. 1965; Koput 1986
EXPERIMENT_MINIMUM_DEG = 111.9  # equilibrium dihedral, Koput 1986
EV_TO_KJ_MOL = 96.48533212
SCHEMA = HERE.parents[1] / "workflow/schemas/config.schema.yaml"


def relax(atoms, oracle, angle_deg=None):
    atoms = atoms.copy()
    if angle_deg is not None:
        atoms.set_dihedral(*DIHEDRAL, angle_deg)
        atoms.set_constraint(FixInternals(dihedrals_deg=[[angle_deg, DIHEDRAL]]))
    atoms.calc = oracle
    BFGS(atoms, logfile=None).run(fmax=0.01, steps=500)
    return atoms, float(atoms.get_potential_energy())


def main() -> None:
    study_file = sys.argv[1] if len(sys.argv) > 1 else "config/studies/h2o2_torsion.yaml"
    scan_file = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "torsion_scan.json"
    study = yaml.safe_load(Path(study_file).read_text())
    validate(study, str(SCHEMA))  # fills in the schema's defaults, as the workflow does
    settings = study["oracle"]
    oracle = make_oracle(settings)
    molecule = read(study["system"]["structure"])
    angles = np.arange(180.0, -1.0, -5.0)
    energies, atoms = [], molecule
    for angle in angles:
        atoms, energy = relax(atoms, oracle, angle)
        energies.append(energy)
        print(f"{angle:5.0f} deg {energy:.6f} eV", flush=True)
    energies = np.array(energies)
    best = int(np.argmin(energies))
    start = molecule.copy()
    start.set_dihedral(*DIHEDRAL, float(angles[best]) + 2.0)  # off any saddle
    minimum, minimum_energy = relax(start, oracle)
    minimum_energy = min(minimum_energy, float(energies.min()))
    relative = (energies - minimum_energy) * EV_TO_KJ_MOL
    order = np.argsort(angles)
    trans, cis = float(relative[angles == 180.0][0]), float(relative[angles == 0.0][0])
    name = method_name(settings)
    result = {
        "method": f"{name} relaxed torsion scan, H-O-O-H dihedral",
        "dihedral_deg": angles[order].tolist(),
        "energy_kj_mol": relative[order].tolist(),
        "minimum_dihedral_deg": abs(
            float(minimum.get_dihedral(*DIHEDRAL, mic=False) + 180.0) % 360.0 - 180.0
        ),
        "trans_barrier_kj_mol": trans,
        "cis_barrier_kj_mol": cis,
        "experiment_kj_mol": EXPERIMENT_KJ_MOL,
        "experiment_minimum_dihedral_deg": EXPERIMENT_MINIMUM_DEG,
    }
    scan_file.write_text(json.dumps(result, indent=1) + "\n")
    mirrored = angles[order][::-1][1:-1]  # -175 .. -5: F(-phi) = F(phi)
    reference = {
        "barrier_kj_mol": cis,
        "method": f"{name} relaxed scan",
        "minimum_cv": result["minimum_dihedral_deg"],
        "paths": [
            {"transition_state_cv": 180.0, "barrier_kj_mol": trans,
             "experiment_kj_mol": EXPERIMENT_KJ_MOL["trans"]},
            {"transition_state_cv": 0.0, "barrier_kj_mol": cis,
             "experiment_kj_mol": EXPERIMENT_KJ_MOL["cis"]},
        ],
        "profile": {
            "cv": [*(-mirrored).tolist(), *angles[order].tolist()],
            "energy_kj_mol": [*relative[order][::-1][1:-1].tolist(), *relative[order].tolist()],
        },
    }  # fmt: skip
    barrier_file = Path(study["reference"]["barrier_file"])
    barrier_file.write_text(json.dumps(reference, indent=1) + "\n")
    print({k: v for k, v in result.items() if not isinstance(v, list)})


if __name__ == "__main__":
    main()
