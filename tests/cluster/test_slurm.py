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


def batched_committee_study():
    """A committee refined by active learning, its six windows in three batches."""
    config = small_study()
    config["potential"] = "committee"
    config["dataset"] = {"md_steps": 400, "scan_points": 6, "scan_steps_per_point": 60}
    config["committee"] = {"members": 2, "hidden_layers": [16], "epochs": 80}
    config["descriptor"] = {"num_angular_sections": 0}
    config["active_learning"] = {
        "max_iterations": 1, "steps_per_iteration": 200, "frames_per_iteration": 4,
        "retrain_epochs": 10,
    }  # fmt: skip
    config["umbrella"].update(centers={"start": 2.6, "stop": 3.8, "num": 6}, windows_per_job=2)
    config["accept_untrusted"] = True  # a toy committee: this tests the cluster path
    return config


def test_batched_windows_and_active_learning_get_gpus_and_match_a_local_run(
    slurm_cluster, tmp_path
):
    on_cluster = tmp_path / "cluster"
    config = batched_committee_study()
    result = run_snakemake(on_cluster, config, *SLURM_ARGUMENTS, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    slurm_logs = on_cluster / ".snakemake/slurm_logs"
    batches = sorted((slurm_logs / "rule_umbrella_window").glob("*/*.log"))
    assert {log.parent.name for log in batches} == {"000", "001", "002"}  # one rule, 3 jobs
    gpu_jobs = [*batches, *(slurm_logs / "rule_active_learning").glob("*.log")]
    gpu_jobs += list((slurm_logs / "rule_train_committee").glob("*.log"))
    assert len(gpu_jobs) == 5
    for log in gpu_jobs:
        fields = job_fields(log.stem)
        assert "JobState=COMPLETED" in fields
        assert re.search(r"TresPerJob=gres:gpu:1", fields), (log, fields)

    local = tmp_path / "local"
    assert run_snakemake(local, config).returncode == 0
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
