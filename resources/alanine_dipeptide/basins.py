"""Conformer free energies of alanine dipeptide from a (phi, psi) PMF, and how a phi
PMF compares with others.

    python resources/alanine_dipeptide/basins.py PMF_2D.csv [--surface OTHER_2D.csv] \\
        [--projection PHI_OF_2D.csv --compare PHI.csv ...] [--oracle-reweighted]

PMF_2D.csv is a 2D table (cv_1 = phi, cv_2 = psi, free_energy_kj_mol,
uncertainty_kj_mol; e.g. free_energy/pmf_2d_mbar.csv of a 2D study). A basin's free
energy is -kT ln of its probability, the sum of exp(-F/kT) over the filled bins inside
its rectangle, relative to the lowest basin; its error combines the bins' errors as if
independent (a lower bound: neighbouring bins are correlated). With ``--surface``, a
second 2D table on the same bins (e.g. the oracle's, L_oracle_2d_surface_mbar.csv): its
basins beside these, and the two surfaces compared bin by bin over the bins both fill
where the other lies below ``--below`` kJ/mol. With ``--compare``, the
2D study's phi projection (``--projection``, its pmf_mbar.csv) is compared with each 1D
phi table (cv, free_energy_kj_mol, uncertainty_kj_mol; finer bins are merged onto the
projection's) by :func:`mlpmf.diagnostics.compare_profiles`, over the bins where the
other table lies below ``--below`` kJ/mol: RMS difference after the best constant shift
and chi2 per bin against both tables' errors. With ``--oracle-reweighted``, PMF_2D.csv
and the projection are read at their oracle-reweighted columns
(``free_energy_oracle_kj_mol``, ``uncertainty_oracle_kj_mol``: a study run with
``umbrella.oracle_every``) instead of the model's.
"""

import argparse

import numpy as np
import pandas as pd

from mlpmf.diagnostics import compare_profiles
from mlpmf.units import kt_kj_mol

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
        share = weights / weights.sum()
        rows.append({"basin": name, "free_energy_kj_mol": -kt * np.log(weights.sum()),
                     "error_kj_mol": np.sqrt(np.sum((share * inside.uncertainty_kj_mol) ** 2)),
                     "bins": len(inside)})  # fmt: skip
    basins = pd.DataFrame(rows)
    basins["free_energy_kj_mol"] -= basins.free_energy_kj_mol.min()
    return basins


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


def compare_surfaces(table: pd.DataFrame, other: pd.DataFrame, below_kj_mol: float) -> dict:
    """:func:`compare_profiles` of two 2D tables on the same bins, over the bins both
    fill (the bins taken in order, as a 1D profile)."""
    keys = ["cv_1", "cv_2"]
    both = table.merge(other, on=keys, suffixes=("", "_other"), validate="one_to_one")
    if len(both) != len(table):
        raise SystemExit("--surface: the two 2D tables must have the same (cv_1, cv_2) bins")
    both = both[np.isfinite(both.free_energy_kj_mol) & np.isfinite(both.free_energy_kj_mol_other)]
    index = np.arange(len(both), dtype=float)
    return compare_profiles(
        index, both.free_energy_kj_mol.to_numpy(), both.uncertainty_kj_mol.to_numpy(), index,
        both.free_energy_kj_mol_other.to_numpy(), both.uncertainty_kj_mol_other.to_numpy(),
        below_kj_mol,
    )  # fmt: skip


def read_table(path: str, oracle_reweighted: bool) -> pd.DataFrame:
    """A PMF table; with ``oracle_reweighted`` its oracle-reweighted PMF in the place of
    the model's."""
    table = pd.read_csv(path)
    if not oracle_reweighted:
        return table
    if "free_energy_oracle_kj_mol" not in table:
        raise SystemExit(f"{path}: no free_energy_oracle_kj_mol (run with umbrella.oracle_every)")
    return table.assign(
        free_energy_kj_mol=table.free_energy_oracle_kj_mol,
        uncertainty_kj_mol=table.uncertainty_oracle_kj_mol,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--surface", help="a second 2D table on the same bins to compare with")
    parser.add_argument("--projection", help="the 2D study's phi PMF, free_energy/pmf_mbar.csv")
    parser.add_argument("--compare", nargs="*", default=[])
    parser.add_argument("--below", type=float, default=25.0)
    parser.add_argument("--temperature-k", type=float, default=300.0)
    parser.add_argument(
        "--oracle-reweighted", action="store_true",
        help="read the table and the projection at their oracle-reweighted columns",
    )  # fmt: skip
    arguments = parser.parse_args()
    if arguments.compare and not arguments.projection:
        parser.error("--compare needs --projection (the phi PMF written beside the 2D table)")
    kt = kt_kj_mol(arguments.temperature_k)
    table = read_table(arguments.table, arguments.oracle_reweighted)
    filled = np.isfinite(table.free_energy_kj_mol)
    print(f"{arguments.table}: {int(filled.sum())} of {len(table)} bins filled")
    basins = basin_free_energies(table, kt)
    if arguments.surface:
        other = pd.read_csv(arguments.surface)
        theirs = basin_free_energies(other, kt).set_index("basin")
        basins["other_kj_mol"] = theirs.free_energy_kj_mol.reindex(basins.basin).to_numpy()
        basins["other_error_kj_mol"] = theirs.error_kj_mol.reindex(basins.basin).to_numpy()
        basins["difference_kj_mol"] = basins.free_energy_kj_mol - basins.other_kj_mol
    print(basins.to_string(index=False, float_format="%.2f"))
    if arguments.surface:
        result = compare_surfaces(table, other, arguments.below)
        print(f"2D surface vs {arguments.surface}: {result['bins_compared']} bins, RMS "
              f"{result['rms_difference_kj_mol']:.2f} kJ/mol (statistical floor "
              f"{result['expected_rms_kj_mol']:.2f}), chi2/bin {result['chi2_per_bin']:.2f}, "
              f"largest {result['max_abs_difference_kj_mol']:.1f}")  # fmt: skip
    if not arguments.compare:
        return
    mine = read_table(arguments.projection, arguments.oracle_reweighted)
    for path in arguments.compare:
        other = rebinned(pd.read_csv(path), mine.cv.to_numpy(float), kt)
        result = compare_profiles(
            mine.cv.to_numpy(float), mine.free_energy_kj_mol.to_numpy(),
            mine.uncertainty_kj_mol.to_numpy(), other.cv.to_numpy(),
            other.free_energy_kj_mol.to_numpy(), other.uncertainty_kj_mol.to_numpy(),
            arguments.below,
        )  # fmt: skip
        print(f"phi projection vs {path}: {result['bins_compared']} bins, RMS "
              f"{result['rms_difference_kj_mol']:.2f} kJ/mol, chi2/bin "
              f"{result['chi2_per_bin']:.2f}, largest "
              f"{result['max_abs_difference_kj_mol']:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
