"""mlpmf: free-energy profiles and rates from umbrella sampling with ML potentials.

snakemake --cores all                                   # the default study
snakemake --cores all --configfile config/studies/X.yaml
"""

from snakemake.utils import min_version, validate

min_version("9.0")


# A study file given with --configfile stands alone (keys it leaves out take the
# schema's defaults), instead of being merged over the default study.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Without defaults first: filling defaults into an invalid value (an empty list where
# a list or a mapping is allowed) would crash instead of naming the key.
validate(config, "workflow/schemas/config.schema.yaml", set_default=False)
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
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
