"""Refine the committee by active learning: committee MD in the umbrella windows, oracle
labels where its members disagree, retraining; then measure it on the test set."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import pandas as pd
import torch
from ase.io import write

from mlpmf.active_learning import ActiveLearningSettings, run_active_learning
from mlpmf.checkpoint import Checkpoint, fingerprint
from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar
from mlpmf.dataset import read_labelled_frames
from mlpmf.dynamics import LangevinSettings
from mlpmf.evaluation import evaluate_model, save_model_and_metrics
from mlpmf.io import atomic_path, read_json, write_table
from mlpmf.models import load_model
from mlpmf.oracles import make_robust_oracle
from mlpmf.training import CommitteeSettings
from mlpmf.trustlevels import thermal_force_scale
from mlpmf.umbrella import grid_biases
from mlpmf.units import kj_mol_to_ev, kt_kj_mol

torch.set_num_threads(snakemake.threads)
params = snakemake.params
settings = ActiveLearningSettings.from_config(
    {**params.active_learning, "confirm_steps": params.confirm_steps}
)
train = read_labelled_frames(snakemake.input.train)
test = read_labelled_frames(snakemake.input.test)
system = load_system(params.system)
cv = make_colvar(params.collective_variable, system)
second = None if params.second_cv is None else make_colvar(params.second_cv, system)
biases = grid_biases(cv, params.grid, second)  # every window's, of every set
md = LangevinSettings(
    settings.temperature_k or params.temperature_k,
    params.umbrella["timestep_fs"],
    params.umbrella["friction_per_fs"],
)
oracle = make_robust_oracle(params.oracle)
checkpoint = Checkpoint(
    Path(snakemake.output.model).parent / "checkpoints" / "active_learning.pt",
    fingerprint("active_learning", dict(params.items()), snakemake.input),
)

# labels the reference data's own energy filter would drop are not trained on either
energy_threshold_kj_mol = read_json(snakemake.input.reference)["energy_threshold_kj_mol"]
result = run_active_learning(
    load_model(snakemake.input.model),
    train,
    test,
    system,
    biases,
    oracle,
    md,
    settings,
    params.descriptor,
    CommitteeSettings.from_config(params.committee),
    params.seed,
    snakemake.config["device"],  # not a param: a device change reruns nothing
    checkpoint=checkpoint,
    force_scale_ev_a=thermal_force_scale(train, md.temperature_k, params.data_temperature_k),
    exchange_every=params.umbrella["exchange_every"],
    max_energy_above_minimum_ev=kj_mol_to_ev(energy_threshold_kj_mol),
    sets=params.grid["repeat"],  # each set starts where its windows will
    start_thermal_energy_kj_mol=kt_kj_mol(params.temperature_k),
)
md_steps = sum(row["md_steps"] for row in result.iterations)
labelled = sum(row["status"] == "labelled" for row in result.oracle_log)
strained = sum(row["status"] == "strained" for row in result.oracle_log)
metrics = evaluate_model(result.committee, test)
metrics.update(
    {
        "converged": result.converged,
        "iterations": len(result.iterations),
        "max_iterations": settings.max_iterations,
        "committee_md_steps": md_steps,
        "oracle_calls": len(result.oracle_log),
        "labelled_frames": labelled,
        "strained_frames": strained,
        "failed_oracle_calls": len(result.oracle_log) - labelled - strained,
        "oracle_calls_per_md_step": len(result.oracle_log) / max(md_steps, 1),
        "oracle_time_s": float(sum(row.get("seconds", 0.0) for row in result.oracle_log)),
        "initial_training_frames": len(train),
        "final_training_frames": len(result.frames),
        "trust_levels": result.trust.to_dict(),
    }
)
logging.info(
    "active learning: %d iterations (converged: %s), %d oracle calls for %d committee MD "
    "steps (%.3f%%), %d failed, %d strained (not trained on); trust levels %s",
    metrics["iterations"],
    result.converged,
    metrics["oracle_calls"],
    md_steps,
    100 * metrics["oracle_calls_per_md_step"],
    metrics["failed_oracle_calls"],
    strained,
    result.trust,
)
if not result.converged:
    logging.warning(
        "active learning did not converge in %d iterations: the committee still disagreed "
        "above its trigger; the windows will tell whether it holds (more iterations, more "
        "frames_per_iteration or more reference data would help)",
        settings.max_iterations,
    )
columns = ["iteration", "replica", "step", "cv", "disagreement_ev_a", "dpgen_deviation_ev_a"]
write_table(
    pd.DataFrame(
        result.oracle_log, columns=[*columns, "energy_ev", "max_force_ev_a", "status", "seconds"]
    ),
    snakemake.output.oracle_calls,
)
write_table(pd.DataFrame(result.iterations), snakemake.output.iterations)
write_table(pd.DataFrame(result.trace, columns=columns), snakemake.output.disagreement)
with atomic_path(snakemake.output.dataset) as tmp:
    write(tmp, result.frames, format="extxyz")
save_model_and_metrics(result.committee, metrics, snakemake.output.model, snakemake.output.metrics)
checkpoint.remove()
