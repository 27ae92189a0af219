"""Stage ``sample_reference``: label reference frames with the oracle, from hot MD plus a
restrained scan along the CV (driven by the oracle, or by a cheaper explorer whose
frames the oracle labels; :func:`mlpmf.sampling.sample_reference`), split into training
and test frames, with the oracle's (and explorer's) bill.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase.io import write

from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar
from mlpmf.io import atomic_path, write_json
from mlpmf.oracles import make_robust_oracle, method_name
from mlpmf.sampling import sample_reference, split_train_test
from mlpmf.settings import ColvarSettings, DatasetSettings, OracleSettings, SystemSettings
from mlpmf.stages import fail
from mlpmf.units import ev_to_kj_mol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceSettings:
    """What the reference stage reads: the dataset's settings (its explorer resolved
    against the oracle, :mod:`mlpmf.scope`), the oracle, the system and CV, the scan's
    centres, the temperature and the seed."""

    dataset: DatasetSettings
    explorer: OracleSettings | None
    oracle: OracleSettings
    system: SystemSettings
    collective_variable: ColvarSettings
    scan_centers: tuple[float, ...]
    temperature_k: float
    seed: int

    @classmethod
    def from_params(cls, params: Mapping) -> "ReferenceSettings":
        """From the rule's params (:data:`mlpmf.scope.READS`)."""
        explorer = params["dataset"]["explorer"]
        return cls(
            DatasetSettings.from_config(params["dataset"]),
            None if explorer is None else OracleSettings.from_config(explorer),
            OracleSettings.from_config(params["oracle"]),
            SystemSettings.from_config(params["system"]),
            ColvarSettings.from_config(params["collective_variable"]),
            tuple(params["scan_centers"]), params["temperature_k"], params["seed"],
        )  # fmt: skip


def reference_data(settings: ReferenceSettings, outputs: Mapping) -> dict:
    """Sample and label the reference frames; write ``outputs["train"]`` and
    ``outputs["test"]`` (extended XYZ) and ``outputs["oracle"]`` (the bill: calls,
    seconds, failures, frames kept and dropped, the energy filter); returns the bill.
    Fewer than two frames surviving ends the job, saying why."""
    rng = np.random.default_rng(settings.seed)
    oracle = make_robust_oracle(settings.oracle)
    explorer = None if settings.explorer is None else make_robust_oracle(settings.explorer)
    system = load_system(settings.system)
    data = sample_reference(
        system, oracle.as_calculator(), make_colvar(settings.collective_variable, system),
        list(settings.scan_centers), settings.dataset, rng, settings.temperature_k,
        explorer=None if explorer is None else explorer.as_calculator(),
    )  # fmt: skip
    frames = data.frames
    if len(frames) < 2:
        fail(
            f"only {len(frames)} reference frames survived (of {data.sampled}): the oracle "
            "failed or the energy filter dropped them; see this log"
        )
    train, test = split_train_test(frames, settings.dataset.test_fraction, rng)
    log.info("%d frames: %d for training, %d for testing", len(frames), len(train), len(test))
    for part, path in ((train, outputs["train"]), (test, outputs["test"])):
        with atomic_path(path) as tmp:
            write(tmp, part, format="extxyz")
    bill = {
        "oracle": method_name(settings.oracle),
        **oracle.summary(),
        "frames": len(frames),
        "frames_sampled": data.sampled,
        "frames_dropped_high_energy": data.dropped_high_energy,
        "energy_threshold_kj_mol": ev_to_kj_mol(data.energy_threshold_ev),
        "oracle_label_failures": data.label_failures,
    }
    if explorer is not None:
        bill["explorer"] = method_name(settings.explorer)
        for key, value in explorer.summary().items():
            bill[key.replace("oracle_", "explorer_", 1)] = value
    write_json(bill, outputs["oracle"])
    log.info(
        "oracle: %d calls, %.1f s (%.3f s per call)",
        oracle.calls, oracle.seconds, oracle.seconds / max(oracle.calls, 1),
    )  # fmt: skip
    return bill
