"""Train the committee of MLIPs and measure it on the held-out test set."""

import hashlib
import json
import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import torch

from mlpmf.training import (
    TrainingCheckpoint,
    evaluate_model,
    read_labelled_frames,
    save_model_and_metrics,
    train_committee,
)

CHECKPOINT_EVERY_EPOCHS = 10

torch.set_num_threads(snakemake.threads)
train = read_labelled_frames(snakemake.input.train)
test = read_labelled_frames(snakemake.input.test)
digest = hashlib.sha256(json.dumps(dict(snakemake.params.items()), sort_keys=True).encode())
for path in snakemake.input:
    digest.update(Path(path).read_bytes())
checkpoint = TrainingCheckpoint(
    Path(snakemake.output.model).parent / "checkpoints" / "training.pt",
    digest.hexdigest(),
    CHECKPOINT_EVERY_EPOCHS,
)
params = snakemake.params
model, learning_curves = train_committee(
    train, params.descriptor, params.committee, params.seed, params.device, checkpoint
)
metrics = evaluate_model(model, test)
metrics.update(learning_curves)
save_model_and_metrics(model, metrics, snakemake.output.model, snakemake.output.metrics)
checkpoint.remove()
