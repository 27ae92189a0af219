"""Label reference frames with the oracle: hot MD plus a restrained scan along the CV
(driven by the oracle, or by a cheaper explorer whose frames the oracle labels)."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
from ase.io import write

from mlpmf.config import load_system
from mlpmf.cvsettings import make_colvar
from mlpmf.io import atomic_path, write_json
from mlpmf.oracles import make_robust_oracle, method_name
from mlpmf.sampling import DatasetSettings, sample_reference, split_train_test
from mlpmf.units import ev_to_kj_mol

params = snakemake.params
rng = np.random.default_rng(params.seed)
oracle = make_robust_oracle(params.oracle)
exploring = params.dataset["explorer"]  # resolved against the oracle (mlpmf.scope)
explorer = None if exploring is None else make_robust_oracle(exploring)
settings = DatasetSettings.from_config(params.dataset)
system = load_system(params.system)
data = sample_reference(
    system,
    oracle.as_calculator(),
    make_colvar(params.collective_variable, system),
    params.scan_centers,
    settings,
    rng,
    params.temperature_k,
    explorer=None if explorer is None else explorer.as_calculator(),
)
frames = data.frames
if len(frames) < 2:
    raise SystemExit(
        f"only {len(frames)} reference frames survived (of {data.sampled}): the oracle "
        "failed or the energy filter dropped them; see this log"
    )
train, test = split_train_test(frames, settings.test_fraction, rng)
logging.info("%d frames: %d for training, %d for testing", len(frames), len(train), len(test))
for frames_out, path in ((train, snakemake.output.train), (test, snakemake.output.test)):
    with atomic_path(path) as tmp:
        write(tmp, frames_out, format="extxyz")
summary = {
    "oracle": method_name(params.oracle),
    **oracle.summary(),
    "frames": len(frames),
    "frames_sampled": data.sampled,
    "frames_dropped_high_energy": data.dropped_high_energy,
    "energy_threshold_kj_mol": ev_to_kj_mol(data.energy_threshold_ev),
    "oracle_label_failures": data.label_failures,
}
if explorer is not None:
    summary["explorer"] = method_name(exploring)
    for key, value in explorer.summary().items():
        summary[key.replace("oracle_", "explorer_", 1)] = value
write_json(summary, snakemake.output.oracle)
logging.info(
    "oracle: %d calls, %.1f s (%.3f s per call)",
    oracle.calls, oracle.seconds, oracle.seconds / max(oracle.calls, 1),
)  # fmt: skip
