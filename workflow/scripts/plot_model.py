"""Figures of the trained MLIPs on the held-out test set: force parity, learning curve,
and per-atom force error against the committee's and the GP's uncertainty."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from ase.io import read

from mlpmf.evaluation import ModelPredictions
from mlpmf.io import read_json
from mlpmf.models import load_model
from mlpmf.plotting import plot_force_parity, plot_learning_curve, plot_uncertainty_vs_error

test = read(snakemake.input.test, index=":")
metrics = read_json(snakemake.input.metrics)
committee = ModelPredictions.of(load_model(snakemake.input.model), test)
gaussian_process = ModelPredictions.of(load_model(snakemake.input.gaussian_process), test)
gp_metrics = read_json(snakemake.input.gaussian_process_metrics)

plot_force_parity(
    committee.reference_forces.numpy(),
    committee.forces.mean(0).numpy(),
    metrics["committee_force_rmse_ev_a"],
).savefig(snakemake.output.parity, dpi=150)
plot_learning_curve(
    metrics["training_loss"], metrics["validation_loss"], metrics["best_epoch"]
).savefig(snakemake.output.learning_curve, dpi=150)
plot_uncertainty_vs_error(
    {
        "committee: largest pairwise force difference": (
            committee.uncertainty.numpy(),
            committee.atom_force_errors.numpy(),
            metrics["uncertainty_error_spearman"],
        ),
        "GP: predictive std of the atomic energy": (
            gaussian_process.uncertainty.numpy(),
            gaussian_process.atom_force_errors.numpy(),
            gp_metrics["uncertainty_error_spearman"],
        ),
    }
).savefig(snakemake.output.uncertainty, dpi=150)
