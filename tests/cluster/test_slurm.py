"""The workflow on a live single-node SLURM cluster, through the official executor plugin.

tests/cluster/start_slurm.sh starts slurmctld and slurmd (one fake GPU); the study runs
with --workflow-profile profiles/slurm. Run with `make test-cluster` (needs root to
install and start the daemons).
"""

import re
import subprocess

import pytest

from tests.workflow_helpers import REPO, double_well_study, run_snakemake

pytestmark = pytest.mark.slurm

# No slurmdbd here: query job states with squeue, and check them soon after submission.
SLURM_ARGUMENTS = [
    "--workflow-profile",
    str(REPO / "profiles/slurm"),
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "2",
    "--slurm-keep-successful-logs",
]


@pytest.fixture(scope="module")
def slurm_cluster():
    started = subprocess.run(
        ["bash", str(REPO / "tests/cluster/start_slurm.sh")], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stdout + started.stderr
    yield
    subprocess.run(["bash", str(REPO / "tests/cluster/stop_slurm.sh")], check=False)


def small_study():
    config = double_well_study()
    config["umbrella"].update(
        centers={"start": 2.6, "stop": 3.8, "num": 4},
        steps=3000,
        equilibration_steps=200,
        windows_per_job=1,  # every window its own SLURM job
    )
    config["free_energy"] = {"bins": {"start": 2.65, "stop": 3.75, "num": 22}}
    config["rates"] = {"reactant": [2.65, 3.0], "product": [3.4, 3.75]}
    return config


def job_fields(job_id: str) -> str:
    return subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True
    ).stdout


def test_every_window_is_its_own_slurm_job_and_the_pmf_matches_a_local_run(slurm_cluster, tmp_path):
    on_cluster = tmp_path / "cluster"
    result = run_snakemake(on_cluster, small_study(), *SLURM_ARGUMENTS, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    logs = sorted((on_cluster / ".snakemake/slurm_logs/rule_umbrella_window").glob("*/*.log"))
    windows = {log.parent.name for log in logs}
    assert windows == {f"{k:03d}" for k in range(4)}
    job_ids = {log.stem for log in logs}
    assert len(job_ids) == 4
    for job_id in job_ids:
        fields = job_fields(job_id)
        assert "JobState=COMPLETED" in fields
        assert re.search(r"TresPerJob=gres:gpu:1", fields), fields

    local = tmp_path / "local"
    assert run_snakemake(local, small_study()).returncode == 0
    name = "results/double_well_bond/free_energy/pmf_mbar.csv"
    assert (on_cluster / name).read_bytes() == (local / name).read_bytes()


def test_a_failing_job_is_reported_with_its_log_not_hung(slurm_cluster, tmp_path):
    config = small_study()
    config["umbrella"]["timestep_fs"] = 400.0  # the dimer blows up: SimulationError
    result = run_snakemake(tmp_path, config, *SLURM_ARGUMENTS, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "slurm_logs/rule_umbrella_window" in output
    assert list((tmp_path / ".snakemake/slurm_logs/rule_umbrella_window").glob("*/*.log"))
    rule_logs = (tmp_path / "logs/umbrella_window/double_well_bond").glob("*.log")
    messages = [log.read_text() for log in rule_logs]
    assert any("stopped at MD step" in m and "What to do" in m for m in messages)
    assert not any("Traceback" in m for m in messages)
