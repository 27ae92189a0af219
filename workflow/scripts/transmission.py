"""Transmission coefficient by reactive flux at the barrier top of the MBAR PMF.

The dividing surface is the PMF's highest point between the reactant and product
minima (on a periodic CV, on the lower of the two ways round: as in rates.json); the
configurations start from the training frame nearest to it (or the structure) and are
held there by a stiff restraint before the shots.
"""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd
import torch
from ase.io import read

from mlpmf.calculator import study_force_field
from mlpmf.colvars import periodic_difference
from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar
from mlpmf.dynamics import LangevinSettings, UmbrellaBias
from mlpmf.io import write_json
from mlpmf.placement import move_to_value, nearest_positions
from mlpmf.plotting import plot_transmission
from mlpmf.rates import dividing_surface
from mlpmf.settings import WindowSettings
from mlpmf.transmission import TransmissionSettings, transmission_coefficient

torch.set_num_threads(snakemake.threads)
params = snakemake.params
settings = TransmissionSettings.from_config(params.transmission)
umbrella = WindowSettings.from_config(params.umbrella)
pmf = pd.read_csv(snakemake.input.pmf)
cv_values = pmf["cv"].to_numpy()
replicas = [load_system(params.system) for _ in range(settings.shots)]
cv = make_colvar(params.collective_variable, replicas[0])
top, end = dividing_surface(
    cv_values,
    pmf["free_energy_kj_mol"].to_numpy(),
    params.rates["reactant"],
    params.rates["product"],
    cv.period,
)
surface = float(cv_values[top])
product_side = float(periodic_difference(cv_values[end], surface, cv.period))
start = replicas[0].positions
if "frames" in snakemake.input.keys():
    frames = read(snakemake.input.frames, index=":")
    surface_bias = UmbrellaBias(cv, surface, 1.0)
    start = nearest_positions([surface_bias], start, replicas[0].numbers, frames)[0]
start = move_to_value(cv, start, surface, numbers=replicas[0].numbers)
for atoms in replicas:
    atoms.positions = start
force_field, _ = study_force_field(
    params.potential,
    replicas,
    snakemake.input.get("model"),
    params.oracle,
    params.external_potential,
    umbrella.precision,
    snakemake.config["device"],
)
friction = (
    umbrella.friction_per_fs if settings.friction_per_fs is None else settings.friction_per_fs
)
restraint = settings.restraint_kj_mol or 10.0 * max(params.spring_constants_kj_mol)
logging.info(
    "dividing surface at %g %s (the PMF's barrier top); %d configurations, friction %g/fs, "
    "restraint %g kJ/mol per %s^2",
    surface, cv.unit, settings.shots, friction, restraint, cv.unit,
)  # fmt: skip
result = transmission_coefficient(
    replicas,
    cv,
    surface,
    product_side,
    LangevinSettings(params.temperature_k, umbrella.timestep_fs, umbrella.friction_per_fs),
    LangevinSettings(params.temperature_k, umbrella.timestep_fs, friction),
    restraint,
    settings,
    np.random.default_rng(params.seed),
    force_field,
)
result["restraint_kj_mol"] = float(restraint)
result["friction_per_fs"] = float(friction)  # of the shots: kappa's own
result["cv_unit"] = cv.unit
write_json(result, snakemake.output.result)
plot_transmission(result).savefig(snakemake.output.plot, dpi=150)
