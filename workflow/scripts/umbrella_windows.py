"""Write the table of umbrella windows (mlpmf.stages.windows)."""

from mlpmf.stages import log_to
from mlpmf.stages.windows import window_table

log_to(snakemake.log[0])
adaptive = snakemake.input.table if "table" in snakemake.input.keys() else None
window_table(snakemake.params.grid, adaptive, snakemake.output[0])
