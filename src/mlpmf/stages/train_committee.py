"""Stages ``train_committee`` and ``train_gaussian_process``: train the committee of
MLIPs on the reference data, measure it on the held-out test set and calibrate its trust
levels on the frames it did not train on (test and validation frames;
:mod:`mlpmf.trustlevels`); fit the Gaussian-process baseline beside it. The committee's
training resumes: its state is saved every :data:`CHECKPOINT_EVERY_EPOCHS` epochs
(:mod:`mlpmf.checkpoint`)."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlpmf.checkpoint import Checkpoint, fingerprint
from mlpmf.dataset import read_labelled_frames
from mlpmf.evaluation import evaluate_model, save_model_and_metrics
from mlpmf.gaussian_process import fit_gaussian_process
from mlpmf.settings import (
    CommitteeSettings,
    DescriptorSettings,
    GaussianProcessSettings,
    TrustSettings,
)
from mlpmf.training import train_committee
from mlpmf.trustlevels import calibrated_trust, thermal_force_scale

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_EPOCHS = 10


@dataclass(frozen=True)
class TrainingSettings:
    """What the committee's training reads: its settings, the descriptor's, the trust
    levels' (keys of ``active_learning``), the seed, the temperature and the reference
    data's hottest temperature. ``params`` is the rule's params as given: what the
    checkpoint belongs to."""

    committee: CommitteeSettings
    descriptor: DescriptorSettings
    trust: TrustSettings
    seed: int
    temperature_k: float
    data_temperature_k: float
    params: Mapping

    @classmethod
    def from_params(cls, params: Mapping) -> "TrainingSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        given = dict(params.items())
        return cls(
            CommitteeSettings.from_config(given["committee"]),
            DescriptorSettings.from_config(given["descriptor"]),
            TrustSettings.from_config(given["active_learning"]),
            given["seed"], given["temperature_k"], given["data_temperature_k"], given,
        )  # fmt: skip


def committee(inputs: Mapping, settings: TrainingSettings, device: str, outputs: Mapping) -> dict:
    """Train on ``inputs["train"]``, measure on ``inputs["test"]``; write
    ``outputs["model"]`` and ``outputs["metrics"]`` (test errors, learning curves, trust
    levels) and return the metrics."""
    train = read_labelled_frames(inputs["train"])
    test = read_labelled_frames(inputs["test"])
    checkpoint = Checkpoint(
        Path(outputs["model"]).parent / "checkpoints" / "training.pt",
        fingerprint("train_committee", settings.params, list(inputs)),
        CHECKPOINT_EVERY_EPOCHS,
    )
    model, learning_curves = train_committee(
        train, settings.descriptor, settings.committee, settings.seed, device, checkpoint
    )
    metrics = evaluate_model(model, test)
    metrics.update(learning_curves)
    unseen = [*test, *(train[i] for i in learning_curves["validation_frames"])]
    force_scale = thermal_force_scale(train, settings.temperature_k, settings.data_temperature_k)
    trust = calibrated_trust(model, unseen, settings.trust, force_scale)
    metrics["trust_levels"] = trust.to_dict()
    log.info("trust levels: %s", trust)
    save_model_and_metrics(model, metrics, outputs["model"], outputs["metrics"])
    checkpoint.remove()
    return metrics


def gaussian_process(inputs: Mapping, params: Mapping, device: str, outputs: Mapping) -> dict:
    """Fit the sparse Gaussian-process potential on ``inputs["train"]`` and measure it on
    ``inputs["test"]``; write ``outputs["model"]`` and ``outputs["metrics"]``.
    ``params``: the rule's (``descriptor``, ``gaussian_process``, ``seed``)."""
    train = read_labelled_frames(inputs["train"])
    test = read_labelled_frames(inputs["test"])
    model = fit_gaussian_process(
        train,
        DescriptorSettings.from_config(params["descriptor"]),
        GaussianProcessSettings.from_config(params["gaussian_process"]),
        params["seed"],
        device,
    )
    metrics = evaluate_model(model, test)
    save_model_and_metrics(model, metrics, outputs["model"], outputs["metrics"])
    return metrics
