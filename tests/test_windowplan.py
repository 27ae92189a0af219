"""The workflow's window bookkeeping (mlpmf.windowplan) and what a study produces
(mlpmf.targets), as plain functions of a config."""

import copy
from pathlib import Path

import numpy as np

from mlpmf.grids import window_grid
from mlpmf.targets import result_targets
from mlpmf.windowplan import (
    added_window_specs,
    batch_round,
    confirm_steps,
    data_temperature_k,
    stage_seeds,
    static_batch,
    static_window_rows,
    window_batches,
    window_spec,
)

REPO = Path(__file__).resolve().parents[1]


def study_config(_tmp_path=None) -> dict:
    """The default study's config with the schema's defaults, as the workflow sees it."""
    import yaml
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return config


def test_batches_hold_windows_per_job_of_one_set_each():
    """10 windows a set, 2 sets, 4 a job: batches of 4, 4, 2 per set, never mixing."""
    batches = window_batches(20, 10, 4)
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    assert batches[3][0] == "010"  # the second set starts a batch of its own
    assert all(len({int(w) // 10 for w in batch}) == 1 for batch in batches)
    assert [static_batch(k, 10, 4) for k in (0, 3, 4, 9, 10, 19)] == [0, 0, 1, 2, 3, 5]
    assert window_batches(7, 7, 7) == [[f"{k:03d}" for k in range(7)]]  # all: one job
    assert batch_round("r2_001") == 2 and batch_round("004") == 0


def test_a_windows_seed_is_its_own_not_its_places():
    """Seeds follow a window's centre, spring and set: inserting a centre before it or
    adding a set leaves its seed, as the stages' seeds stay with the study seed."""
    grid = {"center": np.array([1.0, 2.0, 3.0]), "spring_constant": np.full(3, 100.0),
            "repeat": np.zeros(3, dtype=int)}  # fmt: skip
    inserted = {"center": np.array([1.0, 1.5, 2.0, 3.0]), "spring_constant": np.full(4, 100.0),
                "repeat": np.zeros(4, dtype=int)}  # fmt: skip
    seeds, more = stage_seeds(7, grid), stage_seeds(7, inserted)
    assert seeds["umbrella_window_001"] == more["umbrella_window_002"]  # centre 2.0
    assert (
        seeds["active_learning"]
        == more["active_learning"]
        != stage_seeds(8, grid)["active_learning"]
    )
    assert len(set(seeds.values())) == len(seeds)
    spec = window_spec("001", grid, seeds["umbrella_window_001"])
    assert spec == {"window": "001", "center": 2.0, "spring_constant_kj_mol": 100.0,
                    "seed": seeds["umbrella_window_001"]}  # fmt: skip
    rows = [{"window": 3, "center": 1.5, "spring_constant": 100.0, "batch": "r1_000"},
            {"window": 4, "center": 2.5, "spring_constant": 100.0, "batch": "r1_001"}]  # fmt: skip
    added = added_window_specs(rows, "r1_000", 7)
    assert [w["window"] for w in added] == ["003"]
    assert added[0]["seed"] == more["umbrella_window_001"]  # 1.5 inserted either way


def test_the_window_table_of_a_two_set_study(tmp_path):
    config = study_config()
    config["umbrella"]["repeats"] = 2
    grid = window_grid(config)
    per_set = int((grid["repeat"] == 0).sum())
    rows = static_window_rows(grid, per_set, 2)
    assert len(rows) == 2 * per_set and rows[per_set]["center"] == rows[0]["center"]
    assert rows[per_set]["batch"] == f"{static_batch(per_set, per_set, 2):03d}"


def test_derived_settings_and_targets_follow_the_config(tmp_path):
    config = study_config()
    dataset = config["dataset"]
    dataset.update(md_steps=100, md_temperature_k=600.0, scan_points=4, scan_temperature_k=450.0)
    assert data_temperature_k(config) == 600.0
    dataset.update(md_steps=0)
    assert data_temperature_k(config) == 450.0
    dataset.update(scan_points=0)
    assert data_temperature_k(config) == config["temperature_k"]
    config["active_learning"]["confirm_steps"] = None
    umbrella = config["umbrella"]
    assert confirm_steps(config) == umbrella["equilibration_steps"] + umbrella["steps"]
    oracle_run = copy.deepcopy(config)
    oracle_run["potential"] = "oracle"
    targets, oracle_targets = (
        result_targets(config, "R", False),
        result_targets(oracle_run, "R", False),
    )
    assert "R/oracle_ledger.json" in targets and "R/oracle_ledger.json" not in oracle_targets
    assert "R/free_energy/pmf_mbar.csv" in oracle_targets
    assert "R/free_energy/pmf_2d_mbar.csv" in result_targets(config, "R", True)


def test_the_windows_table_has_a_repeat_column_only_with_several_sets():
    from mlpmf.windowplan import grid_columns

    one = {"center": np.array([1.0, 2.0]), "repeat": np.array([0, 0])}
    two = {"center": np.array([1.0, 2.0, 1.0, 2.0]), "repeat": np.array([0, 0, 1, 1])}
    assert set(grid_columns(one)) == {"center"}
    assert set(grid_columns(two)) == {"center", "repeat"}
