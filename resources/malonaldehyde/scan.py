"""GFN2-xTB relaxed scan of malonaldehyde's intramolecular proton transfer, the
reference the study's PMF barrier is compared with.

    .venv/bin/python resources/malonaldehyde/scan.py

The proton transfer coordinate is s = d(O1-H) - d(H-O2) (Å): about -0.72 with the
proton on O1, +0.72 on O2, 0 at the symmetric (C2v) transition state. At each s (0.05 Å
steps) the molecule is relaxed with s held fixed (ASE FixInternals, a combination of
the two bonds; BFGS to 0.005 eV/Å). Writes ``scan.json`` beside this script (the scan,
the minimum and the barrier) and ``reference_barrier.json``, the barrier the study's
report shows beside its PMF barrier. This is a potential-energy barrier; the PMF's
barrier differs by the thermal (entropic, zero-point-free) part at 300 K.
"""

import json
from pathlib import Path

import numpy as np
from ase.constraints import FixInternals
from ase.io import read
from ase.optimize import BFGS
from tblite.ase import TBLite

HERE = Path(__file__).parent
DONOR, PROTON, ACCEPTOR = 0, 1, 2
EV_TO_KJ_MOL = 96.48533212


def coordinate(atoms) -> float:
    return atoms.get_distance(DONOR, PROTON) - atoms.get_distance(PROTON, ACCEPTOR)


def relaxed(atoms, target: float):
    """``atoms`` moved onto s = target (proton along the O...O line), then relaxed."""
    atoms = atoms.copy()
    oxygen = atoms.positions[ACCEPTOR] - atoms.positions[DONOR]
    along = oxygen / np.linalg.norm(oxygen)
    atoms.positions[PROTON] += 0.5 * (target - coordinate(atoms)) * along
    combo = [[DONOR, PROTON, 1.0], [PROTON, ACCEPTOR, -1.0]]
    atoms.set_constraint(FixInternals(bondcombos=[(coordinate(atoms), combo)]))
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    BFGS(atoms, logfile=None).run(fmax=0.005, steps=1000)
    return atoms


def main() -> None:
    molecule = read(HERE / "malonaldehyde.xyz")
    targets = np.round(np.arange(-1.0, 1.0001, 0.05), 3)
    energies, previous = [], molecule
    for target in targets:  # each point starts from the last: a continuous path
        previous = relaxed(previous, float(target))
        energies.append(previous.get_potential_energy())
    relative = (np.array(energies) - min(energies)) * EV_TO_KJ_MOL
    middle = int(np.argmin(np.abs(targets)))
    result = {
        "method": "GFN2-xTB relaxed scan (tblite) along d(O1-H) - d(H-O2)",
        "coordinate_a": targets.tolist(),
        "energy_kj_mol": relative.tolist(),
        "minimum_coordinate_a": float(targets[np.argmin(relative)]),
        "barrier_kj_mol": float(relative[middle]),
    }
    (HERE / "scan.json").write_text(json.dumps(result, indent=1) + "\n")
    reference = {
        "barrier_kj_mol": result["barrier_kj_mol"],
        "method": "GFN2-xTB relaxed scan, proton transfer (potential energy)",
    }
    (HERE / "reference_barrier.json").write_text(json.dumps(reference, indent=1) + "\n")
    print({k: v for k, v in result.items() if not isinstance(v, list)})


if __name__ == "__main__":
    main()
