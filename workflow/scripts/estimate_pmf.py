"""Reconstruct the PMF from all windows with WHAM or MBAR."""

import logging
import sys
from functools import partial

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf import correction, diagnostics, estimators, reweighting, timeseries
from mlpmf.config import FreeEnergySettings
from mlpmf.io import atomic_path, read_json, write_table
from mlpmf.readers import read_labelled_rows, read_window_series
from mlpmf.trust import WindowTrust, untrusted_bins
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
arguments = dict(
    cv_samples=samples,
    centers=windows["center"].to_numpy(),
    spring_constants=windows["spring_constant"].to_numpy(),
    temperature=params.temperature_k,
    bin_edges=np.asarray(params.bin_edges),
    period=params.period,
    bootstrap_samples=settings.bootstrap_samples,
    seed=params.seed,
)
if snakemake.wildcards.estimator == "mbar":
    estimate = partial(estimators.mbar, uncertainty=settings.uncertainty)
else:
    estimate = estimators.wham
pmf = estimate(**arguments)
table = pmf.to_frame()
bootstrap = pmf.bootstrap_free_energies
sets = diagnostics.window_sets(windows)
if len(sets) > 1:  # independent sets (umbrella.repeats): their scatter scales the errors
    others = {
        k: v for k, v in arguments.items() if k not in ("cv_samples", "centers", "spring_constants")
    }
    pmfs = diagnostics.set_pmfs(
        estimate, samples, sets, windows["center"], windows["spring_constant"], **others
    )
    chi2 = diagnostics.compare_sets(pmfs)[0]
    scale = diagnostics.error_scale(chi2)
    logging.info(
        "%d independent sets of windows differ by %.2f standard errors RMS: error bars x %.2f",
        len(sets),
        np.sqrt(chi2),
        scale,
    )
    table["estimator_uncertainty_kj_mol"] = table["uncertainty_kj_mol"]
    table["uncertainty_kj_mol"] *= scale
    if len(bootstrap):
        bootstrap = np.nanmean(bootstrap, axis=0) + scale * (
            bootstrap - np.nanmean(bootstrap, axis=0)
        )
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
        arguments["centers"],
        arguments["spring_constants"],
        params.temperature_k,
        arguments["bin_edges"],
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
        arguments["centers"],
        arguments["spring_constants"],
        params.temperature_k,
        arguments["bin_edges"],
        pmf.window_free_energies,
        params.period,
        settings.bootstrap_samples,
        params.seed,
    )
    table = table.assign(**oracle.columns(table["free_energy_kj_mol"], table["uncertainty_kj_mol"]))
    oracle.log_summary([len(r) for r in cv_rows], windows["center"].tolist())
verdicts = [
    WindowTrust(**{**w, "cv_range": tuple(w["cv_range"])})
    for w in read_json(snakemake.input.trust)["windows"]
]
table["trusted"] = ~untrusted_bins(table["cv"].to_numpy(), verdicts, params.period)
if not table["trusted"].all():
    logging.warning(
        "%d of %d bins are untrusted (free_energy/trust.json)",
        (~table["trusted"]).sum(),
        len(table),
    )
first = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol", "trusted"]  # DESIGN's table
write_table(table[first + [c for c in table.columns if c not in first]], snakemake.output.pmf)
with atomic_path(snakemake.output.bootstrap) as tmp:
    np.save(tmp, bootstrap)
with atomic_path(snakemake.output.members) as tmp:
    np.save(tmp, members)
