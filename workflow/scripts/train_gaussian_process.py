"""Fit the sparse Gaussian-process potential and measure it on the held-out test set."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import torch

from mlpmf.dataset import read_labelled_frames
from mlpmf.evaluation import evaluate_model, save_model_and_metrics
from mlpmf.gaussian_process import fit_gaussian_process

torch.set_num_threads(snakemake.threads)
train = read_labelled_frames(snakemake.input.train)
test = read_labelled_frames(snakemake.input.test)
params = snakemake.params
model = fit_gaussian_process(
    train,
    params.descriptor,
    params.gaussian_process,
    params.seed,
    snakemake.config["device"],  # not a param: a device change reruns nothing
)
metrics = evaluate_model(model, test)
save_model_and_metrics(model, metrics, snakemake.output.model, snakemake.output.metrics)
