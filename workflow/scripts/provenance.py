"""Record what produced the study: versions, revision, configuration, seeds, machine."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from mlpmf.io import write_json
from mlpmf.provenance import provenance

params = snakemake.params
write_json(provenance(params.config, params.workflow_directory, params.seeds), snakemake.output[0])
