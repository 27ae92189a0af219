"""Plot the WHAM and MBAR PMFs with error bands, and the window histograms."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from mlpmf.analytic import double_well_exact_pmf
from mlpmf.cvsettings import period_and_unit
from mlpmf.io import read_json, read_reference_pmf
from mlpmf.plotting import plot_pmfs, plot_window_histograms

params = snakemake.params
cv_settings = params.collective_variable
unit = period_and_unit(cv_settings)[1]
cv_label = f"{cv_settings['kind']} of atoms {cv_settings['atoms']}" + (f" ({unit})" if unit else "")
pmfs = {name: pd.read_csv(snakemake.input[name]) for name in ("wham", "mbar")}
if "free_energy_oracle_kj_mol" in pmfs["mbar"]:  # umbrella.oracle_every
    columns = ["cv", "free_energy_oracle_kj_mol", "uncertainty_oracle_kj_mol"]
    pmfs["mbar reweighted to the oracle"] = pmfs["mbar"][columns]
if "reference_pmf" in snakemake.input.keys():
    mirrored = params.reference["pmf_mirrored"]
    label = "reference PMF at -x" if mirrored else "reference PMF"
    pmfs[label] = read_reference_pmf(snakemake.input.reference_pmf, mirrored)
exact = None
if params.oracle["kind"] == "double_well_bond" and cv_settings["kind"] == "distance":
    r = pmfs["mbar"]["cv"].to_numpy()
    exact_pmf = double_well_exact_pmf(
        r,
        params.temperature_k,
        params.oracle["barrier_ev"],
        params.oracle["r_mid"],
        params.oracle["half_width"],
    )
    exact = (r, exact_pmf)
reference, profile = None, None
if "reference" in snakemake.input.keys():
    document = read_json(snakemake.input.reference)
    reference = document["barrier_kj_mol"]
    if "profile" in document:  # e.g. a relaxed scan: potential energy along the CV
        label = f"{document.get('method', 'reference')} (energy)"
        curve = document["profile"]
        profile = (curve["cv"], curve["energy_kj_mol"], label)
figure = plot_pmfs(
    pmfs, cv_label, read_json(snakemake.input.rates), exact, reference, reference_profile=profile
)
figure.savefig(snakemake.output.pmf, dpi=150)

windows = pd.read_csv(snakemake.input.windows)
samples = [pd.read_csv(path)["cv"].to_numpy() for path in snakemake.input.trajectories]
figure = plot_window_histograms(samples, windows["center"].to_numpy(), cv_label)
figure.savefig(snakemake.output.histograms, dpi=150)
