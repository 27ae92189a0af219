"""Run one umbrella window: Langevin MD with a harmonic bias on the CV.

The window checkpoints every CHECKPOINT_EVERY_STEPS steps beside its output; a job that
was killed resumes from there when run again and gives the same result.
"""

import hashlib
import json
import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

import numpy as np
import pandas as pd
import torch

from mlpmf.colvars import make_colvar
from mlpmf.config import load_system
from mlpmf.dynamics import LangevinSettings, UmbrellaBias, WindowCheckpoint, run_umbrella_window
from mlpmf.io import write_table

CHECKPOINT_EVERY_STEPS = 1000

torch.set_num_threads(snakemake.threads)
params = snakemake.params
umbrella = params.umbrella
atoms = load_system(params.system)
if params.potential == "committee":
    from mlpmf.calculator import CommitteeCalculator
    from mlpmf.models import Committee

    atoms.calc = CommitteeCalculator(Committee.load(snakemake.input.model))
else:
    from mlpmf.oracles import make_oracle

    atoms.calc = make_oracle(params.oracle)

digest = hashlib.sha256(json.dumps(dict(params.items()), sort_keys=True, default=str).encode())
for path in snakemake.input:
    digest.update(Path(path).read_bytes())
output = Path(snakemake.output[0])
checkpoint = WindowCheckpoint(
    output.parent / "checkpoints" / f"{output.stem}.npz", digest.hexdigest(), CHECKPOINT_EVERY_STEPS
)
series = run_umbrella_window(
    atoms,
    UmbrellaBias(
        make_colvar(params.collective_variable), params.center, params.spring_constant_kj_mol
    ),
    LangevinSettings(params.temperature_k, umbrella["timestep_fs"], umbrella["friction_per_fs"]),
    umbrella["steps"],
    umbrella["equilibration_steps"],
    umbrella["record_every"],
    np.random.default_rng(params.seed),
    progress_label=f"window {snakemake.wildcards.window}",
    observables={name: make_colvar(spec) for name, spec in params.observables.items()},
    checkpoint=checkpoint,
)
logging.info("CV mean %.4f, std %.4f", series["cv"].mean(), series["cv"].std())
write_table(pd.DataFrame(series), output)
checkpoint.remove()
