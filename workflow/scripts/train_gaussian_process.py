"""Fit the sparse Gaussian-process potential and measure it on the held-out test set."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import torch
from ase.io import read

from mlpmf.io import atomic_path, write_json
from mlpmf.training import check_labelled_frames, evaluate_model, fit_gaussian_process

torch.set_num_threads(snakemake.threads)
train = read(snakemake.input.train, index=":")
test = read(snakemake.input.test, index=":")
check_labelled_frames(train, snakemake.input.train)
check_labelled_frames(test, snakemake.input.test)
params = snakemake.params
model = fit_gaussian_process(
    train, params.descriptor, params.gaussian_process, params.seed, params.device
)
metrics = evaluate_model(model, test)
logging.info(
    "GP test force RMSE %.4f eV/A = %.1f%% of the reference force std; "
    "predictive std-error rank correlation %.2f",
    metrics["committee_force_rmse_ev_a"],
    100 * metrics["force_rmse_over_reference_std"],
    metrics["uncertainty_error_spearman"],
)
with atomic_path(snakemake.output.model) as tmp:
    model.save(tmp)
write_json(metrics, snakemake.output.metrics)
