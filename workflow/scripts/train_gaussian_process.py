"""Fit the sparse Gaussian-process potential and measure it on the held-out test set
(mlpmf.stages.train_committee)."""

import torch

from mlpmf.stages import log_to
from mlpmf.stages.train_committee import gaussian_process

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
# the device is not a param: a device change reruns nothing
gaussian_process(snakemake.input, snakemake.params, snakemake.config["device"], snakemake.output)
