"""The pins a shipped study declares (its validation section), judged on a results folder."""

import json

import pytest

from mlpmf.validation import judge, markdown, measure, record


@pytest.fixture
def results(tmp_path):
    """A results folder as a periodic committee study leaves it."""
    (tmp_path / "free_energy").mkdir()
    (tmp_path / "active_learning").mkdir()
    rates = {
        "barrier_kj_mol": 1.0,
        "rate_constant_per_s": 1e11,
        "paths": [
            {"transition_state_cv": -2.5, "barrier_kj_mol": 35.1},
            {"transition_state_cv": 177.5, "barrier_kj_mol": 1.0},
        ],
        "reference_pmf": {"barrier_z": -1.5, "tst_rate_z": 0.7},
    }
    comparison = {
        "reference": {"rms_difference_kj_mol": 0.4, "chi2_per_bin": 0.9, "covered_fraction": 0.9},
        "mirror": {"rms_difference_kj_mol": 0.3, "chi2_per_bin": 1.1},
    }
    trust = {"trusted": True, "windows": [{"oracle_offset_kj_mol": -1.2}, {}]}
    learning = {"labelled_frames": 94, "force_rmse_over_reference_std": 0.008}
    for name, document in (
        ("free_energy/rates.json", rates),
        ("free_energy/comparison.json", comparison),
        ("free_energy/trust.json", trust),
        ("active_learning/metrics.json", learning),
    ):
        (tmp_path / name).write_text(json.dumps(document))
    return tmp_path


def test_every_figure_a_study_produces_is_measured(results):
    figures = measure(results)
    assert figures["barrier_kj_mol"] == 1.0 and figures["log10_rate_constant_per_s"] == 11.0
    assert figures["barrier_over_-2.5_kj_mol"] == 35.1
    assert figures["reference_rms_kj_mol"] == 0.4 and figures["mirror_rms_kj_mol"] == 0.3
    assert figures["labels"] == 94 and figures["force_error_percent"] == pytest.approx(0.8)
    assert figures["max_oracle_offset_kj_mol"] == 1.2 and figures["trusted"] is True
    assert "kappa" not in figures and "path_2d_barrier_kj_mol" not in figures
    assert figures["reference_covered_fraction"] == 0.9
    assert figures["reference_barrier_sigmas"] == 1.5 and figures["reference_rate_sigmas"] == 0.7


def test_pins_pass_within_their_tolerance_and_fail_outside(results):
    pins = {
        "wall_time_min": 20,
        "trusted": True,
        "figures": {
            "barrier_over_0_kj_mol": {"value": 35.4, "tolerance": 2.0},  # the path near 0
            "reference_rms_kj_mol": {"max": 0.3},  # 0.4: fails
            "labels": {"min": 10, "max": 200, "value": None, "tolerance": None},
            "kappa": {"value": 0.7, "tolerance": 0.2},  # not produced: fails
        },
    }
    checks = {c.name: c for c in judge(pins, measure(results), wall_time_min=12.5)}
    assert checks["wall_time_min"].passed and checks["trusted"].passed
    assert checks["barrier_over_0_kj_mol"].passed
    assert checks["barrier_over_0_kj_mol"].measured == 35.1
    assert not checks["reference_rms_kj_mol"].passed
    assert checks["labels"].passed and checks["labels"].expected == ">= 10 and <= 200"
    assert not checks["kappa"].passed and checks["kappa"].measured is None
    assert not judge({"wall_time_min": 10}, {}, wall_time_min=12.5)[0].passed
    run = record("s", "abc1234def", "2026-12-06", 12.5, list(checks.values()))
    assert run["passed"] is False
    table = markdown({"s": run}, {"t": "not rerun: hours"})
    assert "| s | abc1234 | 2026-12-06 | 12.5 min | FAIL |" in table
    assert "kappa none (0.7 +- 0.2) FAIL" in table and "t: not rerun: hours" in table
    later = markdown({"s": run}, None, head="fedcba98765", unchanged={"s"})
    assert "| s | abc1234 (= fedcba9) | 2026-12-06 |" in later  # same code, pins aside
    assert "| s | abc1234 | 2026-12-06 |" in markdown({"s": run}, None, "fedcba98765", ())
