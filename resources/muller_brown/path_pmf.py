"""The exact PMF along a path's progress s on the Müller-Brown surface, and how far a
study's PMF along s lies from it (config/studies/muller_brown_path.yaml).

    .venv/bin/python resources/muller_brown/path_pmf.py results/muller_brown_path

The free energy of (x, y) is the surface itself (the z restraint separates), so F(s) =
-kT ln of the Boltzmann weight of the plane and of z binned by s(x, y, z), on a fine
grid.
For the path the windows ran on (``path/refined.extxyz`` when the study refined it,
else ``path/images.extxyz``) and on the bins of ``free_energy/pmf_mbar.csv``, prints
the RMS deviation and chi2 per bin from the study's PMF (both shifted to their mean over
the bins within 25 kJ/mol), and the exact barrier between the basins a path study
defaults to (s up to 2/(M-1) and from 1 - 2/(M-1), M images).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from ase.io import read

sys.path.insert(0, str(Path(__file__).parent))
from muller_brown import surface  # noqa: E402

from mlpmf.pathcv import PathCV  # noqa: E402

EV_TO_KJ_MOL = 96.48533212
KT = 0.008314462618 * 300.0


def exact_pmf_along_s(images: np.ndarray, edges: np.ndarray, points: int = 1001) -> np.ndarray:
    """F(s) averaged over each bin (kJ/mol, lowest 0) for the path ``images`` (M, 1, 3):
    the plane on a grid (wide enough that its edges weigh < 1e-4 of the minimum), z by
    Gauss-Hermite quadrature of its harmonic restraint (a refined path's images sit a
    little off z = 0, so s depends on z a little)."""
    cv = PathCV((0,), images, align=False)
    xs, ys = np.linspace(-3.0, 3.0, points), np.linspace(-2.0, 3.5, points)
    x, y = np.meshgrid(xs, ys, indexing="ij")
    energy = 0.001 * EV_TO_KJ_MOL * surface(x, y)[0]
    weight = np.exp(-(energy.ravel() - energy.min()) / KT)
    nodes, node_weights = np.polynomial.hermite.hermgauss(9)
    z_scale = np.sqrt(2.0 * KT / (1.0 * EV_TO_KJ_MOL))  # k_z = 1 eV/Å²: exp(-z²/z_scale²)
    probability = np.zeros(len(edges) - 1)
    for node, node_weight in zip(nodes, node_weights, strict=True):
        z = np.full(x.size, node * z_scale)
        positions = np.stack([x.ravel(), y.ravel(), z], axis=-1)[:, None, :]
        s = np.concatenate([cv.values(chunk) for chunk in np.array_split(positions, 64)])
        probability += node_weight * np.histogram(s, bins=edges, weights=weight)[0]
    with np.errstate(divide="ignore"):
        free = -KT * np.log(probability / np.diff(edges))
    return free - np.nanmin(free[np.isfinite(free)])


def main(results: Path) -> None:
    path = results / "path" / "refined.extxyz"
    if not path.is_file():
        path = results / "path" / "images.extxyz"
    images = np.array([frame.positions[:1] for frame in read(path, ":")])
    table = pd.read_csv(results / "free_energy" / "pmf_mbar.csv")
    width = table["cv"].diff().median()
    edges = np.append(table["cv"] - width / 2, table["cv"].iloc[-1] + width / 2)
    exact = exact_pmf_along_s(images, edges)
    kept = (exact < 25.0) & np.isfinite(table["free_energy_kj_mol"])
    error = (table["free_energy_kj_mol"] - exact)[kept]
    error -= error.mean()
    rms = float(np.sqrt(np.mean(error**2)))
    chi2 = float(np.mean((error / table["uncertainty_kj_mol"][kept]) ** 2))
    rates = json.loads((results / "free_energy" / "rates.json").read_text())
    centres = table["cv"].to_numpy()
    reach = 2.0 / (len(images) - 1)  # the basins a path study defaults to (mlpmf.pathstudy)
    start = np.argmin(np.where(centres <= reach, exact, np.inf))
    end = np.argmin(np.where(centres >= 1.0 - reach, exact, np.inf))
    barrier = float(exact[min(start, end) : max(start, end) + 1].max() - exact[start])
    print(f"{path.name}: {len(images)} images; {kept.sum()} bins")
    print(f"PMF along s against the exact one: RMS {rms:.2f} kJ/mol, chi2/bin {chi2:.2f}")
    print(
        f"barrier along s: exact {barrier:.2f} kJ/mol, the study's "
        f"{rates['barrier_kj_mol']:.2f} +- {rates['barrier_uncertainty_kj_mol']:.2f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/muller_brown_path"))
