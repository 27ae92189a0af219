"""Parity plot of the committee's mean forces against the oracle on the test set."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
from ase.io import read

from mlpmf.calculator import CommitteeCalculator
from mlpmf.io import read_json
from mlpmf.models import Committee
from mlpmf.plotting import plot_force_parity

calculator = CommitteeCalculator(Committee.load(snakemake.input.model))
test = read(snakemake.input.test, index=":")
reference = np.concatenate([frame.get_forces(apply_constraint=False) for frame in test])
predicted = np.concatenate([calculator.get_forces(frame.copy()) for frame in test])
rmse = read_json(snakemake.input.metrics)["committee_force_rmse_ev_a"]
plot_force_parity(reference, predicted, rmse).savefig(snakemake.output[0], dpi=150)
