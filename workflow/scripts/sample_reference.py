"""Label reference frames with the oracle (mlpmf.stages.sample_reference)."""

from mlpmf.stages import log_to
from mlpmf.stages.sample_reference import ReferenceSettings, reference_data

log_to(snakemake.log[0])
reference_data(ReferenceSettings.from_params(snakemake.params), snakemake.output)
