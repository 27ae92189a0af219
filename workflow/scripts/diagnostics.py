"""Window overlap and first-half/second-half convergence of the MBAR PMF."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd
from scipy.stats import norm

from mlpmf import convergence, estimators, overlap, timeseries
from mlpmf.estimators2d import mbar_2d
from mlpmf.io import read_json, write_json
from mlpmf.plotting import plot_diagnostics
from mlpmf.readers import read_window_columns
from mlpmf.settings import FreeEnergySettings
from mlpmf.umbrella import DISAGREEMENT_COLUMN

HALF_SPLIT_FALSE_ALARM = 0.01  # chance that noise alone exceeds the limit in some bin
params = snakemake.params
settings = FreeEnergySettings.from_config(params.free_energy)
windows = pd.read_csv(snakemake.input.windows)
centers = windows["center"].to_numpy()
kappas = windows["spring_constant"].to_numpy()
columns = ["cv", DISAGREEMENT_COLUMN] + ([] if params.bin_edges_2 is None else ["cv_2"])
tables = read_window_columns(snakemake.input.trajectories, columns)  # each file once
raw = [table["cv"].to_numpy() for table in tables]
edges = np.asarray(params.bin_edges)
if params.bin_edges_2 is None:
    kept = timeseries.kept_indices(
        raw, settings.decorrelate, settings.detect_equilibration, centers, params.period
    )
    samples = [s[k] for s, k in zip(raw, kept, strict=True)]
    overlaps = overlap.neighbour_mbar_overlaps(
        samples, centers, kappas, params.temperature_k, edges, params.period
    )
    ordered = np.sort(centers)
    warnings = [
        f"windows at {ordered[k]:g} and {ordered[k + 1]:g}"
        f" overlap only {value:.3f} (threshold {settings.overlap_threshold})"
        for k, value in enumerate(overlaps)
        if value < settings.overlap_threshold
    ]
    first, second, drift_kt, drift_z = convergence.convergence_check(
        samples, centers, kappas, params.temperature_k, edges, params.period
    )
    halves = {"first half": first.to_frame(), "second half": second.to_frame()}
    grid_pairs = None
else:  # 2D umbrella sampling: neighbours on the grid of centres, the 2D half-split
    grid = windows[["center", "center_2"]].to_numpy()
    periods = (params.period, params.period_2)
    samples = timeseries.kept_pairs(
        raw,
        [table["cv_2"].to_numpy() for table in tables],
        settings.decorrelate,
        settings.detect_equilibration,
        grid,
        periods,
    )
    arguments = (
        samples,
        grid,
        windows[["spring_constant", "spring_constant_2"]].to_numpy(),
        params.temperature_k,
        (edges, np.asarray(params.bin_edges_2)),
        periods,
    )
    grid_pairs = overlap.grid_neighbour_overlaps(*arguments)
    overlaps = np.array([value for _, _, value in grid_pairs])
    ordered = np.arange(len(overlaps) + 1, dtype=float)  # pair number, for the plot
    warnings = [
        f"windows at ({grid[k][0]:g}, {grid[k][1]:g}) and ({grid[m][0]:g}, {grid[m][1]:g}) "
        f"overlap only {value:.3f} (threshold {settings.overlap_threshold})"
        for k, m, value in grid_pairs
        if value < settings.overlap_threshold
    ]
    first, second, drift_kt, drift_z = convergence.convergence_check_2d(*arguments)
    halves = {"first half": first.projection(0), "second half": second.projection(0)}
parts = convergence.window_sets(windows)
repeats = {}
if len(parts) > 1:  # independent sets of windows (umbrella.repeats): do their PMFs agree?
    if grid_pairs is None:
        pmfs = convergence.set_pmfs(
            estimators.mbar,
            samples,
            parts,
            centers,
            kappas,
            temperature=params.temperature_k,
            bin_edges=edges,
            period=params.period,
        )
    else:
        pmfs = convergence.set_pmfs(
            mbar_2d,
            samples,
            parts,
            grid,
            windows[["spring_constant", "spring_constant_2"]].to_numpy(),
            temperature=params.temperature_k,
            bin_edges=(edges, np.asarray(params.bin_edges_2)),
            periods=periods,
            bootstrap_samples=20,
        )
    chi2, set_z, set_at, set_bins = convergence.compare_sets(pmfs)
    pairs = len(parts) * (len(parts) - 1) // 2
    set_limit = float(norm.isf(HALF_SPLIT_FALSE_ALARM / (2 * max(set_bins * pairs, 1))))
    repeats = {
        "repeats": len(parts),
        "repeats_chi2_per_bin": chi2,
        "repeats_error_scale": convergence.error_scale(chi2),
        "repeats_max_difference_standard_errors": set_z,
        "repeats_noise_limit_standard_errors": set_limit,
    }
    logging.info(
        "%d independent sets of windows: their PMFs differ by %.2f standard errors RMS "
        "(1 where the error bars are right), at most %.1f at (%s)",
        len(parts),
        np.sqrt(chi2),
        set_z,
        ", ".join(f"{v:g}" for v in set_at),
    )
    if set_z > set_limit:
        warnings.append(
            f"the {len(parts)} independent sets of windows (umbrella.repeats) differ by up to "
            f"{set_z:.1f} standard errors at ({', '.join(f'{v:g}' for v in set_at)}) (noise "
            f"stays below {set_limit:.1f} in {set_bins} bins): a slow motion the CV does not "
            f"drive; the PMF's error bars are {convergence.error_scale(chi2):.1f}x the "
            "estimator's for it (longer windows or more sets would narrow them)"
        )
    for r, pmf in enumerate(pmfs):
        halves[f"set {r}"] = pmf.to_frame() if grid_pairs is None else pmf.projection(0)
disagreement = [table[DISAGREEMENT_COLUMN].to_numpy() for table in tables]
largest_disagreement = [float(np.max(d)) if np.isfinite(d).any() else None for d in disagreement]
levels = []  # the committee's trust levels, drawn beside its disagreement
if "metrics" in snakemake.input.keys():
    trust_levels = read_json(snakemake.input.metrics)["trust_levels"]
    levels = [trust_levels["lower_ev_a"], trust_levels["upper_ev_a"]]
# the largest |z| of the bins both halves fill, were they pure noise: the two-sided
# Gaussian quantile at a family-wise false alarm of 1% (3.7 for 50 bins, 4.3 for 600)
compared = int(np.sum(np.isfinite(first.free_energy) & np.isfinite(second.free_energy)))
z_limit = float(norm.isf(HALF_SPLIT_FALSE_ALARM / (2 * max(compared, 1))))
if drift_z > z_limit:
    at = ", ".join(f"{value:g}" for value in convergence.largest_half_difference_at(first, second))
    warnings.append(
        f"first and second halves of the windows differ by up to {drift_kt:.2f} kT, "
        f"{drift_z:.1f} standard errors at ({at}) (noise stays below {z_limit:.1f} in "
        f"{compared} bins): sampling has not converged"
    )
warnings = list(dict.fromkeys(warnings))  # sets of windows at the same centres repeat a pair
for warning in warnings:
    logging.warning(warning)
write_json(
    {
        "neighbour_overlap": overlaps.tolist(),
        **({} if grid_pairs is None else {"neighbour_pairs": [p[:2] for p in grid_pairs]}),
        "minimum_neighbour_overlap": float(overlaps.min()),
        "half_split_max_difference_kt": drift_kt,
        "half_split_max_difference_standard_errors": drift_z,
        "half_split_noise_limit_standard_errors": z_limit,
        "samples_per_window": [len(s) for s in raw],
        "independent_samples_per_window": [len(s) for s in samples],
        "largest_force_disagreement_ev_a_per_window": largest_disagreement,
        **repeats,
        "warnings": warnings,
    },
    snakemake.output.summary,
)
figure = plot_diagnostics(
    ordered,
    overlaps,
    settings.overlap_threshold,
    halves,
    centers,
    disagreement,
    levels,
)
figure.savefig(snakemake.output.plot, dpi=150)
