"""Barrier and rate constants from the MBAR and WHAM PMFs (mlpmf.stages.rates)."""

from mlpmf.stages import log_to
from mlpmf.stages.rates import RateSettings, rates

log_to(snakemake.log[0])
rates(snakemake.input, RateSettings.from_params(snakemake.params), snakemake.output)
