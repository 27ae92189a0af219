"""Conformer free energies of alanine dipeptide from a (phi, psi) PMF, and how a phi
PMF compares with others.

    python resources/alanine_dipeptide/basins.py PMF_2D.csv [--compare PHI.csv ...]

PMF_2D.csv is a 2D table (cv_1 = phi, cv_2 = psi, free_energy_kj_mol,
uncertainty_kj_mol; e.g. free_energy/pmf_2d_mbar.csv of a 2D study). A basin's free
energy is -kT ln of its probability, the sum of exp(-F/kT) over the filled bins inside
its rectangle, relative to the lowest basin; its error combines the bins' errors as if
independent (a lower bound: neighbouring bins are correlated). With ``--compare``, the
phi projection of the 2D table (-kT ln of the sum over psi) is compared bin by bin with
each 1D phi table (cv, free_energy_kj_mol, uncertainty_kj_mol; finer bins are merged
onto the projection's) over the bins both fill
below ``--below`` kJ/mol, each table shifted to the same mean there: RMS difference and
chi2 per bin against both tables' errors.
"""

import argparse

import numpy as np
import pandas as pd

KT_KJ_MOL_300K = 2.494339

BASINS = {  # phi range, psi range (deg): the usual conformers of the dipeptide in vacuum
    "C7eq": ((-130.0, -50.0), (30.0, 130.0)),
    "C5": ((-180.0, -130.0), (100.0, 180.0)),
    "alpha_R": ((-130.0, -50.0), (-80.0, 0.0)),
    "C7ax": ((30.0, 110.0), (-100.0, -20.0)),
    "alpha_L": ((30.0, 110.0), (0.0, 100.0)),
}


def basin_free_energies(table: pd.DataFrame, kt: float) -> pd.DataFrame:
    filled = table[np.isfinite(table.free_energy_kj_mol)]
    rows = []
    for name, ((phi_low, phi_high), (psi_low, psi_high)) in BASINS.items():
        inside = filled[filled.cv_1.between(phi_low, phi_high)
                        & filled.cv_2.between(psi_low, psi_high)]  # fmt: skip
        weights = np.exp(-inside.free_energy_kj_mol.to_numpy() / kt)
        total = weights.sum()
        error = kt * np.sqrt(np.sum((weights / total) ** 2 * (inside.uncertainty_kj_mol / kt) ** 2))
        rows.append({"basin": name, "free_energy_kj_mol": -kt * np.log(total),
                     "error_kj_mol": error, "bins": len(inside)})  # fmt: skip
    basins = pd.DataFrame(rows)
    basins["free_energy_kj_mol"] -= basins.free_energy_kj_mol.min()
    return basins


def projection(table: pd.DataFrame, kt: float) -> pd.DataFrame:
    filled = table[np.isfinite(table.free_energy_kj_mol)]
    grouped = filled.assign(w=np.exp(-filled.free_energy_kj_mol / kt)).groupby("cv_1")
    free = -kt * np.log(grouped.w.sum())
    return pd.DataFrame({"cv": free.index, "free_energy_kj_mol": free - free.min()})


def rebinned(table: pd.DataFrame, centres: np.ndarray, kt: float) -> pd.DataFrame:
    """A 1D table on the bins centred at ``centres`` (evenly spaced): each bin's
    probability is the mean over the finer bins whose centres it holds."""
    half = 0.5 * np.diff(centres).mean()
    rows = []
    for centre in centres:
        inside = table[(table.cv > centre - half) & (table.cv < centre + half)].dropna()
        if inside.empty:
            continue
        weights = np.exp(-inside.free_energy_kj_mol.to_numpy() / kt)
        share = weights / weights.sum()
        rows.append({"cv": centre, "free_energy_kj_mol": -kt * np.log(weights.mean()),
                     "uncertainty_kj_mol": np.sqrt(np.sum((share * inside.uncertainty_kj_mol)
                                                          ** 2))})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--compare", nargs="*", default=[])
    parser.add_argument("--projection", help="the 2D study's phi PMF (with errors)")
    parser.add_argument("--below", type=float, default=25.0)
    parser.add_argument("--temperature-k", type=float, default=300.0)
    arguments = parser.parse_args()
    kt = KT_KJ_MOL_300K * arguments.temperature_k / 300.0
    table = pd.read_csv(arguments.table)
    filled = np.isfinite(table.free_energy_kj_mol)
    print(f"{arguments.table}: {int(filled.sum())} of {len(table)} bins filled")
    print(basin_free_energies(table, kt).to_string(index=False, float_format="%.2f"))
    if arguments.projection:
        mine = pd.read_csv(arguments.projection)
    else:
        mine = projection(table, kt).assign(uncertainty_kj_mol=0.0)
    for path in arguments.compare:
        other = rebinned(pd.read_csv(path), mine.cv.to_numpy(float), kt)
        both = mine.merge(other, on="cv", suffixes=("", "_other")).dropna()
        both = both[(both.free_energy_kj_mol < arguments.below)
                    & (both.free_energy_kj_mol_other < arguments.below)]  # fmt: skip
        difference = both.free_energy_kj_mol - both.free_energy_kj_mol_other
        difference -= difference.mean()
        variance = both.uncertainty_kj_mol**2 + both.uncertainty_kj_mol_other**2
        chi2 = np.mean(difference**2 / variance) if (variance > 0).all() else np.nan
        print(f"phi projection vs {path}: {len(both)} bins, RMS "
              f"{np.sqrt(np.mean(difference**2)):.2f} kJ/mol, chi2/bin {chi2:.2f}")  # fmt: skip
        worst = both.assign(difference=difference).sort_values("difference", key=abs).tail(4)
        print(worst[["cv", "free_energy_kj_mol", "free_energy_kj_mol_other", "difference"]]
              .to_string(index=False, float_format="%.1f"))  # fmt: skip


if __name__ == "__main__":
    main()
