"""Reruns, determinism and resumption of the real workflow on small studies."""

import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.workflow_helpers import REPO, double_well_study, run_snakemake, tiny_committee_study

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """The tiny study run to completion twice, in two directories."""
    directories = []
    for name in ("first", "second"):
        workdir = tmp_path_factory.mktemp(name)
        result = run_snakemake(workdir, tiny_committee_study())
        assert result.returncode == 0, result.stderr[-4000:]
        directories.append(workdir)
    return directories


def planned_jobs(workdir, config) -> dict[str, int]:
    """Rule -> number of jobs a dry run plans for ``config`` in ``workdir``."""
    result = run_snakemake(workdir, config, "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    if "Job stats:" not in result.stdout:
        assert "Nothing to be done" in result.stdout + result.stderr
        return {}
    stats = result.stdout.split("Job stats:")[1].split("Reasons:")[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M)}


def test_same_seed_gives_byte_identical_results(finished_runs):
    first, second = (d / "results" / "double_well_bond" for d in finished_runs)
    for name in ("free_energy/pmf_mbar.csv", "free_energy/pmf_wham.csv", "free_energy/rates.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_nothing_reruns_when_nothing_changed(finished_runs):
    assert planned_jobs(finished_runs[0], tiny_committee_study()) == {}


def test_changing_one_spring_constant_reruns_that_window_and_the_analysis_only(finished_runs):
    config = tiny_committee_study()
    config["umbrella"]["spring_constant_kj_mol"] = [800.0, 800.0, 900.0, 800.0, 800.0, 800.0]
    jobs = planned_jobs(finished_runs[0], config)
    assert jobs["umbrella_window"] == 1
    for rule in ("estimate_pmf", "rates", "plot_pmf", "diagnostics"):
        assert rule in jobs, rule
    for rule in ("sample_reference", "train_committee", "plot_model"):
        assert rule not in jobs, rule


def test_a_setting_reruns_only_the_steps_that_read_it(finished_runs):
    """Each rule's params carry only the settings its script reads."""
    heavy = ("sample_reference", "train_committee")
    config = tiny_committee_study()
    config["umbrella"]["steps"] = 3000
    jobs = planned_jobs(finished_runs[0], config)
    assert jobs["umbrella_window"] == 6 and "estimate_pmf" in jobs
    assert not any(rule in jobs for rule in heavy), jobs

    config = tiny_committee_study()
    config["free_energy"]["overlap_threshold"] = 0.05
    jobs = planned_jobs(finished_runs[0], config)
    assert "diagnostics" in jobs
    assert not any(r in jobs for r in (*heavy, "umbrella_window", "estimate_pmf")), jobs

    config = tiny_committee_study()
    config["free_energy"]["bins"]["num"] = 20
    jobs = planned_jobs(finished_runs[0], config)
    assert "estimate_pmf" in jobs
    assert not any(rule in jobs for rule in (*heavy, "umbrella_window")), jobs

    config = tiny_committee_study()
    config["device"] = "cpu"  # was auto
    assert planned_jobs(finished_runs[0], config) == {}


def test_start_frames_feed_the_windows_and_nothing_upstream(finished_runs, tmp_path):
    """Frames of your own (umbrella.start_frames) replace the training frames the windows
    start from: the windows and what follows rerun, the training does not."""
    from ase import Atoms
    from ase.io import write

    frames = tmp_path / "frames.extxyz"
    write(frames, [Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]]) for r in (2.6, 3.2, 3.8)])
    config = tiny_committee_study()
    config["umbrella"]["start_frames"] = str(frames)
    jobs = planned_jobs(finished_runs[0], config)
    assert jobs["umbrella_window"] == 6 and "estimate_pmf" in jobs
    assert not any(rule in jobs for rule in ("sample_reference", "train_committee")), jobs


def test_changing_the_oracle_reruns_everything(finished_runs):
    config = tiny_committee_study()
    config["oracle"]["barrier_ev"] = 0.16
    jobs = planned_jobs(finished_runs[0], config)
    assert jobs["sample_reference"] == 1 and jobs["train_committee"] == 1
    assert jobs["umbrella_window"] == 6


def long_window_study():
    config = double_well_study()
    # long enough to be killed after its first checkpoint (every 1000 steps), well
    # before its end: ~0.2 ms a step, the kill follows the checkpoint within 50 ms
    config["umbrella"].update(steps=30_000, equilibration_steps=0, windows_per_job=1)
    return config


