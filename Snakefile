"""mlpmf: free-energy profiles and rates from umbrella sampling with ML potentials.

snakemake --cores all                                   # the default study
snakemake --cores all --configfile config/studies/X.yaml
"""

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from mlpmf.config import ConfigError
from mlpmf.pathstudy import complete_path_study

min_version("9.0")


# A study file given with --configfile stands alone (keys it leaves out take the
# schema's defaults), instead of being merged over the default study.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# A path built from two structures fills in what it implies (mlpmf.pathstudy): the
# path's atoms and images, windows, bins and basins along s, where the study is silent.
try:
    complete_path_study(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid study config: {error}") from None
# Without defaults first: filling defaults into an invalid value (an empty list where
# a list or a mapping is allowed) would crash instead of naming the key.
validate(config, "workflow/schemas/config.schema.yaml", set_default=False)
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


if BUILDS_PATH:

    include: "workflow/rules/path.smk"


if REFINES_PATH:

    include: "workflow/rules/refine.smk"


include: "workflow/rules/reference.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/active_learning.smk"
include: "workflow/rules/umbrella.smk"
include: "workflow/rules/free_energy.smk"


if SECOND_CV:

    include: "workflow/rules/free_energy_2d.smk"


include: "workflow/rules/plots.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/trust.smk"


config["report_trust_statement"] = trust_statement()  # the report's front page only
config["report_headline"] = report_headline()


rule all:
    default_target: True
    input:
        final_targets(),


onsuccess:
    print(completion_message())
