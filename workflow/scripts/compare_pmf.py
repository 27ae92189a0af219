"""Compare the MBAR PMF with a reference PMF (and, with umbrella.oracle_every, the
oracle-reweighted PMF too) and, for a mirror-symmetric CV, with its own mirror image;
write free_energy/comparison.json."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from mlpmf.diagnostics import compare_profiles
from mlpmf.io import read_reference_pmf, write_json

pmf = pd.read_csv(snakemake.input.mbar)
reference_settings = snakemake.params.reference
cv = pmf["cv"].to_numpy()
free = pmf["free_energy_kj_mol"].to_numpy()
error = pmf["uncertainty_kj_mol"].to_numpy()
comparison = {}
if "reference" in snakemake.input.keys():
    reference = read_reference_pmf(snakemake.input.reference, reference_settings["pmf_mirrored"])
    reference_error = reference.get("uncertainty_kj_mol")
    comparison["reference"] = compare_profiles(
        cv,
        free,
        error,
        reference["cv"].to_numpy(),
        reference["free_energy_kj_mol"].to_numpy(),
        None if reference_error is None else reference_error.to_numpy(),
        reference_settings["compare_below_kj_mol"],
        pmf["model_uncertainty_kj_mol"].to_numpy() if "model_uncertainty_kj_mol" in pmf else None,
    )
    comparison["reference"]["file"] = snakemake.input.reference
    if "free_energy_oracle_kj_mol" in pmf:  # umbrella.oracle_every: the model's PMF
        # carried to the oracle's potential, which is what the reference was run on
        comparison["reference_oracle_reweighted"] = compare_profiles(
            cv,
            pmf["free_energy_oracle_kj_mol"].to_numpy(),
            pmf["uncertainty_oracle_kj_mol"].to_numpy(),
            reference["cv"].to_numpy(),
            reference["free_energy_kj_mol"].to_numpy(),
            None if reference_error is None else reference_error.to_numpy(),
            reference_settings["compare_below_kj_mol"],
        )
if snakemake.params.free_energy["mirror_symmetric"]:
    mirrored = compare_profiles(cv, free, error, -cv[::-1], free[::-1], error[::-1])
    comparison["mirror"] = mirrored
    if "free_energy_oracle_kj_mol" in pmf:
        oracle = pmf["free_energy_oracle_kj_mol"].to_numpy()
        oracle_error = pmf["uncertainty_oracle_kj_mol"].to_numpy()
        comparison["mirror_oracle_reweighted"] = compare_profiles(
            cv, oracle, oracle_error, -cv[::-1], oracle[::-1], oracle_error[::-1]
        )
write_json(comparison, snakemake.output[0])
