"""Train the committee of MLIPs and measure it on the held-out test set
(mlpmf.stages.train_committee)."""

import torch

from mlpmf.stages import log_to
from mlpmf.stages.train_committee import TrainingSettings, committee

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
settings = TrainingSettings.from_params(snakemake.params)
committee(snakemake.input, settings, snakemake.config["device"], snakemake.output)
