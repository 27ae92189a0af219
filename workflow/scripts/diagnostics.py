"""Window overlap, half-split and independent sets' convergence of the MBAR PMF
(mlpmf.stages.diagnostics)."""

from mlpmf.stages import log_to
from mlpmf.stages.diagnostics import DiagnosticsSettings, diagnostics

log_to(snakemake.log[0])
diagnostics(
    snakemake.input.windows,
    snakemake.input.trajectories,
    DiagnosticsSettings.from_params(snakemake.params),
    snakemake.input.get("metrics"),
    snakemake.output,
)
