"""Compare the MBAR PMF with a reference and its mirror image (mlpmf.stages.compare_pmf)."""

from mlpmf.stages import log_to
from mlpmf.stages.compare_pmf import compare_pmf

log_to(snakemake.log[0])
compare_pmf(
    snakemake.input.mbar,
    snakemake.input.get("reference"),
    snakemake.params.reference,
    snakemake.params.free_energy["mirror_symmetric"],
    snakemake.output[0],
)
