"""Write the table of umbrella windows: index, centre and spring constant (in 2D also
center_2 and spring_constant_2; with umbrella.adaptive, the round that added each
window and why)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from mlpmf.io import write_table

if "table" in snakemake.input.keys():  # the last round of adaptive placement
    table = pd.read_csv(snakemake.input.table)
    table = table[["window", "center", "spring_constant", "round", "reason"]]
else:
    grid = snakemake.params.grid
    table = pd.DataFrame({"window": range(len(grid["center"])), **grid})
write_table(table, snakemake.output[0])
