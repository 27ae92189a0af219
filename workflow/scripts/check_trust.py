"""Did every window stay within the committee's trust levels and, where the oracle
labelled window frames, agree with the oracle's checks? (mlpmf.trust)"""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd

from mlpmf.io import read_json, write_json
from mlpmf.readers import read_window_columns
from mlpmf.trust import (
    describe,
    judge_oracle_checks,
    judge_windows,
    summary,
    with_second_cv,
)
from mlpmf.umbrella import DISAGREEMENT_COLUMN, ORACLE_OFFSET_COLUMN

params = snakemake.params
paths = snakemake.input.trajectories
windows = pd.read_csv(snakemake.input.windows)
checked = ORACLE_OFFSET_COLUMN in pd.read_csv(paths[0], nrows=0).columns
lower = upper = None
if "metrics" in snakemake.input.keys():
    levels = read_json(snakemake.input.metrics)["trust_levels"]
    lower, upper = levels["lower_ev_a"], levels["upper_ev_a"]
if lower is not None or checked:
    columns = ["cv"]  # each window's table read once, with the columns the checks need
    columns += [DISAGREEMENT_COLUMN] if lower is not None else []
    columns += ["cv_2"] if "center_2" in windows else []
    columns += [ORACLE_OFFSET_COLUMN] if checked else []
    tables = read_window_columns(paths, columns)
    verdicts = judge_windows(
        windows["center"].to_numpy(),
        [t["cv"].to_numpy() for t in tables],
        [  # a single model records no disagreement
            t[DISAGREEMENT_COLUMN].to_numpy() if lower is not None else np.full(len(t), np.nan)
            for t in tables
        ],  # fmt: skip
        np.inf if lower is None else lower,
        np.inf if upper is None else upper,
        params.period,
    )
    if "center_2" in windows:  # 2D windows: untrusted where they sampled both CVs
        verdicts = with_second_cv(
            verdicts,
            windows["center_2"].to_numpy(),
            [t["cv_2"].to_numpy() for t in tables],
            params.period_2,
        )
    if checked:
        verdicts = judge_oracle_checks(
            verdicts,
            [t[ORACLE_OFFSET_COLUMN].to_numpy() for t in tables],
            params.temperature_k,
            params.umbrella["oracle_tolerance_kj_mol"],
        )
    tolerance = params.umbrella["oracle_tolerance_kj_mol"] if checked else None
    document = summary(verdicts, lower, upper, tolerance)
else:  # the oracle, or a single model without a committee's disagreement nor checks
    document = {"trusted": True, "windows": [], "untrusted_windows": [], "untrusted_centers": []}
    document["reason"] = f"windows driven by the {params.potential}: no committee to judge"
document["accepted"] = bool(params.accept_untrusted)
(logging.info if document["trusted"] else logging.warning)(describe(document))
write_json(document, snakemake.output[0])
