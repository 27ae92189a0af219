"""The two end structures of alanine dipeptide's C7eq -> C7ax study along a path
(config/studies/alanine_dipeptide_path.yaml), relaxed with GFN2-xTB.

    .venv/bin/python resources/alanine_dipeptide/make_path_ends.py

From ``L.xyz`` the backbone dihedrals phi = C-N-CA-C (1, 3, 4, 6) and psi = N-CA-C-N
(3, 4, 6, 8) are turned to each basin's (C7eq: -80, 75; C7ax: 70, -60), the molecule is
relaxed with both held (ASE FixInternals), then relaxed freely (BFGS to 0.005 eV/Å) so
that each end is the oracle's own minimum. Writes ``C7eq.xyz`` and ``C7ax.xyz`` beside
this script and prints the dihedrals and energies they reached. The study relaxes the
ends again with its oracle; these only put them in the right basins.
"""

from pathlib import Path

from ase.constraints import FixInternals
from ase.io import read, write
from ase.neighborlist import natural_cutoffs, neighbor_list
from ase.optimize import BFGS
from tblite.ase import TBLite

HERE = Path(__file__).parent
PHI, PSI = (1, 3, 4, 6), (3, 4, 6, 8)
EV_TO_KJ_MOL = 96.48533212
BASINS = {"C7eq": (-80.0, 75.0), "C7ax": (70.0, -60.0)}


def turned(atoms, dihedral, angle):
    """``atoms`` with the dihedral set to ``angle``, the C-terminal side moving."""
    atoms = atoms.copy()
    a, b, c, d = dihedral
    mask = [False] * len(atoms)
    # the atoms on c's side of bond b-c: found by walking bonds away from b
    i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=1.2))
    neighbours = {k: set(j[i == k]) for k in range(len(atoms))}
    seen, todo = {b, c}, [c]
    while todo:
        k = todo.pop()
        for n in neighbours[k] - seen:
            seen.add(n)
            todo.append(n)
            mask[n] = True
    mask[c] = True
    atoms.set_dihedral(a, b, c, d, angle, mask=mask)
    return atoms


def relaxed(atoms, phi, psi):
    atoms = turned(turned(atoms, PHI, phi % 360.0), PSI, psi % 360.0)
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    held = [[atoms.get_dihedral(*PHI), list(PHI)], [atoms.get_dihedral(*PSI), list(PSI)]]
    atoms.set_constraint(FixInternals(dihedrals_deg=held))
    BFGS(atoms, logfile=None).run(fmax=0.02, steps=500)
    atoms.set_constraint()
    BFGS(atoms, logfile=None).run(fmax=0.005, steps=1000)
    return atoms


def signed(angle):
    return (angle + 180.0) % 360.0 - 180.0


def main() -> None:
    start = read(HERE / "L.xyz")
    energies = {}
    for name, (phi, psi) in BASINS.items():
        atoms = relaxed(start, phi, psi)
        energies[name] = atoms.get_potential_energy() * EV_TO_KJ_MOL
        atoms.calc = None
        write(HERE / f"{name}.xyz", atoms)
        print(
            f"{name}: phi {signed(atoms.get_dihedral(*PHI)):.1f}, "
            f"psi {signed(atoms.get_dihedral(*PSI)):.1f}"
        )
    print(f"C7ax - C7eq: {energies['C7ax'] - energies['C7eq']:.2f} kJ/mol")


if __name__ == "__main__":
    main()
