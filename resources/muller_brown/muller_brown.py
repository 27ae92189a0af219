"""The Müller-Brown surface (Müller & Brown, Theor. Chim. Acta 53, 75 (1979)) for one
atom in the xy plane, as an ASE calculator: a 2D test whose free energy is known exactly.

E(x, y, z) = scale * sum_i A_i exp(a_i (x - x_i)^2 + b_i (x - x_i)(y - y_i) + c_i (y - y_i)^2)
             + k_z / 2 z^2

with x, y in Å and ``scale`` in eV per Müller-Brown unit (0.001: the deepest minimum
lies 10.2 kJ/mol, about 4 kT at 300 K, below the col it leaves by). The plane
restraint separates, so the free energy of (x, y) is E(x, y, 0) up to a constant.
``python resources/muller_brown/muller_brown.py`` writes the exact references.
"""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

A = np.array([-200.0, -100.0, -170.0, 15.0])
a = np.array([-1.0, -1.0, -6.5, 0.7])
b = np.array([0.0, 0.0, 11.0, 0.6])
c = np.array([-10.0, -10.0, -6.5, 0.7])
X0 = np.array([1.0, 0.0, -0.5, -1.0])
Y0 = np.array([0.0, 0.5, 1.5, 1.0])


def surface(x, y):
    """Müller-Brown energy (its own units) and its x and y derivatives, elementwise."""
    x, y = np.asarray(x, float)[..., None], np.asarray(y, float)[..., None]
    dx, dy = x - X0, y - Y0
    terms = A * np.exp(a * dx**2 + b * dx * dy + c * dy**2)
    energy = terms.sum(-1)
    d_x = (terms * (2 * a * dx + b * dy)).sum(-1)
    d_y = (terms * (b * dx + 2 * c * dy)).sum(-1)
    return energy, d_x, d_y


class MullerBrown(Calculator):
    """Atom 0 on the Müller-Brown surface, held in the z = 0 plane (see the module)."""

    implemented_properties = ("energy", "forces")

    def __init__(self, scale: float = 0.001, k_z: float = 1.0):
        super().__init__()
        self.scale, self.k_z = scale, k_z

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, z = self.atoms.positions[0]
        energy, d_x, d_y = surface(x, y)
        forces = np.zeros((len(self.atoms), 3))
        forces[0] = [-self.scale * d_x, -self.scale * d_y, -self.k_z * z]
        self.results = {"energy": float(self.scale * energy + 0.5 * self.k_z * z**2),
                        "forces": forces}  # fmt: skip


def exact_references(scale=0.001, temperature_k=300.0, x_range=(-1.5, 1.2),
                     y_range=(-0.3, 2.1), basins=((-1.2, -0.3), (0.3, 1.0)),
                     points=541):  # fmt: skip
    """The exact PMF along x (y integrated out over ``y_range``), kJ/mol, and the exact
    minimum free-energy path barrier from the lowest point with x in the first basin
    to the lowest with x in the second (the minimax over a fine grid), kJ/mol."""
    from mlpmf.estimators2d import minimax_height

    ev_to_kj_mol = 96.48533212
    kt = 0.008314462618 * temperature_k
    xs = np.linspace(*x_range, points)
    ys = np.linspace(*y_range, points)
    grid = scale * ev_to_kj_mol * surface(*np.meshgrid(xs, ys, indexing="ij"))[0]
    low = grid.min()
    weights = np.exp(-(grid - low) / kt)
    pmf_x = -kt * np.log(weights.sum(1) * (ys[1] - ys[0]))
    pmf_x -= pmf_x.min()

    def lowest(interval):
        masked = np.where(((xs >= interval[0]) & (xs <= interval[1]))[:, None], grid, np.inf)
        return np.unravel_index(np.argmin(masked), grid.shape)

    start, end = lowest(basins[0]), lowest(basins[1])
    barrier = minimax_height(grid, start, end) - float(grid[start])
    return xs, pmf_x, barrier, (xs[start[0]], ys[start[1]]), (xs[end[0]], ys[end[1]])


if __name__ == "__main__":
    import json
    from pathlib import Path

    import pandas as pd

    here = Path(__file__).parent
    xs, pmf_x, barrier, start, end = exact_references()
    exact = {"cv": xs, "free_energy_kj_mol": pmf_x, "uncertainty_kj_mol": np.zeros_like(xs)}
    pd.DataFrame(exact).to_csv(here / "exact_pmf_x.csv", index=False, float_format="%.6f")
    (here / "exact_path_barrier.json").write_text(json.dumps({
        "barrier_kj_mol": round(barrier, 4),
        "method": "minimax path over a 541 x 541 grid of the exact surface, from the lowest "
                  f"point with x in [-1.2, -0.3] ({start[0]:.3f}, {start[1]:.3f}) to the "
                  f"lowest with x in [0.3, 1.0] ({end[0]:.3f}, {end[1]:.3f}) Å",
    }, indent=2) + "\n")  # fmt: skip
    print(f"path barrier {barrier:.3f} kJ/mol from {start} to {end}")
