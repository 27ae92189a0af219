"""GFN2-xTB's own barrier of the SN2 identity reaction Cl- + CH3Cl, the reference of
its path study (config/studies/sn2_chloride.yaml in 7c99978, withdrawn until it has
run): a climbing-image NEB between the two ion-molecule
complexes (mlpmf.pathbuild, tight forces, three candidate bands), and the harmonic
estimate of the thermal part of the free-energy barrier.

The PMF along the path's progress s differs from the NEB's energy barrier by the
free energy of the motions across the path: classically and harmonically,
F(TS) - F(R) = E(TS) - E(R) + kT sum_i ln(w_i(TS) / w_i(R)) over the 3N-7 modes
orthogonal to the path at each (at the complex, the mode most parallel to the path's
tangent left out); the loose complex's soft modes stiffen at the tight transition
state, so the free-energy barrier lies above the energy barrier.

Writes ``neb_barrier.json`` beside this script. Run from the repository:
``python resources/sn2/neb_reference.py``.
"""

import json
from pathlib import Path

import numpy as np
from ase.io import read
from ase.vibrations import VibrationsData

from mlpmf.oracles import make_oracle, make_robust_oracle
from mlpmf.pathbuild import PathBuildSettings, build_path
from mlpmf.units import ev_to_kj_mol, kt_kj_mol

HERE = Path(__file__).parent
ORACLE = {"kind": "xtb", "method": "GFN2-xTB", "charge": -1}
TEMPERATURE_K = 300.0


def hessian(atoms, step=0.005):
    """Central-difference Hessian (eV/Å²), 3N x 3N."""
    atoms = atoms.copy()
    atoms.calc = make_oracle(ORACLE)
    x0 = atoms.positions.copy()
    n = 3 * len(atoms)
    h = np.zeros((n, n))
    for k in range(n):
        for sign in (1, -1):
            x = x0.copy()
            x.flat[k] += sign * step
            atoms.positions = x
            h[k] -= sign * atoms.get_forces().ravel() / (2 * step)
    return 0.5 * (h + h.T)


def modes(atoms, tangent=None):
    """Harmonic frequencies (cm^-1) of the internal modes; with ``tangent``, without
    the mode most parallel to it (the path's own direction)."""
    data = VibrationsData.from_2d(atoms, hessian(atoms))
    energies, vectors = data.get_energies_and_modes(all_atoms=True)
    internal = np.argsort(np.abs(energies))[6:]  # drop translations and rotations
    if tangent is not None:
        overlap = [abs(np.vdot(vectors[i].ravel(), tangent)) for i in internal]
        internal = np.delete(internal, int(np.argmax(overlap)))
    return np.sort(energies[internal])


def main() -> None:
    settings = PathBuildSettings(images=9, candidates=3, fmax_ev_a=0.005, max_steps=2000)
    result = build_path(
        read(HERE / "reactant.xyz"), read(HERE / "product.xyz"),
        make_robust_oracle(ORACLE).as_calculator, settings, seed=31,
    )  # fmt: skip
    band = result.best.images
    top = int(np.argmax(result.best.energies_ev))
    tangent = (band[1].positions - band[0].positions).ravel()
    reactant = modes(band[0], tangent / np.linalg.norm(tangent))
    saddle = modes(band[top])
    imaginary = saddle[np.iscomplex(saddle) | (saddle.real < 0)]
    real_saddle = np.sort(np.abs(saddle[np.isreal(saddle) & (saddle.real > 0)].real))
    real_reactant = np.sort(np.abs(reactant.real))
    thermal = (
        kt_kj_mol(TEMPERATURE_K)
        * float(np.sum(np.log(real_saddle[-len(real_reactant) :])) - np.sum(np.log(real_reactant)))
        if len(real_saddle) == len(real_reactant)
        else None
    )
    document = {
        "method": "climbing-image NEB, GFN2-xTB (tblite), 9 images, fmax 0.005 eV/A, "
        "lowest of 3 candidate bands",
        "barrier_kj_mol": result.best.barrier_kj_mol,
        "converged": result.best.converged,
        "candidates_kj_mol": [c.barrier_kj_mol for c in result.candidates],
        "path_energy_kj_mol": ev_to_kj_mol(
            result.best.energies_ev - result.best.energies_ev[0]
        ).tolist(),
        "saddle_c_cl_a": [float(band[top].get_distance(0, 4)), float(band[top].get_distance(0, 5))],
        "saddle_imaginary_modes": len(imaginary),
        "harmonic_thermal_part_kj_mol": thermal,
        "harmonic_free_energy_barrier_kj_mol": (
            None if thermal is None else result.best.barrier_kj_mol + thermal
        ),
        "temperature_k": TEMPERATURE_K,
    }
    (HERE / "neb_barrier.json").write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
