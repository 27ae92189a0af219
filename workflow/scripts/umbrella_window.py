"""Run one job's umbrella windows (mlpmf.stages.umbrella_window)."""

import torch

from mlpmf.stages import log_to
from mlpmf.stages.umbrella_window import WindowJobSettings, umbrella_window

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
umbrella_window(
    snakemake.input,
    WindowJobSettings.from_params(snakemake.params),
    snakemake.config["device"],  # not a param: the device reruns nothing
    snakemake.output[0],
)
