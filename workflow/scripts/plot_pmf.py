"""Plot the WHAM and MBAR PMFs with error bands, and the window histograms
(mlpmf.stages.plots)."""

from mlpmf.stages import log_to
from mlpmf.stages.plots import PlotSettings, plot_pmf

log_to(snakemake.log[0])
plot_pmf(snakemake.input, PlotSettings.from_params(snakemake.params), snakemake.output)
