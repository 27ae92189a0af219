"""Write the table of umbrella windows: index, centre and spring constant (with
umbrella.adaptive, also the round that added each window and why)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from mlpmf.io import write_table

if "table" in snakemake.input.keys():  # the last round of adaptive placement
    table = pd.read_csv(snakemake.input.table)
    table = table[["window", "center", "spring_constant", "round", "reason"]]
else:
    centers = snakemake.params.centers
    table = pd.DataFrame(
        {
            "window": range(len(centers)),
            "center": centers,
            "spring_constant": snakemake.params.spring_constants_kj_mol,
        }
    )
write_table(table, snakemake.output[0])
