import numpy as np
from snakemake.exceptions import WorkflowError

from mlpmf.colvars import make_colvar
from mlpmf.config import (
    ConfigError,
    bin_edges,
    check_study,
    child_seed,
    window_centers,
    window_spring_constants,
)

try:
    check_study(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid study config: {error}") from None

STUDY = config["study"]
RESULTS = f"results/{STUDY}"
CENTERS = window_centers(config)
SPRING_CONSTANTS = window_spring_constants(config)
WINDOWS = [f"{k:03d}" for k in range(len(CENTERS))]


def stage_seeds():
    """The seed of every stage, each derived from the study seed."""
    seeds = {
        "sample_reference": child_seed(config["seed"], 0),
        "train_committee": child_seed(config["seed"], 2),
        "estimate_pmf": child_seed(config["seed"], 3),
        "reweight_observable": child_seed(config["seed"], 4),
        "train_gaussian_process": child_seed(config["seed"], 5),
        "active_learning": child_seed(config["seed"], 6),
    }
    for window in WINDOWS:
        seeds[f"umbrella_window_{window}"] = child_seed(config["seed"], 1, int(window))
    return seeds


SEEDS = stage_seeds()


wildcard_constraints:
    window=r"\d{3}",


def uses_model():
    """True when the windows run on a trained MLIP rather than the oracle."""
    return config["potential"] != "oracle"


def uses_active_learning():
    """True when active learning refines the committee before the windows run."""
    return (
        config["potential"] == "committee"
        and config["active_learning"]["max_iterations"] > 0
    )


def model_path():
    """The trained MLIP that drives the windows."""
    if uses_active_learning():
        return f"{RESULTS}/active_learning/committee.pt"
    return f"{RESULTS}/model/{config['potential']}.pt"


def scan_centers():
    """CV values of the restrained reference scan: evenly spread over the windows."""
    num = config["dataset"]["scan_points"]
    return np.linspace(CENTERS.min(), CENTERS.max(), num).tolist()


def cv_period():
    """Period of the study's CV (CV unit), or None when it is not periodic."""
    return make_colvar(config["collective_variable"]).period


def observable_settings(wildcards):
    """The config entry of the observable named by the wildcard."""
    return config["observables"][wildcards.observable]


def window_trajectory_paths():
    """The CV time-series file of every window, in window order."""
    return [window_path(window) for window in WINDOWS]


def window_inputs(wildcards):
    """Inputs of one window job: the structure, and the MLIP when one drives MD."""
    inputs = {"structure": config["system"]["structure"]}
    if uses_model():
        inputs["model"] = model_path()
    return inputs


def window_md_settings():
    """The umbrella settings every window shares (not the per-window centre and kappa, so
    that changing one window reruns only that window, nor the batching)."""
    shared = dict(config["umbrella"])
    del shared["centers"], shared["spring_constant_kj_mol"], shared["windows_per_job"]
    return shared


def window_spec(window):
    """What distinguishes one window: its index, centre, spring constant and seed."""
    return {
        "window": window,
        "center": float(CENTERS[int(window)]),
        "spring_constant_kj_mol": float(SPRING_CONSTANTS[int(window)]),
        "seed": SEEDS[f"umbrella_window_{window}"],
    }


def window_specs(wildcards):
    """The window named by the wildcard, as a one-window group."""
    return [window_spec(wildcards.window)]


def window_groups():
    """Windows batched into one job each, ``umbrella.windows_per_job`` at a time."""
    size = config["umbrella"]["windows_per_job"]
    return [WINDOWS[k : k + size] for k in range(0, len(WINDOWS), size)]


def window_path(window):
    """The CV time-series file of one window."""
    return f"{RESULTS}/umbrella/window_{window}.csv"


def reference_barrier_inputs(wildcards):
    """The reference-barrier file, when the config names one."""
    path = config["reference"]["barrier_file"]
    return {"reference": path} if path else {}


def reference_pmf_inputs(name):
    """An input function giving the reference PMF table as input ``name``, when the
    config names one."""
    path = config["reference"]["pmf_file"]
    return lambda wildcards: {name: path} if path else {}


def final_targets():
    """Every output of the study that rule all asks for."""
    targets = [
        f"{RESULTS}/provenance.json",
        f"{RESULTS}/umbrella/windows.csv",
        f"{RESULTS}/free_energy/pmf_wham.csv",
        f"{RESULTS}/free_energy/pmf_mbar.csv",
        f"{RESULTS}/free_energy/rates.json",
        f"{RESULTS}/free_energy/barriers.csv",
        f"{RESULTS}/free_energy/diagnostics.json",
        f"{RESULTS}/plots/diagnostics.png",
        f"{RESULTS}/plots/pmf.png",
        f"{RESULTS}/plots/window_histograms.png",
    ]
    if uses_model():
        targets += [
            f"{RESULTS}/model/metrics.json",
            f"{RESULTS}/model/gaussian_process_metrics.json",
            f"{RESULTS}/plots/force_parity.png",
            f"{RESULTS}/plots/learning_curve.png",
            f"{RESULTS}/plots/uncertainty_vs_error.png",
        ]
    if uses_active_learning():
        targets += [f"{RESULTS}/plots/active_learning.png"]
    if config["reference"]["pmf_file"] or config["free_energy"]["mirror_symmetric"]:
        targets += [f"{RESULTS}/free_energy/comparison.json"]
    for name in config["observables"]:
        targets += [
            f"{RESULTS}/free_energy/pmf_observable_{name}.csv",
            f"{RESULTS}/free_energy/pmf2d_{name}.csv",
            f"{RESULTS}/plots/pmf2d_{name}.png",
        ]
    return targets


def completion_message():
    """Where the study's main results are, printed when the workflow succeeds."""
    return (
        f"\nStudy {STUDY} complete.\n"
        f"  PMF:    {RESULTS}/free_energy/pmf_mbar.csv (and pmf_wham.csv)\n"
        f"  rate:   {RESULTS}/free_energy/rates.json\n"
        f"  plots:  {RESULTS}/plots/\n"
        f"  report: snakemake --report {RESULTS}/report.html\n"
    )
