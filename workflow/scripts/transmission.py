"""Transmission coefficient by reactive flux at the MBAR PMF's barrier top
(mlpmf.stages.transmission)."""

import torch

from mlpmf.stages import log_to
from mlpmf.stages.transmission import FluxSettings, transmission

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
transmission(
    snakemake.input,
    FluxSettings.from_params(snakemake.params),
    snakemake.config["device"],  # not a param: the device reruns nothing
    snakemake.output,
)