def test_killed_window_resumes_from_its_checkpoint_and_gives_the_same_result(tmp_path):
    target = "results/double_well_bond/umbrella/window_003.csv"
    reference = tmp_path / "uninterrupted"
    assert run_snakemake(reference, long_window_study(), target).returncode == 0

    workdir = tmp_path / "killed"
    workdir.mkdir()
    (workdir / "study.yaml").write_text(__import__("yaml").safe_dump(long_window_study()))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "study.yaml"),
        "--cores", "1", target,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    checkpoints = workdir / "results/double_well_bond/umbrella/checkpoints"

    def written():  # a finished checkpoint, not the hidden file it is written to first
        return [path for path in checkpoints.glob("*.pt") if not path.name.startswith(".")]

    deadline = time.monotonic() + 120
    while not written() and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert written(), "the window finished or failed before it was killed"
    assert not (workdir / target).exists()

    assert run_snakemake(workdir, long_window_study(), "--unlock").returncode == 0
    resumed = run_snakemake(workdir, long_window_study(), target)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = (workdir / "logs/umbrella_window/double_well_bond/003.log").read_text()
    assert "resuming windows from their checkpoints" in log
    assert (workdir / target).read_bytes() == (reference / target).read_bytes()

    # a window asked for more steps continues from its last state: a third of the
    # steps, then all of them, gives the uninterrupted longer run byte for byte
    extended = tmp_path / "extended"
    shorter = long_window_study()
    shorter["umbrella"]["steps"] = 10_000
    assert run_snakemake(extended, shorter, target).returncode == 0
    first = pd.read_csv(extended / target)
    longer = run_snakemake(extended, long_window_study(), target)
    assert longer.returncode == 0, longer.stderr[-3000:]
    log = (extended / "logs/umbrella_window/double_well_bond/003.log").read_text()
    assert "resuming windows from their checkpoints at step 10000" in log
    assert (extended / target).read_bytes() == (reference / target).read_bytes()
    pd.testing.assert_frame_equal(pd.read_csv(extended / target).iloc[: len(first)], first)


def test_batched_window_jobs_reproduce_one_window_jobs(finished_runs, tmp_path):
    import numpy as np
    import pandas as pd

    config = tiny_committee_study()
    config["umbrella"]["windows_per_job"] = 3
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "batch=001" in result.stdout + result.stderr  # one rule, a job per batch
    for k in range(6):
        name = f"results/double_well_bond/umbrella/window_{k:03d}.csv"
        batched = pd.read_csv(tmp_path / name)
        single = pd.read_csv(finished_runs[0] / name)
        np.testing.assert_allclose(batched["cv"], single["cv"], rtol=0, atol=1e-8)


def test_an_inserted_window_is_the_only_one_that_runs(tmp_path):
    """Windows are known by their centre and spring constant, not their place in the
    list: inserting one leaves every other window's seed, checkpoint and series."""
    config = double_well_study(potential="oracle")
    config["umbrella"].update(
        centers=[2.4, 2.6, 2.8, 3.0], steps=2000, equilibration_steps=100, windows_per_job=2
    )
    config["free_energy"]["bins"] = {"start": 2.4, "stop": 3.0, "num": 12}
    config["rates"] = {"reactant": [2.4, 2.6], "product": [2.8, 3.0]}
    config.pop("reference", None)
    umbrella = tmp_path / "results/double_well_bond/umbrella"
    targets = [f"results/double_well_bond/umbrella/window_{k:03d}.csv" for k in range(4)]
    assert run_snakemake(tmp_path, config, *targets).returncode == 0
    before = {
        c: (umbrella / f"window_{k:03d}.csv").read_bytes()
        for k, c in enumerate([2.4, 2.6, 2.8, 3.0])
    }

    config["umbrella"]["centers"] = [2.4, 2.6, 2.7, 2.8, 3.0]
    targets = [f"results/double_well_bond/umbrella/window_{k:03d}.csv" for k in range(5)]
    result = run_snakemake(tmp_path, config, *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    for k, center in enumerate([2.4, 2.6, 2.7, 2.8, 3.0]):
        if center in before:
            assert (umbrella / f"window_{k:03d}.csv").read_bytes() == before[center], center
    logs = tmp_path / "logs/umbrella_window/double_well_bond"
    assert "window at 2.8: complete in its checkpoint" in (logs / "001.log").read_text()
    assert "window at 3: complete in its checkpoint" in (logs / "002.log").read_text()
    assert "batch=000" not in result.stdout + result.stderr  # 2.4, 2.6: unchanged
    assert len(pd.read_csv(umbrella / "window_002.csv")) == 2000 // 2
