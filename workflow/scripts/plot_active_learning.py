"""Active learning at a glance: disagreement over time, oracle calls per iteration, and
the training set growing along the CV (mlpmf.stages.plots)."""

from mlpmf.settings import ColvarSettings
from mlpmf.stages import log_to
from mlpmf.stages.plots import plot_learning

log_to(snakemake.log[0])
cv = ColvarSettings.from_config(snakemake.params.collective_variable)
plot_learning(snakemake.input, cv, snakemake.output[0])
