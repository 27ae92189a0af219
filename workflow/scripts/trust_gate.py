"""End the run with an error when the results are untrusted and the config does not
accept that (mlpmf.stages.check_trust)."""

from mlpmf.stages import log_to
from mlpmf.stages.check_trust import trust_gate

log_to(snakemake.log[0])
trust_gate(snakemake.input.trust, snakemake.params.cv_unit, snakemake.output[0])
