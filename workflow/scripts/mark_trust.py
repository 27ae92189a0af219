"""Mark the bins of a PMF table that untrusted windows sampled (column ``trusted``;
mlpmf.stages.check_trust)."""

from mlpmf.stages import log_to
from mlpmf.stages.check_trust import mark_trust

log_to(snakemake.log[0])
periods = (snakemake.params.period, snakemake.params.period_2)
mark_trust(snakemake.input.estimate, snakemake.input.trust, periods, snakemake.output[0])
