"""Plot the 2D PMF of 2D umbrella sampling: colour map with contour lines, the window
centres, the basin minima the path barrier joins, and the second CV's projection."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import pandas as pd

from mlpmf.cvsettings import period_and_unit
from mlpmf.io import read_json
from mlpmf.plotting import plot_pmf2d
from mlpmf.units import kt_kj_mol

params = snakemake.params


def label(spec):
    unit = period_and_unit(spec)[1]
    return f"{spec['kind']} of atoms {spec['atoms']}" + (f" ({unit})" if unit else "")


surface = pd.read_csv(snakemake.input.pmf_2d)
x, y = np.unique(surface["cv_1"]), np.unique(surface["cv_2"])
free = surface["free_energy_kj_mol"].to_numpy().reshape(len(x), len(y))
summary = read_json(snakemake.input.summary)
projection = pd.DataFrame(summary["second_cv_projection"])
markers = {"minimum": summary["minimum"]}
if "path" in summary:
    path = summary["path"]
    markers = {"reactant": path["reactant_minimum"], "product": path["product_minimum"]}
figure = plot_pmf2d(
    (x, y),
    free,
    projection,
    label(params.second_cv),
    cv_label=label(params.collective_variable),
    markers=markers,
    contour_every_kj_mol=2 * kt_kj_mol(params.temperature_k),
)
windows = pd.read_csv(snakemake.input.windows)
figure.axes[0].plot(windows["center"], windows["center_2"], "+", color="grey", markersize=3)
figure.savefig(snakemake.output[0], dpi=150)
