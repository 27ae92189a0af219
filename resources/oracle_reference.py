"""The oracle-driven reference PMF of a study: the same windows run on the oracle.

    python resources/oracle_reference.py config/studies/h2o2_torsion.yaml \\
        resources/h2o2/oracle_pmf_mbar.csv [--cores 2]

Writes a copy of the study with ``potential: oracle`` (named <study>_oracle, without
its reference PMF and active learning), runs the workflow up to its MBAR PMF, and
copies the PMF table (cv, free_energy_kj_mol, uncertainty_kj_mol) to the output path:
the reference a study's committee PMF is compared with (``reference.pmf_file``).

The windows start from the study's own oracle-labelled reference frames (its restrained
scan and MD, ``results/<study>/dataset/train.extxyz``, made first if missing; the study
reuses them), each from the frame nearest its centre, as the committee's windows do:
turned onto its centre from the input structure instead, a window keeps the input's
side-chain and backbone torsions, and short windows may not relax them (alanine
dipeptide's psi: 3 kJ/mol off in the C5 basin). ``--start-frames PATH`` takes other
frames, ``--start-frames none`` the input structure.
The shipped tables were made this way; the oracle windows cost minutes (GFN2-xTB on
H2O2, NH3) to about an hour (alanine dipeptide: two rings of 24 windows, one per core)
on 2 cores. Raising ``umbrella.repeats`` in the study and running this again runs only
the new sets when the earlier ones are still in ``results/<study>_oracle``.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def oracle_study(config: dict, start_frames: str, steps: int | None = None) -> dict:
    """The study ``config`` with the oracle driving its windows: named <study>_oracle,
    without the sections a model needs (reference PMF, active learning, dataset,
    descriptor, committee) nor the windows' oracle checks, its windows started from
    ``start_frames`` (a path; "none": the input structure), ``steps`` long (None: the
    study's)."""
    config = {**config, "umbrella": dict(config.get("umbrella", {}))}
    if steps is not None:
        config["umbrella"]["steps"] = steps
    if start_frames != "none":
        config["umbrella"]["start_frames"] = str(start_frames)
    config["umbrella"].pop("oracle_every", None)  # the oracle itself drives these windows
    config["study"] = f"{config['study']}_oracle"
    config["potential"] = "oracle"
    for section in ("reference", "active_learning", "dataset", "descriptor", "committee"):
        config.pop(section, None)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--cores", default="2")
    parser.add_argument("--start-frames", default="study", help="study (default), none, or a path")
    parser.add_argument("--steps", type=int, help="production steps per window (the study's)")
    arguments = parser.parse_args()
    config = yaml.safe_load(arguments.study.read_text())
    start_frames = arguments.start_frames
    if start_frames == "study":
        start_frames = f"results/{config['study']}/dataset/train.extxyz"
        command = [sys.executable, "-m", "snakemake", start_frames, "--cores", arguments.cores,
                   "--rerun-triggers", "mtime", "--configfile", str(arguments.study)]  # fmt: skip
        subprocess.run(command, cwd=REPO, check=True)
    config = oracle_study(config, start_frames, arguments.steps)
    target = f"results/{config['study']}/free_energy/pmf_mbar.csv"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    command = [sys.executable, "-m", "snakemake", target, "--cores", arguments.cores,
               "--rerun-incomplete", "--configfile", handle.name]  # fmt: skip
    subprocess.run(command, cwd=REPO, check=True)
    table = pd.read_csv(REPO / target)
    columns = ["cv", "free_energy_kj_mol", "uncertainty_kj_mol"]
    table[columns].to_csv(arguments.output, index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
