"""Figures of the trained MLIPs on the held-out test set (mlpmf.stages.plots)."""

from mlpmf.stages import log_to
from mlpmf.stages.plots import plot_model

log_to(snakemake.log[0])
plot_model(snakemake.input, snakemake.output)
