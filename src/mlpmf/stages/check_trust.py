"""Stages ``check_trust``, ``mark_trust`` and ``trust_gate``: did every window stay
within the committee's trust levels and, where the oracle labelled window frames, agree
with the oracle's checks? Then the PMF bins untrusted windows sampled are marked, and the
run ends with an error when it is untrusted and the study does not accept that.
(:mod:`mlpmf.trust` judges; these stages read what it judges and write its verdicts.)
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlpmf.io import read_json, write_json, write_table
from mlpmf.readers import read_window_columns
from mlpmf.stages import fail
from mlpmf.trust import (
    UNTRUSTED_ADVICE,
    describe,
    judge_oracle_checks,
    judge_windows,
    mark_table,
    read_verdicts,
    summary,
    with_second_cv,
)
from mlpmf.umbrella import DISAGREEMENT_COLUMN, ORACLE_OFFSET_COLUMN

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrustCheckSettings:
    """What the trust check reads: the temperature, what drove the windows, the oracle
    checks' tolerance, whether an untrusted run is accepted, the CVs' periods."""

    temperature_k: float
    potential: str
    oracle_tolerance_kj_mol: float
    accept_untrusted: bool
    period: float | None
    period_2: float | None

    @classmethod
    def from_params(cls, params: Mapping) -> "TrustCheckSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        return cls(
            params["temperature_k"], params["potential"],
            params["umbrella"]["oracle_tolerance_kj_mol"],
            bool(params["accept_untrusted"]), params["period"], params["period_2"],
        )  # fmt: skip


def check_trust(
    windows_table: str,
    trajectories: Sequence[str],
    metrics: str | None,
    settings: TrustCheckSettings,
    output: str,
) -> dict:
    """Judge every window of ``windows_table`` (series in ``trajectories``; ``metrics``:
    the committee's, with its trust levels, or None for a single model or the oracle)
    and write the verdict to ``output``; returns it."""
    windows = pd.read_csv(windows_table)
    checked = ORACLE_OFFSET_COLUMN in pd.read_csv(trajectories[0], nrows=0).columns
    lower = upper = None
    if metrics is not None:
        levels = read_json(metrics)["trust_levels"]
        lower, upper = levels["lower_ev_a"], levels["upper_ev_a"]
    if lower is not None or checked:
        columns = ["cv"]  # each window's table read once, with the columns the checks need
        columns += [DISAGREEMENT_COLUMN] if lower is not None else []
        columns += ["cv_2"] if "center_2" in windows else []
        columns += [ORACLE_OFFSET_COLUMN] if checked else []
        tables = read_window_columns(trajectories, columns)
        verdicts = judge_windows(
            windows["center"].to_numpy(),
            [t["cv"].to_numpy() for t in tables],
            [  # a single model records no disagreement
                t[DISAGREEMENT_COLUMN].to_numpy() if lower is not None else np.full(len(t), np.nan)
                for t in tables
            ],  # fmt: skip
            np.inf if lower is None else lower,
            np.inf if upper is None else upper,
            settings.period,
        )
        if "center_2" in windows:  # 2D windows: untrusted where they sampled both CVs
            verdicts = with_second_cv(
                verdicts, windows["center_2"].to_numpy(), [t["cv_2"].to_numpy() for t in tables],
                settings.period_2,
            )  # fmt: skip
        tolerance = settings.oracle_tolerance_kj_mol if checked else None
        if checked:
            verdicts = judge_oracle_checks(
                verdicts, [t[ORACLE_OFFSET_COLUMN].to_numpy() for t in tables],
                settings.temperature_k, tolerance,
            )  # fmt: skip
        document = summary(verdicts, lower, upper, tolerance)
    else:  # the oracle, or a single model without a committee's disagreement nor checks
        document = {
            "trusted": True,
            "windows": [],
            "untrusted_windows": [],
            "untrusted_centers": [],
        }
        document["reason"] = f"windows driven by the {settings.potential}: no committee to judge"
    document["accepted"] = settings.accept_untrusted
    (log.info if document["trusted"] else log.warning)(describe(document))
    write_json(document, output)
    return document


def mark_trust(
    estimate: str, trust: str, periods: tuple[float | None, float | None], output: str
) -> pd.DataFrame:
    """The PMF table ``estimate`` with the column ``trusted``: False on the bins that
    untrusted windows (the verdicts in ``trust``) sampled; written to ``output``.
    ``periods``: the CVs' (the second None in 1D)."""
    verdicts = read_verdicts(read_json(trust))
    table = mark_table(pd.read_csv(estimate), verdicts, *periods)
    if not table["trusted"].all():
        log.warning(
            "%d of %d bins are untrusted (free_energy/trust.json)",
            (~table["trusted"]).sum(), len(table),
        )  # fmt: skip
    write_table(table, output)
    return table


def trust_gate(trust: str, cv_unit: str, output: str) -> None:
    """End the run with an error (:func:`mlpmf.stages.fail`) when ``trust`` says the
    results are untrusted and the study does not accept that; every other result has
    been written and marked before this runs. Else write the verdict to ``output``."""
    document = read_json(trust)
    message = describe(document, f" {cv_unit}")
    if not document["trusted"] and not document["accepted"]:
        fail(
            f"{message}. The PMF, barrier and rate were written but are marked untrusted "
            "(free_energy/trust.json, the 'trusted' column of the PMF tables, rates.json; "
            "the HTML report's front page says the same: make run builds it anyway, by "
            f"hand snakemake --report {Path(trust).parents[1]}/report.html). "
            f"What to do: {UNTRUSTED_ADVICE}"
        )
    log.info(message)
    write_json({"trusted": document["trusted"], "accepted": document["accepted"]}, output)
