"""Plot the 2D PMF of 2D umbrella sampling (mlpmf.stages.plots)."""

from mlpmf.stages import log_to
from mlpmf.stages.plots import plot_pmf_2d

log_to(snakemake.log[0])
plot_pmf_2d(snakemake.input, snakemake.params, snakemake.output[0])
