"""Stage ``active_learning``: refine the committee by active learning (committee MD in
the umbrella windows, oracle labels where its members disagree, retraining;
:func:`mlpmf.active_learning.run_active_learning`), then measure it on the test set.

Resumable: the whole state is saved after every iteration (:mod:`mlpmf.checkpoint`),
and a rerun with the same settings and inputs continues after the last saved one.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from ase.io import write

from mlpmf.active_learning import (
    ActiveLearningResult,
    ExplorationWindows,
    LearningData,
    Retraining,
    run_active_learning,
)
from mlpmf.checkpoint import Checkpoint, fingerprint
from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar, make_wall
from mlpmf.dataset import read_labelled_frames
from mlpmf.dynamics import LangevinSettings
from mlpmf.evaluation import evaluate_model, save_model_and_metrics
from mlpmf.io import atomic_path, read_json, write_table
from mlpmf.models import load_model
from mlpmf.oracles import make_robust_oracle
from mlpmf.settings import (
    ActiveLearningSettings,
    ColvarSettings,
    CommitteeSettings,
    DescriptorSettings,
    OracleSettings,
    SystemSettings,
    WindowSettings,
)
from mlpmf.trustlevels import thermal_force_scale
from mlpmf.umbrella import grid_biases
from mlpmf.units import kj_mol_to_ev, kt_kj_mol

log = logging.getLogger(__name__)
CHECK_COLUMNS = ["iteration", "replica", "step", "cv", "disagreement_ev_a", "dpgen_deviation_ev_a"]
CALL_COLUMNS = [*CHECK_COLUMNS, "energy_ev", "max_force_ev_a", "status", "seconds"]


@dataclass(frozen=True)
class LearningSettings:
    """What active learning reads: its own settings (with ``confirm_steps`` resolved),
    the windows it explores (system, CV, second CV, grid of every set), their MD
    (temperature, time step, friction, exchange), the oracle, the descriptor and the
    committee's training settings, the seed and the reference data's hottest
    temperature. ``params`` is the rule's params as given: what the checkpoint belongs
    to."""

    learning: ActiveLearningSettings
    system: SystemSettings
    collective_variable: ColvarSettings
    second_cv: ColvarSettings | None
    grid: Mapping
    temperature_k: float
    umbrella: WindowSettings  # read: timestep_fs, friction_per_fs, exchange_every
    oracle: OracleSettings
    descriptor: DescriptorSettings
    committee: CommitteeSettings
    seed: int
    data_temperature_k: float
    params: Mapping

    @classmethod
    def from_params(cls, params: Mapping) -> "LearningSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        given = dict(params.items())
        learning = ActiveLearningSettings.from_config(
            {**given["active_learning"], "confirm_steps": given["confirm_steps"]}
        )
        second = given["second_cv"]
        return cls(
            learning, SystemSettings.from_config(given["system"]),
            ColvarSettings.from_config(given["collective_variable"]),
            None if second is None else ColvarSettings.from_config(second),
            given["grid"], given["temperature_k"], WindowSettings.from_config(given["umbrella"]),
            OracleSettings.from_config(given["oracle"]),
            DescriptorSettings.from_config(given["descriptor"]),
            CommitteeSettings.from_config(given["committee"]),
            given["seed"], given["data_temperature_k"], given,
        )  # fmt: skip


def active_learning(
    inputs: Mapping, settings: LearningSettings, device: str, outputs: Mapping
) -> dict:
    """Refine ``inputs["model"]`` on ``inputs["train"]`` (``test`` calibrates its trust
    levels and measures it; ``reference``: the reference data's summary, whose energy
    filter labels obey too) and write ``outputs``: ``model``, ``metrics``, ``dataset``
    (the final training set), ``oracle_calls``, ``iterations``, ``disagreement``;
    returns the metrics."""
    learning = settings.learning
    train = read_labelled_frames(inputs["train"])
    test = read_labelled_frames(inputs["test"])
    system = load_system(settings.system)
    cv = make_colvar(settings.collective_variable, system)
    second = None if settings.second_cv is None else make_colvar(settings.second_cv, system)
    biases = grid_biases(cv, settings.grid, second)  # every window's, of every set
    md = LangevinSettings(
        learning.temperature_k or settings.temperature_k,
        settings.umbrella.timestep_fs,
        settings.umbrella.friction_per_fs,
    )
    checkpoint = Checkpoint(
        Path(outputs["model"]).parent / "checkpoints" / "active_learning.pt",
        fingerprint("active_learning", settings.params, list(inputs)),
    )
    # labels the reference data's own energy filter would drop are not trained on either
    energy_threshold_kj_mol = read_json(inputs["reference"])["energy_threshold_kj_mol"]
    data = LearningData(
        train,
        test,
        thermal_force_scale(train, md.temperature_k, settings.data_temperature_k),
        kj_mol_to_ev(energy_threshold_kj_mol),
    )
    windows = ExplorationWindows(
        system, biases, md, settings.umbrella.exchange_every,
        settings.grid["repeat"],  # each set starts where its windows will
        kt_kj_mol(settings.temperature_k),
        make_wall(settings.collective_variable, system),
    )  # fmt: skip
    result = run_active_learning(
        load_model(inputs["model"]),
        data,
        windows,
        make_robust_oracle(settings.oracle),
        learning,
        Retraining(settings.descriptor, settings.committee, device),
        settings.seed,
        checkpoint,
    )
    metrics = evaluate_model(result.committee, test)
    metrics.update(learning_summary(result, learning.max_iterations, len(train)))
    write_table(pd.DataFrame(result.oracle_log, columns=CALL_COLUMNS), outputs["oracle_calls"])
    write_table(pd.DataFrame(result.iterations), outputs["iterations"])
    write_table(pd.DataFrame(result.trace, columns=CHECK_COLUMNS), outputs["disagreement"])
    with atomic_path(outputs["dataset"]) as tmp:
        write(tmp, result.frames, format="extxyz")
    save_model_and_metrics(result.committee, metrics, outputs["model"], outputs["metrics"])
    checkpoint.remove()
    return metrics


def learning_summary(
    result: ActiveLearningResult, max_iterations: int, initial_frames: int
) -> dict:
    """What active learning did, for its metrics file: iterations, committee MD steps,
    oracle calls by outcome (labelled, strained: too far above the data to train on,
    failed), calls per MD step and their time, the training set before and after, the
    final trust levels; logged, with a warning when it did not converge."""
    md_steps = sum(row["md_steps"] for row in result.iterations)
    calls = len(result.oracle_log)
    labelled = sum(row["status"] == "labelled" for row in result.oracle_log)
    strained = sum(row["status"] == "strained" for row in result.oracle_log)
    summary = {
        "converged": result.converged,
        "iterations": len(result.iterations),
        "max_iterations": max_iterations,
        "committee_md_steps": md_steps,
        "oracle_calls": calls,
        "labelled_frames": labelled,
        "strained_frames": strained,
        "failed_oracle_calls": calls - labelled - strained,
        "oracle_calls_per_md_step": calls / max(md_steps, 1),
        "oracle_time_s": float(sum(row.get("seconds", 0.0) for row in result.oracle_log)),
        "initial_training_frames": initial_frames,
        "final_training_frames": len(result.frames),
        "trust_levels": result.trust.to_dict(),
    }
    log.info(
        "active learning: %d iterations (converged: %s), %d oracle calls for %d committee MD "
        "steps (%.3f%%), %d failed, %d strained (not trained on); trust levels %s",
        summary["iterations"], result.converged, calls, md_steps,
        100 * summary["oracle_calls_per_md_step"], summary["failed_oracle_calls"], strained,
        result.trust,
    )  # fmt: skip
    if not result.converged:
        log.warning(
            "active learning did not converge in %d iterations: the committee still disagreed "
            "above its trigger; the windows will tell whether it holds (more iterations, more "
            "frames_per_iteration or more reference data would help)",
            max_iterations,
        )
    return summary
