"""Stages ``umbrella_windows`` and ``window_series``: the study's table of umbrella
windows, and one window's time series taken from the table of the batch that ran it."""

from collections.abc import Mapping

import pandas as pd

from mlpmf.io import write_table
from mlpmf.stages import fail

ADAPTIVE_COLUMNS = ["window", "center", "spring_constant", "round", "reason"]


def window_table(grid: Mapping, adaptive_table: str | None, output: str) -> pd.DataFrame:
    """The table of windows: index, centre and spring constant (in 2D also center_2 and
    spring_constant_2; with several sets, repeat), from the config's ``grid``; with
    adaptive placement, the last round's ``adaptive_table`` (with the round that added
    each window and why). Written to ``output``."""
    if adaptive_table is not None:
        table = pd.read_csv(adaptive_table)[ADAPTIVE_COLUMNS]
    else:
        table = pd.DataFrame({"window": range(len(grid["center"])), **grid})
    write_table(table, output)
    return table


def window_series(batch_table: str, window: int, output: str) -> pd.DataFrame:
    """The rows of ``window`` in ``batch_table`` (without the column ``window``), written
    to ``output``; a batch without them ends the job with a message."""
    table = pd.read_csv(batch_table)
    rows = table[table.pop("window") == window]
    if rows.empty:
        fail(f"{batch_table} has no rows of window {window}")
    write_table(rows, output)
    return rows
