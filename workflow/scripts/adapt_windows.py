"""One round of adaptive window placement (mlpmf.stages.adapt_windows)."""

from mlpmf.stages import log_to
from mlpmf.stages.adapt_windows import AdaptSettings, adapt_windows

log_to(snakemake.log[0])
adapt_windows(
    int(snakemake.wildcards.round),
    snakemake.input.get("previous"),
    snakemake.input.trajectories,
    AdaptSettings.from_params(snakemake.params),
    snakemake.output.table,
)
