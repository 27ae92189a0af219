"""Plot the 2D PMF of 2D umbrella sampling (mlpmf.stages.plots)."""

from mlpmf.stages import log_to
from mlpmf.stages.plots import PlotSettings, plot_pmf_2d

log_to(snakemake.log[0])
plot_pmf_2d(snakemake.input, PlotSettings.from_params(snakemake.params), snakemake.output[0])
