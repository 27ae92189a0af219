"""The GPU check (benchmarks/gpu.sh) runs where there is no GPU: CPU against CPU."""

import os
import subprocess

from tests.workflow_helpers import REPO


def test_gpu_check_runs_cpu_against_cpu_and_writes_its_tables(tmp_path):
    environment = {**os.environ, "PYTHON": os.sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        ["bash", str(REPO / "benchmarks/gpu.sh"), str(tmp_path), "--window-steps", "600",
         "--md-steps", "2", "--epochs", "1", "--replicas", "1,2", "--frames", "12",
         "--dimer-epochs", "20"],
        capture_output=True, text=True, timeout=600, env=environment,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = (tmp_path / "gpu.md").read_text()
    assert "no CUDA device: CPU against CPU" in table
    for heading in ("## 1. Same physics", "## 2. Batched committee MD", "## 3. Training"):
        assert heading in table
    # the same device twice from the same seeds: the same trajectories, the same PMF
    assert "cpu vs cpu: RMS 0.000 kJ/mol" in table
    assert "after a median of 600 of 600 steps" in table
    assert table.count("| float32 |") == 2 and table.count("| float64 |") == 2
