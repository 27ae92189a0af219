"""Benchmark: does the committee's model band cover its error against the oracle?

    python benchmarks/model_band.py RESULTS_DIR REFERENCE_PMF [RESULTS_DIR REFERENCE_PMF ...]

For each study (a finished committee run's results/S folder and the PMF of the same
windows on the oracle), over the bins where the oracle's PMF lies below 25 kJ/mol
above its minimum (after the constant shift that best aligns the two): the share of
bins with |F_committee - F_oracle| within twice the combined error, first with the
statistical errors alone (both PMFs'), then with the committee's model spread
(`model_uncertainty_kj_mol`) added; chi2 per bin both ways; and the median ratio of
the total error to the statistical one. Appends to benchmarks/results/model_band.md.
"""

import sys
from pathlib import Path

import pandas as pd
from common import HERE

from mlpmf.diagnostics import compare_profiles

BELOW_KJ_MOL = 25.0


def main(arguments: list[str]) -> None:
    rows = []
    for results, reference_file in zip(arguments[::2], arguments[1::2], strict=True):
        pmf = pd.read_csv(Path(results) / "free_energy/pmf_mbar.csv")
        reference = pd.read_csv(reference_file)
        result = compare_profiles(
            pmf["cv"].to_numpy(),
            pmf["free_energy_kj_mol"].to_numpy(),
            pmf["uncertainty_kj_mol"].to_numpy(),
            reference["cv"].to_numpy(),
            reference["free_energy_kj_mol"].to_numpy(),
            reference["uncertainty_kj_mol"].to_numpy(),
            BELOW_KJ_MOL,
            pmf["model_uncertainty_kj_mol"].to_numpy(),
        )
        rows.append(
            f"| {Path(results).name} | {result['bins_compared']} "
            f"| {result['rms_difference_kj_mol']:.2f} "
            f"| {result['within_two_sigma_fraction']:.2f} | {result['chi2_per_bin']:.2f} "
            f"| {result['within_two_sigma_with_model_fraction']:.2f} "
            f"| {result['chi2_per_bin_with_model']:.2f} "
            f"| {result['total_to_statistical_uncertainty_median']:.2f} |"
        )
    table = [
        "| study | bins < 25 kJ/mol | RMS (kJ/mol) | within 2 sigma, statistical "
        "| chi2/bin | within 2 sigma, with model | chi2/bin | total / statistical (median) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    output = HERE / "results/model_band.md"
    text = output.read_text() if output.exists() else "# Model band coverage\n\n" + __doc__
    output.write_text(text.rstrip() + "\n\n" + "\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main(sys.argv[1:])
