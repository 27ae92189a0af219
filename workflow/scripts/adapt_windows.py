"""One round of adaptive window placement: a window midway between every pair of
neighbours that overlap too little (mlpmf.placement.windows_to_insert)."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf.io import write_table
from mlpmf.placement import windows_to_insert
from mlpmf.readers import read_window_series
from mlpmf.settings import FreeEnergySettings
from mlpmf.timeseries import kept_indices

params = snakemake.params
round_ = int(snakemake.wildcards.round)
if "previous" in snakemake.input.keys():
    windows = pd.read_csv(snakemake.input.previous, dtype={"batch": str})
else:
    windows = pd.DataFrame(params.windows)
settings = FreeEnergySettings.from_config(params.free_energy)
centers = windows["center"].to_numpy()
raw = read_window_series(snakemake.input.trajectories)
kept = kept_indices(
    raw, settings.decorrelate, settings.detect_equilibration, centers, params.period
)  # the samples the diagnostics judge
added = windows_to_insert(
    [s[k] for s, k in zip(raw, kept, strict=True)],
    centers,
    windows["spring_constant"].to_numpy(),
    params.temperature_k,
    settings.overlap_threshold,
    np.asarray(params.bin_edges),
    params.period,
)
first = int(windows["window"].max()) + 1
rows = [
    {
        "window": first + k,
        "center": row["center"],
        "spring_constant": row["spring_constant"],
        "round": round_,
        "batch": f"r{round_}_{k // params.windows_per_job:03d}",
        "reason": row["reason"],
    }
    for k, row in enumerate(added)
]
for row in rows:
    logging.info(
        "round %d: window %03d at %g: %s", round_, row["window"], row["center"], row["reason"]
    )
if not rows:
    logging.info("round %d: every neighbour overlap passes %g", round_, settings.overlap_threshold)
write_table(
    pd.concat([windows, pd.DataFrame(rows, columns=windows.columns)]), snakemake.output.table
)
