"""Reconstruct the 2D PMF of 2D umbrella sampling with WHAM or MBAR, its projection on the
first CV and the minimum free-energy path (mlpmf.stages.estimate_pmf_2d)."""

from mlpmf.stages import log_to
from mlpmf.stages.estimate_pmf_2d import Estimate2DSettings, estimate_pmf_2d

log_to(snakemake.log[0])
estimate_pmf_2d(
    snakemake.input.windows,
    snakemake.input.trajectories,
    Estimate2DSettings.from_params(snakemake.params, snakemake.wildcards.estimator),
    snakemake.output,
)
