"""One window's time series, from the table of the batch that ran it
(mlpmf.stages.windows)."""

from mlpmf.stages import log_to
from mlpmf.stages.windows import window_series

log_to(snakemake.log[0])
window_series(snakemake.input[0], int(snakemake.wildcards.window), snakemake.output[0])
