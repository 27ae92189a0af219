"""Mark the bins of a PMF table that untrusted windows sampled (column ``trusted``)."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import pandas as pd

from mlpmf.io import read_json, write_table
from mlpmf.trust import mark_table, read_verdicts

verdicts = read_verdicts(read_json(snakemake.input.trust))
table = mark_table(
    pd.read_csv(snakemake.input.estimate),
    verdicts,
    snakemake.params.period,
    snakemake.params.period_2,
)
if not table["trusted"].all():
    logging.warning(
        "%d of %d bins are untrusted (free_energy/trust.json)",
        (~table["trusted"]).sum(),
        len(table),
    )
write_table(table, snakemake.output[0])
