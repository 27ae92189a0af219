"""The study's oracle cost, and what the same MD would have cost on the oracle."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import pandas as pd

from mlpmf.io import read_json, write_json
from mlpmf.ledger import oracle_ledger

inputs = snakemake.input
params = snakemake.params
windows = len(pd.read_csv(inputs.windows))
umbrella = params.umbrella
ledger = oracle_ledger(
    read_json(inputs.reference),
    read_json(inputs.active_learning) if "active_learning" in inputs.keys() else None,
    windows * (umbrella["steps"] + umbrella["equilibration_steps"]),
    read_json(inputs.transmission) if "transmission" in inputs.keys() else None,
    windows * (umbrella["steps"] // umbrella["oracle_every"]) if umbrella["oracle_every"] else 0,
)
write_json(ledger, snakemake.output[0])
logging.info(
    "%d oracle calls, %.0f s; the same MD on the oracle: %d calls, %.2f days",
    ledger["oracle_calls"], ledger["oracle_time_s"], ledger["oracle_driven_calls"],
    ledger["oracle_driven_time_days"],
)  # fmt: skip
