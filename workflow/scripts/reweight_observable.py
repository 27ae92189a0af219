"""PMF along an unbiased observable, and the 2D PMF with the CV, by MBAR reweighting
(mlpmf.stages.reweight_observable)."""

from mlpmf.stages import log_to
from mlpmf.stages.reweight_observable import ObservableSettings, reweight_observable

log_to(snakemake.log[0])
reweight_observable(
    snakemake.input.windows,
    snakemake.input.trajectories,
    ObservableSettings.from_params(snakemake.params, snakemake.wildcards.observable),
    snakemake.output,
)
