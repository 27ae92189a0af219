"""Refine the committee by active learning: committee MD in the umbrella windows, oracle
labels where its members disagree, retraining; then measure it on the test set."""

import hashlib
import json
import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import pandas as pd
import torch
from ase.io import write

from mlpmf.active_learning import run_active_learning
from mlpmf.colvars import make_colvar
from mlpmf.config import load_system
from mlpmf.dynamics import LangevinSettings, UmbrellaBias
from mlpmf.io import atomic_path, write_table
from mlpmf.models import load_model
from mlpmf.oracles import make_robust_oracle
from mlpmf.training import evaluate_model, read_labelled_frames, save_model_and_metrics

torch.set_num_threads(snakemake.threads)
params = snakemake.params
settings = params.active_learning
train = read_labelled_frames(snakemake.input.train)
test = read_labelled_frames(snakemake.input.test)
cv = make_colvar(params.collective_variable)
biases = [
    UmbrellaBias(cv, center, kappa)
    for center, kappa in zip(params.centers, params.spring_constants_kj_mol, strict=True)
]
temperature_k = settings["temperature_k"] or params.temperature_k
md = LangevinSettings(
    temperature_k, params.umbrella["timestep_fs"], params.umbrella["friction_per_fs"]
)
oracle = make_robust_oracle(params.oracle)
digest = hashlib.sha256(json.dumps(dict(params.items()), sort_keys=True).encode())
for path in snakemake.input:
    digest.update(Path(path).read_bytes())
checkpoint = Path(snakemake.output.model).parent / f"checkpoint_{digest.hexdigest()[:16]}.pt"

result = run_active_learning(
    load_model(snakemake.input.model),
    train,
    load_system(params.system),
    biases,
    oracle,
    md,
    settings,
    params.descriptor,
    params.committee,
    params.seed,
    params.device,
    checkpoint=checkpoint,
)
md_steps = sum(row["md_steps"] for row in result.iterations)
labelled = sum(row["status"] == "labelled" for row in result.oracle_log)
metrics = evaluate_model(result.committee, test)
metrics.update(
    {
        "converged": result.converged,
        "iterations": len(result.iterations),
        "committee_md_steps": md_steps,
        "oracle_calls": len(result.oracle_log),
        "labelled_frames": labelled,
        "failed_oracle_calls": len(result.oracle_log) - labelled,
        "oracle_calls_per_md_step": len(result.oracle_log) / max(md_steps, 1),
        "initial_training_frames": len(train),
        "final_training_frames": len(result.frames),
    }
)
logging.info(
    "active learning: %d iterations (converged: %s), %d oracle calls for %d committee MD "
    "steps (%.3f%%), %d failed",
    metrics["iterations"],
    result.converged,
    metrics["oracle_calls"],
    md_steps,
    100 * metrics["oracle_calls_per_md_step"],
    metrics["failed_oracle_calls"],
)
columns = ["iteration", "replica", "step", "cv", "disagreement_ev_a", "dpgen_deviation_ev_a"]
write_table(
    pd.DataFrame(result.oracle_log, columns=[*columns, "energy_ev", "max_force_ev_a", "status"]),
    snakemake.output.oracle_calls,
)
write_table(pd.DataFrame(result.iterations), snakemake.output.iterations)
write_table(pd.DataFrame(result.trace, columns=columns), snakemake.output.disagreement)
with atomic_path(snakemake.output.dataset) as tmp:
    write(tmp, result.frames, format="extxyz")
save_model_and_metrics(result.committee, metrics, snakemake.output.model, snakemake.output.metrics)
checkpoint.unlink(missing_ok=True)
