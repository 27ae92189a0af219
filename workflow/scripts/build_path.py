"""Build the path of a path CV from its two end structures (mlpmf.stages.build_path)."""

from mlpmf.stages import log_to
from mlpmf.stages.build_path import BuildPathSettings, reaction_path

log_to(snakemake.log[0])
reaction_path(BuildPathSettings.from_params(snakemake.params, snakemake.input), snakemake.output)
