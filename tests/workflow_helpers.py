"""Run the real Snakemake workflow on a study config in a scratch directory."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DIMER = REPO / "resources" / "double_well_bond" / "dimer.xyz"


def double_well_study(**overrides) -> dict:
    """The double_well_bond study with an absolute structure path, updated by overrides."""
    config = yaml.safe_load((REPO / "config/studies/double_well_bond.yaml").read_text())
    config["system"]["structure"] = str(DIMER)
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            config.setdefault(section, {})[name] = value
        else:
            config[section] = value
    return config


def run_snakemake(workdir: Path, config: dict, *args: str, timeout: float = 600):
    """Run snakemake on ``config`` in ``workdir``; returns the CompletedProcess."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "study.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config_path),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
