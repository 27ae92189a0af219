"""Train the committee of MLIPs and measure it on the held-out test set."""

import hashlib
import json
import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import torch
from ase.io import read

from mlpmf.io import atomic_path, write_json
from mlpmf.training import (
    TrainingCheckpoint,
    check_labelled_frames,
    evaluate_model,
    train_committee,
)

CHECKPOINT_EVERY_EPOCHS = 10

torch.set_num_threads(snakemake.threads)
train = read(snakemake.input.train, index=":")
test = read(snakemake.input.test, index=":")
check_labelled_frames(train, snakemake.input.train)
check_labelled_frames(test, snakemake.input.test)
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
logging.info(
    "test force RMSE %.4f eV/A = %.1f%% of the reference force std; "
    "uncertainty-error rank correlation %.2f",
    metrics["committee_force_rmse_ev_a"],
    100 * metrics["force_rmse_over_reference_std"],
    metrics["uncertainty_error_spearman"],
)
with atomic_path(snakemake.output.model) as tmp:
    model.save(tmp)
write_json(metrics, snakemake.output.metrics)
checkpoint.remove()
