"""Stage ``oracle_ledger``: the study's oracle cost (reference data, active learning,
reactive flux, the windows' oracle checks) and what the same MD would have cost on the
oracle (:func:`mlpmf.ledger.oracle_ledger`)."""

import logging
from collections.abc import Mapping

import pandas as pd

from mlpmf.io import read_json, write_json
from mlpmf.ledger import oracle_ledger
from mlpmf.settings import WindowSettings

log = logging.getLogger(__name__)


def ledger(inputs: Mapping, umbrella: WindowSettings, output: str) -> dict:
    """The ledger of ``inputs`` (``reference``, ``windows``; ``active_learning`` and
    ``transmission`` where those stages ran) for windows of ``umbrella``'s length and
    oracle checks, written to ``output``."""
    windows = len(pd.read_csv(inputs["windows"]))
    optional = {key: read_json(inputs[key]) if key in inputs.keys() else None
                for key in ("active_learning", "transmission")}  # fmt: skip
    checks = umbrella.steps // umbrella.oracle_every if umbrella.oracle_every else 0
    result = oracle_ledger(
        read_json(inputs["reference"]), optional["active_learning"],
        windows * (umbrella.steps + umbrella.equilibration_steps),
        optional["transmission"], windows * checks,
    )  # fmt: skip
    write_json(result, output)
    log.info(
        "%d oracle calls, %.0f s; the same MD on the oracle: %d calls, %.2f days",
        result["oracle_calls"], result["oracle_time_s"], result["oracle_driven_calls"],
        result["oracle_driven_time_days"],
    )  # fmt: skip
    return result
