"""Stage ``train_committee``: train the committee of MLIPs on the reference data, measure
it on the held-out test set and calibrate its trust levels on the frames it did not
train on (test and validation frames; :mod:`mlpmf.trustlevels`). Resumable: the state
is saved every :data:`CHECKPOINT_EVERY_EPOCHS` epochs (:mod:`mlpmf.checkpoint`)."""

import logging
from collections.abc import Mapping
from pathlib import Path

from mlpmf.checkpoint import Checkpoint, fingerprint
from mlpmf.dataset import read_labelled_frames
from mlpmf.evaluation import evaluate_model, save_model_and_metrics
from mlpmf.settings import CommitteeSettings, TrustSettings
from mlpmf.training import train_committee
from mlpmf.trustlevels import calibrated_trust, thermal_force_scale

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_EPOCHS = 10


def committee(inputs: Mapping, params: Mapping, device: str, outputs: Mapping) -> dict:
    """Train on ``inputs["train"]``, measure on ``inputs["test"]``; write
    ``outputs["model"]`` and ``outputs["metrics"]`` (test errors, learning curves, trust
    levels) and return the metrics. ``params``: the rule's (``committee``, ``descriptor``,
    the trust-level keys of ``active_learning``, ``seed``, ``temperature_k``,
    ``data_temperature_k``), also what the checkpoint belongs to."""
    train = read_labelled_frames(inputs["train"])
    test = read_labelled_frames(inputs["test"])
    checkpoint = Checkpoint(
        Path(outputs["model"]).parent / "checkpoints" / "training.pt",
        fingerprint("train_committee", dict(params.items()), list(inputs)),
        CHECKPOINT_EVERY_EPOCHS,
    )
    settings = CommitteeSettings.from_config(params["committee"])
    model, learning_curves = train_committee(
        train, params["descriptor"], settings, params["seed"], device, checkpoint
    )
    metrics = evaluate_model(model, test)
    metrics.update(learning_curves)
    unseen = [*test, *(train[i] for i in learning_curves["validation_frames"])]
    force_scale = thermal_force_scale(train, params["temperature_k"], params["data_temperature_k"])
    trust_settings = TrustSettings.from_config(params["active_learning"])  # the trust keys
    trust = calibrated_trust(model, unseen, trust_settings, force_scale)
    metrics["trust_levels"] = trust.to_dict()
    log.info("trust levels: %s", trust)
    save_model_and_metrics(model, metrics, outputs["model"], outputs["metrics"])
    checkpoint.remove()
    return metrics
