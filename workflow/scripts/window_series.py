"""One window's time series, taken from the table of the batch (job) that ran it."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from mlpmf.io import write_table

table = pd.read_csv(snakemake.input[0])
window = int(snakemake.wildcards.window)
rows = table[table.pop("window") == window]
if rows.empty:
    sys.exit(f"{snakemake.input[0]} has no rows of window {window}")
write_table(rows, snakemake.output[0])
