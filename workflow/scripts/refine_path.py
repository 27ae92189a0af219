"""Refine a path CV's images at temperature before the windows (mlpmf.stages.refine_path)."""

import torch

from mlpmf.stages import log_to
from mlpmf.stages.refine_path import RefinePathSettings, refine_path

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
refine_path(
    snakemake.input,
    RefinePathSettings.from_params(snakemake.params),
    snakemake.config["device"],  # not a param: the device reruns nothing
    snakemake.output,
)
