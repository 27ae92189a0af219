"""Label reference frames with the oracle: hot MD plus a restrained scan along the CV."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
from ase.io import write

from mlpmf.colvars import make_colvar
from mlpmf.config import load_system
from mlpmf.io import atomic_path, write_json
from mlpmf.oracles import make_robust_oracle
from mlpmf.sampling import sample_reference, split_train_test

params = snakemake.params
rng = np.random.default_rng(params.seed)
oracle = make_robust_oracle(params.oracle)
frames = sample_reference(
    load_system(params.system),
    oracle.as_calculator(),
    make_colvar(params.collective_variable),
    params.scan_centers,
    params.dataset,
    rng,
)
train, test = split_train_test(frames, params.dataset["test_fraction"], rng)
logging.info("%d frames: %d for training, %d for testing", len(frames), len(train), len(test))
for frames_out, path in ((train, snakemake.output.train), (test, snakemake.output.test)):
    with atomic_path(path) as tmp:
        write(tmp, frames_out, format="extxyz")
write_json({**oracle.summary(), "frames": len(frames)}, snakemake.output.oracle)
logging.info("oracle: %s", oracle.summary())
