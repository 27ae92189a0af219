"""Did every window stay within the committee's trust levels? (mlpmf.trust)"""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import pandas as pd

from mlpmf.io import read_json, write_json
from mlpmf.readers import read_window_series
from mlpmf.trust import describe, judge_windows, summary

params = snakemake.params
windows = pd.read_csv(snakemake.input.windows)
if "metrics" in snakemake.input.keys():
    levels = read_json(snakemake.input.metrics)["trust_levels"]
    lower, upper = levels["lower_ev_a"], levels["upper_ev_a"]
    verdicts = judge_windows(
        windows["center"].to_numpy(),
        read_window_series(snakemake.input.trajectories),
        read_window_series(snakemake.input.trajectories, "max_force_disagreement_ev_a"),
        lower,
        upper,
        params.period,
    )
    document = summary(verdicts, lower, upper)
else:  # the oracle, or a single model without a committee's disagreement
    document = {"trusted": True, "windows": [], "untrusted_windows": [], "untrusted_centers": []}
    document["reason"] = f"windows driven by the {params.potential}: no committee to judge"
document["accepted"] = bool(params.accept_untrusted)
(logging.info if document["trusted"] else logging.warning)(describe(document))
write_json(document, snakemake.output[0])
