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
    config["reference"]["pmf_file"] = str(REPO / config["reference"]["pmf_file"])
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            config.setdefault(section, {})[name] = value
        else:
            config[section] = value
    return config


def tiny_committee_study():
    """The double-well study on a committee, small enough to run in seconds (no active
    learning)."""
    config = double_well_study(potential="committee")
    config["dataset"] = {"md_steps": 400, "scan_points": 6, "scan_steps_per_point": 60}
    config["committee"] = {"members": 2, "hidden_layers": [16], "epochs": 80}
    config["descriptor"] = {"num_angular_sections": 0}  # a dimer has no angles
    config["active_learning"] = {"max_iterations": 0}
    config["umbrella"].update(
        centers={"start": 2.6, "stop": 3.8, "num": 6},
        steps=1500,
        equilibration_steps=200,
        windows_per_job=1,
    )
    config["free_energy"] = {
        "bins": {"start": 2.65, "stop": 3.75, "num": 22},
        "bootstrap_samples": 10,
    }
    config["rates"] = {"reactant": [2.65, 3.0], "product": [3.4, 3.75]}
    config["accept_untrusted"] = True  # a toy committee: this tests reruns, not accuracy
    return config


def snakemake_command(workdir: Path, config_path: Path, *args: str) -> list[str]:
    return [
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


def dry_runs(workdir: Path, configs: list[dict], *args: str, parallel: int = 2) -> list[str]:
    """``snakemake --dry-run`` for each of ``configs`` in ``workdir`` (which holds a
    finished run), ``parallel`` at a time (dry runs lock nothing): "exit N" and the
    output. Each runs Snakemake's real command line in a process forked from this one,
    which has imported Snakemake and the library once (a third of a fresh process's
    start-up)."""
    import os

    import snakemake.cli

    import mlpmf.scope  # noqa: F401  (what the Snakefile imports, loaded once)
    import mlpmf.studycheck  # noqa: F401

    outputs: list[str] = [""] * len(configs)
    running: dict[int, int] = {}

    def collect() -> None:
        pid, status = os.wait()
        index = running.pop(pid)
        text = (workdir / f"dry_run_{index}.out").read_text()
        outputs[index] = f"exit {os.waitstatus_to_exitcode(status)}\n{text}"
        for suffix in ("yaml", "out"):
            (workdir / f"dry_run_{index}.{suffix}").unlink()

    for index, config in enumerate(configs):
        while len(running) >= parallel:
            collect()
        path = workdir / f"dry_run_{index}.yaml"
        path.write_text(yaml.safe_dump(config))
        argv = snakemake_command(workdir, path, "--dry-run", *args)[3:]
        pid = os.fork()
        if pid == 0:  # the child: Snakemake's command line, output to a file
            code = 1
            try:
                log = open(workdir / f"dry_run_{index}.out", "w")
                sys.stdout = sys.stderr = log
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                snakemake.cli.main(argv)
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException as error:  # noqa: BLE001  (reported, then the child ends)
                print(repr(error), file=sys.stderr)
            finally:
                sys.stdout.flush()
                os._exit(code)
        running[pid] = index
    while running:
        collect()
    return outputs


def run_snakemake(workdir: Path, config: dict, *args: str, timeout: float = 600):
    """Run snakemake on ``config`` in ``workdir``; returns the CompletedProcess."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "study.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = snakemake_command(workdir, config_path, *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
