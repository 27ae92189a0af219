"""Reconstruct the PMF from all windows with WHAM or MBAR (mlpmf.stages.estimate_pmf)."""

from mlpmf.stages import log_to
from mlpmf.stages.estimate_pmf import EstimateSettings, estimate_pmf

log_to(snakemake.log[0])
estimate_pmf(
    snakemake.input.windows,
    snakemake.input.trajectories,
    EstimateSettings.from_params(snakemake.params, snakemake.wildcards.estimator),
    snakemake.output,
)
