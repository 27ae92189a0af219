"""Run umbrella windows: Langevin MD with a harmonic bias on the CV.

A job (one batch, ``umbrella.windows_per_job`` windows) runs one window, or several
integrated together as one batched system (one committee forward pass for all of them
per step), with the same per-window results; with ``umbrella.exchange_every`` the
windows of a job exchange configurations (REUS). It writes one table for the batch
(column ``window``); rule window_series gives each window its own file.
Every window checkpoints every CHECKPOINT_EVERY_STEPS steps, and at its end, in
``umbrella/checkpoints/``: a job that was killed resumes from there when run again and
gives the same result, and a window asked for more steps continues from its last state.
"""

import logging
import sys
from pathlib import Path

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
from mlpmf.dynamics import LangevinSettings, SimulationError
from mlpmf.io import write_table
from mlpmf.oracles import make_robust_oracle
from mlpmf.placement import nearest_positions
from mlpmf.settings import WindowSettings
from mlpmf.trust import window_failure_message
from mlpmf.umbrella import (
    ORACLE_FORCE_COLUMN,
    ORACLE_OFFSET_COLUMN,
    grid_biases,
    run_umbrella_windows,
    window_checkpoints,
)
from mlpmf.units import ev_to_kj_mol, kt_kj_mol

CHECKPOINT_EVERY_STEPS = 1000

torch.set_num_threads(snakemake.threads)
params = snakemake.params
windows = params.windows
umbrella = WindowSettings.from_config(params.umbrella)
replicas = [load_system(params.system) for _ in windows]
cv = make_colvar(params.collective_variable, replicas[0])
second = None  # the observable restrained as the second CV of 2D umbrella sampling
if params.second_cv is not None:
    second = make_colvar(params.observables[params.second_cv], replicas[0])
grid = {
    "center": [w["center"] for w in windows],
    "spring_constant": [w["spring_constant_kj_mol"] for w in windows],
}
if second is not None:
    grid["center_2"] = [w["center_2"] for w in windows]
    grid["spring_constant_2"] = [w["spring_constant_2_kj_mol"] for w in windows]
biases = grid_biases(cv, grid, second)
if "frames" in snakemake.input.keys():  # start from equilibrated training frames
    frames = read(snakemake.input.frames, ":")
    ranks = [w.get("repeat", 0) for w in windows]  # each set of umbrella.repeats its own
    kt = kt_kj_mol(params.temperature_k)  # sets of windows start in distinct slow states
    first = replicas[0]
    starts = nearest_positions(biases, first.positions, first.numbers, frames, ranks, kt)
    for atoms, start in zip(replicas, starts, strict=True):
        atoms.positions = start
force_field, members = study_force_field(
    params.potential,
    replicas,
    snakemake.input.get("model"),
    params.oracle,
    params.external_potential,
    umbrella.precision,
    snakemake.config["device"],  # not a param: the device reruns nothing
)
oracle = None  # labels every umbrella.oracle_every-th step: the model's error in the windows
if umbrella.oracle_every:
    oracle = make_robust_oracle(params.oracle)

checkpoints = window_checkpoints(
    Path(snakemake.output[0]).parent / "checkpoints",
    params,
    windows,
    snakemake.input,
    CHECKPOINT_EVERY_STEPS,
)

try:
    all_series = run_umbrella_windows(
        replicas,
        biases,
        LangevinSettings(params.temperature_k, umbrella.timestep_fs, umbrella.friction_per_fs),
        umbrella.steps,
        umbrella.equilibration_steps,
        umbrella.record_every,
        [np.random.default_rng(w["seed"]) for w in windows],
        force_field,
        observables={
            name: make_colvar(spec, replicas[0]) for name, spec in params.observables.items()
        },
        checkpoints=checkpoints,
        progress_label="windows " + ", ".join(w["window"] for w in windows),
        exchange_every=umbrella.exchange_every,
        members=members,
        oracle=oracle,
        oracle_every=umbrella.oracle_every,
    )
except SimulationError as error:
    message = window_failure_message(error, windows, params.potential, cv.unit)
    logging.error(message)
    print(message, file=sys.__stderr__)
    sys.exit(1)
if oracle is not None:
    logging.info(
        "oracle checks: %d calls (%d failed), %.1f s in all", oracle.calls, oracle.failures,
        oracle.seconds,
    )  # fmt: skip
tables = []
for window, series in zip(windows, all_series, strict=True):
    for column, key, restrained in (("cv", "center", cv), ("cv_2", "center_2", second)):
        if restrained is None:
            continue
        # about the centre: a periodic CV's naive mean near +-period/2 would be meaningless
        offsets = periodic_difference(series[column], window[key], restrained.period)
        logging.info(
            "window %s: %s mean %.4f, std %.4f",
            window["window"], column, window[key] + offsets.mean(), offsets.std(),
        )  # fmt: skip
    if oracle is not None:
        labelled = np.isfinite(series[ORACLE_OFFSET_COLUMN])
        logging.info(
            "window %s against the oracle on %d frames: energy error std %.2f kJ/mol, "
            "median force RMSE %.3f eV/Å",
            window["window"], labelled.sum(),
            ev_to_kj_mol(np.std(series[ORACLE_OFFSET_COLUMN][labelled])),
            np.median(series[ORACLE_FORCE_COLUMN][labelled]) if labelled.any() else np.nan,
        )  # fmt: skip
    tables.append(pd.DataFrame({"window": int(window["window"]), **series}))
write_table(pd.concat(tables, ignore_index=True), snakemake.output[0])
