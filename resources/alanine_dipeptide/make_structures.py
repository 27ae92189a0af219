"""Build the L and D enantiomers of alanine dipeptide (Ace-Ala-NMe, 22 atoms) in vacuum.

    python resources/alanine_dipeptide/make_structures.py     # needs RDKit (pip install rdkit)

Writes ``L.xyz`` and ``D.xyz`` beside this script: RDKit ETKDG embedding with a fixed
seed, then MMFF94 relaxation. D is the mirror image of L (x -> -x), so the two are exact
enantiomers. These are starting structures; a study relaxes them with its own oracle.
"""

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write

HERE = Path(__file__).parent
L_SMILES = "CC(=O)N[C@@H](C)C(=O)NC"  # Ace-L-Ala-NMe
SEED = 2026


def embed(smiles: str) -> Atoms:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    molecule = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(molecule, randomSeed=SEED)
    AllChem.MMFFOptimizeMolecule(molecule)
    symbols = [atom.GetSymbol() for atom in molecule.GetAtoms()]
    return Atoms(symbols, positions=molecule.GetConformer().GetPositions())


def main() -> None:
    left = embed(L_SMILES)
    left.positions -= left.get_center_of_mass()
    right = left.copy()
    right.positions *= np.array([-1.0, 1.0, 1.0])
    write(HERE / "L.xyz", left)
    write(HERE / "D.xyz", right)
    print(f"{len(left)} atoms: {left.get_chemical_formula()}")


if __name__ == "__main__":
    main()
