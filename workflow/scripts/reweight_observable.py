"""PMF along an unbiased observable, and the 2D PMF with the CV, by MBAR reweighting."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf import reweighting, timeseries
from mlpmf.io import write_table
from mlpmf.plotting import plot_pmf2d
from mlpmf.readers import read_window_columns
from mlpmf.settings import FreeEnergySettings

params = snakemake.params
settings = FreeEnergySettings.from_config(params.free_energy)
name = snakemake.wildcards.observable
windows = pd.read_csv(snakemake.input.windows)
column = f"observable_{name}"
tables = read_window_columns(snakemake.input.trajectories, ["cv", column])  # each file once
cv = [table["cv"].to_numpy() for table in tables]
observable = [table[column].to_numpy() for table in tables]
kept = timeseries.kept_indices(
    cv,
    settings.decorrelate,
    settings.detect_equilibration,
    windows["center"].to_numpy(),
    params.period,
)
cv = [s[k] for s, k in zip(cv, kept, strict=True)]
observable = [s[k] for s, k in zip(observable, kept, strict=True)]
bins = params.observable["bins"]
observable_edges = np.linspace(bins["start"], bins["stop"], bins["num"] + 1)
cv_edges = np.asarray(params.bin_edges)
arguments = dict(
    centers=windows["center"].to_numpy(),
    spring_constants=windows["spring_constant"].to_numpy(),
    temperature=params.temperature_k,
    period=params.period,
    bootstrap_samples=settings.bootstrap_samples,
    seed=params.seed,
)
one_d = reweighting.reweight(cv, observable, bin_edges=[observable_edges], **arguments)
pairs = [np.column_stack([c, o]) for c, o in zip(cv, observable, strict=True)]
two_d = reweighting.reweight(cv, pairs, bin_edges=[cv_edges, observable_edges], **arguments)

table = pd.DataFrame(
    {
        "observable": one_d.centers[0],
        "free_energy_kj_mol": one_d.free_energy,
        "uncertainty_kj_mol": one_d.uncertainty,
    }
)
write_table(table, snakemake.output.pmf)
grid_cv, grid_observable = np.meshgrid(*two_d.centers, indexing="ij")
write_table(
    pd.DataFrame(
        {
            "cv": grid_cv.ravel(),
            "observable": grid_observable.ravel(),
            "free_energy_kj_mol": two_d.free_energy.ravel(),
            "uncertainty_kj_mol": two_d.uncertainty.ravel(),
        }
    ),
    snakemake.output.pmf2d,
)
plot_pmf2d(two_d.centers, two_d.free_energy, table, name).savefig(snakemake.output.plot, dpi=150)
