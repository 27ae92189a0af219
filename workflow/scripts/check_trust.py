"""Judge whether the windows stayed trusted (mlpmf.stages.check_trust)."""

from mlpmf.stages import log_to
from mlpmf.stages.check_trust import TrustCheckSettings, check_trust

log_to(snakemake.log[0])
check_trust(
    snakemake.input.windows,
    snakemake.input.trajectories,
    snakemake.input.get("metrics"),
    TrustCheckSettings.from_params(snakemake.params),
    snakemake.output[0],
)
