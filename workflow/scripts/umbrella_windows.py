"""Write the table of umbrella windows: index, centre and spring constant."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from mlpmf.io import write_table

centers = snakemake.params.centers
table = pd.DataFrame(
    {
        "window": range(len(centers)),
        "center": centers,
        "spring_constant": snakemake.params.spring_constants_kj_mol,
    }
)
write_table(table, snakemake.output[0])
