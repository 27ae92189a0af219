"""The study's oracle cost, and what the same MD would have cost on the oracle
(mlpmf.stages.oracle_ledger)."""

from mlpmf.settings import WindowSettings
from mlpmf.stages import log_to
from mlpmf.stages.oracle_ledger import ledger

log_to(snakemake.log[0])
umbrella = WindowSettings.from_config(snakemake.params.umbrella)
ledger(snakemake.input, umbrella, snakemake.output[0])
