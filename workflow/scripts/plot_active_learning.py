"""Active learning at a glance: disagreement over time, oracle calls per iteration, and
the training set growing along the CV."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import pandas as pd
from ase.io import read

from mlpmf.cvsettings import make_colvar
from mlpmf.plotting import plot_active_learning

initial = read(snakemake.input.initial, index=":")
cv = make_colvar(snakemake.params.collective_variable, initial[0] if initial else None)
figure = plot_active_learning(
    pd.read_csv(snakemake.input.disagreement),
    pd.read_csv(snakemake.input.iterations),
    pd.read_csv(snakemake.input.oracle_calls),
    np.array([cv.value(frame.positions) for frame in initial]),
    f"CV ({cv.unit})",
)
figure.savefig(snakemake.output[0], dpi=150)
