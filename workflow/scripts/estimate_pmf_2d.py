"""Reconstruct the 2D PMF of 2D umbrella sampling with WHAM or MBAR; its projection on
the first CV is the study's PMF (the table, bootstrap replicas and the members' file of
estimate_pmf.py), and the minimum free-energy path between the rates basins is found on
the 2D surface."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf import convergence, correction, estimators2d, timeseries
from mlpmf.io import atomic_path, write_json, write_table
from mlpmf.readers import read_labelled_rows, read_window_columns
from mlpmf.settings import FreeEnergySettings
from mlpmf.umbrella import ORACLE_OFFSET_COLUMN

params = snakemake.params
settings = FreeEnergySettings.from_config(params.free_energy)
windows = pd.read_csv(snakemake.input.windows)
centers = windows[["center", "center_2"]].to_numpy()
kappas = windows[["spring_constant", "spring_constant_2"]].to_numpy()
tables = read_window_columns(snakemake.input.trajectories, ["cv", "cv_2"])  # each file once
first = [table["cv"].to_numpy() for table in tables]
second = [table["cv_2"].to_numpy() for table in tables]
periods = (params.period, params.period_2)
kept = timeseries.kept_pair_indices(
    first, second, settings.decorrelate, settings.detect_equilibration, centers, periods
)
samples = [np.column_stack([x[k], y[k]]) for x, y, k in zip(first, second, kept, strict=True)]
logging.info("independent samples per window: %s", [len(s) for s in samples])
estimate = estimators2d.mbar_2d if snakemake.wildcards.estimator == "mbar" else estimators2d.wham_2d
others = dict(
    temperature=params.temperature_k,
    bin_edges=(np.asarray(params.bin_edges), np.asarray(params.bin_edges_2)),
    periods=periods,
    bootstrap_samples=settings.bootstrap_samples,
    seed=params.seed,
)
pmf = estimate(samples, centers, kappas, **others)
scale = convergence.sets_error_scale(estimate, samples, windows, centers, kappas, **others)
surface = pmf.to_frame()
table = pmf.projection(0)
replicas = pmf.projected_replicas(0)
if scale is not None:
    for frame in (surface, table):
        frame["estimator_uncertainty_kj_mol"] = frame["uncertainty_kj_mol"]
        frame["uncertainty_kj_mol"] *= scale
    replicas = convergence.scale_spread(replicas, scale)
columns = pd.read_csv(snakemake.input.trajectories[0], nrows=0).columns
if ORACLE_OFFSET_COLUMN in columns and snakemake.wildcards.estimator == "mbar":
    # the oracle labelled every umbrella.oracle_every-th frame: the PMF on its potential
    labelled, offsets = read_labelled_rows(snakemake.input.trajectories, ORACLE_OFFSET_COLUMN, kept)
    rows = [np.column_stack([x[r], y[r]]) for x, y, r in zip(first, second, labelled, strict=True)]
    on_surface, along_cv = correction.oracle_correction_2d(
        rows, offsets, centers, kappas, params.temperature_k, pmf.bin_edges,
        pmf.window_free_energies, periods, settings.bootstrap_samples, params.seed,
    )  # fmt: skip
    surface = surface.assign(
        **on_surface.columns(surface["free_energy_kj_mol"], surface["uncertainty_kj_mol"])
    )
    table = table.assign(
        **along_cv.columns(table["free_energy_kj_mol"], table["uncertainty_kj_mol"])
    )
    on_surface.log_summary([len(r) for r in rows], windows["window"].tolist())
write_table(surface, snakemake.output.pmf_2d)  # trusted: mark_trust
first_columns = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]  # DESIGN's
write_table(
    table[first_columns + [c for c in table.columns if c not in first_columns]],
    snakemake.output.pmf,
)
with atomic_path(snakemake.output.bootstrap) as tmp:
    np.save(tmp, replicas)
with atomic_path(snakemake.output.members) as tmp:
    np.save(tmp, np.empty((0, len(table))))  # no model band in 2D (yet)

i, j = np.unravel_index(np.nanargmin(pmf.free_energy), pmf.free_energy.shape)
summary = {
    "estimator": snakemake.wildcards.estimator,
    "minimum": [round(float(pmf.x[i]), 12), round(float(pmf.y[j]), 12)],
    "filled_bins": int(np.isfinite(pmf.free_energy).sum()),
    "bins": int(pmf.free_energy.size),
    "independent_samples_per_window": [len(s) for s in samples],
}
reactant = pmf.lowest_bin_between(*params.rates["reactant"], params.period)
product = pmf.lowest_bin_between(*params.rates["product"], params.period)
if reactant is not None and product is not None:
    forward, forward_error = pmf.path_barrier(reactant, product)
    backward, backward_error = pmf.path_barrier(product, reactant)
    summary["path"] = {
        "reactant_minimum": list(reactant),
        "product_minimum": list(product),
        "forward_barrier_kj_mol": forward,
        "forward_barrier_uncertainty_kj_mol": forward_error,
        "backward_barrier_kj_mol": backward,
        "backward_barrier_uncertainty_kj_mol": backward_error,
        "reaction_free_energy_kj_mol": forward - backward,
    }
    logging.info(
        "minimum free-energy path %s -> %s: barrier %.2f +- %.2f kJ/mol (back %.2f +- %.2f)",
        reactant, product, forward, forward_error, backward, backward_error,
    )  # fmt: skip
else:
    logging.warning("no filled bin in the reactant or the product basin: no path barrier")
second_projection = pmf.projection(1)
summary["second_cv_projection"] = {
    "cv": second_projection["cv"].tolist(),
    "free_energy_kj_mol": second_projection["free_energy_kj_mol"].tolist(),
    "uncertainty_kj_mol": second_projection["uncertainty_kj_mol"].tolist(),
}
write_json(summary, snakemake.output.summary)
