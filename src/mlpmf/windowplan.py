"""Which umbrella windows a study runs and which job runs each: the workflow's window
bookkeeping, as plain functions of the config and its window grid
(:func:`mlpmf.grids.window_grid`).

- Windows of ``umbrella.centers`` are numbered in grid order (``000``, ``001``, ...);
  each set of ``umbrella.repeats`` holds ``windows_per_set`` of them.
- A job (batch) runs ``umbrella.windows_per_job`` windows of one set, never mixing sets
  (a set may close a ring of replica exchange); batches are numbered ``000``, ...
- Adaptive placement adds windows in rounds; round r's batches are ``r{r}_000``, ...
- A window is known by what it is (centre, spring constant, set), not by its place:
  its seed (:func:`mlpmf.grids.window_seed`) follows from those.
"""

from collections.abc import Mapping

import numpy as np

from mlpmf.grids import child_seed, window_seed
from mlpmf.scope import oracle_settings

# The stages that draw random numbers, and the key of each one's seed under the study's.
STAGE_SEED_KEYS = {
    "sample_reference": 0,
    "train_committee": 2,
    "estimate_pmf": 3,
    "reweight_observable": 4,
    "train_gaussian_process": 5,
    "active_learning": 6,
    "transmission": 7,
    "build_path": 8,
    "refine_path": 9,
}


def stage_seeds(seed: int, grid: Mapping[str, np.ndarray]) -> dict[str, int]:
    """The seed of every stage and of every window (``umbrella_window_NNN``), each
    derived from the study ``seed``."""
    seeds = {stage: child_seed(seed, key) for stage, key in STAGE_SEED_KEYS.items()}
    for k in range(len(grid["center"])):
        values = {name: grid[name][k] for name in grid}  # centre, kappa (2nd CV), repeat
        seeds[f"umbrella_window_{k:03d}"] = window_seed(seed, **values)
    return seeds


def static_batch(window: int | str, windows_per_set: int, windows_per_job: int) -> int:
    """The batch of window ``window`` of ``umbrella.centers``: ``windows_per_job`` at a
    time within one set of ``umbrella.repeats`` (a job never mixes sets)."""
    batches_per_set = -(-windows_per_set // windows_per_job)
    window = int(window)
    return window // windows_per_set * batches_per_set + window % windows_per_set // windows_per_job


def window_batches(num_windows: int, windows_per_set: int, windows_per_job: int) -> list:
    """The windows (``"NNN"``) of ``umbrella.centers`` batched into one job each."""
    batches: dict[int, list[str]] = {}
    for k in range(num_windows):
        batches.setdefault(static_batch(k, windows_per_set, windows_per_job), []).append(f"{k:03d}")
    return list(batches.values())


def grid_columns(grid: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The columns of the windows table the grid gives: ``repeat`` only where there are
    several sets (``umbrella.repeats`` > 1)."""
    return {name: values for name, values in grid.items() if name != "repeat" or values.any()}


def window_spec(window: str, grid: Mapping[str, np.ndarray], seed: int) -> dict:
    """What distinguishes one window of the grid: its id, centre, spring constant and
    ``seed`` (and in 2D its centre and spring constant on the second CV; in set r > 0 of
    ``umbrella.repeats``, r: the set starts from the r-th structurally distinct frame
    within kT of the nearest, :func:`mlpmf.placement.nearest_positions`)."""
    k = int(window)
    spec = {
        "window": window,
        "center": float(grid["center"][k]),
        "spring_constant_kj_mol": float(grid["spring_constant"][k]),
        "seed": seed,
    }
    if "center_2" in grid:
        spec["center_2"] = float(grid["center_2"][k])
        spec["spring_constant_2_kj_mol"] = float(grid["spring_constant_2"][k])
    if grid["repeat"][k]:
        spec["repeat"] = int(grid["repeat"][k])
    return spec


def static_window_rows(
    grid: Mapping[str, np.ndarray], windows_per_set: int, windows_per_job: int
) -> list[dict]:
    """The windows table of ``umbrella.centers``: id, centre, spring constant, round 0,
    batch, reason."""
    return [
        {
            "window": k,
            "center": float(center),
            "spring_constant": float(kappa),
            "round": 0,
            "batch": f"{static_batch(k, windows_per_set, windows_per_job):03d}",
            "reason": "umbrella.centers",
        }
        for k, (center, kappa) in enumerate(
            zip(grid["center"], grid["spring_constant"], strict=True)
        )
    ]


def batch_round(batch: str) -> int:
    """The adaptive round that added ``batch`` (0: a batch of ``umbrella.centers``)."""
    return int(batch[1:].split("_")[0]) if batch.startswith("r") else 0


def added_window_specs(rows: list[Mapping], batch: str, seed: int) -> list[dict]:
    """The windows of an adaptive round's ``batch``, from the round's table ``rows``;
    their seeds from their centres and the study ``seed``."""
    return [
        {
            "window": f"{row['window']:03d}",
            "center": float(row["center"]),
            "spring_constant_kj_mol": float(row["spring_constant"]),
            "seed": window_seed(seed, row["center"], row["spring_constant"]),
        }
        for row in rows
        if row["batch"] == batch
    ]


def data_temperature_k(config: Mapping) -> float:
    """The hottest temperature the reference data were sampled at, K (the study's
    when neither hot MD nor a scan samples them)."""
    dataset = config["dataset"]
    temperatures = [dataset["md_temperature_k"]] if dataset["md_steps"] else []
    if dataset["scan_points"] and dataset["scan_steps_per_point"]:
        temperatures.append(dataset["scan_temperature_k"])
    return max(temperatures, default=config["temperature_k"])


def confirm_steps(config: Mapping) -> int:
    """Quiet exploration that ends active learning: the config's, or a window's length."""
    steps = config["active_learning"]["confirm_steps"]
    if steps is None:
        steps = config["umbrella"]["equilibration_steps"] + config["umbrella"]["steps"]
    return steps


def scan_centers(config: Mapping, centers: np.ndarray) -> list[float]:
    """CV values of the restrained reference scan: evenly spread over the windows."""
    return np.linspace(centers.min(), centers.max(), config["dataset"]["scan_points"]).tolist()


def exact_pmf_oracle(config: Mapping) -> dict | None:
    """The analytic oracle whose exact PMF the PMF plot draws (a ``double_well_bond``
    oracle along a distance CV), its canonical settings; None for any other study."""
    exact = (
        config["oracle"]["kind"] == "double_well_bond"
        and config["collective_variable"]["kind"] == "distance"
    )
    return oracle_settings(config["oracle"]) if exact else None
