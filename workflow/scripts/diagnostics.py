"""Window overlap and first-half/second-half convergence of the MBAR PMF."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf import diagnostics, timeseries
from mlpmf.config import FreeEnergySettings
from mlpmf.io import read_json, write_json
from mlpmf.plotting import plot_diagnostics
from mlpmf.readers import read_window_series
from mlpmf.trust import describe

HALF_SPLIT_Z_LIMIT = 3.5  # beyond this the halves differ by more than noise
params = snakemake.params
settings = FreeEnergySettings.from_config(params.free_energy)
windows = pd.read_csv(snakemake.input.windows)
centers = windows["center"].to_numpy()
kappas = windows["spring_constant"].to_numpy()
raw = read_window_series(snakemake.input.trajectories)
kept = timeseries.kept_indices(
    raw, settings.decorrelate, settings.detect_equilibration, centers, params.period
)
samples = [s[k] for s, k in zip(raw, kept, strict=True)]
edges = np.asarray(params.bin_edges)
overlaps = diagnostics.neighbour_mbar_overlaps(
    samples, centers, kappas, params.temperature_k, edges, params.period
)
first, second, drift_kt, drift_z = diagnostics.convergence_check(
    samples, centers, kappas, params.temperature_k, edges, params.period
)
ordered = np.sort(centers)
warnings = [
    f"windows at {ordered[k]:g} and {ordered[k + 1]:g}"
    f" overlap only {value:.3f} (threshold {settings.overlap_threshold})"
    for k, value in enumerate(overlaps)
    if value < settings.overlap_threshold
]
disagreement = read_window_series(snakemake.input.trajectories, "max_force_disagreement_ev_a")
largest_disagreement = [float(np.max(d)) if np.isfinite(d).any() else None for d in disagreement]
trust = read_json(snakemake.input.trust)
levels = [trust[k] for k in ("lower_trust_level_ev_a", "upper_trust_level_ev_a") if k in trust]
if not trust["trusted"]:
    warnings.append(describe(trust))
if drift_z > HALF_SPLIT_Z_LIMIT:
    warnings.append(
        f"first and second halves of the windows differ by up to {drift_kt:.2f} kT, "
        f"{drift_z:.1f} standard errors: sampling has not converged"
    )
for warning in warnings:
    logging.warning(warning)
write_json(
    {
        "neighbour_overlap": overlaps.tolist(),
        "minimum_neighbour_overlap": float(overlaps.min()),
        "half_split_max_difference_kt": drift_kt,
        "half_split_max_difference_standard_errors": drift_z,
        "samples_per_window": [len(s) for s in raw],
        "independent_samples_per_window": [len(s) for s in samples],
        "largest_force_disagreement_ev_a_per_window": largest_disagreement,
        "warnings": warnings,
    },
    snakemake.output.summary,
)
halves = {"first half": first.to_frame(), "second half": second.to_frame()}
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
