"""Refine the committee by active learning (mlpmf.stages.active_learning)."""

import torch

from mlpmf.stages import log_to
from mlpmf.stages.active_learning import LearningSettings, active_learning

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
active_learning(
    snakemake.input,
    LearningSettings.from_params(snakemake.params),
    snakemake.config["device"],  # not a param: a device change reruns nothing
    snakemake.output,
)
