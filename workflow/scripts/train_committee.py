"""Train the committee of MLIPs and measure it on the held-out test set."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import torch

from mlpmf.checkpoint import Checkpoint, fingerprint
from mlpmf.dataset import read_labelled_frames
from mlpmf.evaluation import evaluate_model, save_model_and_metrics
from mlpmf.training import CommitteeSettings, train_committee
from mlpmf.trustlevels import TrustSettings, calibrated_trust, thermal_force_scale

CHECKPOINT_EVERY_EPOCHS = 10

torch.set_num_threads(snakemake.threads)
train = read_labelled_frames(snakemake.input.train)
test = read_labelled_frames(snakemake.input.test)
checkpoint = Checkpoint(
    Path(snakemake.output.model).parent / "checkpoints" / "training.pt",
    fingerprint("train_committee", dict(snakemake.params.items()), snakemake.input),
    CHECKPOINT_EVERY_EPOCHS,
)
params = snakemake.params
settings = CommitteeSettings.from_config(params.committee)
model, learning_curves = train_committee(
    train, params.descriptor, settings, params.seed, snakemake.config["device"], checkpoint
)
metrics = evaluate_model(model, test)
metrics.update(learning_curves)
unseen = [*test, *(train[i] for i in learning_curves["validation_frames"])]
force_scale = thermal_force_scale(train, params.temperature_k, params.data_temperature_k)
trust_settings = TrustSettings.from_config(params.active_learning)  # the trust-level keys
trust = calibrated_trust(model, unseen, trust_settings, force_scale)
metrics["trust_levels"] = trust.to_dict()
logging.info("trust levels: %s", trust)
save_model_and_metrics(model, metrics, snakemake.output.model, snakemake.output.metrics)
checkpoint.remove()
