"""Reconstruct the PMF from all windows with WHAM or MBAR."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf import estimators
from mlpmf.io import write_table

params = snakemake.params
windows = pd.read_csv(snakemake.input.windows)
samples = [pd.read_csv(path)["cv"].to_numpy() for path in snakemake.input.trajectories]
if params.free_energy["decorrelate"]:
    samples = [estimators.decorrelate(s) for s in samples]
logging.info("independent samples per window: %s", [len(s) for s in samples])
estimator = getattr(estimators, snakemake.wildcards.estimator)
pmf = estimator(
    samples,
    windows["center"].to_numpy(),
    windows["spring_constant"].to_numpy(),
    params.temperature_k,
    np.asarray(params.bin_edges),
    bootstrap_samples=params.free_energy["bootstrap_samples"],
    seed=params.seed,
)
write_table(pmf.to_frame(), snakemake.output[0])
