"""Stage ``adapt_windows``: one round of adaptive window placement, a window midway
between every pair of neighbours that overlap too little
(:func:`mlpmf.placement.windows_to_insert`), judged on the samples the diagnostics judge.
The round's table lists every window so far; the added ones get ids after the last, the
round's number and batches of ``umbrella.windows_per_job``."""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlpmf.io import write_table
from mlpmf.placement import windows_to_insert
from mlpmf.readers import read_window_series
from mlpmf.settings import FreeEnergySettings
from mlpmf.timeseries import kept_indices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdaptSettings:
    """What a round of placement reads: the ``free_energy`` section (its overlap
    threshold), the temperature, the CV's bins and period, the batch size and the
    config's own windows (the table before the first round)."""

    free_energy: FreeEnergySettings
    temperature_k: float
    bin_edges: tuple[float, ...]
    period: float | None
    windows_per_job: int
    static_windows: list

    @classmethod
    def from_params(cls, params: Mapping) -> "AdaptSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        return cls(
            FreeEnergySettings.from_config(params["free_energy"]), params["temperature_k"],
            tuple(params["bin_edges"]), params["period"], params["windows_per_job"],
            list(params["windows"]),
        )  # fmt: skip


def adapt_windows(
    round_: int,
    previous: str | None,
    trajectories: Sequence[str],
    settings: AdaptSettings,
    output: str,
) -> pd.DataFrame:
    """Round ``round_``: judge the windows of the ``previous`` round's table (None: the
    config's) from their series and write the table with the added windows to
    ``output``; returns it."""
    if previous is not None:
        windows = pd.read_csv(previous, dtype={"batch": str})
    else:
        windows = pd.DataFrame(settings.static_windows)
    free_energy = settings.free_energy
    centers = windows["center"].to_numpy()
    raw = read_window_series(trajectories)
    kept = kept_indices(
        raw, free_energy.decorrelate, free_energy.detect_equilibration, centers, settings.period
    )  # the samples the diagnostics judge
    added = windows_to_insert(
        [s[k] for s, k in zip(raw, kept, strict=True)], centers,
        windows["spring_constant"].to_numpy(), settings.temperature_k,
        free_energy.overlap_threshold, np.asarray(settings.bin_edges), settings.period,
    )  # fmt: skip
    first = int(windows["window"].max()) + 1
    rows = [
        {
            "window": first + k,
            "center": row["center"],
            "spring_constant": row["spring_constant"],
            "round": round_,
            "batch": f"r{round_}_{k // settings.windows_per_job:03d}",
            "reason": row["reason"],
        }
        for k, row in enumerate(added)
    ]
    for row in rows:
        log.info(
            "round %d: window %03d at %g: %s", round_, row["window"], row["center"], row["reason"]
        )
    if not rows:
        log.info(
            "round %d: every neighbour overlap passes %g", round_, free_energy.overlap_threshold
        )
    table = pd.concat([windows, pd.DataFrame(rows, columns=windows.columns)])
    write_table(table, output)
    return table
