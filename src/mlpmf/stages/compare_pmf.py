"""Stage ``compare_pmf``: the MBAR PMF against a reference PMF (and, with
``umbrella.oracle_every``, the oracle-reweighted PMF too, which is on the potential the
reference was run on) and, for a mirror-symmetric CV, against its own mirror image
(:func:`mlpmf.diagnostics.compare_profiles`)."""

from collections.abc import Mapping

import pandas as pd

from mlpmf.diagnostics import compare_profiles
from mlpmf.io import read_reference_pmf, write_json


def compare_pmf(
    pmf_path: str, reference_path: str | None, reference: Mapping, mirror: bool, output: str
) -> dict:
    """Compare the PMF table at ``pmf_path`` with ``reference_path`` (None: no
    reference; ``reference``: the config's section, ``pmf_mirrored`` and
    ``compare_below_kj_mol``) and, with ``mirror``, with its mirror image; write the
    comparisons to ``output`` (JSON) and return them."""
    pmf = pd.read_csv(pmf_path)
    cv = pmf["cv"].to_numpy()
    free = pmf["free_energy_kj_mol"].to_numpy()
    error = pmf["uncertainty_kj_mol"].to_numpy()
    oracle = oracle_error = None
    if "free_energy_oracle_kj_mol" in pmf:  # umbrella.oracle_every: carried to the oracle
        oracle = pmf["free_energy_oracle_kj_mol"].to_numpy()
        oracle_error = pmf["uncertainty_oracle_kj_mol"].to_numpy()
    comparison = {}
    if reference_path is not None:
        table = read_reference_pmf(reference_path, reference["pmf_mirrored"])
        ref_cv, ref_free = table["cv"].to_numpy(), table["free_energy_kj_mol"].to_numpy()
        ref_error = table.get("uncertainty_kj_mol")
        ref_error = None if ref_error is None else ref_error.to_numpy()
        below = reference["compare_below_kj_mol"]
        model = (
            pmf["model_uncertainty_kj_mol"].to_numpy()
            if "model_uncertainty_kj_mol" in pmf
            else None
        )
        comparison["reference"] = compare_profiles(
            cv, free, error, ref_cv, ref_free, ref_error, below, model
        )
        comparison["reference"]["file"] = reference_path
        if oracle is not None:
            comparison["reference_oracle_reweighted"] = compare_profiles(
                cv, oracle, oracle_error, ref_cv, ref_free, ref_error, below
            )
    if mirror:
        comparison["mirror"] = compare_profiles(cv, free, error, -cv[::-1], free[::-1], error[::-1])
        if oracle is not None:
            comparison["mirror_oracle_reweighted"] = compare_profiles(
                cv, oracle, oracle_error, -cv[::-1], oracle[::-1], oracle_error[::-1]
            )
    write_json(comparison, output)
    return comparison
