"""Reconstruct the PMF from all windows with WHAM or MBAR."""

import logging
import sys
from functools import partial

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf import convergence, correction, estimators, reweighting, timeseries
from mlpmf.io import atomic_path, write_table
from mlpmf.readers import read_labelled_rows, read_window_series
from mlpmf.settings import FreeEnergySettings
from mlpmf.umbrella import ORACLE_OFFSET_COLUMN

params = snakemake.params
settings = FreeEnergySettings.from_config(params.free_energy)
windows = pd.read_csv(snakemake.input.windows)
series = read_window_series(snakemake.input.trajectories)
kept = timeseries.kept_indices(
    series,
    settings.decorrelate,
    settings.detect_equilibration,
    windows["center"].to_numpy(),
    params.period,
)
samples = [s[k] for s, k in zip(series, kept, strict=True)]
logging.info("independent samples per window: %s", [len(s) for s in samples])
centers = windows["center"].to_numpy()
kappas = windows["spring_constant"].to_numpy()
bin_edges = np.asarray(params.bin_edges)
others = dict(
    temperature=params.temperature_k,
    bin_edges=bin_edges,
    period=params.period,
    bootstrap_samples=settings.bootstrap_samples,
    seed=params.seed,
)
if snakemake.wildcards.estimator == "mbar":
    estimate = partial(estimators.mbar, uncertainty=settings.uncertainty)
else:
    estimate = estimators.wham
pmf = estimate(samples, centers, kappas, **others)
table = pmf.to_frame()
bootstrap = pmf.bootstrap_free_energies
# independent sets of windows (umbrella.repeats): their scatter scales the errors
scale = convergence.sets_error_scale(estimate, samples, windows, centers, kappas, **others)
if scale is not None:
    table["estimator_uncertainty_kj_mol"] = table["uncertainty_kj_mol"]
    table["uncertainty_kj_mol"] *= scale
    bootstrap = convergence.scale_spread(bootstrap, scale)
columns = pd.read_csv(snakemake.input.trajectories[0], nrows=0).columns
member_columns = [c for c in columns if c.startswith("member_energy_")]
members = np.empty((0, len(table)))
if member_columns and snakemake.wildcards.estimator == "mbar":
    # a committee drove the windows: its model uncertainty, by reweighting MBAR's samples
    offsets = [
        pd.read_csv(path, usecols=member_columns)[member_columns].to_numpy()[k]
        for path, k in zip(snakemake.input.trajectories, kept, strict=True)
    ]
    reweighted = reweighting.member_pmfs(
        samples,
        offsets,
        centers,
        kappas,
        params.temperature_k,
        bin_edges,
        params.period,
        pmf.window_free_energies,
    )
    members = reweighted.free_energy
    table["model_uncertainty_kj_mol"] = reweighted.model_uncertainty
    table["total_uncertainty_kj_mol"] = np.hypot(
        table["uncertainty_kj_mol"], table["model_uncertainty_kj_mol"]
    )
    logging.info(
        "model uncertainty (%d members): median %.2f kJ/mol; effective samples %s of the mean's",
        len(member_columns),
        np.nanmedian(reweighted.model_uncertainty),
        np.round(reweighted.effective_fraction, 2).tolist(),
    )
    if reweighted.effective_fraction.min() < 0.1:
        logging.warning("a member's reweighting rests on few samples: the model band is rough")
if ORACLE_OFFSET_COLUMN in columns and snakemake.wildcards.estimator == "mbar":
    # the oracle labelled every umbrella.oracle_every-th frame: the PMF on its potential
    rows, offsets = read_labelled_rows(snakemake.input.trajectories, ORACLE_OFFSET_COLUMN, kept)
    cv_rows = [cv_series[r] for cv_series, r in zip(series, rows, strict=True)]
    oracle = correction.oracle_correction(
        cv_rows,
        offsets,
        centers,
        kappas,
        params.temperature_k,
        bin_edges,
        pmf.window_free_energies,
        params.period,
        settings.bootstrap_samples,
        params.seed,
    )
    table = table.assign(**oracle.columns(table["free_energy_kj_mol"], table["uncertainty_kj_mol"]))
    oracle.log_summary([len(r) for r in cv_rows], windows["center"].tolist())
first = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]  # DESIGN's, and trusted (mark_trust)
write_table(table[first + [c for c in table.columns if c not in first]], snakemake.output.pmf)
with atomic_path(snakemake.output.bootstrap) as tmp:
    np.save(tmp, bootstrap)
with atomic_path(snakemake.output.members) as tmp:
    np.save(tmp, members)
